/** Paths and loaders of the model and CIFAR-10 sample embedded in the repo (bench/assets). */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const assetsDir = fileURLToPath(new URL('../assets/', import.meta.url));
export const embeddedModelPath = `${assetsDir}resnet20-cifar10.onnx`;
export const embeddedSamplePath = `${assetsDir}cifar10-test-1000.bin`;

/** The first 1,000 CIFAR-10 test records: 1 label byte + 3072 planar RGB bytes each. */
export function loadEmbeddedSample(path = embeddedSamplePath) {
  const bytes = new Uint8Array(fs.readFileSync(path));
  const record = 3073;
  if (bytes.length % record !== 0) throw new Error(`${path}: size ${bytes.length} is not a multiple of the CIFAR-10 record size ${record}`);
  const count = bytes.length / record;
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * 3072);
  for (let i = 0; i < count; i++) {
    labels[i] = bytes[i * record];
    pixels.set(bytes.subarray(i * record + 1, (i + 1) * record), i * 3072);
  }
  return {
    count,
    labels,
    pixels,
    /** NCHW float32 in [0, 1] for records [start, start + n). */
    toFloat32(start: number, n: number): Float32Array {
      const out = new Float32Array(n * 3072);
      for (let i = 0; i < n * 3072; i++) out[i] = pixels[start * 3072 + i] / 255;
      return out;
    },
  };
}
