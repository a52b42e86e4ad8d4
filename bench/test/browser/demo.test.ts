/**
 * The demo page in real Chromium (Debian's /usr/bin/chromium driven by playwright-core; no browser
 * is downloaded): built with Vite into a temp dir, served on 127.0.0.1 with COOP/COEP, and run
 * end to end through the worker-hosted session on onnxruntime-web (wasm and WebGPU).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildDemo } from '../../src/web.js';
import { serveStatic, type StaticServer } from '../../src/web-server.js';

const chromiumFlags = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let outDir: string;
let server: StaticServer;
let plainServer: StaticServer;
let browser: Browser;
let page: Page;

/** What a scripted run returns to the test (logits as a plain array). */
interface Run {
  errorPct: number;
  medianLatencyMs: number;
  engine: { name: string; executionProviders: string[]; threads: number; selection?: string; adapter?: string; crossOriginIsolated?: boolean; wasm?: string };
  logits: number[];
}

async function openDemo(url: string): Promise<Page> {
  const p = await browser.newPage();
  p.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await p.goto(url);
  await p.waitForFunction(() => document.getElementById('status')?.dataset.state === 'ready', null, { timeout: 60_000 });
  return p;
}

/** Runs the page's own runStream (the code behind the Run button) with these settings. */
function stream(p: Page, config: Record<string, unknown>): Promise<Run> {
  return p.evaluate(async (c) => {
    const demo = (window as unknown as { edgetta: { runStream(c: unknown): Promise<Omit<Run, 'logits'> & { logits: Float32Array }>; wasmPrefix: string } }).edgetta;
    const r = await demo.runStream({ corruption: 'gaussian_noise', severity: 5, serve: 'adapt-then-answer', seed: 0, wasmPrefix: demo.wasmPrefix, ...c });
    return { errorPct: r.errorPct, medianLatencyMs: r.medianLatencyMs, engine: r.engine, logits: Array.from(r.logits) };
  }, config);
}

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

beforeAll(async () => {
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgetta-demo-'));
  await buildDemo(outDir);
  server = await serveStatic(outDir);
  plainServer = await serveStatic(outDir, { isolate: false });
  // launch() starts from a fresh temporary profile (user-data-dir) every time.
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: [...chromiumFlags, '--enable-unsafe-webgpu'] });
  page = await openDemo(`${server.url}?images=512`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await plainServer?.close();
  fs.rmSync(outDir, { recursive: true, force: true });
});

describe('the demo page in Chromium', () => {
  it('through the UI: on Gaussian noise 5, norm (wasm, threads under COOP/COEP) has a lower online error than source', async () => {
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const errors: Record<string, number> = {};
    for (const method of ['source', 'norm']) {
      await page.selectOption('#corruption', 'gaussian_noise');
      await page.selectOption('#severity', '5');
      await page.selectOption('#method', method);
      await page.selectOption('#ep', 'wasm');
      await page.click('#run');
      await page.waitForFunction(() => ['done', 'failed'].includes(document.getElementById('status')?.dataset.state ?? ''), null, { timeout: 120_000 });
      const status = await page.textContent('#status');
      expect(status).toMatch(/^Done: /);
      const row = await page.$$eval('#runs tbody tr:last-child td', (tds) => tds.map((td) => td.textContent ?? ''));
      expect(row.slice(0, 4)).toEqual([method, 'gaussian_noise 5', 'adapt-then-answer', 'wasm']);
      errors[method] = Number(row[4]);
      await page.evaluate(() => delete document.getElementById('status')!.dataset.state);
    }
    const engine = await page.textContent('#engine');
    console.log(`browser, 512 images gaussian_noise 5, wasm: source ${errors.source} % -> norm ${errors.norm} % error; ${engine}`);
    expect(engine).toMatch(/wasm, 2 thread\(s\) — as requested; wasm: 2 threads \(cross-origin isolated\)/);
    expect(errors.source).toBeGreaterThan(50);
    expect(errors.norm).toBeLessThan(errors.source - 10);
    expect(await page.locator('#error-chart canvas').count()).toBeGreaterThan(0);
  });

  it('identical logits in-process (page thread) and in the worker for the same stream (bn-ema, wasm)', async () => {
    const config = { method: 'bn-ema', ep: 'wasm', threads: 1, batchSize: 16, images: 48 };
    const worker = await stream(page, { ...config, where: 'worker' });
    const inProcess = await stream(page, { ...config, where: 'main' });
    expect(worker.engine.executionProviders).toEqual(['wasm']);
    expect(maxAbsDiff(worker.logits, inProcess.logits)).toBe(0);
    expect(worker.errorPct).toBe(inProcess.errorPct);
  });

  it("'auto' picks WebGPU (SwiftShader adapter); a small batch gives the wasm logits within 1e-3", async () => {
    const config = { method: 'norm', threads: 1, batchSize: 4, images: 4 };
    const gpu = await stream(page, { ...config, ep: 'auto' });
    const wasm = await stream(page, { ...config, ep: 'wasm' });
    expect(gpu.engine.executionProviders).toEqual(['webgpu', 'wasm']);
    expect(gpu.engine.adapter).toMatch(/swiftshader/i);
    expect(gpu.engine.selection).toMatch(/^webgpu: adapter/);
    const d = maxAbsDiff(gpu.logits, wasm.logits);
    console.log(`browser, norm batch 4: WebGPU vs wasm max abs logit difference ${d.toExponential(2)}; WebGPU ${gpu.medianLatencyMs.toFixed(0)} ms, wasm ${wasm.medianLatencyMs.toFixed(0)} ms per batch`);
    expect(d).toBeLessThanOrEqual(1e-3);
  });

  it('a wrong wasm location fails with an error naming the URLs tried and what they answered', async () => {
    const p = await openDemo(`${server.url}?wasm=/missing/`);
    try {
      const message = await p.evaluate(async () => {
        const demo = (window as unknown as { edgetta: { runStream(c: unknown): Promise<unknown>; wasmPrefix: string } }).edgetta;
        return demo
          .runStream({ corruption: 'none', severity: 1, method: 'source', batchSize: 4, images: 4, serve: 'adapt-then-answer', ep: 'wasm', seed: 0, wasmPrefix: demo.wasmPrefix })
          .then(() => 'no error', (e: Error) => e.message);
      });
      expect(message).toMatch(/onnxruntime-web could not load its WebAssembly runtime/);
      expect(message).toContain(`${server.url}missing/ort-wasm-simd-threaded.jsep.wasm -> HTTP 404`);
      expect(message).toMatch(/pass their location as the 'wasm' option/);
    } finally {
      await p.close();
    }
  });

  it('without COOP/COEP the page is not cross-origin isolated and wasm runs on one thread, reported in stats', async () => {
    const p = await openDemo(`${plainServer.url}?images=8`);
    try {
      expect(await p.evaluate(() => crossOriginIsolated)).toBe(false);
      const r = await stream(p, { method: 'source', ep: 'wasm', batchSize: 8, images: 8, threads: 2 });
      expect(r.engine.threads).toBe(1);
      expect(r.engine.crossOriginIsolated).toBe(false);
      expect(r.engine.selection).toMatch(/wasm: 1 thread \(not cross-origin isolated; the 2 requested need COOP\/COEP headers\)/);
    } finally {
      await p.close();
    }
  });
});
