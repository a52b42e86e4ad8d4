/**
 * Runs every method over the same stream, seed by seed, and scores the logits `run()` returns for
 * each batch. The runner resets a session exactly at the stream's `reset` flags and never
 * otherwise. Each seed's batches are generated once and replayed (from a uint8 cache) for the
 * other methods; past the cache budget they are regenerated, deterministically, instead.
 */
import { performance } from 'node:perf_hooks';
import { createStream, isDatasetError, toFloat32, type DomainTag, type ProtocolManifest, type StreamBatch, type StreamOptions } from '@edgetta/datasets';
import { AdaptiveSession, type GuardOptions } from '@edgetta/sdk';
import { resolveEngine, type EngineInfo, type EngineOptions } from '@edgetta/engine';
import type { Tensor } from 'onnxruntime-common';

/** The Tensor constructor of the session's runtime. */
type TensorCtor = new (type: 'float32', data: Float32Array, dims: readonly number[]) => Tensor;
import { UsageError } from '../cli-io.js';
import type { MethodSpec } from './args.js';
import type { BenchData } from './data.js';
import { rollingError, scoreLogits, Tally, type GroupMetrics, type RollingError } from './metrics.js';

export interface RunnerOptions {
  model: string;
  methods: readonly MethodSpec[];
  seeds: readonly number[];
  data: BenchData;
  stream: Omit<StreamOptions, 'seed'>;
  /** How sessions get their onnxruntime (see engine.ts). */
  engine: EngineOptions;
  /** Clean source batches for methods that calibrate (EATA's Fisher), NCHW float32. */
  calibration?: { batches: Float32Array[]; shape: [number, number, number]; samples: number };
  /** The collapse guard of every session. */
  guard?: GuardOptions;
  /** Largest uint8 pixel cache per seed, bytes. */
  cacheBytes: number;
  progress?: ProgressSink;
}

/** What the runner tells the progress display. */
export interface ProgressSink {
  start(totalSamples: number): void;
  segment(label: string, samples: number): void;
  advance(samples: number): void;
  stop(): void;
}

export interface DomainResult extends GroupMetrics, DomainTag {}

export interface RunResult {
  method: string;
  seed: number;
  total: GroupMetrics;
  domains: DomainResult[];
  rolling: RollingError;
  /** Parameter updates applied / skipped over the pass (gradient methods; zero otherwise). */
  updates: { applied: number; skipped: number };
  /** Resets done (the stream's reset flags). */
  resets: number;
  /** Resets the collapse guard triggered (`--guard`; absent in files from before the option). */
  guardResets?: number;
  /** Wall time of the pass, seconds (excludes session creation and calibration). */
  seconds: number;
  setupSeconds: number;
}

export interface RunnerOutput {
  runs: RunResult[];
  streams: ProtocolManifest[];
  engine: EngineInfo | null;
  /** The model's image input, logits output and number of adapted normalization layers. */
  model: { input: string; output: string; normLayers: number } | null;
  resolvedOptions: Record<string, Record<string, number | boolean>>;
  calibrated: string[];
}

/** Replays a seed's batches from uint8 pixels (float inputs are recomputed: 4x smaller to keep). */
class BatchCache {
  private readonly items: Omit<StreamBatch, 'images'>[] = [];
  private bytes = 0;
  complete = false;
  overflowed = false;

  constructor(private readonly budget: number) {}

  add(b: StreamBatch): void {
    if (this.overflowed) return;
    this.bytes += b.pixels.byteLength + b.labels.byteLength * 3;
    if (this.bytes > this.budget) {
      this.overflowed = true;
      this.items.length = 0;
      return;
    }
    const { images: _images, ...rest } = b;
    this.items.push(rest);
  }

  finish(): void {
    this.complete = !this.overflowed;
  }

  *replay(manifest: ProtocolManifest): Generator<StreamBatch> {
    const { preprocess } = manifest;
    for (const b of this.items) {
      const [n] = b.shape;
      const h = preprocess.layout === 'nchw' ? b.shape[2] : b.shape[1];
      const w = preprocess.layout === 'nchw' ? b.shape[3] : b.shape[2];
      yield { ...b, images: toFloat32(b.pixels, n, h, w, preprocess) };
    }
  }
}

function domainLabel(d: DomainTag | null): string {
  return d ? `${d.corruption} s${d.severity}` : 'mixed domains';
}

export async function runBenchmark(o: RunnerOptions): Promise<RunnerOutput> {
  const runs: RunResult[] = [];
  const streams: ProtocolManifest[] = [];
  const resolvedOptions: Record<string, Record<string, number | boolean>> = {};
  const calibrated = new Set<string>();
  let engine: EngineInfo | null = null;
  let model: RunnerOutput['model'] = null;
  const progress = o.progress;
  let started = false;
  const Tensor = (await resolveEngine(o.engine)).ort.Tensor as unknown as TensorCtor;

  for (const seed of o.seeds) {
    const source = await o.data.sourceFor(seed);
    try {
      let stream;
      try {
        stream = createStream(source, { ...o.stream, seed });
      } catch (e) {
        if (isDatasetError(e)) throw new UsageError(optionOf(e.source), e.message.replace(/^[^:]*: /, ''));
        throw e;
      }
      await stream.prepare();
      checkBatchSizes(stream.plan.batches.map((b) => b.end - b.start), o.methods, o.stream.batchSize);
      streams.push(stream.manifest);
      if (!started) {
        progress?.start(stream.numSamples * o.methods.length * o.seeds.length);
        started = true;
      }
      const cache = new BatchCache(o.cacheBytes);
      for (const [mi, spec] of o.methods.entries()) {
        const t0 = performance.now();
        const session = await openSession(o, spec);
        try {
          engine ??= session.stats.engine;
          model ??= { input: session.inputNames[0], output: session.outputNames[0], normLayers: session.layerInfo.length };
          resolvedOptions[spec.id] = { ...session.options };
          if (o.calibration && spec.definition.calibrate) {
            await calibrate(session, o.calibration, Tensor);
            calibrated.add(spec.id);
          }
          const setupSeconds = (performance.now() - t0) / 1000;
          let batches: Iterable<StreamBatch> | AsyncIterable<StreamBatch>;
          if (cache.complete) batches = cache.replay(stream.manifest);
          else {
            source.beginPass?.(stream.plan);
            batches = stream.batches();
          }
          const result = await runPass(session, spec, seed, stream.manifest, batches, Tensor, (b) => mi === 0 && cache.add(b), progress);
          result.setupSeconds = setupSeconds;
          runs.push(result);
          if (mi === 0) cache.finish();
        } finally {
          await session.dispose();
        }
      }
    } finally {
      await source.close?.();
    }
  }
  progress?.stop();
  return { runs, streams, engine, model, resolvedOptions, calibrated: [...calibrated] };
}

function optionOf(source: string): string {
  const map: Record<string, string> = { protocol: '--protocol', samples: '--samples', batchSize: '--batch-size', corruptions: '--corruptions', severity: '--severity', seed: '--seed' };
  return map[source] ?? source;
}

/** Methods that need batch statistics refuse small batches: say so before running anything. */
function checkBatchSizes(sizes: number[], methods: readonly MethodSpec[], batchSize: number): void {
  const smallest = Math.min(...sizes);
  for (const m of methods) {
    const min = m.definition.minBatchSize;
    if (min && smallest < min.size) {
      const why = smallest < batchSize ? `the stream has a batch of ${smallest} (its last batch; change --samples or --batch-size)` : `--batch-size ${batchSize}`;
      throw new UsageError('--batch-size', `method '${m.name}' needs batches of >= ${min.size} (${min.reason}); ${why}`);
    }
  }
}

async function openSession(o: RunnerOptions, spec: MethodSpec): Promise<AdaptiveSession> {
  try {
    return await AdaptiveSession.create(o.model, { ...o.engine, method: spec.name, methodOptions: spec.given, guard: o.guard });
  } catch (e) {
    throw new UsageError('--model', (e as Error).message);
  }
}

async function calibrate(session: AdaptiveSession, cal: NonNullable<RunnerOptions['calibration']>, Tensor: TensorCtor): Promise<void> {
  const name = session.inputNames[0];
  const feeds = cal.batches.map((data) => ({ [name]: new Tensor('float32', data, [data.length / (cal.shape[0] * cal.shape[1] * cal.shape[2]), ...cal.shape]) }));
  await session.calibrate(feeds);
}

async function runPass(
  session: AdaptiveSession,
  spec: MethodSpec,
  seed: number,
  manifest: ProtocolManifest,
  batches: Iterable<StreamBatch> | AsyncIterable<StreamBatch>,
  Tensor: TensorCtor,
  onBatch: (b: StreamBatch) => void,
  progress?: ProgressSink,
): Promise<RunResult> {
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const domains = manifest.domains.map(() => new Tally());
  const total = new Tally();
  const wrong = new Uint8Array(manifest.totalSamples);
  const updates = { applied: 0, skipped: 0 };
  let resets = 0;
  let guardResets = 0;
  let at = 0;
  let first = true;
  const t0 = performance.now();
  for await (const batch of batches) {
    onBatch(batch);
    if (batch.segmentStart) progress?.segment(`${spec.id} seed ${seed} ${domainLabel(batch.domain)}`, manifest.segments[batch.segment].samples);
    if (batch.reset) {
      session.reset();
      resets++;
    }
    const before = session.stats;
    const n = batch.shape[0];
    const input = new Tensor('float32', batch.images, batch.shape);
    const s = performance.now();
    let out: Record<string, Tensor>;
    try {
      out = await session.run({ [inputName]: input });
    } catch (e) {
      const msg = (e as Error).message;
      if (first && /^feeds\b/.test(msg)) throw new UsageError('--model', `the model does not take this data's images: ${msg}`);
      throw e;
    }
    const ms = performance.now() - s;
    const after = session.stats;
    if (after.guard.resets > before.guard.resets) {
      // The guard reset the session after answering: the counters restarted, the batch's report stayed.
      guardResets++;
      if (after.lastUpdate) updates[after.lastUpdate.applied ? 'applied' : 'skipped']++;
    } else {
      updates.applied += after.updates.applied - before.updates.applied;
      updates.skipped += after.updates.skipped - before.updates.skipped;
    }
    const logits = out[outputName];
    const k = logits.data.length / n;
    if (first && k < manifest.source.numClasses) throw new UsageError('--model', `output '${outputName}' has ${k} values per image; the data has ${manifest.source.numClasses} classes`);
    first = false;
    const { pred, conf, entropy } = scoreLogits(logits.data as Float32Array, n, k);
    for (let i = 0; i < n; i++) {
      const ok = pred[i] === batch.labels[i];
      domains[batch.domainIds[i]].add(ok, conf[i], entropy[i]);
      total.add(ok, conf[i], entropy[i]);
      wrong[at + i] = ok ? 0 : 1;
    }
    at += n;
    const rss = process.memoryUsage.rss();
    total.latencies.push(ms);
    total.peakRss = Math.max(total.peakRss, rss);
    if (batch.domain) {
      const t = domains[batch.domainIds[0]];
      t.latencies.push(ms);
      t.peakRss = Math.max(t.peakRss, rss);
    } else {
      for (const d of new Set(batch.domainIds)) domains[d].peakRss = Math.max(domains[d].peakRss, rss);
    }
    progress?.advance(n);
  }
  return {
    method: spec.id,
    seed,
    total: total.summary(),
    domains: manifest.domains.map((d, i) => ({ corruption: d.corruption, severity: d.severity, ...domains[i].summary() })),
    rolling: rollingError(wrong.subarray(0, at)),
    updates,
    resets,
    guardResets,
    seconds: (performance.now() - t0) / 1000,
    setupSeconds: 0,
  };
}
