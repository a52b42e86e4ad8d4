import * as ortWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { goldenDir, goldenInput, readNpyFile, resnetPath } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';

describe('the same SDK on onnxruntime-web (wasm) in Node', () => {
  it('norm and bn-ema on the wasm engine give the golden logits of the first two batches (max abs diff <= 1e-3)', async () => {
    for (const method of ['norm', 'bn-ema']) {
      const golden = readNpyFile(`${goldenDir}logits_${method}.npy`).data as Float32Array;
      const s = await AdaptiveSession.create(resnetPath, { method, runtime: 'web', threads: 1 });
      expect(s.stats.engine).toMatchObject({ name: 'onnxruntime-web', executionProviders: ['wasm'] });
      const input = goldenInput(128);
      for (let b = 0; b < 2; b++) {
        const x = new ortWeb.Tensor('float32', input.slice(b * 64 * 3072, (b + 1) * 64 * 3072), [64, 3, 32, 32]);
        const logits = (await s.run({ input: x })).logits.data as Float32Array;
        let d = 0;
        for (let i = 0; i < logits.length; i++) d = Math.max(d, Math.abs(logits[i] - golden[b * 640 + i]));
        expect(d).toBeLessThanOrEqual(1e-3);
      }
      await s.dispose();
    }
  });

  it('an onnxruntime module passed as runtime is used as is', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: 'source', runtime: ortWeb as never });
    expect(s.stats.engine.name).toBe('custom');
    await s.dispose();
  });
});
