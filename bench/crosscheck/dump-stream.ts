/**
 * Writes the stream that `edgetta bench --cifar10 <test_batch.bin> --severity 5 --corruptions all
 * --batch-size 64 --seed 1 --protocol <protocol>` runs, for rotta_ref.py: `pixels.u8` (uint8 HWC
 * RGB images in stream order) and `meta.json` (labels, domain index per image, batch sizes).
 *
 *   npx tsx --conditions=@edgetta/source bench/crosscheck/dump-stream.ts <test_batch.bin> [protocol] [out dir]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCHMARK_CORRUPTIONS, corrupt, corruptedSource, createStream } from '@edgetta/datasets';
import { prepareCorruptions, readCifar10 } from '@edgetta/datasets/node';

const [cifar10, protocol = 'dirichlet:0.1', out = '.'] = process.argv.slice(2);
if (!cifar10) throw new Error('usage: dump-stream.ts <cifar10 test_batch.bin> [protocol] [out dir]');
await prepareCorruptions();
const clean = await readCifar10(cifar10);
const stream = createStream(corruptedSource(clean, { seed: 1, corrupt }), { protocol, seed: 1, batchSize: 64 });
const pixels = new Uint8Array(stream.numSamples * clean.height * clean.width * 3);
const labels: number[] = [];
const domains: number[] = [];
const sizes: number[] = [];
let at = 0;
for await (const b of stream) {
  pixels.set(b.pixels, at);
  at += b.pixels.length;
  labels.push(...b.labels);
  domains.push(...b.domainIds);
  sizes.push(b.labels.length);
}
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'pixels.u8'), pixels);
writeFileSync(join(out, 'meta.json'), JSON.stringify({ protocol, n: labels.length, labels, domains, sizes, names: BENCHMARK_CORRUPTIONS }));
console.log(`${labels.length} images in ${sizes.length} batches -> ${out}`);
