/**
 * rotta: Robust Test-Time Adaptation. Yuan, Xie & Li, "Robust Test-Time Adaptation in Dynamic
 * Scenarios", CVPR 2023 (BIT-DA/RoTTA). tta-spec 4.4. Built for label-correlated, never-ending
 * streams; works at batch size 1 (it adapts from its memory, not from the batch).
 *
 * State: a teacher and a student, each with its own robust-BatchNorm globals mu_g, var_g and
 * affine gamma, beta per layer (`t.*`, `s.*`); Adam moments of the student's gamma, beta; the CSTU
 * memory bank (`rotta.mem.*`); the instance counter.
 *
 * Per batch:
 *   z_T = f_T(x) in eval mode (RBN normalizes with mu_g, var_g); p = softmax(z_T), y^ = argmax p,
 *   u = -sum p log(p + 1e-6);
 *   each sample in order is offered to the memory (rules in memory.ts); whenever the instance
 *   counter reaches a multiple of `updateEvery` (possibly mid-batch), one update:
 *     q = softmax(f_T(X_m)) in train mode (updates the teacher's RBN globals);
 *     z_S = f_S(Aug(X_m)) in train mode (updates the student's RBN globals);
 *     L = mean_i sigmoid(-age_i / N) * (-sum_k q_ik log softmax(z_S)_ik);
 *     (s.gamma, s.beta) <- Adam(dL/d(s.gamma, s.beta)), lr 1e-3, betas (0.9, 0.999);
 *     (t.gamma, t.beta) <- (1 - nu) (t.gamma, t.beta) + nu (s.gamma, s.beta).
 *   Returns z_T, the teacher's output before the batch's updates (tta-spec 2.3).
 * RBN in train mode: mu = (1 - alpha) mu_g + alpha mu_B, var = (1 - alpha) var_g + alpha var_B
 * (biased), written back as the new globals and used to normalize (rbn.ts).
 * An update with a non-finite loss, gradient or statistic changes nothing (its statistic writes
 * are rolled back) and is reported as skipped (stats.lastUpdate).
 */
import {
  adam,
  applyGradients,
  isRejectedState,
  layerKey,
  Rng,
  softCrossEntropyLoss,
  softmaxRows,
  type Batch,
  type LayerSource,
  type MethodDefinition,
  type ModelInfo,
  type PassOutput,
  type StateStore,
  type StepContext,
  type UpdateReport,
} from '@edgetta/core';
import { augmentBatch } from './augment.js';
import { imageDims, nchwToNhwc, nhwcToNchw } from './layout.js';
import { ageAll, insert, timeliness, type Bank, type BankConfig } from './memory.js';
import { rbnEval, rbnTrain } from './rbn.js';

export { augmentBatch } from './augment.js';
export { ageAll, emptyBank, insert, occupancy, score, timeliness, type Bank, type BankConfig, type InsertOutcome } from './memory.js';
export { rbnEval, rbnKeys, rbnTrain } from './rbn.js';

export interface RottaOptions {
  /** Adam learning rate of the student. @defaultValue 1e-3 */
  lr: number;
  /** Adam beta1. @defaultValue 0.9 */
  beta1: number;
  /** Adam beta2. @defaultValue 0.999 */
  beta2: number;
  /** RBN weight of the batch statistics in the global-statistics update. @defaultValue 0.05 */
  alpha: number;
  /** Teacher EMA rate over the affine parameters. @defaultValue 0.001 */
  nu: number;
  /** Memory capacity N (also the age scale of the score and the weights). @defaultValue 64 */
  capacity: number;
  /** Samples between updates. @defaultValue 64 */
  updateEvery: number;
  /** Weight of timeliness in the memory score. @defaultValue 1 */
  lambdaT: number;
  /** Weight of uncertainty in the memory score. @defaultValue 1 */
  lambdaU: number;
  /** Seed of the memory-batch augmentation. @defaultValue 0 */
  seed: number;
}

const optimizer = (o: RottaOptions) => adam({ lr: o.lr, betas: [o.beta1, o.beta2] });

/** Per-layer state: both models start as the source; the student's Adam slots are keyed so `slotKey('layer.i.s.gamma', 'adam.m')` finds them. */
function layerInit(layer: LayerSource, o: RottaOptions): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const who of ['t', 's']) {
    out[`${who}.mean`] = layer.mean.slice();
    out[`${who}.variance`] = layer.variance.slice();
    out[`${who}.gamma`] = layer.gamma.slice();
    out[`${who}.beta`] = layer.beta.slice();
  }
  for (const [k, v] of Object.entries(optimizer(o).slots(['gamma', 'beta'], layer.channels))) out[`s.${k}`] = v;
  return out;
}

/** Method state. `rotta.mem.x` is sized from the model's sample dims (or on the first batch when unknown). */
function stateInit(o: RottaOptions, model?: ModelInfo): Record<string, Float32Array> {
  const dims = model?.sampleDims ?? [];
  const per = dims.length && dims.every((d) => d > 0) ? dims.reduce((a, b) => a * b, 1) : 0;
  return {
    ...optimizer(o).init(),
    'rotta.mem.x': new Float32Array(o.capacity * per),
    'rotta.mem.y': new Float32Array(o.capacity),
    'rotta.mem.u': new Float32Array(o.capacity),
    'rotta.mem.age': new Float32Array(o.capacity),
    'rotta.mem.count': new Float32Array(1),
    // Instances since the last update (mod updateEvery): stays small, so float32 is exact on endless streams.
    'rotta.counter': new Float32Array(1),
    // Updates run so far; seeds each update's augmentation.
    'rotta.updates': new Float32Array(1),
  };
}

/**
 * The bank as writable views of the store's entries. The images are written one slot at a time
 * through `state.write`, so rolling a failed run back restores the slots it overwrote, never a copy
 * of the bank; the small label, uncertainty, age and count arrays are journaled whole.
 */
function bankOf(state: StateStore, capacity: number, per: number): Bank {
  let x = state.get('rotta.mem.x');
  if (x.length === 0) state.set('rotta.mem.x', (x = new Float32Array(capacity * per)));
  else if (x.length !== capacity * per) throw new Error(`rotta: the memory holds images of ${x.length / capacity} values, this batch has ${per} per image; reset() before changing the input size`);
  return {
    x,
    writeSlot: (slot) => state.write('rotta.mem.x', slot * per, (slot + 1) * per),
    y: state.write('rotta.mem.y'),
    u: state.write('rotta.mem.u'),
    age: state.write('rotta.mem.age'),
    count: state.write('rotta.mem.count'),
  };
}

const STAT_KEYS = ['t.mean', 't.variance', 's.mean', 's.variance'];

/** One update from the memory (steps a-g of tta-spec 4.4); atomic: a skipped update leaves every statistic and parameter as it was. */
async function update(ctx: StepContext<RottaOptions>, bank: Bank, image: [number, number, number], classes: number): Promise<UpdateReport> {
  const o = ctx.options;
  const [c, h, w] = image;
  const m = bank.count[0];
  const per = c * h * w;
  const xm = bank.x.slice(0, m * per);
  const weights = timeliness(bank, o.capacity);
  const seq = ctx.state.get('rotta.updates')[0];
  const rng = new Rng((o.seed * 1_000_003 + seq) | 0);
  ctx.state.set('rotta.updates', Float32Array.of(seq + 1));
  const nhwc = ctx.batch.layout === 'NHWC';
  const feed = (data: Float32Array): Batch => (nhwc ? { data: nchwToNhwc(data, m, c, h, w), dims: [m, h, w, c], layout: 'NHWC' } : { data, dims: [m, c, h, w], layout: ctx.batch.layout });
  // The passes replace these entries with new arrays, so keeping the references is a backup.
  const saved = new Map<string, Float32Array>();
  for (const l of ctx.layers) for (const k of STAT_KEYS) saved.set(layerKey(l.index, k), ctx.state.get(layerKey(l.index, k)));
  const rollback = () => {
    for (const [k, v] of saved) ctx.state.set(k, v);
  };
  try {
    const teacher = await ctx.run('teacher', { input: feed(xm) });
    const q = Float32Array.from(softmaxRows(teacher.logits.data, m, classes));
    const student = await ctx.run('student', { input: feed(augmentBatch(xm, [m, c, h, w], rng)), inputs: { q: { data: q, dims: [m, classes] }, w: { data: weights, dims: [m] } } });
    const report = applyGradients(ctx.state, optimizer(o), student);
    if (!report.applied) {
      rollback();
      return { ...report, samples: m };
    }
    emaTeacher(ctx, o.nu);
    return { ...report, samples: m };
  } catch (e) {
    // A non-finite statistic write is refused by the host before it lands; anything else is a bug.
    if (!isRejectedState(e)) throw e;
    rollback();
    return { applied: false, skipped: e.message, samples: m };
  }
}

/** theta_T <- (1 - nu) theta_T + nu theta_S over gamma and beta (parameters only, not the RBN statistics). */
function emaTeacher(ctx: StepContext<RottaOptions>, nu: number): void {
  for (const l of ctx.layers) {
    for (const p of ['gamma', 'beta']) {
      const t = ctx.state.get(layerKey(l.index, `t.${p}`));
      const s = ctx.state.get(layerKey(l.index, `s.${p}`));
      ctx.state.set(layerKey(l.index, `t.${p}`), Float32Array.from(t, (v, i) => (1 - nu) * v + nu * s[i]));
    }
  }
}

/** One report for the batch: the last update's, with every update listed when there were several. */
function mergeReports(reports: UpdateReport[]): UpdateReport {
  const last = reports[reports.length - 1];
  if (reports.length === 1) return last;
  const skipped = reports.filter((r) => !r.applied).map((r) => r.skipped);
  return {
    ...last,
    applied: reports.some((r) => r.applied),
    ...(skipped.length ? { skipped: skipped.join('; ') } : {}),
    events: reports.map((r, i) => `update ${i + 1}/${reports.length}: ${r.applied ? `applied, loss ${r.loss}` : `skipped (${r.skipped})`}`),
  };
}

export const rotta: MethodDefinition<RottaOptions> = {
  name: 'rotta',
  summary: 'Robust BN + category-balanced memory + timeliness-weighted mean teacher (for correlated streams; batch size 1 works).',
  paper: 'Yuan, Xie & Li, Robust Test-Time Adaptation in Dynamic Scenarios, CVPR 2023.',
  // The category-balanced memory files each sample under its predicted class.
  appliesTo: { sites: ['batch-norm'], outputs: ['classifier'] },
  defaults: { lr: 1e-3, beta1: 0.9, beta2: 0.999, alpha: 0.05, nu: 0.001, capacity: 64, updateEvery: 64, lambdaT: 1, lambdaU: 1, seed: 0 },
  optionSpecs: {
    lr: { doc: 'Adam learning rate (> 0)', greaterThan: 0 },
    beta1: { doc: 'Adam beta1, in [0, 1)', min: 0, max: 0.999999 },
    beta2: { doc: 'Adam beta2, in [0, 1)', min: 0, max: 0.999999 },
    alpha: { doc: 'RBN weight of the batch statistics, in [0, 1]', min: 0, max: 1 },
    nu: { doc: 'teacher EMA rate over gamma, beta, in [0, 1]', min: 0, max: 1 },
    capacity: { doc: 'memory capacity N (>= 1)', min: 1, integer: true },
    updateEvery: { doc: 'samples between updates (>= 1)', min: 1, integer: true },
    lambdaT: { doc: 'timeliness weight of the memory score (>= 0)', min: 0 },
    lambdaU: { doc: 'uncertainty weight of the memory score (>= 0)', min: 0 },
    seed: { doc: 'augmentation seed', integer: true },
  },
  initLayerState: layerInit,
  initState: stateInit,
  passes: {
    predict: { reads: ['t.mean', 't.variance', 't.gamma', 't.beta'], norm: (args) => rbnEval(args, 't') },
    teacher: { reads: ['t.mean', 't.variance', 't.gamma', 't.beta'], writes: ['t.mean', 't.variance'], norm: (args) => rbnTrain(args, 't') },
    student: {
      reads: ['s.mean', 's.variance', 's.gamma', 's.beta'],
      writes: ['s.mean', 's.variance'],
      grads: ['s.gamma', 's.beta'],
      norm: (args) => rbnTrain(args, 's'),
      loss: { inputs: ['q', 'w'], build: ({ ops, logits, inputs }) => ({ loss: softCrossEntropyLoss(ops, logits, inputs.q, inputs.w) }) },
    },
  },
  async step(ctx): Promise<PassOutput> {
    const o = ctx.options;
    const pred = await ctx.run('predict');
    const z = pred.logits;
    if (z.dims.length !== 2) throw new Error(`rotta: expects classifier logits [N, K] as the first output, got dims [${z.dims.join(', ')}]`);
    const [n, classes] = z.dims;
    const [, c, h, w] = imageDims(ctx.batch.dims, ctx.batch.layout);
    const per = c * h * w;
    const images = ctx.batch.layout === 'NHWC' ? nhwcToNchw(ctx.batch.data, n, c, h, w) : ctx.batch.data;
    const bank = bankOf(ctx.state, o.capacity, per);
    const cfg: BankConfig = { capacity: o.capacity, classes, lambdaT: o.lambdaT, lambdaU: o.lambdaU };
    const p = softmaxRows(z.data, n, classes);
    const counter = ctx.state.write('rotta.counter');
    const reports: UpdateReport[] = [];
    for (let i = 0; i < n; i++) {
      let u = 0;
      let y = 0;
      for (let k = 0; k < classes; k++) {
        const pk = p[i * classes + k];
        u -= pk * Math.log(pk + 1e-6);
        if (pk > p[i * classes + y]) y = k;
      }
      // A sample whose teacher output is not finite carries no usable label: refused, but it still counts and ages the bank.
      if (Number.isFinite(u)) insert(bank, cfg, { x: images.subarray(i * per, (i + 1) * per), y, u });
      else ageAll(bank);
      counter[0] = (counter[0] + 1) % o.updateEvery;
      if (counter[0] === 0) reports.push(await update(ctx, bank, [c, h, w], classes));
    }
    return reports.length ? { ...pred, update: mergeReports(reports) } : pred;
  },
};
