/**
 * Output stages: adjustments of a method's answer on the host, after its graph ran (LAME's
 * Laplacian adjustment over the batch, prior correction). A stage reads the answered logits of a
 * classifier and, with `features`, the penultimate features of the same forward; it returns new
 * logits. Any method takes a stage (`withOutputStage(tent, prior)`, registered names `tent+prior`),
 * and `compose` runs one between the forward and its policy's host update, so pseudo-labels come
 * from the adjusted answer.
 */
import type { MethodDefinition, OptionSpec, PassOutput, PassSpec, StepContext } from './method.js';

/** What a stage sees of one forward: the answered logits `[N, K]` and, when asked for, the features `[N, D]`. */
export interface StageInput<S> {
  logits: { data: Float32Array; dims: readonly number[] };
  features?: { data: Float32Array; dims: readonly number[] };
  options: S;
}

export interface OutputStage<S extends object = Record<string, number>> {
  name: string;
  summary: string;
  paper: string;
  defaults: Readonly<S>;
  optionSpecs: { readonly [K in keyof S]: OptionSpec };
  /** Needs the penultimate features: every pass of the method then also returns them. */
  features?: boolean;
  /** The adjusted logits `[N, K]` (softmax of them is the adjusted class distribution). */
  adjust(input: StageInput<S>): Float32Array;
}

/** The output with its logits replaced by the stage's adjustment (the first model output too). */
export function applyStage<S extends object>(stage: OutputStage<S>, out: PassOutput, options: S): PassOutput {
  if (out.logits.dims.length !== 2) throw new Error(`output stage '${stage.name}' adjusts classifier logits [N, K]; the first output has dims [${out.logits.dims.join(', ')}]`);
  if (stage.features && !out.features) throw new Error(`output stage '${stage.name}' needs the penultimate features, and the pass returned none`);
  const data = stage.adjust({ logits: out.logits, features: out.features, options });
  const first = Object.keys(out.outputs).find((k) => out.outputs[k].data === out.logits.data);
  const logits = { data, dims: out.logits.dims };
  const outputs = first ? { ...out.outputs, [first]: { type: 'float32', data, dims: out.logits.dims } } : out.outputs;
  return { ...out, logits, outputs };
}

/** The passes with the features a stage reads. */
export function passesFor<O>(passes: Record<string, PassSpec<O>>, stage: OutputStage<any> | undefined): Record<string, PassSpec<O>> {
  if (!stage?.features) return passes;
  return Object.fromEntries(Object.entries(passes).map(([k, p]) => [k, { ...p, features: true }]));
}

/**
 * A method whose answers go through an output stage: its options are the method's and the
 * stage's (names must not clash), it applies to classifiers only, and each `run()`/`infer()`
 * answers with the adjusted logits. The method's own adaptation is unchanged.
 */
export function withOutputStage<O extends object, S extends object>(method: MethodDefinition<O>, stage: OutputStage<S>, name = `${method.name}+${stage.name}`): MethodDefinition<O & S> {
  const clash = Object.keys(stage.defaults).filter((k) => k in method.defaults);
  if (clash.length) throw new Error(`withOutputStage('${name}'): option names used by both '${method.name}' and '${stage.name}': ${clash.join(', ')}`);
  type M = O & S;
  const adjust = (ctx: StepContext<M>, out: PassOutput) => applyStage(stage, out, ctx.options);
  const predict = (ctx: StepContext<M>) => ctx.run('predict');
  return {
    ...(method as unknown as MethodDefinition<M>),
    name,
    summary: `${method.summary} Answers adjusted by ${stage.name}.`,
    paper: `${method.paper} + ${stage.paper}`,
    defaults: { ...method.defaults, ...stage.defaults } as M,
    optionSpecs: { ...method.optionSpecs, ...stage.optionSpecs } as MethodDefinition<M>['optionSpecs'],
    appliesTo: { sites: method.appliesTo?.sites ?? ['batch-norm'], outputs: ['classifier'] },
    passes: passesFor(method.passes as Record<string, PassSpec<M>>, stage),
    step: async (ctx) => adjust(ctx, await method.step(ctx as unknown as StepContext<O>)),
    infer: async (ctx) => adjust(ctx, await (method.infer ? method.infer(ctx as unknown as StepContext<O>) : predict(ctx))),
  };
}
