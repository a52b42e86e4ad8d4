import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { resnetPath, sharedDir } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';

describe('clean accuracy of the reference model through AdaptiveSession', () => {
  it('source: 91.73 % on the full CIFAR-10 test set (10,000 images)', async () => {
    const bytes = fs.readFileSync(`${sharedDir}data/cifar10/test_batch.bin`);
    expect(bytes.length).toBe(10_000 * 3073);
    const s = await AdaptiveSession.create(resnetPath, { method: 'source', runtime: 'node' });
    const n = 500;
    let correct = 0;
    for (let start = 0; start < 10_000; start += n) {
      const x = new Float32Array(n * 3072);
      for (let i = 0; i < n; i++) for (let p = 0; p < 3072; p++) x[i * 3072 + p] = bytes[(start + i) * 3073 + 1 + p] / 255;
      const logits = (await s.run({ input: new ort.Tensor('float32', x, [n, 3, 32, 32]) })).logits.data as Float32Array;
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
        if (best === bytes[(start + i) * 3073]) correct++;
      }
    }
    expect(correct / 100).toBeCloseTo(91.73, 2);
    await s.dispose();
  });
});
