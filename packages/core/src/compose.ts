/**
 * Composition: a method = a normalization policy + an optional objective (loss and optimizer over
 * the normalization affine parameters, with an optional sample filter inside the loss) + an
 * optional output stage (LAME, prior correction) between the forward and the policy's host-side
 * update, so a policy keyed by pseudo-labels (balanced-bn) reads the adjusted answer. Presets
 * are plain objects over those parts, so "UnMix-TNS normalization trained with Tent's entropy" is
 * `compose({ norm: unmixTnsPolicy, objective: entropyObjective })`, not new method code.
 * Methods with a memory and their own schedule (RoTTA) write their `step` directly.
 */
import { applyGradients, sourceAffine } from './gradient.js';
import { entropyThreshold, meanEntropyLoss, reliableEntropyLoss } from './losses.js';
import type { LayerSource, LossSpec, MethodDefinition, ModelInfo, NormArgs, NormResult, OptionSpec, PassOutput, StepContext } from './method.js';
import { applyStage, passesFor, type OutputStage } from './output-stage.js';
import type { Applicability } from './sites.js';
import { adam, type Optimizer } from './optim.js';

/** How every normalization layer normalizes, the state it keeps, and the run-time scalars it needs. */
export interface NormPolicy<O> {
  name: string;
  summary: string;
  paper: string;
  defaults: O;
  optionSpecs: { readonly [K in keyof O]: OptionSpec };
  reads?: readonly string[];
  writes?: readonly string[];
  hyper?: readonly string[];
  /** Per-run layer values the forward returns for `update` (see `PassSpec.outputs`). */
  outputs?: readonly string[];
  norm<T>(args: NormArgs<T, O>): NormResult<T>;
  /**
   * Host-side state update after an adapting forward, from its layer outputs and the answered
   * (stage-adjusted) logits; not called when answering without adapting.
   */
  update?(ctx: StepContext<O>, out: PassOutput): void;
  initLayerState?(layer: LayerSource, options: O, model?: ModelInfo): Record<string, Float32Array>;
  layerStateDims?(layer: LayerSource, options: O, model?: ModelInfo): Record<string, number[]>;
  /** Method-level state of the policy (e.g. per-class sample counts). */
  initState?(options: O, model?: ModelInfo): Record<string, Float32Array>;
  /** Values of `hyper` for a batch (e.g. a momentum that depends on the batch size). */
  hyperValues?(ctx: StepContext<O>): Record<string, number>;
  /** Values of `hyper` when answering without adapting. @defaultValue hyperValues */
  inferHyperValues?(ctx: StepContext<O>): Record<string, number>;
  minBatchSize?: MethodDefinition<O & object>['minBatchSize'];
  /** What the policy applies to. @defaultValue batch-norm sites, any output */
  appliesTo?: Applicability;
}

/** A loss over the logits and the optimizer that minimizes it over every layer's gamma and beta. */
export interface Objective<P> {
  name: string;
  paper: string;
  defaults: P;
  optionSpecs: { readonly [K in keyof P]: OptionSpec };
  loss: LossSpec<P>;
  optimizer(options: P): Optimizer;
  /** Method-level state of the objective besides the optimizer's (e.g. ROID's class-probability average). */
  initState?(options: P, model?: ModelInfo): Record<string, Float32Array>;
  /** Host-side work after each update, from the adapting forward (ROID: weight ensembling with the source). */
  after?(ctx: StepContext<P>, out: PassOutput): void;
}

export interface ComposeSpec<N, P, S> {
  /** Registry name, e.g. 'unmix-tns+tent'. */
  name: string;
  norm: NormPolicy<N>;
  objective?: Objective<P>;
  /** Adjusts each answer (classifiers only) before the policy's update reads it. */
  output?: OutputStage<S & object>;
  /** Overrides of the parts' defaults (e.g. UnMix-TNS's lr 1e-5 for gradient methods). */
  defaults?: Partial<N & P & S>;
  /** One line for listings. @defaultValue the parts' summaries */
  summary?: string;
}

/** Builds a method from a normalization policy, an optional objective and an optional output stage. */
export function compose<N extends object, P extends object = Record<string, never>, S extends object = Record<string, never>>(spec: ComposeSpec<N, P, S>): MethodDefinition<N & P & S> {
  type O = N & P & S;
  const { norm: policy, objective, output: stage } = spec;
  const names = [Object.keys(policy.defaults), Object.keys(objective?.defaults ?? {}), Object.keys(stage?.defaults ?? {})].flat();
  const optionNames = [...new Set(names.filter((k, i) => names.indexOf(k) !== i))];
  if (optionNames.length) throw new Error(`compose('${spec.name}'): option names used by two parts: ${optionNames.join(', ')}`);
  const hyperOf = (ctx: StepContext<O>) => policy.hyperValues?.(ctx as never) ?? {};
  const baseReads = policy.reads ?? [];
  const finish = (ctx: StepContext<O>, out: PassOutput, adapting: boolean): PassOutput => {
    const answer = stage ? applyStage(stage, out, ctx.options) : out;
    if (adapting) policy.update?.(ctx as never, answer);
    return answer;
  };
  const summary = [policy.summary, objective ? `Trained with ${objective.name}.` : '', stage ? `Answers adjusted by ${stage.name}.` : ''].filter(Boolean).join(' ');
  const def: MethodDefinition<O> = {
    name: spec.name,
    summary: spec.summary ?? summary,
    paper: [policy.paper, objective?.paper, stage?.paper].filter(Boolean).join(' + '),
    defaults: { ...policy.defaults, ...(objective?.defaults ?? {}), ...(stage?.defaults ?? {}), ...(spec.defaults ?? {}) } as O,
    optionSpecs: { ...policy.optionSpecs, ...(objective?.optionSpecs ?? {}), ...(stage?.optionSpecs ?? {}) } as MethodDefinition<O>['optionSpecs'],
    ...(stage || policy.appliesTo ? { appliesTo: { sites: policy.appliesTo?.sites ?? ['batch-norm'], ...(stage ? { outputs: ['classifier'] as const } : policy.appliesTo?.outputs ? { outputs: policy.appliesTo.outputs } : {}) } } : {}),
    ...(policy.minBatchSize ? { minBatchSize: policy.minBatchSize } : {}),
    initLayerState(layer, o, model) {
      const own = policy.initLayerState?.(layer, o, model) ?? {};
      if (!objective) return own;
      return { ...own, ...sourceAffine(layer), ...objective.optimizer(o).slots(['gamma', 'beta'], layer.channels) };
    },
    ...(policy.layerStateDims ? { layerStateDims: (layer: LayerSource, o: O, model?: ModelInfo) => policy.layerStateDims!(layer, o, model) } : {}),
    ...(objective || policy.initState
      ? { initState: (o: O, model?: ModelInfo) => ({ ...(policy.initState?.(o, model) ?? {}), ...(objective ? objective.optimizer(o).init() : {}), ...(objective?.initState?.(o, model) ?? {}) }) }
      : {}),
    passes: passesFor(
      {
        predict: { reads: objective ? [...baseReads, 'gamma', 'beta'] : baseReads, writes: policy.writes, hyper: policy.hyper, outputs: policy.outputs, norm: policy.norm as never },
        ...(objective
          ? {
              adapt: {
                reads: [...baseReads, 'gamma', 'beta'],
                writes: policy.writes,
                hyper: policy.hyper,
                outputs: policy.outputs,
                grads: ['gamma', 'beta'],
                norm: policy.norm as never,
                loss: objective.loss as unknown as LossSpec<O>,
              },
            }
          : {}),
      },
      stage,
    ),
    async step(ctx) {
      if (!objective) return finish(ctx, await ctx.run('predict', { hyper: hyperOf(ctx) }), true);
      const out = await ctx.run('adapt', { hyper: hyperOf(ctx) });
      const update = applyGradients(ctx.state, objective.optimizer(ctx.options), out);
      objective.after?.(ctx as never, out);
      return finish(ctx, { ...out, update }, true);
    },
    infer: async (ctx) => finish(ctx, await ctx.run('predict', { hyper: policy.inferHyperValues?.(ctx as never) ?? hyperOf(ctx) }), false),
  };
  return def;
}

export interface EntropyObjectiveOptions {
  /** Adam learning rate. @defaultValue 1e-3 */
  lr: number;
  /** Adam beta1. @defaultValue 0.9 */
  beta1: number;
  /** Adam beta2. @defaultValue 0.999 */
  beta2: number;
  /**
   * Keep only samples whose entropy is below this factor times ln(classes) (ETA's reliability
   * filter uses 0.4; 0 keeps every sample, as Tent). @defaultValue 0
   */
  entropyFilter: number;
}

/** Tent's objective: the mean softmax entropy (optionally over reliable samples only), minimized with Adam. */
export const entropyObjective: Objective<EntropyObjectiveOptions> = {
  name: "Tent's entropy minimization",
  paper: 'Wang et al., Tent, ICLR 2021',
  defaults: { lr: 1e-3, beta1: 0.9, beta2: 0.999, entropyFilter: 0 },
  optionSpecs: {
    lr: { doc: 'Adam learning rate (> 0)', greaterThan: 0 },
    beta1: { doc: 'Adam beta1, in [0, 1)', min: 0, max: 0.999999 },
    beta2: { doc: 'Adam beta2, in [0, 1)', min: 0, max: 0.999999 },
    entropyFilter: { doc: 'reliability filter as a factor of ln(classes), in [0, 1]; 0 = off', min: 0, max: 1 },
  },
  loss: {
    build({ ops, logits, options }) {
      if (!options.entropyFilter) return { loss: meanEntropyLoss(ops, logits) };
      const reliable = reliableEntropyLoss(ops, logits, { e0: entropyThreshold(ops, logits, options.entropyFilter) });
      return { loss: reliable.loss, outputs: { selected: reliable.count } };
    },
  },
  optimizer: (o) => adam({ lr: o.lr, betas: [o.beta1, o.beta2], weightDecay: 0 }),
};
