/**
 * A generated-corruption {@link ImageSource} whose images are computed in a worker thread, ahead
 * of the model: corruption generation (one core) overlaps onnxruntime (the other). The stream
 * still drives everything; this source only knows, from the stream's plan, which reads will come
 * and in which order. A read that does not match the expected one is computed inline, so the
 * pixels are always those of `corruptedSource` with the same seed.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { corrupt, corruptedSource, type DomainTag, type ImageSource, type LabeledImages, type StreamPlan } from '@edgetta/datasets';
import type { FromWorker, ToWorker } from './prefetch-protocol.js';

export interface PrefetchSource extends ImageSource {
  /** Starts a pass: the worker computes the plan's reads in order from the first. */
  beginPass(plan: StreamPlan): void;
  close(): Promise<void>;
}

interface Reads {
  domainOf: Uint16Array;
  offsets: Int32Array;
  indices: Int32Array;
}

/** The reads `createStream` makes for a plan: per batch, one per run of samples from one domain. */
export function readsOf(plan: StreamPlan): Reads {
  const domainOf: number[] = [];
  const offsets: number[] = [0];
  const indices = new Int32Array(plan.batches.reduce((a, b) => a + b.end - b.start, 0));
  let at = 0;
  for (const span of plan.batches) {
    const seg = plan.segments[span.segment];
    for (let k = span.start; k < span.end; ) {
      let run = 1;
      while (k + run < span.end && seg.domainIds[k + run] === seg.domainIds[k]) run++;
      indices.set(seg.indices.subarray(k, k + run), at);
      at += run;
      domainOf.push(seg.domainIds[k]);
      offsets.push(at);
      k += run;
    }
  }
  return { domainOf: Uint16Array.from(domainOf), offsets: Int32Array.from(offsets), indices };
}

/** Starts the worker: compiled JS next to this file, or the TypeScript source through tsx in this repo. */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./corrupt-worker.js', import.meta.url));
  const script = new URL('./corrupt-worker.ts', import.meta.url).href;
  const tsx = pathToFileURL(path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const boot = `const { register } = await import(${JSON.stringify(tsx)}); register(); await import(${JSON.stringify(script)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { execArgv: ['--conditions=@edgetta/source'] });
}

/**
 * Corrupted `clean` images (seed `seed`), computed by a worker thread at most `ahead` reads in
 * front of the consumer. `needsAssets`: the stream includes frost or jpeg_compression.
 */
export async function prefetchSource(clean: LabeledImages, options: { seed: number; needsAssets: boolean; ahead?: number }): Promise<PrefetchSource> {
  const inline = corruptedSource(clean, { seed: options.seed, corrupt });
  const ahead = options.ahead ?? 32;
  const worker = startWorker();
  const px = clean.height * clean.width * 3;
  let failure: Error | null = null;
  let passId = 0;
  let domains: DomainTag[] = [];
  let reads: Reads | null = null;
  let next = 0;
  let inSync = false;
  const ready = new Map<number, Uint8Array>();
  let waiting: { seq: number; resolve: (p: Uint8Array) => void; reject: (e: Error) => void } | null = null;

  const fail = (e: Error): void => {
    failure = e;
    waiting?.reject(e);
    waiting = null;
  };
  worker.on('message', (msg: FromWorker) => {
    if (msg.type === 'chunk') {
      if (msg.pass !== passId) return;
      if (waiting && waiting.seq === msg.seq) {
        const w = waiting;
        waiting = null;
        w.resolve(msg.pixels);
      } else ready.set(msg.seq, msg.pixels);
    } else if (msg.type === 'error') fail(new Error(`corruption worker: ${msg.message}`));
  });
  worker.on('error', (e) => fail(e));
  worker.on('exit', (code) => {
    if (code !== 0) fail(new Error(`corruption worker exited with code ${code}`));
  });

  await new Promise<void>((resolve, reject) => {
    const onMsg = (msg: FromWorker): void => {
      if (msg.type === 'ready') {
        worker.off('message', onMsg);
        resolve();
      } else if (msg.type === 'error') reject(new Error(`corruption worker: ${msg.message}`));
    };
    worker.on('message', onMsg);
    worker.once('error', reject);
    const init: ToWorker = {
      type: 'init',
      images: clean.images.slice(),
      labels: clean.labels.slice(),
      count: clean.count,
      height: clean.height,
      width: clean.width,
      numClasses: clean.numClasses,
      seed: options.seed,
      needsAssets: options.needsAssets,
    };
    worker.postMessage(init);
  });

  const take = (seq: number): Promise<Uint8Array> => {
    if (failure) return Promise.reject(failure);
    const got = ready.get(seq);
    if (got) {
      ready.delete(seq);
      return Promise.resolve(got);
    }
    return new Promise((resolve, reject) => (waiting = { seq, resolve, reject }));
  };

  const matches = (domain: DomainTag, indices: Int32Array): boolean => {
    if (!reads || next >= reads.domainOf.length) return false;
    const d = domains[reads.domainOf[next]];
    if (d.corruption !== domain.corruption || d.severity !== domain.severity) return false;
    const lo = reads.offsets[next];
    if (reads.offsets[next + 1] - lo !== indices.length) return false;
    for (let k = 0; k < indices.length; k++) if (reads.indices[lo + k] !== indices[k]) return false;
    return true;
  };

  return {
    count: inline.count,
    height: inline.height,
    width: inline.width,
    numClasses: inline.numClasses,
    labels: inline.labels,
    manifest: inline.manifest,
    beginPass(plan: StreamPlan): void {
      passId++;
      ready.clear();
      waiting = null;
      domains = plan.domains.map((d) => ({ ...d }));
      reads = readsOf(plan);
      next = 0;
      inSync = true;
      const msg: ToWorker = { type: 'pass', pass: passId, domains, ...reads, ahead };
      worker.postMessage(msg);
    },
    async read(domain: DomainTag, indices: Int32Array, out: Uint8Array): Promise<void> {
      if (inSync && matches(domain, indices)) {
        const seq = next++;
        const pixels = await take(seq);
        if (pixels.length !== indices.length * px) throw new Error(`corruption worker: read ${seq} returned ${pixels.length} bytes, expected ${indices.length * px}`);
        out.set(pixels);
        worker.postMessage({ type: 'ack', pass: passId, seq } satisfies ToWorker);
        return;
      }
      // Not the read the plan predicted: stop trusting the prefetch for this pass.
      inSync = false;
      await inline.read(domain, indices, out);
    },
    async close(): Promise<void> {
      await worker.terminate();
    },
  };
}
