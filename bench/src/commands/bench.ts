/**
 * `edgetta bench`: runs test-time adaptation methods over a seeded CIFAR-10-C stream and reports
 * the online error per domain (a Markdown table on stdout), a results JSON with the full protocol
 * manifest (`--out`) and a self-contained HTML report (`--report`).
 *
 * Every argument is checked before any data is read; the model is checked (it must have
 * BatchNormalization layers and take the data's images) before the first batch; the results
 * file and the report are written only at the end, each to a temporary file then renamed, so bad
 * input or an interruption leaves nothing behind.
 */
import { readFile, stat, mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { isDatasetError, takeFirst, toFloat32, type CorruptionName, type Severity } from '@edgetta/datasets';
import { readCifar10 } from '@edgetta/datasets/node';
import { listMethods, type GuardOptions } from '@edgetta/sdk';
import type { RuntimeName } from '@edgetta/engine';
import { type CliIO, UsageError } from '../cli-io.js';
import { embeddedModelPath } from '../embedded.js';
import { parseCorruptions, parseSeverities } from './corrupt.js';
import { parseGuard, parseInteger, parseMethods, parseProtocolArg, parseSeeds } from '../bench/args.js';
import { openArrays, openGenerated, type BenchData } from '../bench/data.js';
import { benchEngine } from '../bench/engine.js';
import { progressBars } from '../bench/progress.js';
import { gitInfo, hostInfo, packageVersions, RECORDED_PACKAGES } from '../bench/provenance.js';
import { guardText, renderReport, threadsText } from '../bench/report.js';
import { METRIC, RESULTS_FORMAT, summarize, writeAtomic, type BenchResults } from '../bench/results.js';
import { runBenchmark } from '../bench/runner.js';
import { markdownTable } from '../bench/table.js';

interface BenchOptions {
  model?: string;
  cifar10?: string;
  cifar10c?: string;
  limit?: string;
  corruptions: string;
  severity: string;
  methods: string;
  protocol: string;
  batchSize: string;
  samples?: string;
  seed: string;
  runtime: string;
  threads?: string;
  out?: string;
  report?: string;
  calibration?: string;
  calibrationSamples: string;
  guard?: string;
  cacheMb: string;
  prefetch: boolean;
  ortSpinning: boolean;
  progress: boolean;
  fromResults?: string;
}

export function createCommand(io: CliIO): Command {
  return new Command('bench')
    .description('Benchmark test-time adaptation methods on CIFAR-10-C: Markdown table on stdout, results JSON with a protocol manifest, HTML report')
    .option('--model <file.onnx>', 'ONNX classifier (BatchNorm, LayerNorm or GroupNorm layers; a folded-BN export restored with edgetta restore-bn) (default: the embedded ResNet-20)')
    .option('--cifar10 <path>', 'clean CIFAR-10 (test_batch.bin, a directory holding it, or cifar-10-binary.tar.gz); corruptions are generated with the seed')
    .option('--cifar10c <dir>', 'CIFAR-10-C arrays: <corruption>.npy and labels.npy (released, or written by edgetta corrupt)')
    .option('--limit <n>', 'use only the first n images of the data')
    .option('--corruptions <list>', "'all' (the 15 benchmark corruptions), 'held_out', or comma-separated names", 'all')
    .option('--severity <list>', "severities: '5', '1-5' or '1,3,5'", '5')
    .option('--methods <list>', "comma-separated methods, each optionally with options (tent:lr=0.001,steps=1), or 'all'", 'all')
    .option('--protocol <name>', 'reset_each_shift | continual | gradual | mixed_domains | label_sorted | dirichlet:<delta> | ptta (with options name:key=value)', 'reset_each_shift')
    .option('--batch-size <n>', 'batch size', '64')
    .option('--samples <n>', 'samples per domain (default: all)')
    .option('--seed <list>', "stream and corruption seeds: '1', '1,2,3' or '1-5' (mean and spread are reported over seeds)", '1')
    .addOption(new Option('--runtime <name>', 'onnxruntime package').choices(['node', 'web']).default('node'))
    .option('--threads <n>', 'intra-op threads (default: the runtime default)')
    .option('--out <results.json>', 'write the results and protocol manifest as JSON')
    .option('--report <report.html>', 'write a self-contained HTML report')
    .option('--calibration <cifar10>', 'clean source images for methods that calibrate (EATA Fisher), e.g. a CIFAR-10 training batch')
    .option('--calibration-samples <n>', 'images taken from --calibration', '2000')
    .option('--guard <options>', 'collapse guard for every method, as key=value pairs: sourceWeight=0.5,resetEvery=7 (entropyFloor, entropyMomentum, resetEvery, window, maxClassShare, sourceWeight)')
    .option('--cache-mb <n>', 'memory for replaying a seed\'s images to the next methods; above it they are regenerated', '4096')
    .option('--no-prefetch', 'generate corruptions on the main thread (no worker)')
    .option('--ort-spinning', "let onnxruntime-node's threads spin-wait (its default; off here, as the corruption worker shares the cores)", false)
    .option('--no-progress', 'no progress bars on stderr')
    .option('--from-results <results.json>', 'run nothing: print the table of a results file (and write --report from it)')
    .action(async (opts: BenchOptions, cmd: Command) => {
      // rawArgs: the argument list the program was parsed from (not in commander's typings).
      const raw = (cmd.parent as unknown as { rawArgs?: string[] } | null)?.rawArgs;
      await runBench(opts, io, raw ?? process.argv.slice(2));
    });
}

interface Parsed {
  model: string;
  corruptions: CorruptionName[];
  severities: Severity[];
  methods: ReturnType<typeof parseMethods>;
  protocol: ReturnType<typeof parseProtocolArg>;
  batchSize: number;
  samples?: number;
  seeds: number[];
  threads?: number;
  limit?: number;
  calibrationSamples: number;
  guard: GuardOptions | null;
  cacheBytes: number;
}

/** Everything that needs no file: checked first, so typos fail instantly. */
function parseArgs(o: BenchOptions): Parsed {
  const given = [o.cifar10 && '--cifar10', o.cifar10c && '--cifar10c'].filter(Boolean) as string[];
  if (given.length !== 1) throw new UsageError(given.length ? given.join(' and ') : '--cifar10', 'give exactly one data source: --cifar10 <test_batch.bin|dir|.tar.gz> or --cifar10c <dir>');
  const corruptions = parseCorruptions(o.corruptions);
  const severities = parseSeverities(o.severity);
  const methods = parseMethods(o.methods, listMethods());
  const protocol = parseProtocolArg(o.protocol);
  return {
    model: resolve(o.model ?? embeddedModelPath),
    corruptions,
    severities,
    methods,
    protocol,
    batchSize: parseInteger(o.batchSize, '--batch-size', 1),
    samples: o.samples === undefined ? undefined : parseInteger(o.samples, '--samples', 1),
    seeds: parseSeeds(o.seed),
    threads: o.threads === undefined ? undefined : parseInteger(o.threads, '--threads', 1, 256),
    limit: o.limit === undefined ? undefined : parseInteger(o.limit, '--limit', 1),
    calibrationSamples: parseInteger(o.calibrationSamples, '--calibration-samples', 1),
    guard: o.guard === undefined ? null : parseGuard(o.guard),
    cacheBytes: parseInteger(o.cacheMb, '--cache-mb', 0) * 2 ** 20,
  };
}

async function checkFile(path: string, option: string): Promise<void> {
  try {
    if (!(await stat(path)).isFile()) throw new UsageError(option, `${path} is not a file`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(option, `${path}: no such file`);
  }
}

/** Data errors are reported against the option that named the data. */
async function withOption<T>(option: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isDatasetError(e)) throw new UsageError(option, e.message);
    throw e;
  }
}

/** Re-renders a results file: the table on stdout, the report to --report. */
async function fromResults(o: BenchOptions, io: CliIO): Promise<void> {
  let results: BenchResults;
  try {
    results = JSON.parse(await readFile(o.fromResults!, 'utf8')) as BenchResults;
  } catch (e) {
    throw new UsageError('--from-results', `${o.fromResults}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not JSON (${(e as Error).message})`}`);
  }
  if (results?.format !== RESULTS_FORMAT) throw new UsageError('--from-results', `${o.fromResults}: not an ${RESULTS_FORMAT} results file`);
  io.stdout.write(`${markdownTable(results.summary, results.manifest.domains)}\n`);
  if (o.report) {
    const path = resolve(o.report);
    await mkdir(dirname(path), { recursive: true });
    await writeAtomic(path, renderReport(results));
    io.stderr.write(`edgetta bench: wrote ${path}\n`);
  }
}

async function runBench(o: BenchOptions, io: CliIO, argv: string[]): Promise<void> {
  if (o.fromResults !== undefined) return fromResults(o, io);
  const startedAt = new Date();
  const t0 = performance.now();
  const p = parseArgs(o);
  // The commit the run starts from (the checkout may change while a long run goes on).
  const git = gitInfo();
  await checkFile(p.model, '--model');
  for (const [path, option] of [[o.out, '--out'], [o.report, '--report']] as const) {
    if (path !== undefined && path.trim() === '') throw new UsageError(option, 'empty path');
  }
  if (o.out && o.report && resolve(o.out) === resolve(o.report)) throw new UsageError('--report', 'must differ from --out');
  const modelBytes = new Uint8Array(await readFile(p.model));
  const calibrating = p.methods.filter((m) => m.definition.calibrate);
  let calibration: { batches: Float32Array[]; shape: [number, number, number]; samples: number } | undefined;
  let calibrationManifest: BenchResults['manifest']['calibration'] = null;
  if (o.calibration && calibrating.length) {
    const set = await withOption('--calibration', () => readCifar10(o.calibration!, { sha256: true }));
    const clean = takeFirst(set, Math.min(p.calibrationSamples, set.count));
    const batches: Float32Array[] = [];
    for (let s = 0; s < clean.count; s += p.batchSize) {
      const n = Math.min(p.batchSize, clean.count - s);
      const px = clean.height * clean.width * 3;
      batches.push(toFloat32(clean.images.subarray(s * px, (s + n) * px), n, clean.height, clean.width));
    }
    calibration = { batches, shape: [3, clean.height, clean.width], samples: clean.count };
    calibrationManifest = { path: o.calibration, sha256: set.source.sha256 ?? null, samples: clean.count };
  } else if (calibrating.length) {
    io.stderr.write(`edgetta bench: note: ${calibrating.map((m) => m.id).join(', ')} can calibrate on clean source images (--calibration <cifar10 file>); without them the Fisher term is zero\n`);
  }

  const data: BenchData = o.cifar10
    ? await withOption('--cifar10', () => openGenerated(o.cifar10!, { limit: p.limit, corruptions: p.corruptions, prefetch: o.prefetch }))
    : await withOption('--cifar10c', () => openArrays(o.cifar10c!, { limit: p.limit, corruptions: p.corruptions }));
  if (p.samples !== undefined && p.samples > data.count) {
    await data.close();
    throw new UsageError('--samples', `${p.samples} samples per domain, but the data has ${data.count} images`);
  }
  const engine = await benchEngine(o.runtime as RuntimeName, p.threads, o.ortSpinning);
  const progress = o.progress ? progressBars(io.stderr) : undefined;
  let out;
  try {
    out = await runBenchmark({
      model: p.model,
      methods: p.methods,
      seeds: p.seeds,
      data,
      stream: { protocol: p.protocol.text, corruptions: p.corruptions, severities: p.severities, batchSize: p.batchSize, samples: p.samples },
      engine: engine.options,
      calibration,
      guard: p.guard ?? undefined,
      cacheBytes: p.cacheBytes,
      progress,
    });
  } catch (e) {
    progress?.stop();
    throw e;
  } finally {
    await data.close();
  }

  const stream0 = out.streams[0];
  const methodIds = p.methods.map((m) => m.id);
  const results: BenchResults = {
    format: RESULTS_FORMAT,
    manifest: {
      tool: 'edgetta bench',
      argv: [...argv],
      startedAt: startedAt.toISOString(),
      durationSeconds: Number(((performance.now() - t0) / 1000).toFixed(3)),
      model: {
        path: p.model,
        sha256: createHash('sha256').update(modelBytes).digest('hex'),
        bytes: modelBytes.length,
        ...out.model!,
      },
      preprocess: stream0.preprocess,
      data: data.manifest,
      protocol: { arg: p.protocol.text, name: stream0.protocol, params: stream0.params, reset: stream0.reset },
      seeds: p.seeds,
      batchSize: p.batchSize,
      samplesPerDomain: stream0.samplesPerDomain,
      domains: stream0.domains,
      streams: out.streams,
      metric: METRIC,
      methods: p.methods.map((m) => ({ id: m.id, name: m.name, given: m.given, options: out.resolvedOptions[m.id] ?? m.options, calibrated: out.calibrated.includes(m.id) })),
      calibration: out.calibrated.length ? calibrationManifest : null,
      guard: p.guard,
      runtime: { requested: o.runtime, threads: p.threads ?? null, spinning: engine.spinning, engine: out.engine! },
      packages: { ...packageVersions([...RECORDED_PACKAGES, ...new Set(p.methods.map((m) => `@edgetta/adapter-${m.name}`))]), node: process.version },
      git: await git,
      host: hostInfo(),
    },
    summary: summarize(methodIds, stream0.domains, out.runs),
    runs: out.runs,
  };

  const seeds = p.seeds.length > 1 ? `seeds ${p.seeds.join(', ')} (mean ± std)` : `seed ${p.seeds[0]}`;
  const guard = p.guard ? `, guard ${guardText(p.guard)}` : '';
  io.stdout.write(
    `Online error % — ${stream0.protocol}, ${stream0.samplesPerDomain} images per domain, batch ${p.batchSize}, ${seeds}, ${out.engine!.name}, ${threadsText(out.engine!.threads)}${guard}\n\n`,
  );
  io.stdout.write(`${markdownTable(results.summary, stream0.domains)}\n`);
  if (o.out) {
    const path = resolve(o.out);
    await mkdir(dirname(path), { recursive: true });
    await writeAtomic(path, `${JSON.stringify(results, null, 1)}\n`);
    io.stderr.write(`edgetta bench: wrote ${path}\n`);
  }
  if (o.report) {
    const path = resolve(o.report);
    await mkdir(dirname(path), { recursive: true });
    await writeAtomic(path, renderReport(results));
    io.stderr.write(`edgetta bench: wrote ${path}\n`);
  }
  io.stderr.write(`edgetta bench: done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
