/**
 * pnpm bench:guards — methods on a continual stream over the 15 CIFAR-10-C corruptions (severity 5,
 * `--samples` images each, batch 64, no resets), with an optional collapse guard: error on the last
 * domain, mean over domains, and the guard's resets, per seed (stream order and corruption noise).
 * Numbers are in docs/streams-and-guards.md.
 *
 *   pnpm bench:guards [--samples 320] [--seed 1,2,3] [--guard '{"sourceWeight":0.5,"resetEvery":7}'] [--methods norm,tent:lr=0.02]
 */
import { Command } from 'commander';
import { BENCHMARK_CORRUPTIONS, corrupt, corruptedSource, createStream, takeFirst } from '@edgetta/datasets';
import { prepareCorruptions, readCifar10 } from '@edgetta/datasets/node';
import { AdaptiveSession, type GuardOptions } from '@edgetta/sdk';
import { resolveEngine } from '@edgetta/engine';
import { embeddedModelPath } from './embedded.js';

const o = new Command('bench:guards')
  .option('--cifar10 <file>', 'CIFAR-10 test_batch.bin', '../shared/data/cifar10/test_batch.bin')
  .option('--samples <n>', 'images per corruption', '320')
  .option('--guard <json>', 'guard options as JSON')
  .option('--methods <list>', 'methods, each optionally name:key=value;key=value', 'source,norm,tent,eta,sar,alpha-bn,bn-ema,dua,unmix-tns,rotta')
  .option('--seed <list>', 'seeds, comma-separated', '1')
  .parse()
  .opts<{ cifar10: string; samples: string; guard?: string; methods: string; seed: string }>();

const samples = Number(o.samples);
const seeds = o.seed.split(',').map(Number);
const guard = o.guard ? (JSON.parse(o.guard) as GuardOptions) : undefined;
await prepareCorruptions();
const clean = takeFirst(await readCifar10(o.cifar10), samples);
const { Tensor } = (await resolveEngine({ runtime: 'node' })).ort;

console.log(`continual, ${samples} images per corruption, batch 64, guard ${o.guard ?? 'none'}\n`);
console.log('| seed | method | last domain error % | mean error % | guard resets |');
console.log('|---:|---|---:|---:|---:|');
for (const seed of seeds) {
  const stream = createStream(corruptedSource(clean, { seed, corrupt }), { protocol: 'continual', seed, batchSize: 64, samples });
  const batches: { x: Float32Array; labels: ArrayLike<number>; domain: string }[] = [];
  for await (const b of stream) batches.push({ x: b.images.slice(), labels: b.labels, domain: b.domain?.corruption ?? '?' });
  for (const spec of o.methods.split(',')) {
    const [method, opts] = spec.split(':');
    const methodOptions = opts ? Object.fromEntries(opts.split(';').map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])])) : undefined;
    const s = await AdaptiveSession.create(embeddedModelPath, { method, methodOptions, runtime: 'node', threads: 1, guard });
    const per = new Map<string, [number, number]>();
    for (const b of batches) {
      const n = b.labels.length;
      const logits = (await s.run({ input: new Tensor('float32', b.x, [n, 3, 32, 32]) })).logits.data as Float32Array;
      const e = per.get(b.domain) ?? [0, 0];
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
        if (best !== b.labels[i]) e[0]++;
        e[1]++;
      }
      per.set(b.domain, e);
    }
    const last = per.get(BENCHMARK_CORRUPTIONS[BENCHMARK_CORRUPTIONS.length - 1])!;
    const mean = [...per.values()].reduce((a, [w, t]) => a + w / t, 0) / per.size;
    console.log(`| ${seed} | ${spec} | ${((100 * last[0]) / last[1]).toFixed(1)} | ${(100 * mean).toFixed(1)} | ${s.stats.guard.resets} |`);
    await s.dispose();
  }
}
