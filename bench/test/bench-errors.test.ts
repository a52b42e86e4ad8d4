/**
 * `edgetta bench` on bad input: a one-line error naming the argument (and the valid choices where
 * there is a list), exit code 2, and no results, report or temporary file left behind.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceNormModel } from '@edgetta/testing';
import { PROTOCOL_NAMES } from '@edgetta/datasets';
import { listMethods } from '@edgetta/sdk';
import { listOrEmpty, run, TEST_BATCH } from './bench-helpers.js';

let tmp: string;

const literal = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'edgetta-bench-bad-'));
  await writeFile(join(tmp, 'no-bn.onnx'), instanceNormModel());
  await writeFile(join(tmp, 'truncated.onnx'), new Uint8Array([8, 7, 18]));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const tiny = ['--limit', '64', '--corruptions', 'brightness', '--methods', 'norm', '--batch-size', '32', '--no-progress'];

describe('edgetta bench: bad input', () => {
  const methods = listMethods();
  const cases: [string, () => string[], RegExp][] = [
    ['a missing data file', () => ['--cifar10', join(tmp, 'missing', 'test_batch.bin'), ...tiny], /^edgetta bench: --cifar10: .*missing\/test_batch\.bin: no such file or directory$/],
    ['a missing CIFAR-10-C directory', () => ['--cifar10c', join(tmp, 'nowhere'), ...tiny], /^edgetta bench: --cifar10c: .*nowhere: not a directory/],
    ['no data source', () => [...tiny], /^edgetta bench: --cifar10: give exactly one data source: --cifar10 .* or --cifar10c <dir>$/],
    ['a missing model file', () => ['--cifar10', TEST_BATCH, '--model', join(tmp, 'nope.onnx'), ...tiny], /^edgetta bench: --model: .*nope\.onnx: no such file$/],
    ['a model without BatchNormalization', () => ['--cifar10', TEST_BATCH, '--model', join(tmp, 'no-bn.onnx'), ...tiny], /^edgetta bench: --model: .*no-bn\.onnx: method '[a-z-]+' adapts batch-norm sites, and this model has instance-norm x1; methods that apply to this model: source/],
    ['a file that is not ONNX', () => ['--cifar10', TEST_BATCH, '--model', join(tmp, 'truncated.onnx'), ...tiny], /^edgetta bench: --model: .*truncated\.onnx/],
    [
      'an unknown method',
      () => ['--cifar10', TEST_BATCH, ...tiny, '--methods', 'norm,tnet'],
      new RegExp(`^edgetta bench: --methods: unknown method 'tnet' \\(valid: ${literal(methods.join(', '))}; each may end in \\+lame or \\+prior\\)$`),
    ],
    ['an unknown method option', () => ['--cifar10', TEST_BATCH, ...tiny, '--methods', 'alpha-bn:beta=0.5'], /^edgetta bench: --methods: unknown option 'beta' for method 'alpha-bn' \(valid options: alpha\)$/],
    ['an option value out of range', () => ['--cifar10', TEST_BATCH, ...tiny, '--methods', 'alpha-bn:alpha=-1'], /^edgetta bench: --methods: alpha-bn\.alpha: must be >= 0, got -1$/],
    ['an unknown protocol', () => ['--cifar10', TEST_BATCH, ...tiny, '--protocol', 'continous'], new RegExp(`^edgetta bench: --protocol: unknown protocol 'continous' \\(valid: ${literal(PROTOCOL_NAMES.join(', '))}\\)$`)],
    ['a bad protocol parameter', () => ['--cifar10', TEST_BATCH, ...tiny, '--protocol', 'dirichlet:gamma=1'], /^edgetta bench: --protocol: dirichlet has no parameter 'gamma' \(parameters: reset, delta, minChunkSize, maxAttempts\)/],
    ['severity 7', () => ['--cifar10', TEST_BATCH, ...tiny, '--severity', '7'], /^edgetta bench: --severity: severity '7' is outside 1-5$/],
    ['an unknown corruption', () => ['--cifar10', TEST_BATCH, ...tiny, '--corruptions', 'fogg'], /^edgetta bench: --corruptions: unknown corruption 'fogg' \(valid: all, held_out, gaussian_noise, .*saturate\)$/],
    ['an unknown runtime', () => ['--cifar10', TEST_BATCH, ...tiny, '--runtime', 'gpu'], /^error: option '--runtime <name>' argument 'gpu' is invalid\. Allowed choices are node, web\.$/],
    ['a batch of one for norm', () => ['--cifar10', TEST_BATCH, ...tiny, '--batch-size', '1'], /^edgetta bench: --batch-size: method 'norm' needs batches of >= 2 .*--batch-size 1$/],
    ['more samples than images', () => ['--cifar10', TEST_BATCH, ...tiny, '--samples', '65'], /^edgetta bench: --samples: 65 samples per domain, but the data has 64 images$/],
    ['a missing results file to re-render', () => ['--from-results', join(tmp, 'none.json')], /^edgetta bench: --from-results: .*none\.json: no such file$/],
    ['an unknown guard option', () => ['--cifar10', TEST_BATCH, ...tiny, '--guard', 'resetEvry=7'], /^edgetta bench: --guard: unknown option 'resetEvry'; valid options: entropyFloor, entropyMomentum, resetEvery, window, maxClassShare, sourceWeight$/],
    ['a guard value out of range', () => ['--cifar10', TEST_BATCH, ...tiny, '--guard', 'sourceWeight=1.5'], /^edgetta bench: --guard: sourceWeight: expected a number in \(0, 1\), got 1\.5$/],
    ['a guard that is not key=value', () => ['--cifar10', TEST_BATCH, ...tiny, '--guard', '{"resetEvery":7}'], /^edgetta bench: --guard: expected key=value pairs separated by commas .*got '\{"resetEvery":7\}'$/],
    ['a non-integer seed', () => ['--cifar10', TEST_BATCH, ...tiny, '--seed', 'x'], /^edgetta bench: --seed: expected an integer >= 0, got 'x'$/],
  ];

  for (const [name, args, message] of cases) {
    it(name, async () => {
      const out = join(tmp, name.replace(/\W+/g, '-'));
      await mkdir(out, { recursive: true });
      const r = await run('bench', ...args(), '--out', join(out, 'results.json'), '--report', join(out, 'report.html'));
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(await listOrEmpty(out)).toEqual([]);
    });
  }
});
