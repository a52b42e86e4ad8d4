/**
 * `edgetta report`: the HTML report regenerated from a committed results JSON is the same
 * self-contained page `edgetta bench --report` writes for that JSON (one renderer); bad input
 * gives a one-line error naming the file or option, exit code 2, and no report or temporary file.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport } from '../src/bench/report.js';
import type { BenchResults } from '../src/bench/results.js';
import { listOrEmpty, ROOT, run } from './bench-helpers.js';

/** A small committed results file (2 methods x 15 corruptions, one seed) and a second one for directory input. */
const NAME = 'resnet20-s5-continual-reference-2000';
const COMMITTED = join(ROOT, 'bench/results', `${NAME}.json`);
const OTHER = join(ROOT, 'bench/results/throughput-norm-reset_each_shift.json');

let tmp: string;
let results: BenchResults;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'edgetta-report-cli-'));
  results = JSON.parse(await readFile(COMMITTED, 'utf8')) as BenchResults;
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A fresh directory holding a copy of the committed results file. */
async function dirWithResults(name: string): Promise<{ dir: string; json: string }> {
  const dir = join(tmp, name);
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${NAME}.json`);
  await copyFile(COMMITTED, json);
  return { dir, json };
}

function oneLine(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '');
}

describe('edgetta report', () => {
  it('writes the report beside the JSON: one self-contained page with the methods and numbers of the results', async () => {
    const { dir, json } = await dirWithResults('beside');
    const r = await run('report', json);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr)).toEqual([`edgetta report: wrote ${join(dir, `${NAME}.html`)}`]);
    expect(await listOrEmpty(dir)).toEqual([`${NAME}.html`, `${NAME}.json`]);
    const html = await readFile(join(dir, `${NAME}.html`), 'utf8');

    // self-contained: the library and the data inlined, nothing referenced outside the file
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toMatch(/<\/html>\n$/);
    expect(html).toContain('Chart.js v4');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).not.toMatch(/(src|href)="https?:/);

    // the results table: one row per method, its cells the error % of the JSON
    expect(results.summary.map((s) => s.method)).toEqual(['source', 'norm']);
    for (const row of results.summary) {
      const tr = html.match(new RegExp(`<tr><td>${row.method}</td>(.*?)</tr>`))?.[1];
      expect(tr, row.method).toBeDefined();
      const cells = [...tr!.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]);
      expect(cells).toEqual([...row.domains.map((d) => d.errorPct.mean.toFixed(1)), row.meanErrorPct.mean.toFixed(1)]);
    }
    // the charts' data, embedded as JSON
    const data = JSON.parse(html.match(/<script id="bench-data" type="application\/json">(.*?)<\/script>/s)![1]) as { methods: { id: string; mean: number; errors: number[] }[] };
    expect(data.methods.map((m) => [m.id, m.mean, m.errors])).toEqual(results.summary.map((s) => [s.method, s.meanErrorPct.mean, s.domains.map((d) => d.errorPct.mean)]));
    // the protocol manifest
    expect(html).toContain(results.manifest.model.sha256);
    expect(html).toContain(`<title>edgetta bench: continual, 15 domains, 2 methods</title>`);
  });

  it('writes exactly what edgetta bench writes for the same JSON (--report, here from --from-results)', async () => {
    const { dir, json } = await dirWithResults('same');
    const mine = await run('report', json, '--out', join(dir, 'report.html'));
    expect(mine.code, mine.stderr).toBe(0);
    const bench = await run('bench', '--from-results', json, '--report', join(dir, 'bench.html'));
    expect(bench.code, bench.stderr).toBe(0);
    const html = await readFile(join(dir, 'report.html'), 'utf8');
    expect(html).toBe(await readFile(join(dir, 'bench.html'), 'utf8'));
    expect(html).toBe(renderReport(results));
  });

  it('takes several files or a directory: one report per results JSON, beside it', async () => {
    const dir = join(tmp, 'many');
    await mkdir(dir);
    await copyFile(COMMITTED, join(dir, 'a.json'));
    await copyFile(OTHER, join(dir, 'b.json'));
    const r = await run('report', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(oneLine(r.stderr)).toEqual(['a', 'b'].map((n) => `edgetta report: wrote ${join(dir, `${n}.html`)}`));
    expect(await listOrEmpty(dir)).toEqual(['a.html', 'a.json', 'b.html', 'b.json']);
    for (const n of ['a', 'b']) {
      const r = JSON.parse(await readFile(join(dir, `${n}.json`), 'utf8')) as BenchResults;
      expect(await readFile(join(dir, `${n}.html`), 'utf8')).toBe(renderReport(r));
    }
    await rm(join(dir, 'a.html'));
    await rm(join(dir, 'b.html'));
    const files = await run('report', join(dir, 'b.json'), join(dir, 'a.json'));
    expect(files.code, files.stderr).toBe(0);
    expect(await listOrEmpty(dir)).toEqual(['a.html', 'a.json', 'b.html', 'b.json']);
  });
});

describe('edgetta report: bad input', () => {
  type Mutate = (r: Record<string, any>) => void;
  const schemaCases: [string, Mutate, RegExp][] = [
    ['a missing required field', (r) => delete r.manifest.model.sha256, /^\/manifest\/model must have required property 'sha256'$/],
    ['an impossible error %', (r) => (r.runs[0].total.errorPct = 150), /^\/runs\/0\/total\/errorPct must be <= 100$/],
    ['an unknown field', (r) => (r.manifest.colour = 'red'), /^\/manifest must NOT have additional properties 'colour'$/],
    ['a value outside an enum', (r) => (r.manifest.runtime.requested = 'gpu'), /^\/manifest\/runtime\/requested must be equal to one of the allowed values \("node", "web"\)$/],
    ['a negative latency (both alternatives named)', (r) => (r.summary[0].msPerBatch.median = -1), /^\/summary\/0\/msPerBatch must be null or \/summary\/0\/msPerBatch\/median must be >= 0$/],
  ];
  const EXPECTED = 'expected an edgetta\\.bench/1 results JSON written by edgetta bench --out, or a directory of them';

  const cases: [string, (dir: string, json: string) => Promise<string[]>, (dir: string) => RegExp][] = [
    ['a missing file', async (dir) => [join(dir, 'none.json')], (dir) => new RegExp(`^edgetta report: ${dir}/none\\.json: no such file \\(${EXPECTED}\\)$`)],
    [
      'a file that is not JSON',
      async (dir) => {
        await writeFile(join(dir, 'broken.json'), '{"format": "edgetta.bench/1", ');
        return [join(dir, 'broken.json')];
      },
      (dir) => new RegExp(`^edgetta report: ${dir}/broken\\.json: not JSON \\(.+\\); ${EXPECTED}$`),
    ],
    [
      'JSON of another format',
      async (dir) => {
        await writeFile(join(dir, 'stream.json'), '{"format": "edgetta.stream/1"}');
        return [join(dir, 'stream.json')];
      },
      (dir) => new RegExp(`^edgetta report: ${dir}/stream\\.json: not an edgetta\\.bench/1 results file \\(format: "edgetta\\.stream/1"\\); ${EXPECTED}$`),
    ],
    ...schemaCases.map(([name, mutate, message]): (typeof cases)[number] => [
      `results with ${name}`,
      async (_dir, json) => {
        const r = JSON.parse(await readFile(json, 'utf8')) as Record<string, unknown>;
        mutate(r);
        await writeFile(json, JSON.stringify(r));
        return [json];
      },
      (dir) => new RegExp(`^edgetta report: ${dir}/${NAME}\\.json: does not match the edgetta\\.bench/1 results schema: ${message.source.slice(1)}`),
    ]),
    [
      'a bad file among good ones (nothing is written)',
      async (dir, json) => {
        await writeFile(join(dir, 'zz-empty.json'), '[]');
        return [dir, json];
      },
      (dir) => new RegExp(`^edgetta report: ${dir}/zz-empty\\.json: not an edgetta\\.bench/1 results file \\(format: missing\\)`),
    ],
    ['--out in a missing directory', async (dir, json) => [json, '--out', join(dir, 'nowhere', 'r.html')], (dir) => new RegExp(`^edgetta report: --out: ${dir}/nowhere: no such directory \\(the report's directory must exist\\)$`)],
    ['--out naming a directory', async (dir, json) => [json, '--out', dir], (dir) => new RegExp(`^edgetta report: --out: ${dir} is a directory; give the report file, e.g\\. --out ${dir}/report\\.html$`)],
    ['--out naming the results file', async (_dir, json) => [json, '--out', json], () => /^edgetta report: --out: the report would overwrite the results file; give --out <report\.html>$/],
    [
      '--out with several results files',
      async (dir, json) => {
        await copyFile(OTHER, join(dir, 'other.json'));
        return [json, join(dir, 'other.json'), '--out', join(dir, 'r.html')];
      },
      () => /^edgetta report: --out: names one report, but 2 results files were given; omit --out to write each report beside its JSON$/,
    ],
    [
      'a directory without results',
      async (dir) => {
        await mkdir(join(dir, 'empty'));
        return [join(dir, 'empty')];
      },
      (dir) => new RegExp(`^edgetta report: ${dir}/empty: no \\.json files in this directory \\(${EXPECTED}\\)$`),
    ],
    ['no results file', async () => [], () => /^error: missing required argument 'results'$/],
  ];

  for (const [name, setup, message] of cases) {
    it(name, async () => {
      const { dir, json } = await dirWithResults(`bad-${name.replace(/\W+/g, '-')}`);
      const args = await setup(dir, json);
      const before = await listOrEmpty(dir);
      const original = await readFile(json, 'utf8');
      const r = await run('report', ...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      const lines = oneLine(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(message(dir));
      // nothing written: no report, no temporary file, the results untouched
      expect(await listOrEmpty(dir)).toEqual(before);
      expect(before.some((f) => f.endsWith('.html') || f.endsWith('.tmp'))).toBe(false);
      expect(await readFile(json, 'utf8')).toBe(original);
    });
  }
});
