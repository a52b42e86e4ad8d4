/**
 * The demo's engine room: loads the embedded model and CIFAR-10 sample, corrupts the sample
 * (seeded, as CIFAR-10-C does), and streams it batch by batch through a worker-hosted session
 * (or, for the parity check, an in-process one), recording online error and latency per batch.
 */
import { Tensor } from 'onnxruntime-common';
import { corrupt, isCorruptionName, type Severity } from '@edgetta/datasets';
import { AdaptiveSession, Rng } from '@edgetta/sdk';
import type { EngineInfo } from '@edgetta/engine';
import { createWorkerSession, type ServeMode, type ServingStats } from '@edgetta/worker';

const modelUrl = new URL('../assets/resnet20-cifar10.onnx', import.meta.url).href;
const sampleUrl = new URL('../assets/cifar10-test-1000.bin', import.meta.url).href;

export interface StreamConfig {
  /** A CIFAR-10-C corruption name, or 'none'. */
  corruption: string;
  severity: number;
  method: string;
  batchSize: number;
  /** Images of the 1,000 to stream. */
  images: number;
  serve: ServeMode;
  /** 'auto' (WebGPU if an adapter, else wasm), 'wasm' or 'webgpu'. */
  ep: 'auto' | 'wasm' | 'webgpu';
  threads?: number;
  seed: number;
  /** URL prefix of onnxruntime-web's .wasm/.mjs files. */
  wasmPrefix: string;
  /** 'worker' (default) or 'main' (in-process on the page's thread, for the parity check). */
  where?: 'worker' | 'main';
}

export interface BatchRecord {
  index: number;
  size: number;
  correct: number;
  /** Round-trip ms of run() as the page sees it. */
  latencyMs: number;
  /** Online error % over all images so far. */
  errorPct: number;
}

export interface StreamResult {
  config: StreamConfig;
  engine: EngineInfo;
  errorPct: number;
  medianLatencyMs: number;
  batches: BatchRecord[];
  /** All returned logits, [images, 10]. */
  logits: Float32Array;
  serving?: ServingStats;
}

let assets: Promise<{ model: Uint8Array; labels: Uint8Array; pixels: Uint8Array }> | null = null;

/** The model bytes and the 1,000 sample records (1 label byte + 3,072 planar RGB bytes each). */
export function loadAssets() {
  assets ??= (async () => {
    const [m, s] = await Promise.all([fetch(modelUrl), fetch(sampleUrl)]);
    if (!m.ok || !s.ok) throw new Error(`assets: ${modelUrl} -> HTTP ${m.status}, ${sampleUrl} -> HTTP ${s.status}`);
    const model = new Uint8Array(await m.arrayBuffer());
    const bytes = new Uint8Array(await s.arrayBuffer());
    const count = bytes.length / 3073;
    const labels = new Uint8Array(count);
    const pixels = new Uint8Array(count * 3072);
    for (let i = 0; i < count; i++) {
      labels[i] = bytes[i * 3073];
      pixels.set(bytes.subarray(i * 3073 + 1, (i + 1) * 3073), i * 3072);
    }
    return { model, labels, pixels };
  })();
  return assets;
}

/** NCHW float32 in [0, 1] of the first `n` images under the corruption (HWC uint8 in between, as CIFAR-10-C). */
export async function corruptedImages(corruption: string, severity: number, n: number, seed: number): Promise<Float32Array> {
  const { pixels } = await loadAssets();
  if (corruption !== 'none' && !isCorruptionName(corruption)) throw new Error(`unknown corruption '${corruption}'`);
  const rng = new Rng(seed);
  const x = new Float32Array(n * 3072);
  const hwc = new Uint8Array(3072);
  for (let i = 0; i < n; i++) {
    const planar = pixels.subarray(i * 3072, (i + 1) * 3072);
    for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = planar[c * 1024 + p];
    const img = corruption === 'none' ? { data: hwc } : corrupt({ data: hwc, height: 32, width: 32 }, corruption as never, severity as Severity, rng);
    for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) x[i * 3072 + c * 1024 + p] = img.data[p * 3 + c] / 255;
    // Yield now and then so the page stays responsive while it corrupts.
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 0));
  }
  return x;
}

interface AnySession {
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  dispose(): Promise<void>;
}

async function openSession(config: StreamConfig, model: Uint8Array): Promise<{ session: AnySession; engine: () => Promise<EngineInfo>; serving: () => Promise<ServingStats | undefined> }> {
  const executionProviders = config.ep === 'auto' ? ('auto' as const) : config.ep === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'];
  const common = { method: config.method, runtime: 'web' as const, executionProviders, threads: config.threads, wasm: { paths: config.wasmPrefix } };
  if (config.where === 'main') {
    const ort = await import('onnxruntime-web');
    const s = await AdaptiveSession.create(model, { ...common, modules: { web: ort } });
    return { session: s, engine: async () => s.stats.engine, serving: async () => undefined };
  }
  const s = await createWorkerSession(model, {
    ...common,
    serve: { mode: config.serve },
    // Inline, so Vite sees the worker and bundles it.
    worker: () => new Worker(new URL('./edgetta.worker.ts', import.meta.url), { type: 'module' }),
  });
  return { session: s, engine: async () => (await s.stats).engine, serving: async () => (await s.stats).serving };
}

/** Streams the corrupted sample through a session, calling `onBatch` after every batch. */
export async function runStream(config: StreamConfig, onBatch?: (b: BatchRecord) => void): Promise<StreamResult> {
  const { model, labels } = await loadAssets();
  const n = Math.min(config.images, labels.length);
  const x = await corruptedImages(config.corruption, config.severity, n, config.seed);
  const { session, engine, serving } = await openSession(config, model);
  const logits = new Float32Array(n * 10);
  const batches: BatchRecord[] = [];
  let correct = 0;
  try {
    for (let start = 0, index = 0; start < n; start += config.batchSize, index++) {
      const b = Math.min(config.batchSize, n - start);
      // A fresh copy per batch: its buffer moves to the worker.
      const input = new Tensor('float32', x.slice(start * 3072, (start + b) * 3072), [b, 3, 32, 32]);
      const t0 = performance.now();
      const out = (await session.run({ input })).logits.data as Float32Array;
      const latencyMs = performance.now() - t0;
      logits.set(out, start * 10);
      let ok = 0;
      for (let i = 0; i < b; i++) {
        let best = 0;
        for (let k = 1; k < 10; k++) if (out[i * 10 + k] > out[i * 10 + best]) best = k;
        if (best === labels[start + i]) ok++;
      }
      correct += ok;
      const record = { index, size: b, correct: ok, latencyMs, errorPct: (100 * (start + b - correct)) / (start + b) };
      batches.push(record);
      onBatch?.(record);
    }
    const sorted = batches.map((b) => b.latencyMs).sort((a, b) => a - b);
    return { config, engine: await engine(), errorPct: (100 * (n - correct)) / n, medianLatencyMs: sorted[Math.floor(sorted.length / 2)], batches, logits, serving: await serving() };
  } finally {
    await session.dispose();
  }
}
