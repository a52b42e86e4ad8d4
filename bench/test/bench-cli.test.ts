/**
 * `edgetta bench` end to end on a tiny configuration (2 corruptions x 128 images, 3 fast
 * methods, the embedded ResNet-20): schema-valid results, the Markdown table, determinism, the
 * same numbers from generated corruptions and from `edgetta corrupt` arrays, and the numbers of
 * `source` / `norm` checked against computations that do not go through the bench runner.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corrupt, corruptedSource, createStream, imageAt, imageRng, takeFirst, toFloat32, type LabeledImages } from '@edgetta/datasets';
import { readCifar10 } from '@edgetta/datasets/node';
import { AdaptiveSession } from '@edgetta/sdk';
import { benchResultsSchema } from '../src/bench/schema.js';
import type { BenchResults } from '../src/bench/results.js';
import { embeddedModelPath } from '../src/embedded.js';
import { run, TEST_BATCH } from './bench-helpers.js';

const N = 128;
const CORRUPTIONS = ['gaussian_noise', 'fog'] as const;
const METHODS = 'source,norm,alpha-bn:alpha=0.2';
const base = ['--cifar10', TEST_BATCH, '--limit', String(N), '--corruptions', CORRUPTIONS.join(','), '--severity', '5', '--methods', METHODS, '--batch-size', '32', '--threads', '1'];

let tmp: string;
let test: LabeledImages;
let main: { code: number; stdout: string; stderr: string };
let results: BenchResults;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'edgetta-bench-'));
  test = takeFirst(await readCifar10(TEST_BATCH), N);
  main = await run('bench', ...base, '--protocol', 'continual', '--seed', '1,2', '--out', join(tmp, 'a.json'), '--report', join(tmp, 'a.html'), '--no-progress');
  results = JSON.parse(await readFile(join(tmp, 'a.json'), 'utf8')) as BenchResults;
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Errors per domain of a session run batch by batch over the test's continual stream, outside the bench runner. */
async function plainLoopErrors(session: AdaptiveSession, seed: number): Promise<number[]> {
  const stream = createStream(corruptedSource(test, { seed, corrupt }), { protocol: 'continual', corruptions: [...CORRUPTIONS], severities: [5], seed, batchSize: 32 });
  const wrong = [0, 0];
  for await (const b of stream) {
    const logits = (await session.run({ input: new ort.Tensor('float32', b.images, b.shape) })).logits.data as Float32Array;
    for (let i = 0; i < b.labels.length; i++) {
      let best = 0;
      for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
      if (best !== b.labels[i]) wrong[b.domainIds[i]]++;
    }
  }
  return wrong;
}

function errorsOf(r: BenchResults): number[] {
  return r.runs.flatMap((x) => x.domains.map((d) => d.errors));
}

describe('edgetta bench', () => {
  it('writes results that validate against the JSON schema, with a full protocol manifest', async () => {
    expect(main.code, main.stderr).toBe(0);
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.compile(benchResultsSchema);
    const ok = validate(results);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // the schema constrains: a result without the model hash, or with an impossible error %, is rejected
    const broken = structuredClone(results) as unknown as { manifest: { model: Record<string, unknown> }; runs: { total: { errorPct: number } }[] };
    delete broken.manifest.model.sha256;
    expect(validate(broken)).toBe(false);
    const wrongPct = structuredClone(results);
    wrongPct.runs[0].total.errorPct = 150;
    expect(validate(wrongPct)).toBe(false);

    const m = results.manifest;
    expect(m.model.path).toBe(embeddedModelPath);
    expect(m.model.normLayers).toBe(19);
    expect(m.data).toMatchObject({ kind: 'cifar10', path: TEST_BATCH, count: N, limit: N, sha256: '853539eb6c9865bc80e8ddf3f3d58b4e46359594f65dabd58eecdde4d67a7a11' });
    expect(m.protocol).toMatchObject({ arg: 'continual', name: 'continual', reset: 'once' });
    expect(m.seeds).toEqual([1, 2]);
    expect(m.streams.map((s) => s.seed)).toEqual([1, 2]);
    expect(m.streams.every((s) => s.batchSize === 32 && s.samplesPerDomain === N && s.totalSamples === 2 * N)).toBe(true);
    expect(m.domains).toEqual(CORRUPTIONS.map((corruption) => ({ corruption, severity: 5 })));
    expect(m.methods.map((x) => x.id)).toEqual(['source', 'norm', 'alpha-bn:alpha=0.2']);
    expect(m.methods[2]).toMatchObject({ name: 'alpha-bn', given: { alpha: 0.2 }, options: { alpha: 0.2 } });
    expect(m.runtime).toMatchObject({ requested: 'node', threads: 1, spinning: false, engine: { name: 'onnxruntime-node', threads: 1 } });
    expect(m.packages['onnxruntime-node']).toMatch(/^\d+\.\d+\.\d+/);
    expect(m.preprocess).toMatchObject({ layout: 'nchw', channelOrder: 'rgb' });
    expect(m.argv).toContain('--out');
    expect(m.git === null || /^[0-9a-f]{40}$/.test(m.git.commit)).toBe(true);
    expect(m.guard).toBeNull();
    expect(results.runs.every((r) => r.guardResets === 0)).toBe(true);
  });

  it('prints a Markdown table: rows = methods, columns = domains + mean, mean ± std over seeds', () => {
    const lines = main.stdout.trim().split('\n').filter((l) => l.startsWith('|'));
    expect(lines[0]).toBe('| method | gaussian_noise | fog | mean |');
    expect(lines).toHaveLength(2 + 3);
    for (const [i, row] of results.summary.entries()) {
      // the printed cell is derived from the per-seed runs: mean and sample std of their error %
      const perSeed = results.runs.filter((x) => x.method === row.method);
      const cells = lines[2 + i].split('|').slice(1, -1).map((c) => c.trim());
      expect(cells[0]).toBe(row.method);
      for (const [d, cell] of cells.slice(1, 3).entries()) {
        const v = perSeed.map((x) => (100 * x.domains[d].errors) / x.domains[d].n);
        const mu = (v[0] + v[1]) / 2;
        const sd = Math.abs(v[0] - v[1]) / Math.SQRT2;
        expect(cell).toBe(`${mu.toFixed(1)} ± ${sd.toFixed(1)}`);
      }
      const means = perSeed.map((x) => (x.domains[0].errorPct + x.domains[1].errorPct) / 2);
      expect(cells[3]).toBe(`${((means[0] + means[1]) / 2).toFixed(1)} ± ${(Math.abs(means[0] - means[1]) / Math.SQRT2).toFixed(1)}`);
    }
  });

  it('re-renders the table and a report from a results file (--from-results)', async () => {
    const r = await run('bench', '--from-results', join(tmp, 'a.json'), '--report', join(tmp, 'again.html'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(main.stdout.trim().split('\n').filter((l) => l.startsWith('|')));
    const html = await readFile(join(tmp, 'again.html'), 'utf8');
    expect(html).toContain('<td>alpha-bn:alpha=0.2</td>');
  });

  it('resets exactly at the stream reset flags and counts every sample once', () => {
    for (const r of results.runs) {
      expect(r.resets).toBe(1); // continual: one reset, before the first batch
      expect(r.total.n).toBe(2 * N);
      expect(r.domains.map((d) => d.n)).toEqual([N, N]);
      expect(r.total.errors).toBe(r.domains[0].errors + r.domains[1].errors);
      expect(r.rolling.x.at(-1)).toBe(2 * N);
      expect(r.total.batches).toBe((2 * N) / 32);
    }
  });

  it('scores source exactly as plain onnxruntime does on the same corrupted images', async () => {
    const session = await ort.InferenceSession.create(embeddedModelPath);
    for (const seed of [1, 2]) {
      for (const [d, corruption] of CORRUPTIONS.entries()) {
        // Corrupt every image with its own seeded generator and classify all N at once.
        const px = new Uint8Array(N * 3072);
        for (let i = 0; i < N; i++) px.set(corrupt(imageAt(test, i), corruption, 5, imageRng(seed, corruption, 5, i)).data, i * 3072);
        const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', toFloat32(px, N, 32, 32), [N, 3, 32, 32]) });
        const logits = out[session.outputNames[0]].data as Float32Array;
        let wrong = 0;
        for (let i = 0; i < N; i++) {
          let best = 0;
          for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
          if (best !== test.labels[i]) wrong++;
        }
        const r = results.runs.find((x) => x.method === 'source' && x.seed === seed)!;
        expect(r.domains[d].errors, `${corruption} seed ${seed}`).toBe(wrong);
      }
    }
    await session.release();
  });

  it('scores norm as a plain loop over the same stream does (continual: no reset between domains)', async () => {
    const session = await AdaptiveSession.create(embeddedModelPath, { method: 'norm', runtime: 'node', threads: 1 });
    const wrong = await plainLoopErrors(session, 2);
    await session.dispose();
    const r = results.runs.find((x) => x.method === 'norm' && x.seed === 2)!;
    expect(r.domains.map((d) => d.errors)).toEqual(wrong);
    // adaptation matters here: norm beats source under Gaussian noise
    const src = results.runs.find((x) => x.method === 'source' && x.seed === 2)!;
    expect(r.domains[0].errors).toBeLessThan(src.domains[0].errors);
  });

  it('--guard: every session runs with the collapse guard; errors, guard resets and updates match a guarded plain loop', async () => {
    const guard = { resetEvery: 3, sourceWeight: 0.5 };
    const r = await run('bench', ...base, '--methods', 'tent', '--protocol', 'continual', '--guard', 'resetEvery=3,sourceWeight=0.5', '--out', join(tmp, 'guard.json'), '--report', join(tmp, 'guard.html'), '--no-progress');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('guard resetEvery=3, sourceWeight=0.5');
    const g = JSON.parse(await readFile(join(tmp, 'guard.json'), 'utf8')) as BenchResults;
    const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(benchResultsSchema);
    expect(validate(g), JSON.stringify(validate.errors)).toBe(true);
    expect(g.manifest.guard).toEqual(guard);
    const session = await AdaptiveSession.create(embeddedModelPath, { method: 'tent', runtime: 'node', threads: 1, guard });
    const wrong = await plainLoopErrors(session, 1);
    const resets = session.stats.guard.resets;
    await session.dispose();
    const [tent] = g.runs;
    expect(tent.domains.map((d) => d.errors)).toEqual(wrong);
    // 8 batches: the guard resets after batches 3 and 6; tent steps on every batch, across the resets too
    expect(resets).toBe(2);
    expect(tent.guardResets).toBe(2);
    expect(tent.updates).toEqual({ applied: 8, skipped: 0 });
    const html = await readFile(join(tmp, 'guard.html'), 'utf8');
    expect(html).toContain('<th>guard resets</th>');
    expect(html).toContain('resetEvery=3, sourceWeight=0.5');
  });

  it('gives identical numbers on runs with the same seeds (main-thread corruptions or the worker, with or without the replay cache)', async () => {
    const again = await run('bench', ...base, '--protocol', 'continual', '--seed', '1,2', '--no-prefetch', '--cache-mb', '0', '--out', join(tmp, 'b.json'), '--no-progress');
    expect(again.code, again.stderr).toBe(0);
    const b = JSON.parse(await readFile(join(tmp, 'b.json'), 'utf8')) as BenchResults;
    expect(errorsOf(b)).toEqual(errorsOf(results));
    expect(b.runs.map((x) => x.total.ece)).toEqual(results.runs.map((x) => x.total.ece));
    expect(b.summary.map((s) => s.meanErrorPct)).toEqual(results.summary.map((s) => s.meanErrorPct));
    // the worker regenerating every method's pass (no replay cache) sees the same images too
    const third = await run('bench', ...base, '--protocol', 'continual', '--seed', '1,2', '--cache-mb', '0', '--out', join(tmp, 'c.json'), '--no-progress');
    expect(third.code, third.stderr).toBe(0);
    expect(errorsOf(JSON.parse(await readFile(join(tmp, 'c.json'), 'utf8')) as BenchResults)).toEqual(errorsOf(results));
    // and a different seed is a different stream (other noise, other order)
    expect(results.runs[0].seed).toBe(1);
    expect(results.runs[3]).toMatchObject({ method: 'source', seed: 2 });
    expect(results.runs[0].total.meanEntropy).not.toBe(results.runs[3].total.meanEntropy);
  });

  it('gives the same numbers from --cifar10 (generated) and --cifar10c (edgetta corrupt arrays with the same seed)', async () => {
    const dir = join(tmp, 'c10c');
    const c = await run('corrupt', '--cifar10', TEST_BATCH, '--out', dir, '--corruptions', CORRUPTIONS.join(','), '--severity', '5', '--seed', '3', '--limit', String(N), '--no-progress');
    expect(c.code, c.stderr).toBe(0);
    const common = ['--corruptions', CORRUPTIONS.join(','), '--methods', METHODS, '--batch-size', '32', '--threads', '1', '--seed', '3', '--protocol', 'reset_each_shift', '--no-progress'];
    const gen = await run('bench', '--cifar10', TEST_BATCH, '--limit', String(N), ...common, '--out', join(tmp, 'gen.json'));
    const disk = await run('bench', '--cifar10c', dir, ...common, '--out', join(tmp, 'disk.json'));
    expect(gen.code, gen.stderr).toBe(0);
    expect(disk.code, disk.stderr).toBe(0);
    const g = JSON.parse(await readFile(join(tmp, 'gen.json'), 'utf8')) as BenchResults;
    const d = JSON.parse(await readFile(join(tmp, 'disk.json'), 'utf8')) as BenchResults;
    expect(errorsOf(d)).toEqual(errorsOf(g));
    expect(d.runs.map((x) => x.total.meanEntropy)).toEqual(g.runs.map((x) => x.total.meanEntropy));
    expect(d.manifest.data).toMatchObject({ kind: 'cifar10c', path: dir, count: N, corruptionSeed: 3 });
    expect(Object.keys(d.manifest.data.sha256 as object).sort()).toEqual(['fog.npy', 'gaussian_noise.npy', 'labels.npy']);
    // reset_each_shift: one reset per domain
    expect(g.runs.every((x) => x.resets === 2)).toBe(true);
    expect(gen.stdout.split('\n').filter((l) => l.startsWith('|'))).toEqual(disk.stdout.split('\n').filter((l) => l.startsWith('|')));
  });

  it('runs on onnxruntime-web (wasm) too, with the same source predictions', async () => {
    const args = ['--cifar10', TEST_BATCH, '--limit', '64', '--corruptions', 'fog', '--methods', 'source', '--batch-size', '32', '--threads', '1', '--no-progress'];
    const web = await run('bench', ...args, '--runtime', 'web', '--out', join(tmp, 'web.json'));
    const node = await run('bench', ...args, '--out', join(tmp, 'node.json'));
    expect(web.code, web.stderr).toBe(0);
    const w = JSON.parse(await readFile(join(tmp, 'web.json'), 'utf8')) as BenchResults;
    const n = JSON.parse(await readFile(join(tmp, 'node.json'), 'utf8')) as BenchResults;
    expect(w.manifest.runtime).toMatchObject({ requested: 'web', spinning: null, engine: { name: 'onnxruntime-web' } });
    // the same float32 model on two runtimes: at most a near-tie argmax may differ
    expect(Math.abs(w.runs[0].total.errors - n.runs[0].total.errors)).toBeLessThanOrEqual(1);
  });
});
