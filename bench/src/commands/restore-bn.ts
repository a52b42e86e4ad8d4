/**
 * `edgetta restore-bn <model.onnx> --calibration <images> --out <model-bn.onnx>`: writes the model
 * with the BatchNorm that export folded into its convolutions recovered as explicit
 * BatchNormalization nodes (the identity at the source; `restoreBatchNorm` of `@edgetta/sdk`), a
 * standard ONNX file any runtime loads. Everything is read and computed before the one atomic
 * write: bad input writes nothing.
 */
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { padCropFlip, takeFirst, toFloat32, type LabeledImages } from '@edgetta/datasets';
import { pathKind, readCifar10, readNpyFile, writeFileAtomic } from '@edgetta/datasets/node';
import { RecoveryError, restoreBatchNorm, type CalibrationBatch } from '@edgetta/sdk';
import { type CliIO, UsageError } from '../cli-io.js';

interface RestoreCliOptions {
  calibration: string;
  out: string;
  samples: string;
  augment?: string;
  seed: string;
  exclude?: string;
  threads?: string;
}

const AUGMENTS = ['pad-crop-flip'] as const;

export function createCommand(io: CliIO): Command {
  return new Command('restore-bn')
    .description('Recover the BatchNorm folded into a model\'s convolutions (torch.onnx.export defaults, TF.js, Paddle) as explicit BatchNormalization nodes, from clean calibration images')
    .argument('<model.onnx>', 'the exported model')
    .requiredOption('--calibration <images>', 'clean training images: a CIFAR-10 binary file or directory, a .npy file, or a directory of .npy files (float32 arrays shaped like the model input, or uint8 [n, H, W, 3] images)')
    .requiredOption('--out <model-bn.onnx>', 'where to write the restored model')
    .option('--samples <n>', 'calibration images to use', '1024')
    .option('--augment <name>', `draw the calibration images like the model's training batches: ${AUGMENTS.join(', ')} (random crops of the 4-px zero-padded image and horizontal flips, as CIFAR ResNets train)`)
    .option('--seed <n>', 'seed of --augment', '0')
    .option('--exclude <names>', 'comma-separated Conv node (or output) names that keep no recovered BatchNorm')
    .option('--threads <n>', 'intra-op threads of the calibration run')
    .action(async (model: string, opts: RestoreCliOptions) => {
      await runRestore(model, opts, io);
    });
}

function positiveInt(v: string, option: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(option, `expected a positive integer, got '${v}'`);
  return n;
}

/** uint8 HWC images as model input (NCHW float32 in [0, 1], the layout of the project's CIFAR models). */
function imagesToBatch(set: LabeledImages): CalibrationBatch {
  return { data: toFloat32(set.images, set.count, set.height, set.width), dims: [set.count, 3, set.height, set.width] };
}

/** The calibration batches named by `--calibration`, at most `samples` images, maybe augmented. */
async function readCalibration(path: string, samples: number, augment: string | undefined, seed: number): Promise<CalibrationBatch[]> {
  const kind = await pathKind(path);
  if (kind === null) throw new UsageError('--calibration', `${path}: no such file or directory`);
  const npyFiles = kind === 'file' ? (/\.npy$/i.test(path) ? [path] : []) : (await readdir(path)).filter((f) => /\.npy$/i.test(f)).sort().map((f) => join(path, f));
  if (npyFiles.length === 0) {
    let set = takeFirst(await readCifar10(path), samples);
    if (augment) set = padCropFlip(set, { seed });
    return [imagesToBatch(set)];
  }
  if (augment) throw new UsageError('--augment', 'applies to images (CIFAR-10 or uint8 .npy), not to float32 tensors already shaped for the model');
  const batches: CalibrationBatch[] = [];
  let total = 0;
  for (const file of npyFiles) {
    if (total >= samples) break;
    const a = await readNpyFile(file);
    const take = Math.min(a.shape[0] ?? 0, samples - total);
    const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
    if (a.dtype === 'float32') {
      batches.push({ data: (a.data as Float32Array).subarray(0, take * per), dims: [take, ...a.shape.slice(1)] });
    } else if (a.dtype === 'uint8' && a.shape.length === 4 && a.shape[3] === 3) {
      const [, h, w] = a.shape;
      batches.push({ data: toFloat32(a.data as Uint8Array, take, h, w), dims: [take, 3, h, w] });
    } else {
      throw new UsageError('--calibration', `${file}: a ${a.dtype} array of shape [${a.shape.join(', ')}]; expected float32 shaped like the model input, or uint8 images [n, H, W, 3]`);
    }
    total += take;
  }
  return batches;
}

async function runRestore(model: string, o: RestoreCliOptions, io: CliIO): Promise<void> {
  if ((await pathKind(model)) !== 'file') throw new UsageError(model, 'no such model file');
  const out = resolve(o.out);
  if (out === resolve(model)) throw new UsageError('--out', 'would overwrite the input model; give another file');
  if ((await pathKind(dirname(out))) !== 'directory') throw new UsageError('--out', `${dirname(out)}: no such directory`);
  if ((await pathKind(out)) === 'directory') throw new UsageError('--out', `${o.out} is a directory; give the output file`);
  const samples = positiveInt(o.samples, '--samples');
  const seed = Number(o.seed);
  if (!Number.isInteger(seed)) throw new UsageError('--seed', `expected an integer, got '${o.seed}'`);
  if (o.augment !== undefined && !(AUGMENTS as readonly string[]).includes(o.augment)) throw new UsageError('--augment', `'${o.augment}' is not one of: ${AUGMENTS.join(', ')}`);
  const threads = o.threads === undefined ? undefined : positiveInt(o.threads, '--threads');
  const calibration = await readCalibration(o.calibration, samples, o.augment, seed);
  const exclude = o.exclude ? o.exclude.split(',').map((s) => s.trim()).filter(Boolean) : [];
  let result;
  try {
    result = await restoreBatchNorm(model, calibration, { runtime: 'node', exclude, ...(threads ? { numThreads: threads } : {}) });
  } catch (e) {
    if (!(e instanceof RecoveryError)) throw e;
    const option = { calibration: '--calibration', exclude: '--exclude', model, options: '--calibration' }[e.argument];
    throw new UsageError(option, e.argument === 'model' && e.message.startsWith(`${model}: `) ? e.message.slice(model.length + 2) : e.message);
  }
  await writeFileAtomic(out, result.bytes);
  const { recovered, skipped, samples: used } = result.report;
  const why = skipped.length ? `; kept as exported: ${skipped.map((s) => `${s.conv} (${s.reason})`).join(', ')}` : '';
  io.stderr.write(`edgetta restore-bn: wrote ${out}: ${recovered.length} BatchNormalization layers recovered from ${used} calibration images${why}\n`);
}
