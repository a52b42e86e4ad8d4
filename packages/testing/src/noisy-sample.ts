import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Rng } from '@edgetta/core';

/** The embedded model and CIFAR-10 sample of the repository (bench/assets). */
export const embeddedModelPath = fileURLToPath(new URL('../../../bench/assets/resnet20-cifar10.onnx', import.meta.url));
const samplePath = fileURLToPath(new URL('../../../bench/assets/cifar10-test-1000.bin', import.meta.url));

/**
 * The embedded CIFAR-10 sample (first `n` records) with Gaussian noise of severity 5 (sigma 0.10,
 * as CIFAR-10-C's gaussian_noise): x = clip(x + N(0, 0.1^2), 0, 1), truncated to uint8 levels.
 * NCHW float32 in [0, 1] and the labels. Seeded, so every run sees the same batches.
 */
export function noisyEmbeddedSample(n = 1000, seed = 0): { x: Float32Array; labels: Uint8Array } {
  const bytes = new Uint8Array(fs.readFileSync(samplePath));
  const rng = new Rng(seed);
  const labels = new Uint8Array(n);
  const x = new Float32Array(n * 3072);
  for (let i = 0; i < n; i++) {
    labels[i] = bytes[i * 3073];
    for (let j = 0; j < 3072; j++) {
      const v = Math.min(1, Math.max(0, bytes[i * 3073 + 1 + j] / 255 + 0.1 * rng.normal()));
      x[i * 3072 + j] = Math.floor(v * 255) / 255;
    }
  }
  return { x, labels };
}

/** Rows of `[N, classes]` logits whose argmax differs from labels[offset + row]. */
export function countErrors(logits: Float32Array, labels: ArrayLike<number>, offset = 0, classes = 10): number {
  let wrong = 0;
  for (let r = 0; r < logits.length / classes; r++) {
    let best = 0;
    for (let j = 1; j < classes; j++) if (logits[r * classes + j] > logits[r * classes + best]) best = j;
    if (best !== labels[offset + r]) wrong++;
  }
  return wrong;
}
