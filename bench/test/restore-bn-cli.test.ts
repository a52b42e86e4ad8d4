/**
 * `edgetta restore-bn`: the PyTorch-default (folded) ResNet-20 and 1,024 clean training images give
 * a standard ONNX file with 19 BatchNormalization nodes that is the identity at the source under
 * plain onnxruntime; bad input is a one-line error naming the option or file, exit code 2, and no
 * file written.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpyFile } from '@edgetta/datasets/node';
import { decodeModel } from '@edgetta/onnx';
import { randomInput } from '@edgetta/testing';
import { listOrEmpty, ROOT, run } from './bench-helpers.js';

const FOLDED = join(ROOT, 'bench/assets/resnet20-cifar10-folded.onnx');
const KEPT = join(ROOT, 'bench/assets/resnet20-cifar10.onnx');
const TRAIN = join(ROOT, 'bench/assets/cifar10-train-1024.bin');

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'edgetta-restore-bn-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function logits(path: string, x: Float32Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path);
  try {
    return (await s.run({ input: new ort.Tensor('float32', x, [8, 3, 32, 32]) })).logits.data as Float32Array;
  } finally {
    await s.release();
  }
}

describe('edgetta restore-bn', () => {
  it('writes the model with its folded BatchNorm recovered, the identity at the source', async () => {
    const out = join(tmp, 'resnet20-bn.onnx');
    const r = await run('restore-bn', FOLDED, '--calibration', TRAIN, '--augment', 'pad-crop-flip', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe(`edgetta restore-bn: wrote ${out}: 19 BatchNormalization layers recovered from 1024 calibration images`);
    const m = decodeModel(new Uint8Array(await readFile(out)));
    expect(m.graph.nodes.filter((n) => n.opType === 'BatchNormalization')).toHaveLength(19);
    const x = randomInput(4, [8, 3, 32, 32]);
    const [a, b] = [await logits(out, x), await logits(FOLDED, x)];
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    expect(d).toBeLessThanOrEqual(1e-5);
  });

  it('takes a directory of float32 .npy tensors shaped like the model input', async () => {
    const dir = join(tmp, 'npy');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await writeNpyFile(join(dir, 'a.npy'), randomInput(1, [40, 3, 32, 32]), 'float32', [40, 3, 32, 32]);
    await writeNpyFile(join(dir, 'b.npy'), randomInput(2, [40, 3, 32, 32]), 'float32', [40, 3, 32, 32]);
    const out = join(tmp, 'from-npy.onnx');
    const r = await run('restore-bn', FOLDED, '--calibration', dir, '--samples', '64', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('19 BatchNormalization layers recovered from 64 calibration images');
  });

  const bad: [string, (dir: string) => Promise<string[]>, RegExp][] = [
    ['too few samples', async (d) => [FOLDED, '--calibration', TRAIN, '--samples', '8', '--out', join(d, 'o.onnx')], /^edgetta restore-bn: --calibration: calibration: 8 samples given; .* needs at least 32 clean samples/],
    ['NaN in a .npy', async (d) => {
      const x = randomInput(3, [40, 3, 32, 32]);
      x[5000] = NaN;
      await writeNpyFile(join(d, 'nan.npy'), x, 'float32', [40, 3, 32, 32]);
      return [FOLDED, '--calibration', join(d, 'nan.npy'), '--out', join(d, 'o.onnx')];
    }, /^edgetta restore-bn: --calibration: calibration\[0\]: value NaN at flat index 5000 \(sample 1\)/],
    ['wrong image size', async (d) => {
      await writeNpyFile(join(d, 'small.npy'), randomInput(3, [40, 3, 28, 28]), 'float32', [40, 3, 28, 28]);
      return [FOLDED, '--calibration', join(d, 'small.npy'), '--out', join(d, 'o.onnx')];
    }, /^edgetta restore-bn: --calibration: calibration\[0\]: dimension 2 is 28; input 'input' expects 32/],
    ['a model with nothing folded', async (d) => [KEPT, '--calibration', TRAIN, '--out', join(d, 'o.onnx')], /^edgetta restore-bn: .*resnet20-cifar10\.onnx: there is no folded BatchNorm to recover: each of its 19 convolutions is already normalized/],
    ['an unknown --exclude', async (d) => [FOLDED, '--calibration', TRAIN, '--exclude', 'nope', '--out', join(d, 'o.onnx')], /^edgetta restore-bn: --exclude: exclude: no Conv node or output named 'nope'/],
    ['an unknown --augment', async (d) => [FOLDED, '--calibration', TRAIN, '--augment', 'mixup', '--out', join(d, 'o.onnx')], /^edgetta restore-bn: --augment: 'mixup' is not one of: pad-crop-flip/],
    ['--out over the model', async () => [FOLDED, '--calibration', TRAIN, '--out', FOLDED], /^edgetta restore-bn: --out: would overwrite the input model/],
    ['a missing model', async (d) => [join(d, 'none.onnx'), '--calibration', TRAIN, '--out', join(d, 'o.onnx')], /none\.onnx: no such model file/],
  ];
  for (const [what, args, message] of bad) {
    it(`refuses ${what}: exit 2, one line, nothing written`, async () => {
      const dir = await mkdtemp(join(tmp, 'bad-'));
      const argv = await args(dir);
      const before = await listOrEmpty(dir);
      const r = await run('restore-bn', ...argv);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(await listOrEmpty(dir)).toEqual(before);
    });
  }
});
