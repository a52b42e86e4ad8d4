import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { instanceNormModel, plainCnn, randomInput } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';
import { maxAbsDiff, plainRun } from './helpers.js';



describe('methods declare the site kinds they adapt', () => {
  it('source runs a model without any normalization layer and equals plain InferenceSession', async () => {
    const bytes = plainCnn(4, { size: 8, classes: 5 });
    const session = await AdaptiveSession.create(bytes, { method: 'source', runtime: 'node' });
    expect(session.stats.layers).toBe(0);
    for (const [seed, n] of [[1, 4], [2, 1], [3, 7]]) {
      const feeds = { x: new ort.Tensor('float32', randomInput(seed, [n, 3, 8, 8]), [n, 3, 8, 8]) };
      const ours = await session.run(feeds);
      const ref = await plainRun(bytes, feeds);
      expect(ours.logits.dims).toEqual([n, 5]);
      expect(maxAbsDiff(ours.logits.data as Float32Array, ref.logits.data as Float32Array)).toBeLessThanOrEqual(1e-5);
    }
    await session.dispose();
  });

  it('source leaves layer-norm and instance-norm layers as exported', async () => {
    for (const [bytes, input, dims] of [
      [plainCnn(5, { layerNorm: true }), 'x', [3, 3, 8, 8]],
      [instanceNormModel(), 'x', [2, 3, 4, 4]],
    ] as const) {
      const session = await AdaptiveSession.create(bytes, { method: 'source', runtime: 'node' });
      const feeds = { [input]: new ort.Tensor('float32', randomInput(9, [...dims]), [...dims]) };
      const ours = await session.run(feeds);
      const ref = await plainRun(bytes, feeds);
      const name = session.outputNames[0];
      expect(maxAbsDiff(ours[name].data as Float32Array, ref[name].data as Float32Array)).toBeLessThanOrEqual(1e-5);
      await session.dispose();
    }
  });

  it('a method applied to a model it does not adapt fails at create() naming the kinds found and the methods that apply', async () => {
    await expect(AdaptiveSession.create(plainCnn(5, { layerNorm: true }), { method: 'norm', runtime: 'node' })).rejects.toThrow(
      /method 'norm' adapts batch-norm sites, and this model has layer-norm x1; methods that apply to this model: eata, eta, lame, roid, sar, source, tent$/,
    );
    await expect(AdaptiveSession.create(instanceNormModel(), { method: 'norm', runtime: 'node' })).rejects.toThrow(/this model has instance-norm x1; methods that apply to this model: source/);
    // No normalization at all: the message says how to recover BatchNorm, or keep it at export.
    await expect(AdaptiveSession.create(plainCnn(6), { method: 'alpha-bn', runtime: 'node' })).rejects.toThrow(
      /this model has no normalization layer \(BatchNormalization was likely folded into its 2 unnormalized convolutions at export: pass calibration: .*TrainingMode.PRESERVE.*\); methods that apply to this model: lame, source/,
    );
  });
});
