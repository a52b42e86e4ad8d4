/**
 * Recovers BatchNorm folded into convolutions at export: measures each unnormalized conv output's
 * per-channel statistics on clean calibration samples and inserts an identity-at-source
 * BatchNormalization there (the equations are in `@edgetta/compiler`'s recover.ts).
 */
import type { Tensor } from 'onnxruntime-common';
import { insertRecoveredNorms, markPooled, planRecovery, tapValues, type RecoveryOptions, type RecoveredStats, type SkipReason } from '@edgetta/compiler';
import { encodeModel, type Model } from '@edgetta/onnx';
import { resolveEngine, type Engine, type EngineOptions } from '@edgetta/engine';
import { loadModel, type ModelSource } from './load.js';

/** One batch of clean samples for the model's input: an onnxruntime Tensor or plain data and dims. */
export type CalibrationBatch = Pick<Tensor, 'dims'> & { data: Float32Array | Tensor['data'] };

export interface RestoreOptions extends RecoveryOptions {
  /**
   * The fewest clean samples accepted: each statistic averages samples x H x W values, and a few
   * dozen images keep its error well below the test-batch statistics the methods compute.
   * @defaultValue 32
   */
  minSamples?: number;
  /** Samples per calibration run (bigger batches are split, to bound memory). @defaultValue 64 */
  chunk?: number;
}

export interface RecoveryReport {
  /** Convs that got a recovered BatchNormalization, with its node name. */
  recovered: { conv: string; norm: string; channels: number }[];
  /** Convs left as they are, and why. */
  skipped: { conv: string; reason: SkipReason }[];
  /** Calibration samples the statistics were measured on. */
  samples: number;
}

/** A recovery refused before anything ran; `argument` says which input is at fault. */
export class RecoveryError extends Error {
  override readonly name = 'RecoveryError';
  constructor(
    readonly argument: 'calibration' | 'exclude' | 'model' | 'options',
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_MIN_SAMPLES = 32;
const DEFAULT_CHUNK = 64;

/** Number of convs a recovery would give a site to (before the probe finds pooled ones). */
export function recoverableConvs(model: Model): number {
  return planRecovery(model).filter((c) => !c.skip).length;
}

/** Validates calibration batches against the model's single input; returns the total sample count. */
export function checkCalibration(calibration: unknown, model: Model, minSamples = DEFAULT_MIN_SAMPLES): number {
  const inputs = model.graph.inputs;
  if (inputs.length !== 1) throw new RecoveryError('calibration', `calibration: feeds the model's single input, and this model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')})`);
  const want = inputs[0].shape;
  if (!Array.isArray(calibration) || calibration.length === 0) {
    throw new RecoveryError('calibration', 'calibration: expected a non-empty array of float32 tensors [n, ...] of clean, unlabeled samples from the training distribution');
  }
  let samples = 0;
  calibration.forEach((t: CalibrationBatch, k) => {
    if (!t || typeof t !== 'object' || !(t.data instanceof Float32Array) || !Array.isArray(t.dims) && !ArrayBuffer.isView(t.dims)) {
      throw new RecoveryError('calibration', `calibration[${k}]: expected a float32 tensor (an onnxruntime Tensor or { data: Float32Array, dims })`);
    }
    const dims = [...t.dims];
    if (want && dims.length !== want.length) throw new RecoveryError('calibration', `calibration[${k}]: dims [${dims.join(', ')}] have rank ${dims.length}; input '${inputs[0].name}' has rank ${want.length} ([${want.map((d) => d ?? '?').join(', ')}])`);
    want?.forEach((d, i) => {
      if (i > 0 && typeof d === 'number' && dims[i] !== d) throw new RecoveryError('calibration', `calibration[${k}]: dimension ${i} is ${dims[i]}; input '${inputs[0].name}' expects ${d} ([${want.map((x) => x ?? '?').join(', ')}])`);
    });
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new RecoveryError('calibration', `calibration[${k}]: dims [${dims.join(', ')}] hold ${count} values, the data has ${t.data.length}`);
    const data = t.data as Float32Array;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new RecoveryError('calibration', `calibration[${k}]: value ${data[i]} at flat index ${i} (sample ${Math.floor(i / (count / dims[0]))}); calibration samples must be finite`);
    }
    samples += dims[0];
  });
  if (samples < minSamples) {
    throw new RecoveryError('calibration', `calibration: ${samples} samples given; measuring the source statistics of the recovered BatchNorm layers needs at least ${minSamples} clean samples (1,024 is a good choice)`);
  }
  return samples;
}

/**
 * The model with the BatchNorm folded into its convolutions recovered (see the file comment),
 * measured with `engine` on `calibration`. Throws, changing nothing, on bad samples or a model
 * with no conv to recover. The model passed in is not modified.
 */
export async function recoverNorms(
  engine: Engine,
  model: Model,
  source: string,
  calibration: readonly CalibrationBatch[],
  options: RestoreOptions = {},
  /** The sample count from a {@link checkCalibration} the caller already ran (the samples are not read again). */
  checked?: number,
): Promise<{ model: Model; report: RecoveryReport }> {
  const minSamples = options.minSamples ?? DEFAULT_MIN_SAMPLES;
  const chunk = options.chunk ?? DEFAULT_CHUNK;
  if (!Number.isInteger(minSamples) || minSamples < 2) throw new RecoveryError('options', `minSamples: expected an integer >= 2, got ${String(minSamples)}`);
  if (!Number.isInteger(chunk) || chunk < 1) throw new RecoveryError('options', `chunk: expected a positive integer, got ${String(chunk)}`);
  const epsilon = options.epsilon ?? 1e-5;
  if (!(epsilon > 0)) throw new RecoveryError('options', `epsilon: expected a positive number, got ${String(epsilon)}`);
  const samples = checked ?? checkCalibration(calibration, model, minSamples);
  const plan = planRecovery(model, options);
  const unknown = (options.exclude ?? []).filter((e) => !plan.some((c) => c.conv.name === e || c.output === e));
  if (unknown.length) throw new RecoveryError('exclude', `exclude: no Conv node or output named ${unknown.map((u) => `'${u}'`).join(', ')} in ${source}`);
  const nothing = (): Error =>
    new RecoveryError(
      'model',
      `${source}: there is no folded BatchNorm to recover: ${plan.length === 0 ? 'it has no Conv or ConvTranspose node' : `each of its ${plan.length} convolutions is already normalized, the head, on pooled features, or excluded`}`,
    );
  const open = plan.filter((c) => !c.skip);
  if (open.length === 0) throw nothing();
  const acc = await measure(engine, model, open.map((c) => c.output), calibration, chunk);
  markPooled(open, new Map(open.map((c, i) => [c.output, acc[i].dims])));
  const sites = open.flatMap((c, i) => (c.skip ? [] : [{ output: c.output, conv: c.conv.name, stats: finish(acc[i]) }]));
  if (sites.length === 0) throw nothing();
  const { model: out, norms } = insertRecoveredNorms(model, sites, epsilon);
  return {
    model: out,
    report: {
      recovered: sites.map((s, i) => ({ conv: s.conv, norm: norms[i], channels: s.stats.mean.length })),
      skipped: plan.filter((c) => c.skip).map((c) => ({ conv: c.conv.name, reason: c.skip! })),
      samples,
    },
  };
}

/**
 * `recoverNorms` for a model given as a file, bytes or IR, on its own engine (Node: onnxruntime-
 * node by default): what `edgetta restore-bn` runs. `encodeModel(result.model)` is a standard
 * ONNX file with explicit BatchNormalization nodes.
 */
export async function restoreBatchNorm(model: ModelSource, calibration: readonly CalibrationBatch[], options: RestoreOptions & EngineOptions = {}): Promise<{ model: Model; bytes: Uint8Array; report: RecoveryReport }> {
  const { ir, source } = await loadModel(model);
  const samples = checkCalibration(calibration, ir, options.minSamples);
  const engine = await resolveEngine(options);
  const r = await recoverNorms(engine, ir, source, calibration, options, samples);
  return { ...r, bytes: encodeModel(r.model) };
}

interface Accumulator {
  dims: number[];
  sum: Float64Array;
  sumSq: Float64Array;
  count: number;
}

/** Per-channel float64 sums over N and the spatial axes of each tapped value, over all samples. */
async function measure(engine: Engine, model: Model, values: string[], calibration: readonly CalibrationBatch[], chunk: number): Promise<Accumulator[]> {
  const { bytes, outputs } = tapValues(model, values);
  const session = await engine.createSession(bytes);
  const input = model.graph.inputs[0].name;
  const acc: Accumulator[] = values.map(() => ({ dims: [], sum: new Float64Array(0), sumSq: new Float64Array(0), count: 0 }));
  try {
    for (const t of calibration) {
      const dims = [...t.dims];
      const per = t.data.length / dims[0];
      for (let s = 0; s < dims[0]; s += chunk) {
        const n = Math.min(chunk, dims[0] - s);
        const data = (t.data as Float32Array).subarray(s * per, (s + n) * per);
        const res = await session.run({ [input]: new engine.ort.Tensor('float32', data, [n, ...dims.slice(1)]) as Tensor }, outputs);
        outputs.forEach((o, k) => add(acc[k], res[o]));
      }
    }
  } finally {
    await session.release();
  }
  return acc;
}

function add(a: Accumulator, t: Tensor): void {
  const d = [...t.dims];
  const c = d[1];
  if (a.count === 0) {
    a.dims = d;
    a.sum = new Float64Array(c);
    a.sumSq = new Float64Array(c);
  }
  const inner = d.slice(2).reduce((x, y) => x * y, 1);
  const x = t.data as Float32Array;
  for (let n = 0; n < d[0]; n++) {
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      let q = 0;
      const off = (n * c + ch) * inner;
      for (let i = 0; i < inner; i++) {
        const v = x[off + i];
        s += v;
        q += v * v;
      }
      a.sum[ch] += s;
      a.sumSq[ch] += q;
    }
  }
  a.count += d[0] * inner;
}

function finish(a: Accumulator): RecoveredStats {
  const c = a.sum.length;
  const mean = new Float32Array(c);
  const variance = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    const m = a.sum[i] / a.count;
    mean[i] = m;
    variance[i] = Math.max(0, a.sumSq[i] / a.count - m * m);
  }
  return { mean, variance };
}
