/**
 * Composition: a method = a normalization policy + an optional objective (loss and optimizer over
 * the normalization affine parameters, with an optional sample filter inside the loss). Presets
 * are plain objects over those parts, so "UnMix-TNS normalization trained with Tent's entropy" is
 * `compose({ norm: unmixTnsPolicy, objective: entropyObjective })`, not new method code.
 * Methods with a memory and their own schedule (RoTTA) write their `step` directly.
 */
import { applyGradients, sourceAffine } from './gradient.js';
import { entropyThreshold, meanEntropyLoss, reliableEntropyLoss } from './losses.js';
import type { LayerSource, LossSpec, MethodDefinition, NormArgs, NormResult, OptionSpec, StepContext } from './method.js';
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
  norm<T>(args: NormArgs<T, O>): NormResult<T>;
  initLayerState?(layer: LayerSource, options: O): Record<string, Float32Array>;
  layerStateDims?(layer: LayerSource, options: O): Record<string, number[]>;
  /** Values of `hyper` for a batch (e.g. a momentum that depends on the batch size). */
  hyperValues?(ctx: StepContext<O>): Record<string, number>;
  /** Values of `hyper` when answering without adapting. @defaultValue hyperValues */
  inferHyperValues?(ctx: StepContext<O>): Record<string, number>;
  minBatchSize?: MethodDefinition<O & object>['minBatchSize'];
}

/** A loss over the logits and the optimizer that minimizes it over every layer's gamma and beta. */
export interface Objective<P> {
  name: string;
  paper: string;
  defaults: P;
  optionSpecs: { readonly [K in keyof P]: OptionSpec };
  loss: LossSpec<P>;
  optimizer(options: P): Optimizer;
}

export interface ComposeSpec<N, P> {
  /** Registry name, e.g. 'unmix-tns+tent'. */
  name: string;
  norm: NormPolicy<N>;
  objective?: Objective<P>;
  /** Overrides of the parts' defaults (e.g. UnMix-TNS's lr 1e-5 for gradient methods). */
  defaults?: Partial<N & P>;
}

/** Builds a method from a normalization policy and an optional objective. */
export function compose<N extends object, P extends object = Record<string, never>>(spec: ComposeSpec<N, P>): MethodDefinition<N & P> {
  type O = N & P;
  const { norm: policy, objective } = spec;
  const optionNames = Object.keys(policy.defaults).filter((k) => objective && k in objective.defaults);
  if (optionNames.length) throw new Error(`compose('${spec.name}'): option names used by both parts: ${optionNames.join(', ')}`);
  const hyperOf = (ctx: StepContext<O>) => policy.hyperValues?.(ctx as never) ?? {};
  const baseReads = policy.reads ?? [];
  const def: MethodDefinition<O> = {
    name: spec.name,
    summary: objective ? `${policy.summary} Trained with ${objective.name}.` : policy.summary,
    paper: objective ? `${policy.paper} + ${objective.paper}` : policy.paper,
    defaults: { ...policy.defaults, ...(objective?.defaults ?? {}), ...(spec.defaults ?? {}) } as O,
    optionSpecs: { ...policy.optionSpecs, ...(objective?.optionSpecs ?? {}) } as MethodDefinition<O>['optionSpecs'],
    ...(policy.minBatchSize ? { minBatchSize: policy.minBatchSize } : {}),
    initLayerState(layer, o) {
      const own = policy.initLayerState?.(layer, o) ?? {};
      if (!objective) return own;
      return { ...own, ...sourceAffine(layer), ...objective.optimizer(o).slots(['gamma', 'beta'], layer.channels) };
    },
    ...(policy.layerStateDims ? { layerStateDims: (layer: LayerSource, o: O) => policy.layerStateDims!(layer, o) } : {}),
    ...(objective ? { initState: (o: O) => objective.optimizer(o).init() } : {}),
    passes: {
      predict: { reads: objective ? [...baseReads, 'gamma', 'beta'] : baseReads, writes: policy.writes, hyper: policy.hyper, norm: policy.norm as never },
      ...(objective
        ? {
            adapt: {
              reads: [...baseReads, 'gamma', 'beta'],
              writes: policy.writes,
              hyper: policy.hyper,
              grads: ['gamma', 'beta'],
              norm: policy.norm as never,
              loss: objective.loss as unknown as LossSpec<O>,
            },
          }
        : {}),
    },
    async step(ctx) {
      if (!objective) return ctx.run('predict', { hyper: hyperOf(ctx) });
      const out = await ctx.run('adapt', { hyper: hyperOf(ctx) });
      return { ...out, update: applyGradients(ctx.state, objective.optimizer(ctx.options), out) };
    },
    infer: (ctx) => ctx.run('predict', { hyper: policy.inferHyperValues?.(ctx as never) ?? hyperOf(ctx) }),
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
