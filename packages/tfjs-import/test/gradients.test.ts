import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchStatsNorm, meanEntropyLoss, sourceAffine, type MethodDefinition, type PassOutput } from '@edgetta/core';
import { AdaptiveSession } from '@edgetta/sdk';
import { importLayersModel } from '@edgetta/tfjs-import';
import { randomData, relL2, setWeights, tf, tfReady } from './helpers.js';
import { functionalModel, sequentialModel } from './models.js';

/** Mean softmax entropy of a model's first output, BN in training mode. */
function entropyOf(model: tf.LayersModel, x: tf.Tensor): tf.Scalar {
  const out = model.apply(x, { training: true });
  const logits = (Array.isArray(out) ? out[0] : out) as tf.Tensor2D;
  const logp = tf.logSoftmax(logits);
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.exp(logp), logp), -1))) as tf.Scalar;
}

/** Runs the gradient probe on an imported model and returns its pass output. */
async function edgettaGradients(model: tf.LayersModel, x: Float32Array, dims: number[]): Promise<{ out: PassOutput; layers: string[] }> {
  const sink: PassOutput[] = [];
  const ir = await importLayersModel(model);
  const s = await AdaptiveSession.create(ir, { method: gradientProbe(sink), runtime: 'node' });
  await s.run({ [ir.graph.inputs[0].name]: new ort.Tensor('float32', x, dims) });
  const layers = s.layerInfo.map((l) => l.name);
  await s.dispose();
  return { out: sink[0], layers };
}

beforeAll(tfReady);

/**
 * A method whose one pass returns d(mean entropy)/d(gamma, beta) of every BN with batch
 * statistics (Tent's gradient, without its optimizer step): the graph is compiled and
 * differentiated by edgetta (@edgetta/compiler + @edgetta/autodiff) and run by onnxruntime.
 */
function gradientProbe(sink: PassOutput[]): MethodDefinition<Record<string, never>> {
  return {
    name: 'grad-probe',
    summary: 'returns the BN-affine gradients of the mean entropy',
    paper: 'test',
    defaults: {},
    optionSpecs: {},
    minBatchSize: { size: 2, reason: 'batch statistics' },
    initLayerState: sourceAffine,
    passes: {
      predict: {
        reads: ['gamma', 'beta'],
        grads: ['gamma', 'beta'],
        norm: batchStatsNorm,
        loss: { build: ({ ops, logits }) => ({ loss: meanEntropyLoss(ops, logits) }) },
      },
    },
    async step(ctx) {
      const out = await ctx.run('predict');
      sink.push(out);
      return out;
    },
  };
}

/** tfjs autodiff: mean softmax entropy of the first output with BN in training mode, d/d(gamma, beta) per BN layer. */
function tfjsGradients(model: tf.LayersModel, x: Float32Array, dims: number[]) {
  const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  const vars = new Map<string, tf.Variable>();
  for (const l of bns) for (const w of l.trainableWeights.filter(Boolean)) vars.set(`${l.name}/${w.originalName.split('/').pop()}`, w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => entropyOf(model, tf.tensor(x, dims)), [...vars.values()]);
  const byKey = new Map<string, Float32Array>();
  for (const [k, v] of vars) byKey.set(k, grads[v.name].dataSync() as Float32Array);
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: byKey, layers: bns.map((l) => l.name) };
}

/**
 * The sequential model for tfjs' side: tfjs 4.22 cannot run a BatchNormalization without
 * center/scale in training mode (it reads the missing beta), so its oracle is a twin whose bn3 has
 * gamma = 1 and beta = 0 variables (the same function), with every other weight copied.
 */
function affineTwin(model: tf.LayersModel): tf.LayersModel {
  const twin = sequentialModel(1, { dropout: false, affineBn3: true, avgPoolPadding: 'valid' });
  for (const l of twin.layers) {
    const w = model.getLayer(l.name).getWeights();
    if (l.name !== 'bn3') l.setWeights(w);
    else l.setWeights([tf.ones([w[0].shape[0]]), tf.zeros([w[0].shape[0]]), w[0], w[1]]);
  }
  return twin;
}

describe('BN-affine gradients of the mean entropy on imported models equal tfjs autodiff', () => {
  for (const [name, make, oracle, shape] of [
    ['functional (BN after add/concat, on rank 2; swish, sigmoid gate)', () => functionalModel(2, { dropout: false }), (m: tf.LayersModel) => m, [6, 9, 9, 3]],
    // 'valid' average pooling here: tfjs' own gradient of a 'same' one is wrong (see the next test).
    ['sequential (depthwise, separable, BN without center/scale, padding, pooling, flatten)', () => sequentialModel(1, { dropout: false, avgPoolPadding: 'valid' }), affineTwin, [6, 12, 12, 3]],
  ] as const) {
    it(name, async () => {
      const model = make();
      const dims = [...shape];
      const x = randomData(31, dims);
      const { out: ours, layers } = await edgettaGradients(model, x, dims);
      const ref = tfjsGradients(oracle(model), x, dims);
      expect(Math.abs(ours.loss! - ref.loss)).toBeLessThan(1e-5);
      const errors: string[] = [];
      let worst = 0;
      let compared = 0;
      layers.forEach((layer, i) => {
        const keras = ref.layers.find((n) => layer.endsWith(`/${n}`));
        expect(keras, layer).toBeDefined();
        for (const p of ['gamma', 'beta']) {
          const want = ref.grads.get(`${keras}/${p}`);
          const got = ours.grads![`layer.${i}.${p}`];
          expect(got, `${layer} ${p}`).toBeDefined();
          expect(want, `${keras}/${p}`).toBeDefined();
          const e = relL2(got, want!);
          worst = Math.max(worst, e);
          compared++;
          errors.push(`${keras}.${p} ${e.toExponential(1)}`);
        }
      });
      console.log(`${name.split(' ')[0]}: loss ${ours.loss!.toFixed(5)} (tfjs ${ref.loss.toFixed(5)}); relative L2 per parameter: ${errors.join(', ')}`);
      expect(compared).toBe(2 * layers.length);
      expect(worst).toBeLessThanOrEqual(1e-3);
    });
  }

  it("AveragePooling2D with 'same' padding: the gradient equals central finite differences of the tfjs forward", async () => {
    // tfjs 4.22's cpu AvgPoolGrad divides every window by the full window size, while the forward
    // (like TF) averages border windows over their valid pixels only, so its autodiff cannot be the
    // oracle here; the finite differences of its (correct) forward are.
    const L = tf.layers;
    const model = tf.sequential({
      layers: [
        L.conv2d({ inputShape: [7, 7, 3], filters: 4, kernelSize: 3, padding: 'same', name: 'c0' }),
        L.batchNormalization({ name: 'bn' }),
        L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'pool' }),
        L.flatten(),
        L.dense({ units: 5, name: 'head' }),
      ],
    });
    setWeights(model, 4);
    const dims = [6, 7, 7, 3];
    const x = randomData(41, dims);
    const { out } = await edgettaGradients(model, x, dims);
    const xt = tf.tensor(x, dims);
    const bn = model.getLayer('bn');
    const [gammaVar, betaVar] = bn.trainableWeights.map((w) => w.read() as tf.Variable);
    const fd = (v: tf.Variable): Float32Array => {
      const base = v.dataSync().slice();
      const eps = 1e-2;
      const at = (i: number, d: number) => {
        const p = base.slice();
        p[i] += d;
        v.assign(tf.tensor(p));
        return tf.tidy(() => entropyOf(model, xt).dataSync()[0]);
      };
      const g = Float32Array.from(base, (_, i) => (at(i, eps) - at(i, -eps)) / (2 * eps));
      v.assign(tf.tensor(base));
      return g;
    };
    const fdGamma = fd(gammaVar);
    const fdBeta = fd(betaVar);
    const auto = tf.variableGrads(() => entropyOf(model, xt), [gammaVar, betaVar]).grads;
    const e = { gamma: relL2(out.grads!['layer.0.gamma'], fdGamma), beta: relL2(out.grads!['layer.0.beta'], fdBeta) };
    const tfjsErr = { gamma: relL2(auto[gammaVar.name].dataSync(), fdGamma), beta: relL2(auto[betaVar.name].dataSync(), fdBeta) };
    console.log(`avg pool 'same': edgetta vs finite differences ${e.gamma.toExponential(1)} / ${e.beta.toExponential(1)}; tfjs autodiff vs finite differences ${tfjsErr.gamma.toExponential(1)} / ${tfjsErr.beta.toExponential(1)}`);
    expect(e.gamma).toBeLessThan(1e-2);
    expect(e.beta).toBeLessThan(1e-2);
  });
});
