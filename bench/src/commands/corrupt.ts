/**
 * `edgetta corrupt`: writes CIFAR-10-C-format arrays from clean images.
 *
 * For each corruption, `<out>/<corruption>.npy` is uint8 [S * N, H, W, 3] holding the N images
 * at each requested severity in ascending order (the released layout when S = 5), next to
 * `labels.npy` ([S * N], the labels repeated per severity) and `edgetta-corrupt.json` (seed,
 * severities, input and output sha256). Image i at severity s is corrupted with
 * `imageRng(seed, corruption, s, i)`, the same seeding as on-the-fly streams, so a stream
 * over these files and a generated stream with the same seed see identical pixels.
 *
 * All input is checked before anything is written; each file is written to a temporary name in
 * the output folder and renamed when complete, and Ctrl-C deletes the file in progress.
 */
import { rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import {
  BENCHMARK_CORRUPTIONS,
  corrupt,
  corruptions as registry,
  HELD_OUT_CORRUPTIONS,
  IMAGE_SEEDING,
  imageAt,
  imageRng,
  takeFirst,
  type CorruptionName,
  type LabeledImages,
  type Severity,
} from '@edgetta/datasets';
import {
  CORRUPT_MANIFEST_FILE,
  createNpyWriter,
  isTarGz,
  prepareCorruptions,
  pathKind,
  readCifar10,
  readImageFolder,
  readNpyImages,
  sha256File,
  writeFileAtomic,
  type CorruptOutputManifest,
  type NpyWriter,
} from '@edgetta/datasets/node';
import { type CliIO, EXIT, UsageError } from '../cli-io.js';

interface CorruptOptions {
  cifar10?: string;
  split: 'test' | 'train';
  npy?: string;
  labels?: string;
  folder?: string;
  out: string;
  corruptions: string;
  severity: string;
  seed: string;
  limit?: string;
  progress: boolean;
}

/** Images per write: bounds memory (~1.5 MB at 32x32). */
const CHUNK = 512;
/** Longest stretch of corruption work between two turns of the event loop. */
const YIELD_MS = 8;

export function createCommand(io: CliIO): Command {
  return new Command('corrupt')
    .description('Write CIFAR-10-C-format .npy arrays (one per corruption, severities in order) plus labels.npy')
    .option('--cifar10 <path>', 'CIFAR-10 input: test_batch.bin, a directory holding it, or cifar-10-binary.tar.gz')
    .addOption(new Option('--split <split>', 'split to read from a CIFAR-10 directory or archive').choices(['test', 'train']).default('test'))
    .option('--npy <images.npy>', 'your images as a uint8 [N, H, W, 3] .npy (with --labels)')
    .option('--labels <labels.npy>', 'integer labels [N] for --npy')
    .option('--folder <dir>', 'your images as <dir>/<class>/<image>.png|jpg')
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .option('--corruptions <list>', "'all' (the 15 benchmark ones), 'held_out' (the 4 extra), or comma-separated names", 'all')
    .option('--severity <list>', "severities: '1-5', '5', '1,3,5' or '2-4'", '1-5')
    .option('--seed <n>', 'integer seed of the corruptions', '0')
    .option('--limit <n>', 'only the first n images')
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (opts: CorruptOptions) => {
      await runCorrupt(opts, io);
    });
}

/** Parses a severity list: '1-5', '5', '1,3,5', '2-4,5'. Returns ascending unique severities. */
export function parseSeverities(text: string): Severity[] {
  const out = new Set<number>();
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new UsageError('--severity', `cannot parse '${part}' (use e.g. 1-5, 5 or 1,3,5)`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > 5 || lo > hi) throw new UsageError('--severity', `severity '${part}' is outside 1-5`);
    for (let s = lo; s <= hi; s++) out.add(s);
  }
  return [...out].sort((a, b) => a - b) as Severity[];
}

/** Parses a corruption list: 'all', 'held_out', names, or a comma-separated mix; keeps first-mention order. */
export function parseCorruptions(text: string): CorruptionName[] {
  const available = Object.keys(registry) as CorruptionName[];
  const out: CorruptionName[] = [];
  const add = (n: CorruptionName): void => {
    if (!out.includes(n)) out.push(n);
  };
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (name === 'all') BENCHMARK_CORRUPTIONS.forEach(add);
    else if (name === 'held_out' || name === 'heldout') HELD_OUT_CORRUPTIONS.forEach(add);
    else if ((available as string[]).includes(name)) add(name as CorruptionName);
    else throw new UsageError('--corruptions', `unknown corruption '${name}' (valid: all, held_out, ${available.join(', ')})`);
  }
  for (const n of out) {
    if (!(available as string[]).includes(n)) throw new UsageError('--corruptions', `corruption '${n}' is not implemented in this build (available: ${available.join(', ')})`);
  }
  return out;
}

function parseInteger(text: string, option: string, min: number): number {
  const v = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(v) || v < min) {
    throw new UsageError(option, `expected an integer${min > Number.MIN_SAFE_INTEGER ? ` >= ${min}` : ''}, got '${text}'`);
  }
  return v;
}

async function readInput(opts: CorruptOptions): Promise<{ set: LabeledImages; path: string; hashed: string | null }> {
  const given = [opts.cifar10 && '--cifar10', opts.npy && '--npy', opts.folder && '--folder'].filter(Boolean);
  if (given.length !== 1) {
    throw new UsageError(given.length ? given.join(' and ') : '--cifar10', 'give exactly one input: --cifar10 <file|dir|.tar.gz>, --npy <images.npy> --labels <labels.npy>, or --folder <dir>');
  }
  if (opts.labels && !opts.npy) throw new UsageError('--labels', 'only goes with --npy');
  if (opts.cifar10) {
    const set = await readCifar10(opts.cifar10, { split: opts.split });
    const kind = await pathKind(opts.cifar10);
    const hashed = kind === 'file' || isTarGz(opts.cifar10) ? opts.cifar10 : set.source.files?.length === 1 ? set.source.files[0] : null;
    return { set, path: opts.cifar10, hashed };
  }
  if (opts.npy) {
    if (!opts.labels) throw new UsageError('--labels', '--npy needs --labels <labels.npy>');
    return { set: await readNpyImages(opts.npy, opts.labels), path: opts.npy, hashed: opts.npy };
  }
  return { set: await readImageFolder(opts.folder!), path: opts.folder!, hashed: null };
}

async function runCorrupt(opts: CorruptOptions, io: CliIO): Promise<void> {
  // 1. Arguments, then input, then one trial image per (corruption, severity): all before any write.
  const names = parseCorruptions(opts.corruptions);
  const severities = parseSeverities(opts.severity);
  const seed = parseInteger(opts.seed, '--seed', Number.MIN_SAFE_INTEGER);
  const limit = opts.limit === undefined ? undefined : parseInteger(opts.limit, '--limit', 1);
  const input = await readInput(opts);
  const set = limit === undefined ? input.set : takeFirst(input.set, limit);
  // jpeg_compression needs its codec (wasm) and frost its pictures, both loaded asynchronously once.
  if (names.includes('jpeg_compression') || names.includes('frost')) await prepareCorruptions();
  for (const name of names) {
    for (const s of severities) {
      try {
        const out = corrupt(imageAt(set, 0), name, s, imageRng(seed, name, s, 0));
        if (out.height !== set.height || out.width !== set.width) throw new Error(`returned ${out.width}x${out.height}`);
      } catch (e) {
        throw new UsageError(input.path, `images of ${set.width}x${set.height} are not supported by ${name} (${e instanceof Error ? e.message : String(e)})`);
      }
    }
  }

  const maxLabel = set.labels.reduce((a, b) => Math.max(a, b), 0);
  if (maxLabel > 255) throw new UsageError(input.path, `labels up to ${maxLabel} do not fit CIFAR-10-C's uint8 labels.npy`);

  const out = resolve(opts.out);
  try {
    await mkdir(out, { recursive: true });
  } catch (e) {
    throw new UsageError('--out', `cannot create ${out} (${e instanceof Error ? e.message : String(e)})`);
  }
  if ((await pathKind(out)) !== 'directory') throw new UsageError('--out', `${out} is not a directory`);

  // 2. Writes. A Ctrl-C removes the temporary file in progress; finished files are complete.
  let current: NpyWriter | null = null;
  const bar = new cliProgress.SingleBar(
    {
      stream: io.stderr as NodeJS.WritableStream,
      format: 'corrupt {bar} {percentage}% | {value}/{total} images | {step} | ETA {eta_formatted}',
      etaBuffer: 50,
      hideCursor: true,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const onSigint = (): void => {
    if (current) rmSync(current.tempPath, { force: true });
    bar.stop();
    io.stderr.write('edgetta corrupt: interrupted; the file in progress was removed\n');
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', onSigint);
  const started = performance.now();
  try {
    const n = set.count;
    const px = set.height * set.width * 3;
    const rows = severities.length * n;
    const labels = new Uint8Array(rows);
    for (let b = 0; b < severities.length; b++) labels.set(set.labels, b * n);
    current = await createNpyWriter(join(out, 'labels.npy'), 'uint8', [rows]);
    await current.write(labels);
    await current.commit();
    current = null;

    const files: CorruptOutputManifest['files'] = {};
    if (opts.progress) bar.start(names.length * rows, 0, { step: `${names[0]} s${severities[0]}` });
    const chunk = new Uint8Array(Math.min(CHUNK, n) * px);
    let lastYield = performance.now();
    for (const name of names) {
      const shape = [rows, set.height, set.width, 3];
      current = await createNpyWriter(join(out, `${name}.npy`), 'uint8', shape);
      for (const s of severities) {
        if (opts.progress) bar.update({ step: `${name} s${s}` });
        for (let start = 0; start < n; start += CHUNK) {
          const end = Math.min(n, start + CHUNK);
          for (let i = start; i < end; i++) {
            const img = corrupt(imageAt(set, i), name, s, imageRng(seed, name, s, i));
            chunk.set(img.data, (i - start) * px);
            // Let the event loop run every few ms so Ctrl-C is handled promptly (tsx waits only 30 ms).
            if (performance.now() - lastYield > YIELD_MS) {
              await new Promise((r) => setImmediate(r));
              lastYield = performance.now();
            }
          }
          await current.write(chunk.subarray(0, (end - start) * px));
          if (opts.progress) bar.increment(end - start);
        }
      }
      files[`${name}.npy`] = { sha256: await current.commit(), shape };
      current = null;
    }
    if (opts.progress) bar.stop();
    const manifest: CorruptOutputManifest = {
      format: 'edgetta.corrupt/1',
      seed,
      severities,
      corruptions: names,
      count: n,
      height: set.height,
      width: set.width,
      seeding: IMAGE_SEEDING,
      input: {
        path: input.path,
        description: set.source.description,
        ...(input.hashed ? { sha256: await sha256File(input.hashed) } : {}),
      },
      ...(limit !== undefined ? { limit } : {}),
      files: { ...files, 'labels.npy': { sha256: await sha256File(join(out, 'labels.npy')), shape: [rows] } },
    };
    await writeFileAtomic(join(out, CORRUPT_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    const secs = (performance.now() - started) / 1000;
    io.stdout.write(
      `wrote ${names.length} corruption file${names.length === 1 ? '' : 's'} of uint8 [${rows}, ${set.height}, ${set.width}, 3] (severities ${severities.join(',')}), labels.npy and ${CORRUPT_MANIFEST_FILE} to ${out} in ${secs.toFixed(1)} s\n`,
    );
  } catch (e) {
    bar.stop();
    if (current) await current.abort();
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
