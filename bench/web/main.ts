/** The demo page: controls, live charts, a table of finished runs. */
import { CORRUPTION_NAMES } from '@edgetta/datasets';
import { listMethods } from '@edgetta/sdk';
import { LiveCharts, type Series } from './charts.js';
import { loadAssets, runStream, type StreamConfig, type StreamResult } from './stream.js';

// frost and jpeg_compression need decoder assets the demo does not load.
const corruptions = ['none', ...CORRUPTION_NAMES.filter((c) => c !== 'frost' && c !== 'jpeg_compression')];
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const select = (id: string) => $<HTMLSelectElement>(id);

function fill(id: string, values: readonly string[], selected: string): void {
  select(id).replaceChildren(...values.map((v) => new Option(v, v, v === selected, v === selected)));
}
fill('corruption', corruptions, 'gaussian_noise');
fill('method', listMethods(), 'norm');

const params = new URLSearchParams(location.search);
/** Where onnxruntime-web's files are; `?wasm=/elsewhere/` overrides (the error test points it at nothing). */
const wasmPrefix = new URL(params.get('wasm') ?? './ort/', location.href).href;
/** `?images=n` streams the first n of the 1,000 images (quicker runs). */
const images = Math.max(1, Math.min(1000, Number(params.get('images') ?? 1000) || 1000));

const charts = new LiveCharts($('error-chart'), $('latency-chart'));
const finished: Series[] = [];
const status = $('status');

function configFromForm(): StreamConfig {
  return {
    corruption: select('corruption').value,
    severity: Number(select('severity').value),
    method: select('method').value,
    batchSize: Number(select('batch').value),
    images,
    serve: select('serve').value as StreamConfig['serve'],
    ep: select('ep').value as StreamConfig['ep'],
    seed: 0,
    wasmPrefix,
  };
}

/** Runs one stream with live charts and a table row; also the entry point for scripted runs. */
async function run(partial: Partial<StreamConfig> = {}): Promise<StreamResult> {
  const config = { ...configFromForm(), ...partial };
  const current: Series = { label: `${config.method} (${config.corruption}${config.corruption === 'none' ? '' : ` ${config.severity}`})`, x: [], error: [], latency: [] };
  charts.reset([...finished, current]);
  $<HTMLButtonElement>('run').disabled = true;
  status.textContent = `Running ${current.label}…`;
  let seen = 0;
  let lastDraw = 0;
  try {
    const result = await runStream(config, (b) => {
      seen += b.size;
      current.x.push(seen);
      current.error.push(b.errorPct);
      current.latency.push(b.latencyMs);
      const now = performance.now();
      if (now - lastDraw > 100) {
        lastDraw = now;
        charts.update([...finished, current]);
        status.textContent = `Running ${current.label}: ${seen} images, error ${b.errorPct.toFixed(1)} %`;
      }
    });
    finished.push(current);
    charts.update(finished);
    const e = result.engine;
    $('engine').textContent = `engine: ${e.name}, ${e.executionProviders.join(' + ')}, ${e.threads} thread(s) — ${e.selection ?? ''}`;
    const row = document.createElement('tr');
    for (const v of [config.method, `${config.corruption}${config.corruption === 'none' ? '' : ` ${config.severity}`}`, config.serve, e.executionProviders[0], result.errorPct.toFixed(1), result.medianLatencyMs.toFixed(1)]) {
      row.appendChild(document.createElement('td')).textContent = v;
    }
    $('runs').querySelector('tbody')!.appendChild(row);
    status.textContent = `Done: ${current.label} — error ${result.errorPct.toFixed(1)} %, median ${result.medianLatencyMs.toFixed(1)} ms per batch`;
    status.dataset.state = 'done';
    return result;
  } catch (e) {
    status.textContent = `Failed: ${(e as Error).message}`;
    status.dataset.state = 'failed';
    throw e;
  } finally {
    $<HTMLButtonElement>('run').disabled = false;
  }
}

$('controls').addEventListener('submit', (ev) => {
  ev.preventDefault();
  delete status.dataset.state;
  run().catch(() => undefined);
});

// Scripted access (the browser tests drive the same code path as the Run button).
(window as unknown as { edgetta: unknown }).edgetta = { run, runStream, wasmPrefix, crossOriginIsolated };
await loadAssets();
status.textContent = `Ready (${crossOriginIsolated ? 'cross-origin isolated: wasm threads available' : 'not cross-origin isolated: wasm runs on one thread'}).`;
status.dataset.state = 'ready';
