/**
 * pnpm demo — adapts the embedded ResNet-20 on the embedded CIFAR-10 sample (1,000 test images)
 * under a corruption (Gaussian noise, severity 5 by default) with every registered method, and
 * prints a table of error %, ms per batch and mean entropy. Each method starts from the source
 * model and sees the same images in the same order (reset_each_shift on one domain).
 *
 *   pnpm demo [--corruption gaussian_noise] [--severity 5] [--methods norm,alpha-bn] [--batch-size 64] [--seed 0] [--runtime node|web] [--threads n]
 */
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { BENCHMARK_CORRUPTIONS, HELD_OUT_CORRUPTIONS, corrupt, type CorruptionName, type Severity } from '@edgetta/datasets';
import { AdaptiveSession, listMethods, meanEntropy, Rng } from '@edgetta/sdk';
import { resolveEngine, type RuntimeName } from '@edgetta/engine';
import { embeddedModelPath, loadEmbeddedSample } from './embedded.js';

const corruptions: readonly string[] = [...BENCHMARK_CORRUPTIONS, ...HELD_OUT_CORRUPTIONS, 'none'];
const program = new Command('demo')
  .description('Adapt the embedded ResNet-20 on 1,000 corrupted CIFAR-10 test images with every method.')
  .option('--corruption <name>', `one of: ${corruptions.join(', ')}`, 'gaussian_noise')
  .option('--severity <n>', 'severity 1-5', '5')
  .option('--methods <list>', 'comma-separated methods (default: all registered)')
  .option('--batch-size <n>', 'batch size', '64')
  .option('--seed <n>', 'corruption seed', '0')
  .option('--runtime <name>', 'node or web', 'node')
  .option('--threads <n>', 'intra-op threads')
  .parse();
const o = program.opts<{ corruption: string; severity: string; methods?: string; batchSize: string; seed: string; runtime: string; threads?: string }>();

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(2);
}
if (!corruptions.includes(o.corruption)) fail(`--corruption: unknown '${o.corruption}'; valid: ${corruptions.join(', ')}`);
const severity = Number(o.severity);
if (!Number.isInteger(severity) || severity < 1 || severity > 5) fail(`--severity: expected an integer 1-5, got '${o.severity}'`);
const batchSize = Number(o.batchSize);
if (!Number.isInteger(batchSize) || batchSize < 1) fail(`--batch-size: expected a positive integer, got '${o.batchSize}'`);
if (o.runtime !== 'node' && o.runtime !== 'web') fail(`--runtime: expected node or web, got '${o.runtime}'`);
const threads = o.threads === undefined ? undefined : Number(o.threads);
const registered = listMethods();
const methods = o.methods ? o.methods.split(',').map((m) => m.trim()) : registered;
for (const m of methods) if (!registered.includes(m)) fail(`--methods: unknown method '${m}'; registered: ${registered.join(', ')}`);

// Corrupt the sample once (seeded), in HWC as CIFAR-10-C stores it, then convert to NCHW [0, 1].
const sample = loadEmbeddedSample();
const n = sample.count;
const x = new Float32Array(n * 3072);
const rng = new Rng(Number(o.seed));
const hwc = new Uint8Array(3072);
for (let i = 0; i < n; i++) {
  const planar = sample.pixels.subarray(i * 3072, (i + 1) * 3072);
  for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = planar[c * 1024 + p];
  const img = o.corruption === 'none' ? { data: hwc } : corrupt({ data: hwc, height: 32, width: 32 }, o.corruption as CorruptionName, severity as Severity, rng);
  for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) x[i * 3072 + c * 1024 + p] = img.data[p * 3 + c] / 255;
}

const engine = await resolveEngine({ runtime: o.runtime as RuntimeName, threads });
const Tensor = engine.ort.Tensor;
const rows: string[] = [];
console.log(`edgetta demo: ResNet-20 (CIFAR-10), ${n} test images, ${o.corruption}${o.corruption === 'none' ? '' : ` severity ${severity}`}, batch ${batchSize}, ${engine.name}\n`);
console.log('| method | error % | ms / batch (median) | mean entropy |');
console.log('|---|---:|---:|---:|');
for (const method of methods) {
  const session = await AdaptiveSession.create(embeddedModelPath, { method, runtime: o.runtime as RuntimeName, threads });
  let wrong = 0;
  let entropy = 0;
  const times: number[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const b = Math.min(batchSize, n - start);
    const input = new Tensor('float32', x.slice(start * 3072, (start + b) * 3072), [b, 3, 32, 32]);
    const t0 = performance.now();
    const logits = (await session.run({ input })).logits.data as Float32Array;
    times.push(performance.now() - t0);
    entropy += (meanEntropy(logits, [b, 10]) ?? 0) * b;
    for (let i = 0; i < b; i++) {
      let best = 0;
      for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
      if (best !== sample.labels[start + i]) wrong++;
    }
  }
  times.sort((a, b) => a - b);
  const row = `| ${method} | ${((100 * wrong) / n).toFixed(1)} | ${times[Math.floor(times.length / 2)].toFixed(1)} | ${(entropy / n).toFixed(3)} |`;
  rows.push(row);
  console.log(row);
  await session.dispose();
}
