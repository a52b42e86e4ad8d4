/**
 * RoTTA's robust BatchNorm (RBN, tta-spec 4.4) for one model of the teacher-student pair. Each
 * model keeps its own global statistics and affine parameters in the layer state under a prefix
 * (`t.` teacher, `s.` student): `t.mean`, `t.variance`, `t.gamma`, `t.beta`, ...
 */
import { batchAxes, type NormArgs, type NormResult } from '@edgetta/core';

export type Model = 't' | 's';

/** The layer-state names of one model's RBN. */
export const rbnKeys = (who: Model) => ({ mean: `${who}.mean`, variance: `${who}.variance`, gamma: `${who}.gamma`, beta: `${who}.beta` });

/** Eval mode: normalize with the stored globals mu_g, var_g. */
export function rbnEval<T, O>({ ops, x, state, layer }: NormArgs<T, O>, who: Model): NormResult<T> {
  const k = rbnKeys(who);
  return { y: ops.batchNorm(x, state[k.gamma], state[k.beta], state[k.mean], state[k.variance], layer.epsilon) };
}

/**
 * Train mode: mu = (1 - alpha) mu_g + alpha mu_B, var = (1 - alpha) var_g + alpha var_B (biased batch
 * variance), gradients flowing through mu_B and var_B; normalize with the updated mu, var and write
 * them back as the new globals (the write-back leaves the loss graph, so it carries no gradient).
 */
export function rbnTrain<T, O extends { alpha: number }>({ ops, x, state, layer, options }: NormArgs<T, O>, who: Model): NormResult<T> {
  const k = rbnKeys(who);
  const { mean, variance } = ops.moments(x, batchAxes(layer.rank));
  const a = ops.scalar(options.alpha);
  const keep = ops.scalar(1 - options.alpha);
  const mu = ops.add(ops.mul(keep, state[k.mean]), ops.mul(a, mean));
  const v = ops.add(ops.mul(keep, state[k.variance]), ops.mul(a, variance));
  return { y: ops.batchNorm(x, state[k.gamma], state[k.beta], mu, v, layer.epsilon), state: { [k.mean]: mu, [k.variance]: v } };
}
