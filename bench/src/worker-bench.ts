/**
 * pnpm bench:worker — what a worker costs and what serving while adapting buys, in Node.js:
 * median ms of run() as the caller sees it, for a method in-process, in a worker answering after
 * its step ('adapt-then-answer'), and in a worker answering first ('adapt-after'), with requests
 * paced (the worker is idle when a batch arrives) and back to back (overload: steps are dropped).
 *
 *   pnpm bench:worker [--methods tent,bn-ema] [--batch-size 64] [--batches 12] [--runtime node|web] [--threads 1]
 */
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { Tensor } from 'onnxruntime-common';
import { AdaptiveSession, listMethods } from '@edgetta/sdk';
import { createWorkerSession } from '@edgetta/worker/node';
import { embeddedModelPath, loadEmbeddedSample } from './embedded.js';

const o = new Command('worker-bench')
  .option('--methods <list>', 'methods', 'bn-ema,tent')
  .option('--batch-size <n>', 'batch size', '64')
  .option('--batches <n>', 'batches per measurement', '12')
  .option('--runtime <name>', 'node or web', 'node')
  .option('--threads <n>', 'intra-op threads', '1')
  .parse()
  .opts<{ methods: string; batchSize: string; batches: string; runtime: 'node' | 'web'; threads: string }>();

const sample = loadEmbeddedSample();
const n = Number(o.batchSize);
const count = Number(o.batches);
const threads = Number(o.threads);
const input = (b: number) => new Tensor('float32', sample.toFloat32((b * n) % (sample.count - n), n), [n, 3, 32, 32]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Runner {
  run(f: { input: Tensor }): Promise<unknown>;
  flush?(): Promise<void>;
}

async function paced(s: Runner): Promise<number> {
  const times: number[] = [];
  for (let b = 0; b < count; b++) {
    const t0 = performance.now();
    await s.run({ input: input(b) });
    times.push(performance.now() - t0);
    await s.flush?.();
  }
  return median(times.slice(1));
}

async function burst(s: Runner): Promise<number> {
  const times: number[] = [];
  await Promise.all(
    Array.from({ length: count }, async (_, b) => {
      const t0 = performance.now();
      await s.run({ input: input(b) });
      times.push(performance.now() - t0);
    }),
  );
  await s.flush?.();
  return median(times);
}

console.log(`worker bench: ResNet-20, batch ${n}, ${count} batches, ${o.runtime}, ${threads} thread(s); median ms of run() as the caller sees it\n`);
console.log('| method | in-process | worker, adapt-then-answer | worker, adapt-after (paced) | plain inference (infer) | adapt-after, back to back | steps dropped back to back |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const method of o.methods.split(',')) {
  if (!listMethods().includes(method)) throw new Error(`unknown method '${method}'; registered: ${listMethods().join(', ')}`);
  const opts = { method, runtime: o.runtime, threads };
  const local = await AdaptiveSession.create(embeddedModelPath, opts);
  const inProcess = await paced(local);
  const inferTimes: number[] = [];
  for (let b = 0; b < count; b++) {
    const t0 = performance.now();
    await local.infer({ input: input(b) });
    inferTimes.push(performance.now() - t0);
  }
  await local.dispose();
  const w1 = await createWorkerSession(embeddedModelPath, opts);
  const thenAnswer = await paced(w1);
  await w1.dispose();
  const w2 = await createWorkerSession(embeddedModelPath, { ...opts, serve: { mode: 'adapt-after' } });
  const after = await paced(w2);
  await w2.dispose();
  const w3 = await createWorkerSession(embeddedModelPath, { ...opts, serve: { mode: 'adapt-after', maxPendingSteps: 2 } });
  const back = await burst(w3);
  const { serving } = await w3.stats;
  await w3.dispose();
  console.log(`| ${method} | ${inProcess.toFixed(1)} | ${thenAnswer.toFixed(1)} | ${after.toFixed(1)} | ${median(inferTimes.slice(1)).toFixed(1)} | ${back.toFixed(1)} | ${serving.dropped} of ${count} |`);
}
