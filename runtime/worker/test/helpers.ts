import { Tensor } from 'onnxruntime-common';
import { goldenInput, resnetPath } from '@edgetta/testing';

/** The reference ResNet-20 (CIFAR-10). */
export const modelPath = resnetPath;
const images = goldenInput(256);

/** Batch `b` of `n` CIFAR-10 test images (of 256) as a fresh NCHW float32 tensor with its own buffer. */
export function batch(b: number, n: number): Tensor {
  if ((b + 1) * n > 256) throw new Error('only 256 images');
  return new Tensor('float32', images.slice(b * n * 3072, (b + 1) * n * 3072), [n, 3, 32, 32]);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Rejects if `p` does not settle within `ms`: a hanging promise fails the test instead of stalling it. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
