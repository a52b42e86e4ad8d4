/**
 * The conformance corpus (bench/crosscheck/corpus.py): 7 torchvision architectures, each exported
 * folded (torch defaults) and BN-preserved, plus PyTorch reference arrays. The files are too big for
 * git, so they are generated on first use into `.cache/corpus/<hash of corpus.py>/` by
 * `/usr/bin/python3 bench/crosscheck/corpus.py <dir>` (Debian python3-torch, python3-torchvision,
 * python3-onnx). Missing PyTorch is an error, never a skip.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpyFile } from '@edgetta/testing';

const root = fileURLToPath(new URL('../../', import.meta.url));
const script = path.join(root, 'bench/crosscheck/corpus.py');
const PYTHON = '/usr/bin/python3';

export const CORPUS_MODELS = [
  'mobilenet_v2',
  'mobilenet_v3_small',
  'efficientnet_b0',
  'shufflenet_v2_x0_5',
  'regnet_y_400mf',
  'resnet18',
  'lraspp_mobilenet_v3_large',
] as const;
export type CorpusModel = (typeof CORPUS_MODELS)[number];

export interface ModelMeta {
  name: string;
  dense: boolean;
  output: string;
  bn: number;
  layers: string[];
  channels: number[];
  loss: number;
  /** relative L2 of PyTorch's float32 gradients to the float64 ones the fixture holds */
  torch_float32_grads_rel_l2: number;
  logits_scale_source: number;
  logits_scale_train: number;
  output_shape: number[];
}

export interface Array32 {
  data: Float32Array;
  shape: number[];
}

/** The corpus directory, generating it when missing; `generatedSeconds` is set when this call ran python. */
export function corpusDir(): { dir: string; generatedSeconds?: number } {
  const hash = createHash('sha256').update(fs.readFileSync(script)).digest('hex').slice(0, 16);
  const dir = path.join(root, '.cache/corpus', hash);
  if (fs.existsSync(path.join(dir, 'manifest.json'))) return { dir };
  const check = (() => {
    try {
      return execFileSync(PYTHON, ['-c', 'import torch, torchvision, onnx; print(torch.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      return e as Error & { stderr?: string };
    }
  })();
  if (typeof check !== 'string') {
    throw new Error(
      `the corpus fixtures are missing (${dir}) and cannot be generated: ${PYTHON} with torch, torchvision and onnx is needed ` +
        `(Debian: apt-get install python3-torch python3-torchvision python3-onnx), then run ${PYTHON} bench/crosscheck/corpus.py ${dir}. ` +
        `python said: ${String(check.stderr ?? check.message).trim().split('\n').slice(-1)[0]}`,
    );
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const t0 = performance.now();
  try {
    execFileSync(PYTHON, [script, tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const err = e as Error & { stderr?: string };
    throw new Error(`${PYTHON} bench/crosscheck/corpus.py failed: ${String(err.stderr ?? err.message).trim().split('\n').slice(-5).join('\n')}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  // corpora of earlier versions of corpus.py (~220 MB each)
  for (const old of fs.readdirSync(path.dirname(dir))) if (old !== hash && /^[0-9a-f]{16}$/.test(old)) fs.rmSync(path.join(path.dirname(dir), old), { recursive: true, force: true });
  return { dir, generatedSeconds: (performance.now() - t0) / 1000 };
}

export function readArray(dir: string, file: string): Array32 {
  const a = readNpyFile(path.join(dir, file));
  if (a.dtype !== 'float32') throw new Error(`${file}: expected float32, got ${a.dtype}`);
  return { data: a.data as Float32Array, shape: [...a.shape] };
}

export function readMeta(dir: string, model: CorpusModel): ModelMeta {
  return JSON.parse(fs.readFileSync(path.join(dir, `${model}-meta.json`), 'utf8')) as ModelMeta;
}

export const foldedPath = (dir: string, model: CorpusModel): string => path.join(dir, `${model}-folded.onnx`);
export const preservedPath = (dir: string, model: CorpusModel): string => path.join(dir, `${model}-preserved.onnx`);
