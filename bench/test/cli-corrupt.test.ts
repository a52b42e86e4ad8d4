import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  corrupt,
  corruptedSource,
  createStream,
  encodeCifar10,
  imageAt,
  imageRng,
  takeFirst,
  writeNpy,
  type LabeledImages,
  type StreamBatch,
} from '@edgetta/datasets';
import { openCifarCSource, readCifar10, readNpyFile, sha256File } from '@edgetta/datasets/node';
import * as tar from 'tar';
import { runCli } from '../src/program.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const TEST_BATCH = join(ROOT, '../shared/data/cifar10/test_batch.bin');
const TEST_SHA = '853539eb6c9865bc80e8ddf3f3d58b4e46359594f65dabd58eecdde4d67a7a11';

let tmp: string;
let test: LabeledImages;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'edgetta-cli-'));
  test = await readCifar10(TEST_BATCH);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk);
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await runCli(argv, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

async function listOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

describe('edgetta corrupt', () => {
  it('writes CIFAR-10-C-format arrays, labels and a manifest, readable back and equal to the seeded corruptions', async () => {
    const out = join(tmp, 'ok');
    const r = await run('corrupt', '--cifar10', TEST_BATCH, '--out', out, '--corruptions', 'brightness,gaussian_noise', '--severity', '1,5', '--seed', '3', '--limit', '8');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote 2 corruption files of uint8 \[16, 32, 32, 3\] \(severities 1,5\)/);
    expect(await listOrEmpty(out)).toEqual(['brightness.npy', 'edgetta-corrupt.json', 'gaussian_noise.npy', 'labels.npy']);

    const labels = await readNpyFile(join(out, 'labels.npy'));
    expect(labels.dtype).toBe('uint8');
    expect(labels.shape).toEqual([16]);
    expect(Array.from(labels.data as Uint8Array)).toEqual([...test.labels.subarray(0, 8), ...test.labels.subarray(0, 8)]);
    for (const name of ['brightness', 'gaussian_noise'] as const) {
      const arr = await readNpyFile(join(out, `${name}.npy`));
      expect(arr.dtype).toBe('uint8');
      expect(arr.shape).toEqual([16, 32, 32, 3]);
      const data = arr.data as Uint8Array;
      for (const [b, s] of ([1, 5] as const).entries()) {
        for (let i = 0; i < 8; i++) {
          const want = corrupt(imageAt(test, i), name, s, imageRng(3, name, s, i)).data;
          expect(Buffer.compare(Buffer.from(data.subarray((b * 8 + i) * 3072, (b * 8 + i + 1) * 3072)), Buffer.from(want))).toBe(0);
        }
      }
    }
    // noise really was applied (severity 5 differs from the clean image)
    const gn = (await readNpyFile(join(out, 'gaussian_noise.npy'))).data as Uint8Array;
    let changed = 0;
    for (let p = 0; p < 3072; p++) if (gn[8 * 3072 + p] !== test.images[p]) changed++;
    expect(changed).toBeGreaterThan(2000);

    const manifest = JSON.parse(await readFile(join(out, 'edgetta-corrupt.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'edgetta.corrupt/1',
      seed: 3,
      severities: [1, 5],
      corruptions: ['brightness', 'gaussian_noise'],
      count: 8,
      limit: 8,
      input: { path: TEST_BATCH, sha256: TEST_SHA },
    });
    expect(manifest.files['brightness.npy'].sha256).toBe(await sha256File(join(out, 'brightness.npy')));
    expect(manifest.files['labels.npy'].sha256).toBe(await sha256File(join(out, 'labels.npy')));
  });

  it('gives a stream over its files the same batches as a generated stream with the same seed', async () => {
    const out = join(tmp, 'stream');
    const r = await run('corrupt', '--cifar10', TEST_BATCH, '--out', out, '--corruptions', 'contrast,impulse_noise', '--severity', '5', '--seed', '21', '--limit', '200', '--no-progress');
    expect(r.code).toBe(0);
    const disk = await openCifarCSource(out);
    expect(disk.severities).toEqual([5]);
    const opts = { protocol: 'continual', seed: 2, batchSize: 64, corruptions: ['contrast', 'impulse_noise'] as ('contrast' | 'impulse_noise')[] };
    const fromDisk: StreamBatch[] = [];
    for await (const b of createStream(disk, opts)) fromDisk.push(b);
    const generated: StreamBatch[] = [];
    for await (const b of createStream(corruptedSource(takeFirst(test, 200), { seed: 21, corrupt }), opts)) generated.push(b);
    expect(fromDisk.length).toBe(8);
    for (let k = 0; k < fromDisk.length; k++) {
      expect(Buffer.compare(Buffer.from(fromDisk[k].pixels), Buffer.from(generated[k].pixels))).toBe(0);
      expect(Array.from(fromDisk[k].labels)).toEqual(Array.from(generated[k].labels));
    }
    expect(createStream(disk, opts).manifest.source).toMatchObject({ kind: 'cifar-c', corruptionSeed: 21 });
    await disk.close();
  });

  it('reads a directory, a .tar.gz archive and an image .npy', async () => {
    const src = join(tmp, 'src', 'cifar-10-batches-bin');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'test_batch.bin'), encodeCifar10(takeFirst(test, 4)));
    const archive = join(tmp, 'cifar-10-binary.tar.gz');
    await tar.c({ gzip: true, file: archive, cwd: join(tmp, 'src') }, ['cifar-10-batches-bin']);
    const npy = join(tmp, 'mine.npy');
    const npyLabels = join(tmp, 'mine-labels.npy');
    await writeFile(npy, writeNpy(test.images.slice(0, 4 * 3072), 'uint8', [4, 32, 32, 3]));
    await writeFile(npyLabels, writeNpy(BigInt64Array.from(test.labels.subarray(0, 4), BigInt), 'int64', [4]));
    const results = [];
    for (const [name, args] of [
      ['dir', ['--cifar10', join(tmp, 'src')]],
      ['tgz', ['--cifar10', archive]],
      ['npy', ['--npy', npy, '--labels', npyLabels]],
    ] as const) {
      const out = join(tmp, `in-${name}`);
      const r = await run('corrupt', ...args, '--out', out, '--corruptions', 'pixelate', '--severity', '2-3', '--seed', '1');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      results.push(await readFile(join(out, 'pixelate.npy')));
    }
    expect(results[1].equals(results[0])).toBe(true);
    expect(results[2].equals(results[0])).toBe(true);
    expect(results[0].length).toBe(128 + 8 * 3072);
  });

  it('loads the assets frost and jpeg_compression need, and takes held_out', async () => {
    const out = join(tmp, 'assets');
    const r = await run('corrupt', '--cifar10', TEST_BATCH, '--out', out, '--corruptions', 'frost,jpeg_compression,held_out', '--severity', '5', '--limit', '2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await listOrEmpty(out)).toEqual([
      'edgetta-corrupt.json',
      'frost.npy',
      'gaussian_blur.npy',
      'jpeg_compression.npy',
      'labels.npy',
      'saturate.npy',
      'spatter.npy',
      'speckle_noise.npy',
    ]);
    const jpegged = (await readNpyFile(join(out, 'jpeg_compression.npy'))).data as Uint8Array;
    expect(Buffer.compare(Buffer.from(jpegged.subarray(0, 3072)), Buffer.from(test.images.subarray(0, 3072)))).not.toBe(0);
  });

  describe('bad input: one line naming the argument, exit code 2, nothing written', () => {
    const cases: [string, () => Promise<string[]>, RegExp][] = [
      [
        'wrong file size',
        async () => {
          await writeFile(join(tmp, 'short.bin'), new Uint8Array(3073 * 2 + 1));
          return ['--cifar10', join(tmp, 'short.bin')];
        },
        /short\.bin: not a CIFAR-10 binary file: its 6147 bytes are not a positive multiple of the 3073-byte record/,
      ],
      ['missing file', async () => ['--cifar10', join(tmp, 'nope.bin')], /nope\.bin: no such file or directory/],
      [
        'wrong .npy header',
        async () => {
          await writeFile(join(tmp, 'garbage.npy'), 'this is not numpy');
          await writeFile(join(tmp, 'l.npy'), writeNpy(new Uint8Array(2), 'uint8', [2]));
          return ['--npy', join(tmp, 'garbage.npy'), '--labels', join(tmp, 'l.npy')];
        },
        /garbage\.npy: not a NumPy \.npy file/,
      ],
      [
        'labels/data count mismatch',
        async () => {
          await writeFile(join(tmp, 'three.npy'), writeNpy(new Uint8Array(3 * 3072), 'uint8', [3, 32, 32, 3]));
          await writeFile(join(tmp, 'two-labels.npy'), writeNpy(Int32Array.from([0, 1]), 'int32', [2]));
          return ['--npy', join(tmp, 'three.npy'), '--labels', join(tmp, 'two-labels.npy')];
        },
        /two-labels\.npy: 2 labels for 3 images in .*three\.npy/,
      ],
      [
        'unsupported image shape (4 channels)',
        async () => {
          await writeFile(join(tmp, 'rgba.npy'), writeNpy(new Uint8Array(2 * 32 * 32 * 4), 'uint8', [2, 32, 32, 4]));
          await writeFile(join(tmp, 'l2.npy'), writeNpy(new Uint8Array(2), 'uint8', [2]));
          return ['--npy', join(tmp, 'rgba.npy'), '--labels', join(tmp, 'l2.npy')];
        },
        /rgba\.npy: unsupported image array shape \[2, 32, 32, 4\]/,
      ],
      [
        'unsupported image size (too small for the corruptions)',
        async () => {
          await writeFile(join(tmp, 'tiny.npy'), writeNpy(new Uint8Array(2 * 4 * 4 * 3), 'uint8', [2, 4, 4, 3]));
          await writeFile(join(tmp, 'l3.npy'), writeNpy(new Uint8Array(2), 'uint8', [2]));
          return ['--npy', join(tmp, 'tiny.npy'), '--labels', join(tmp, 'l3.npy')];
        },
        /tiny\.npy: images of 4x4 are not supported by brightness/,
      ],
      ['unknown corruption', async () => ['--cifar10', TEST_BATCH, '--corruptions', 'brightness,blurry'], /--corruptions: unknown corruption 'blurry' \(valid: all, held_out, .*gaussian_noise/],
      ['severity 0', async () => ['--cifar10', TEST_BATCH, '--severity', '0'], /--severity: severity '0' is outside 1-5/],
      ['severity 7', async () => ['--cifar10', TEST_BATCH, '--severity', '7'], /--severity: severity '7' is outside 1-5/],
      ['severity range 1-9', async () => ['--cifar10', TEST_BATCH, '--severity', '1-9'], /--severity: severity '1-9' is outside 1-5/],
      ['severity text', async () => ['--cifar10', TEST_BATCH, '--severity', 'high'], /--severity: cannot parse 'high'/],
      ['seed not an integer', async () => ['--cifar10', TEST_BATCH, '--seed', '1.5'], /--seed: expected an integer, got '1\.5'/],
      ['limit 0', async () => ['--cifar10', TEST_BATCH, '--limit', '0'], /--limit: expected an integer >= 1, got '0'/],
      ['no input', async () => [], /--cifar10: give exactly one input/],
      ['two inputs', async () => ['--cifar10', TEST_BATCH, '--folder', tmp], /--cifar10 and --folder: give exactly one input/],
      ['--npy without --labels', async () => ['--npy', join(tmp, 'three.npy')], /--labels: --npy needs --labels/],
      ['unknown option', async () => ['--cifar10', TEST_BATCH, '--sevrity', '5'], /unknown option '--sevrity'/],
    ];
    for (const [title, args, message] of cases) {
      it(title, async () => {
        const out = join(tmp, `bad-${title.replace(/\W+/g, '-')}`);
        const r = await run('corrupt', '--out', out, '--corruptions', 'brightness', '--no-progress', ...(await args()));
        expect(r.code).toBe(2);
        expect(r.stdout).toBe('');
        expect(r.stderr.endsWith('\n')).toBe(true);
        expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(message);
        expect(await listOrEmpty(out)).toEqual([]);
      });
    }
  });
});

/**
 * Runs the real `edgetta` entry as a child process: node with tsx's loader and the source
 * condition, one process as the built bin would be (the `tsx` launcher would add a parent that
 * relays signals).
 */
function spawnCli(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@edgetta/source', join(ROOT, 'bench/src/cli.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += String(d)));
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

describe('the edgetta bin', () => {
  it('exits 2 with one line on bad input and 0 on success', async () => {
    const bad = await spawnCli(['corrupt', '--cifar10', TEST_BATCH, '--out', join(tmp, 'bin-bad'), '--severity', '7']).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("edgetta corrupt: --severity: severity '7' is outside 1-5\n");
    const ok = await spawnCli(['corrupt', '--cifar10', TEST_BATCH, '--out', join(tmp, 'bin-ok'), '--corruptions', 'contrast', '--severity', '5', '--limit', '4']).done;
    expect(ok.stderr).toBe(''); // the progress bar only draws on a terminal
    expect(ok.code).toBe(0);
    expect((await readNpyFile(join(tmp, 'bin-ok', 'contrast.npy'))).shape).toEqual([4, 32, 32, 3]);
  });

  it('leaves no half-written file on Ctrl-C', async () => {
    const out = join(tmp, 'sigint');
    const { child, done } = spawnCli(['corrupt', '--cifar10', TEST_BATCH, '--out', out, '--corruptions', 'all', '--severity', '1-5', '--no-progress']);
    // wait until the first corruption's temporary file exists, then interrupt
    const deadline = Date.now() + 60_000;
    for (;;) {
      const names = await listOrEmpty(out);
      if (names.some((n) => n.startsWith('.gaussian_noise.npy.') && n.endsWith('.tmp'))) break;
      if (Date.now() > deadline) throw new Error(`no temporary file appeared in ${out}: ${names.join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted; the file in progress was removed/);
    const left = await listOrEmpty(out);
    expect(left.filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(left).not.toContain('edgetta-corrupt.json');
    // whatever was renamed into place is complete
    for (const n of left.filter((f) => f.endsWith('.npy'))) {
      const a = await readNpyFile(join(out, n));
      expect(a.shape[0]).toBe(50_000);
    }
  });
});
