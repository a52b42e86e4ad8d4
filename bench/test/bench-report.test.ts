/**
 * The HTML report of `edgetta bench` in a real browser: Debian's /usr/bin/chromium driven by
 * playwright-core (no browser is downloaded), opened from a file:// URL with the network unused.
 * The charts must render (non-blank canvases holding one series per method), with no console
 * error and no request leaving the file; a screenshot is written for people to look at.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResults } from '../src/bench/results.js';
import { run, TEST_BATCH } from './bench-helpers.js';

const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let tmp: string;
let context: BrowserContext;
let results: BenchResults;
let html: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'edgetta-report-'));
  const r = await run(
    'bench', '--cifar10', TEST_BATCH, '--limit', '128', '--corruptions', 'gaussian_noise,defocus_blur', '--methods', 'source,norm,bn-ema',
    '--protocol', 'continual', '--batch-size', '32', '--threads', '1', '--seed', '1', '--out', join(tmp, 'r.json'), '--report', join(tmp, 'r.html'), '--no-progress',
  );
  expect(r.code, r.stderr).toBe(0);
  results = JSON.parse(await readFile(join(tmp, 'r.json'), 'utf8')) as BenchResults;
  html = await readFile(join(tmp, 'r.html'), 'utf8');
  // A fresh profile directory per run; the flags keep Chromium off the network.
  context = await chromium.launchPersistentContext(join(tmp, 'profile'), { executablePath: '/usr/bin/chromium', headless: true, args: flags, viewport: { width: 1280, height: 900 } });
}, 180_000);

afterAll(async () => {
  await context?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('edgetta bench --report', () => {
  it('is one self-contained file: the library and the data are inlined, nothing is referenced outside', () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('Chart.js v4');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).not.toMatch(/(src|href)="https?:/);
    for (const row of results.summary) expect(html).toContain(`<td>${row.method}</td>`);
  });

  it('renders its table and charts in headless Chromium without errors or network requests', async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (req) => requests.push(req.url()));
    await page.goto(pathToFileURL(join(tmp, 'r.html')).href);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 30_000 });

    const canvases = await page.evaluate(() =>
      [...document.querySelectorAll('canvas')].map((c) => {
        const ctx = c.getContext('2d')!;
        const { data } = ctx.getImageData(0, 0, c.width, c.height);
        let painted = 0;
        const colors = new Set<number>();
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3] > 0) {
            painted++;
            colors.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
          }
        }
        const chart = (window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { data: { datasets: { label: string; data: unknown[] }[] } } | undefined } }).Chart.getChart(c);
        return {
          id: c.id,
          width: c.width,
          height: c.height,
          painted: painted / (c.width * c.height),
          colors: colors.size,
          series: chart?.data.datasets.map((d) => ({ label: d.label, points: d.data.length })) ?? [],
        };
      }),
    );
    expect(canvases.map((c) => c.id)).toEqual(['chart-errors', 'chart-rolling', 'chart-latency']);
    for (const c of canvases) {
      expect(c.width, c.id).toBeGreaterThan(300);
      expect(c.painted, c.id).toBeGreaterThan(0.01); // axes, bars and lines drawn, not a blank canvas
      expect(c.colors, c.id).toBeGreaterThan(3);
    }
    const methods = results.summary.map((s) => s.method);
    // bars: one series per method, one bar per domain plus the mean
    expect(canvases[0].series).toEqual(methods.map((label) => ({ label, points: results.manifest.domains.length + 1 })));
    // rolling error: one line per method over the stream
    expect(canvases[1].series.map((s) => s.label)).toEqual(methods);
    for (const s of canvases[1].series) expect(s.points).toBe(results.runs.find((r) => r.method === s.label)!.rolling.x.length);
    expect(canvases[2].series.map((s) => s.label)).toEqual(['median', 'p95']);

    // the table shows what the JSON says
    const rows = await page.$$eval('section table tbody tr', (trs) => trs.slice(0, 3).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    for (const [i, row] of results.summary.entries()) {
      expect(rows[i]).toEqual([row.method, ...row.domains.map((d) => d.errorPct.mean.toFixed(1)), row.meanErrorPct.mean.toFixed(1)]);
    }
    expect(problems).toEqual([]);
    expect(requests.every((u) => u.startsWith('file:') || u.startsWith('data:'))).toBe(true);

    const shot = join(tmp, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).toBeGreaterThan(20_000);
    if (process.env.EDGETTA_REPORT_SCREENSHOT) await page.screenshot({ path: process.env.EDGETTA_REPORT_SCREENSHOT, fullPage: true });
    await page.close();
  });
});
