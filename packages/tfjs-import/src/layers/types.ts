import type { KTensor, LayerContext } from '../context.js';

/** Converts one call of a Keras layer: the tensors it was called on -> its output tensor(s). */
export type LayerConverter = (ctx: LayerContext, inputs: KTensor[]) => KTensor | KTensor[];

/** The single input of a one-input layer (an error otherwise). */
export function single(ctx: LayerContext, inputs: KTensor[]): KTensor {
  if (inputs.length !== 1) ctx.fail(`expects one input, was called on ${inputs.length}`);
  return inputs[0];
}
