/**
 * Building blocks shared by the gradient methods (Tent, ETA/EATA, SAR): the batch-statistics
 * normalization with trainable affine parameters, their source initialization, the guarded
 * optimizer step and in-step re-initialization (episodic Tent, SAR's model recovery).
 */
import type { LayerSource, NormArgs, NormResult, PassOutput, PassSpec, StateStore, StepContext, UpdateReport } from './method.js';
import { layerKey } from './method.js';
import type { Optimizer } from './optim.js';

/** BatchNorm with the statistics of the batch and gamma/beta from the layer state (train-mode BN, as Tent configures it). */
export function batchStatsNorm<T, O>({ ops, x, gamma, beta, layer }: NormArgs<T, O>): NormResult<T> {
  return { y: ops.batchNormTrain(x, gamma, beta, layer.epsilon).y };
}

/** The trainable affine parameters, initialized from the source model. */
export function sourceAffine(layer: LayerSource): Record<string, Float32Array> {
  return { gamma: layer.gamma.slice(), beta: layer.beta.slice() };
}

/** A pass answering with the current parameters and batch statistics, without a loss (for `infer`). */
export function affinePredictPass<O>(): PassSpec<O> {
  return { reads: ['gamma', 'beta'], norm: batchStatsNorm };
}

/**
 * One optimizer step from a pass's loss and gradients. A non-finite loss, a non-finite gradient or
 * a step that would make a parameter non-finite changes nothing and is reported as skipped.
 */
export function applyGradients(store: StateStore, optimizer: Optimizer, out: PassOutput): UpdateReport {
  if (out.loss === undefined || !out.grads) throw new Error('applyGradients: the pass has no loss or gradients (declare loss and grads in its PassSpec)');
  if (!Number.isFinite(out.loss)) return { applied: false, skipped: `non-finite loss (${out.loss})`, loss: out.loss };
  const r = optimizer.step(store, out.grads);
  return r.applied ? { applied: true, loss: out.loss } : { applied: false, skipped: r.skipped, loss: out.loss };
}

/** Re-initializes every layer's state with `layerInit` and sets the method-level `globals` (copies). */
export function reinitialize<O>(ctx: StepContext<O>, layerInit: (layer: LayerSource) => Record<string, Float32Array>, globals: Record<string, Float32Array> = {}): void {
  for (const layer of ctx.layers) for (const [k, v] of Object.entries(layerInit(layer))) ctx.state.set(layerKey(layer.index, k), v.slice());
  for (const [k, v] of Object.entries(globals)) ctx.state.set(k, v.slice());
}

/** Row-wise softmax of [N, K] logits (float64 arithmetic). */
export function softmaxRows(logits: ArrayLike<number>, n: number, k: number): Float64Array {
  const p = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[r * k + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += p[r * k + j] = Math.exp(logits[r * k + j] - max);
    for (let j = 0; j < k; j++) p[r * k + j] /= sum;
  }
  return p;
}
