import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { AdaptiveSession } from '@edgetta/sdk';
import { compilePass, findBatchNorms } from '@edgetta/compiler';
import { decodeModel } from '@edgetta/onnx';
import { randomInput, smallCnn } from '@edgetta/testing';
import { tfjsGradients, useTfjsBackend } from '@edgetta/testing/tfjs';
import { eata } from '../src/index.js';

/*
 * EATA's Fisher calibration and anti-forgetting term on a small random CNN (5 classes, with a
 * depthwise conv and a rank-2 BatchNorm): the Fisher equals the mean of squared tfjs-oracle
 * gradients of the cross-entropy to the own argmax (relative L2 <= 1e-3), survives reset(), and
 * keeps the parameters closer to their anchors than ETA.
 */
const bytes = smallCnn(3);
const batches = [0, 1, 2].map((i) => randomInput(40 + i, [8, 3, 8, 8]));
const feeds = (x: Float32Array) => ({ x: new ort.Tensor('float32', x, [8, 3, 8, 8]) });

function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  let d = 0;
  for (let i = 0; i < b.length; i++) {
    n += (a[i] - b[i]) ** 2;
    d += b[i] ** 2;
  }
  return Math.sqrt(n / d);
}

describe('eata', () => {
  it('calibrate(): Fisher = mean over batches of squared gradients of CE to the own argmax; anchors = source; kept across reset()', async () => {
    const s = await AdaptiveSession.create(bytes, { method: 'eata', runtime: 'node' });
    await s.calibrate(batches.slice(0, 2).map(feeds));
    const state = s.snapshot().state;
    // Oracle: tfjs autodiff of the compiled 'fisher' forward graph, per batch.
    const model = decodeModel(bytes);
    const sites = findBatchNorms(model);
    const layers = sites.map(({ node: _n, input: _i, output: _o, ...l }, i) => ({ ...l, rank: s.layerInfo[i].rank }));
    const forward = compilePass(model, sites, layers, { ...eata.passes.fisher, grads: [] }, { options: eata.defaults });
    const keys = sites.flatMap((l) => [`layer.${l.index}.gamma`, `layer.${l.index}.beta`]);
    await useTfjsBackend('cpu');
    const fisher: Record<string, Float64Array> = {};
    for (const x of batches.slice(0, 2)) {
      const f: Record<string, { data: Float32Array; dims: number[] }> = { x: { data: x, dims: [8, 3, 8, 8] } };
      for (const l of sites) {
        f[`edgetta.state.layer.${l.index}.gamma`] = { data: l.gamma, dims: [l.channels] };
        f[`edgetta.state.layer.${l.index}.beta`] = { data: l.beta, dims: [l.channels] };
      }
      const { grads } = tfjsGradients(forward.model, f, forward.grad!.loss, keys.map((k) => `edgetta.state.${k}`));
      for (const k of keys) {
        const g = grads[`edgetta.state.${k}`];
        const acc = (fisher[k] ??= new Float64Array(g.length));
        for (let i = 0; i < g.length; i++) acc[i] += (g[i] * g[i]) / 2;
      }
    }
    const mine = keys.flatMap((k) => Array.from(state[k.replace(/\.(gamma|beta)$/, '.fisher.$1')]));
    const ref = keys.flatMap((k) => Array.from(fisher[k]));
    const err = relL2(mine, ref);
    console.log(`EATA Fisher vs tfjs oracle: ${mine.length} values, rel L2 ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-3);
    for (const l of sites) expect(state[`layer.${l.index}.anchor.gamma`]).toEqual(l.gamma);
    await s.run(feeds(batches[2]));
    s.reset();
    const after = s.snapshot().state;
    for (const k of Object.keys(after).filter((k) => k.includes('fisher.') || k.includes('anchor.'))) expect(after[k], k).toEqual(state[k]);
    await expect(s.calibrate([])).rejects.toThrow(/non-empty array/);
    await s.dispose();
  });

  it('the Fisher anchor keeps the parameters closer to the source than ETA', async () => {
    const drift: Record<string, number> = {};
    for (const [method, options] of [['eta', {}], ['eata', { fisherWeight: 1e9 }]] as const) {
      const s = await AdaptiveSession.create(bytes, { method, runtime: 'node', methodOptions: { ...options, e0Factor: 1, margin: 1 } });
      if (method === 'eata') await s.calibrate(batches.map(feeds));
      const source = s.snapshot().state;
      for (let i = 0; i < 6; i++) await s.run(feeds(batches[i % 3]));
      expect(s.stats.updates.applied).toBe(6);
      const now = s.snapshot().state;
      let d = 0;
      for (const k of Object.keys(now).filter((k) => /^layer\.\d+\.(gamma|beta)$/.test(k))) for (let i = 0; i < now[k].length; i++) d += (now[k][i] - source[k][i]) ** 2;
      drift[method] = Math.sqrt(d);
      await s.dispose();
    }
    console.log(`parameter drift after 6 batches: eta ${drift.eta.toExponential(3)}, eata ${drift.eata.toExponential(3)}`);
    expect(drift.eata).toBeLessThan(drift.eta);
  });
});
