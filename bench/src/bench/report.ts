/**
 * The HTML report of `edgetta bench --report`: one self-contained file (Chart.js and the data
 * inlined; nothing is fetched when it is opened) with the results table, error per corruption
 * per method, error over the stream in a rolling window, latency, and the protocol manifest.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { GuardOptions } from '@edgetta/sdk';
import type { BenchResults } from './results.js';
import { domainHeaders, formatSpread, SHORT_NAMES, tableCells } from './table.js';

/** Chart.js's UMD bundle (MIT), read from node_modules when a report is written. */
function chartJsSource(): string {
  const main = createRequire(import.meta.url).resolve('chart.js');
  return readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** onnxruntime reports 0 threads when it picks the number itself. */
export function threadsText(n: number): string {
  return n > 0 ? `${n} thread${n === 1 ? '' : 's'}` : 'default threads';
}

/** `--guard` options as given: `sourceWeight=0.5, resetEvery=7`. */
export function guardText(g: GuardOptions): string {
  return Object.entries(g)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function fmtSeconds(s: number): string {
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 120 ? `${m} min ${Math.round(s - 60 * m)} s` : `${(s / 3600).toFixed(2)} h`;
}

/** What the page's script needs to draw the charts (a subset of the results). */
function chartData(r: BenchResults) {
  const m = r.manifest;
  const firstSeed = m.seeds[0];
  const stream = m.streams[0];
  // Stream positions where segments start, labelled with their domain, for the rolling chart's ticks.
  let at = 0;
  const boundaries = stream.segments.map((s) => {
    const d = s.domain === null ? null : stream.domains[s.domain];
    const name = d ? (stream.domains.length > 6 ? (SHORT_NAMES[d.corruption] ?? d.corruption) : d.corruption) : 'mixed';
    const tick = { at, label: d && new Set(stream.domains.map((x) => x.severity)).size > 1 ? `${name} ${d.severity}` : name, reset: s.reset };
    at += s.samples;
    return tick;
  });
  return {
    domains: domainHeaders(m.domains, m.domains.length > 6),
    seeds: m.seeds,
    rollingSeed: firstSeed,
    boundaries,
    total: stream.totalSamples,
    methods: r.summary.map((row) => {
      const run = r.runs.find((x) => x.method === row.method && x.seed === firstSeed);
      return {
        id: row.method,
        errors: row.domains.map((d) => d.errorPct.mean),
        stds: row.domains.map((d) => d.errorPct.std),
        mean: row.meanErrorPct.mean,
        meanStd: row.meanErrorPct.std,
        ms: row.msPerBatch,
        rolling: run ? { window: run.rolling.window, x: run.rolling.x, y: run.rolling.y } : null,
      };
    }),
  };
}

const STYLE = `
:root { --fg: #1d2330; --muted: #5b6475; --line: #dde2ea; --bg: #fff; --accent: #2457c5; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: #f5f7fa; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 10px; }
.sub { color: var(--muted); margin: 0 0 18px; }
section { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; margin: 0 0 18px; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 6px 26px; margin: 0; }
.facts div { display: flex; gap: 10px; min-width: 0; }
.facts dt { color: var(--muted); flex: 0 0 112px; }
.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; position: sticky; left: 0; background: var(--bg); }
thead th { font-weight: 600; color: var(--muted); font-size: 12px; }
td.best { font-weight: 700; color: var(--accent); }
td.mean, th.mean { border-left: 2px solid var(--line); }
.note { color: var(--muted); font-size: 12.5px; margin: 8px 0 0; }
.chart { position: relative; height: 380px; }
.chart.small { height: 260px; }
pre { background: #f5f7fa; border: 1px solid var(--line); padding: 10px; overflow: auto; max-height: 480px; font-size: 12px; }
`;

/** Client code: builds the three charts from the embedded data, then flags the page as ready. */
const CLIENT = `
(function () {
  var data = JSON.parse(document.getElementById('bench-data').textContent);
  var palette = ['#2457c5', '#e0672b', '#2e9d5b', '#c23b52', '#7a4fc4', '#8c6d31', '#d161a8', '#5f6b7a', '#b5a31b', '#1aa3b8', '#4a2f8f', '#6fa33b'];
  function color(i) { return palette[i % palette.length]; }
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = '#3a4252';
  Chart.defaults.animation = false;
  var labels = data.domains.concat(['mean']);
  new Chart(document.getElementById('chart-errors'), {
    type: 'bar',
    data: { labels: labels, datasets: data.methods.map(function (m, i) {
      return { label: m.id, data: m.errors.concat([m.mean]), backgroundColor: color(i), stds: m.stds.concat([m.meanStd]) };
    }) },
    options: {
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, title: { display: true, text: 'error %' } }, x: { ticks: { autoSkip: false, maxRotation: 50, minRotation: 0 } } },
      plugins: { legend: { position: 'top' }, tooltip: { callbacks: { label: function (c) {
        var s = c.dataset.stds[c.dataIndex];
        return c.dataset.label + ': ' + c.parsed.y.toFixed(1) + '%' + (data.seeds.length > 1 ? ' \\u00b1 ' + s.toFixed(1) : '');
      } } } }
    }
  });
  var ticks = data.boundaries.map(function (b) { return b.at; });
  var tickLabel = {}; data.boundaries.forEach(function (b) { tickLabel[b.at] = b.label; });
  new Chart(document.getElementById('chart-rolling'), {
    type: 'line',
    data: { datasets: data.methods.filter(function (m) { return m.rolling; }).map(function (m) {
      var i = data.methods.indexOf(m);
      return { label: m.id, data: m.rolling.x.map(function (x, k) { return { x: x, y: m.rolling.y[k] }; }), borderColor: color(i), backgroundColor: color(i), borderWidth: 1.6, pointRadius: 0, tension: 0 };
    }) },
    options: {
      maintainAspectRatio: false,
      parsing: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: {
        x: { type: 'linear', min: 0, max: data.total, title: { display: true, text: 'samples seen (ticks: start of each domain)' },
             afterBuildTicks: function (axis) { axis.ticks = ticks.map(function (v) { return { value: v }; }); },
             ticks: { autoSkip: false, maxRotation: 50, callback: function (v) { return tickLabel[v] || ''; } },
             grid: { color: '#e3e7ee' } },
        y: { beginAtZero: true, title: { display: true, text: 'error % (rolling)' } }
      },
      plugins: { tooltip: { callbacks: { title: function (items) { return 'sample ' + items[0].parsed.x; } } } }
    }
  });
  var timed = data.methods.filter(function (m) { return m.ms; });
  new Chart(document.getElementById('chart-latency'), {
    type: 'bar',
    data: { labels: timed.map(function (m) { return m.id; }), datasets: [
      { label: 'median', data: timed.map(function (m) { return m.ms.median; }), backgroundColor: '#2457c5' },
      { label: 'p95', data: timed.map(function (m) { return m.ms.p95; }), backgroundColor: '#9fb6e6' }
    ] },
    options: { indexAxis: 'y', maintainAspectRatio: false, scales: { x: { beginAtZero: true, title: { display: true, text: 'ms per batch (run(), wall time)' } } } }
  });
  document.body.setAttribute('data-ready', '1');
})();
`;

/** The whole report as one HTML string. */
export function renderReport(r: BenchResults): string {
  const m = r.manifest;
  const { header: longHeader, body } = tableCells(r.summary, m.domains);
  // Many domains: short corruption names in the header, the full name on hover.
  const header = m.domains.length > 6 ? ['method', ...domainHeaders(m.domains, true), 'mean'] : longHeader;
  // Best (lowest) mean error per column, highlighted.
  const best = header.map((_, c) => (c === 0 ? NaN : Math.min(...r.summary.map((row) => (c <= m.domains.length ? row.domains[c - 1].errorPct.mean : row.meanErrorPct.mean)))));
  const cellValue = (row: BenchResults['summary'][number], c: number) => (c <= m.domains.length ? row.domains[c - 1].errorPct.mean : row.meanErrorPct.mean);
  const tableHtml = `<table><thead><tr>${header.map((h, i) => `<th${i === header.length - 1 ? ' class="mean"' : ''} title="${esc(longHeader[i])}">${esc(h)}</th>`).join('')}</tr></thead><tbody>${body
    .map(
      (cells, ri) =>
        `<tr>${cells
          .map((c, ci) => {
            const cls = [ci > 0 && r.summary.length > 1 && cellValue(r.summary[ri], ci) === best[ci] ? 'best' : '', ci === cells.length - 1 ? 'mean' : ''].filter(Boolean).join(' ');
            return ci === 0 ? `<td>${esc(c)}</td>` : `<td${cls ? ` class="${cls}"` : ''}>${esc(c)}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('')}</tbody></table>`;
  const detailRows = r.summary
    .map((row) => {
      const runs = r.runs.filter((x) => x.method === row.method);
      const updates = runs.reduce((a, x) => a + x.updates.applied, 0);
      const skipped = runs.reduce((a, x) => a + x.updates.skipped, 0);
      const guardResets = runs.reduce((a, x) => a + (x.guardResets ?? 0), 0);
      const secs = runs.reduce((a, x) => a + x.seconds, 0) / runs.length;
      return `<tr><td>${esc(row.method)}</td><td>${formatSpread(row.meanErrorPct)}</td><td>${formatSpread(row.ece, 3)}</td><td>${formatSpread(row.meanEntropy, 3)}</td><td>${
        row.msPerBatch ? row.msPerBatch.median.toFixed(1) : '–'
      }</td><td>${row.msPerBatch ? row.msPerBatch.p95.toFixed(1) : '–'}</td><td>${fmtSeconds(secs)}</td><td>${row.peakRssMB.toFixed(0)}</td><td>${updates || skipped ? `${updates} / ${skipped}` : '–'}</td>${m.guard ? `<td>${guardResets}</td>` : ''}</tr>`;
    })
    .join('');
  const fact = (k: string, v: string, title = v) => `<div><dt>${esc(k)}</dt><dd title="${esc(title)}">${esc(v)}</dd></div>`;
  const engine = m.runtime.engine;
  const protocolText = `${m.protocol.name}${Object.keys(m.protocol.params).length ? ` (${Object.entries(m.protocol.params).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('/') : v}`).join(', ')})` : ''}`;
  const severities = [...new Set(m.domains.map((d) => d.severity))].join(', ');
  const title = `edgetta bench: ${m.protocol.name}, ${m.domains.length} domain${m.domains.length === 1 ? '' : 's'}, ${r.summary.length} method${r.summary.length === 1 ? '' : 's'}`;
  const resetNote = `${m.protocol.reset === 'each_shift' ? 'the method is reset at the start of every domain' : 'one reset at the start; domain changes are not signalled'}${m.guard ? `; the collapse guard (${guardText(m.guard)}) also resets a session when it fires` : ''}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>edgetta bench</h1>
<p class="sub">${esc(`${m.protocol.name} · severity ${severities} · ${m.domains.length} domains × ${m.samplesPerDomain} images · batch ${m.batchSize} · ${m.seeds.length} seed${m.seeds.length === 1 ? '' : 's'} · ${engine.name}, ${threadsText(engine.threads)}`)}</p>
<section>
<h2>Protocol</h2>
<dl class="facts">
${fact('model', `${m.model.path.split('/').pop()} (${m.model.normLayers} BN layers)`, m.model.path)}
${fact('model sha256', m.model.sha256.slice(0, 16) + '…', m.model.sha256)}
${fact('data', `${m.data.kind}: ${m.data.path.split('/').pop()}`, `${m.data.path} — ${m.data.description}`)}
${fact('data sha256', typeof m.data.sha256 === 'string' ? m.data.sha256.slice(0, 16) + '…' : m.data.sha256 ? `${Object.keys(m.data.sha256).length} files` : '–', JSON.stringify(m.data.sha256))}
${fact('protocol', protocolText)}
${fact('seeds', m.seeds.join(', '))}
${m.guard ? fact('guard', guardText(m.guard)) : ''}
${fact('batch size', String(m.batchSize))}
${fact('samples/domain', String(m.samplesPerDomain))}
${fact('preprocess', `${m.preprocess.layout}, ×${m.preprocess.scale.toPrecision(4)}, mean [${m.preprocess.mean.join(', ')}], std [${m.preprocess.std.join(', ')}]`)}
${fact('runtime', `${engine.name} (${engine.executionProviders.join(', ')}), ${threadsText(engine.threads)}`)}
${fact('git commit', m.git ? `${m.git.commit.slice(0, 10)}${m.git.dirty ? ' (dirty)' : ''}` : 'unknown', m.git?.commit ?? '')}
${fact('started', m.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}
${fact('duration', fmtSeconds(m.durationSeconds))}
${fact('host', `${m.host.cpus} × ${m.host.cpuModel}, Node ${m.host.node}`)}
</dl>
</section>
<section>
<h2>Online error % per domain</h2>
<div class="scroll">${tableHtml}</div>
<p class="note">${esc(`Error of the argmax of the logits each method returned for each batch (adapting as it goes); ${resetNote}. ${m.seeds.length > 1 ? `Cells: mean ± sample std over seeds ${m.seeds.join(', ')}.` : `Seed ${m.seeds[0]}.`} Lowest per column in blue.`)}</p>
</section>
<section>
<h2>Error per corruption and method</h2>
<div class="chart"><canvas id="chart-errors" role="img" aria-label="bar chart of error per domain and method"></canvas></div>
</section>
<section>
<h2>Error over the stream</h2>
<div class="chart"><canvas id="chart-rolling" role="img" aria-label="rolling error over the stream"></canvas></div>
<p class="note">${esc(`Error over the last ${r.runs[0]?.rolling.window ?? 0} samples, seed ${m.seeds[0]}, in stream order; ${resetNote}.`)}</p>
</section>
<section>
<h2>Latency, calibration, memory</h2>
<div class="chart small"><canvas id="chart-latency" role="img" aria-label="latency per method"></canvas></div>
<div class="scroll"><table><thead><tr><th>method</th><th>mean error %</th><th>ECE</th><th>entropy</th><th>ms/batch median</th><th>ms/batch p95</th><th>time per pass</th><th>peak RSS MiB</th><th>updates applied / skipped</th>${m.guard ? '<th>guard resets</th>' : ''}</tr></thead><tbody>${detailRows}</tbody></table></div>
<p class="note">ECE: 15 confidence bins. Entropy of the softmax in nats. Latency: wall time of one run() call (the adaptation step included). Peak RSS is the whole process (data and pixel cache included).</p>
</section>
<section>
<h2>Manifest</h2>
<details><summary>Methods and resolved options, packages, stream manifests (JSON)</summary><pre>${esc(JSON.stringify(m, null, 2))}</pre></details>
</section>
</main>
<script id="bench-data" type="application/json">${scriptJson(chartData(r))}</script>
<script>${chartJsSource()}</script>
<script>${CLIENT}</script>
</body>
</html>
`;
}
