/**
 * The results file of `edgetta bench`: a protocol manifest that makes every number
 * self-describing (tta-spec 7.1), the per-run numbers, and a summary over seeds. Written to a
 * temporary file and renamed, so a reader never sees a partial file.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { DomainTag, Preprocess, ProtocolManifest } from '@edgetta/datasets';
import type { EngineInfo } from '@edgetta/engine';
import type { GuardOptions } from '@edgetta/sdk';
import type { DataManifest } from './data.js';
import { mean, std } from './metrics.js';
import type { GitInfo } from './provenance.js';
import type { RunResult } from './runner.js';

export const RESULTS_FORMAT = 'edgetta.bench/1';

export const METRIC =
  'online error: the share of samples whose argmax of the logits returned by run() for their batch (the same forward that adapts) differs from the label; ' +
  'per domain, and its mean over domains (tta-spec 2.3). ECE: 15 equal-width bins of the max softmax probability. Entropy: natural log.';

export interface MethodManifest {
  /** Row label (name plus given options). */
  id: string;
  name: string;
  /** Options given on the command line. */
  given: Record<string, number | boolean>;
  /** Every option as the session resolved it (`session.options`). */
  options: Record<string, number | boolean>;
  /** Calibrated on clean source samples (EATA's Fisher) before adapting. */
  calibrated: boolean;
}

export interface BenchManifest {
  tool: 'edgetta bench';
  /** The command line (arguments after `edgetta`). */
  argv: string[];
  startedAt: string;
  durationSeconds: number;
  model: { path: string; sha256: string; bytes: number; input: string; output: string; normLayers: number };
  /** How uint8 pixels become the model's input. */
  preprocess: Preprocess;
  data: DataManifest;
  protocol: { arg: string; name: string; params: ProtocolManifest['params']; reset: string };
  seeds: number[];
  batchSize: number;
  samplesPerDomain: number;
  domains: DomainTag[];
  /** The stream manifest of each seed (same order as `seeds`). */
  streams: ProtocolManifest[];
  metric: string;
  methods: MethodManifest[];
  calibration: { path: string; sha256: string | null; samples: number } | null;
  /** The collapse guard every method's session ran with (`--guard`), or null. Absent in files from before the option. */
  guard?: GuardOptions | null;
  /** `spinning`: onnxruntime-node's intra-op spin-waiting (null for onnxruntime-web). */
  runtime: { requested: string; threads: number | null; spinning: boolean | null; engine: EngineInfo };
  packages: Record<string, string>;
  git: GitInfo | null;
  host: { node: string; platform: string; arch: string; cpus: number; cpuModel: string; memoryGB: number };
}

/** Mean and sample standard deviation over seeds, with the per-seed values. */
export interface Spread {
  mean: number;
  std: number;
  values: number[];
}

export interface SummaryRow {
  method: string;
  /** Error % per domain, in manifest order. */
  domains: (DomainTag & { errorPct: Spread })[];
  /** Mean over domains of the error %, then over seeds. */
  meanErrorPct: Spread;
  ece: Spread;
  meanEntropy: Spread;
  /** Median and p95 of ms per batch over the whole stream, averaged over seeds. */
  msPerBatch: { median: number; p95: number } | null;
  peakRssMB: number;
}

export interface BenchResults {
  format: typeof RESULTS_FORMAT;
  manifest: BenchManifest;
  summary: SummaryRow[];
  runs: RunResult[];
}

function spread(values: number[]): Spread {
  const r = (v: number) => Number(v.toFixed(4));
  return { mean: r(mean(values)), std: r(std(values)), values: values.map(r) };
}

/** Summary rows (one per method, in `methods` order) from the runs. */
export function summarize(methods: readonly string[], domains: readonly DomainTag[], runs: readonly RunResult[]): SummaryRow[] {
  return methods.map((method) => {
    const mine = runs.filter((r) => r.method === method);
    const timed = mine.filter((r) => r.total.msPerBatch);
    return {
      method,
      domains: domains.map((d, i) => ({ corruption: d.corruption, severity: d.severity, errorPct: spread(mine.map((r) => r.domains[i].errorPct)) })),
      meanErrorPct: spread(mine.map((r) => mean(r.domains.map((d) => d.errorPct)))),
      ece: spread(mine.map((r) => r.total.ece)),
      meanEntropy: spread(mine.map((r) => r.total.meanEntropy)),
      msPerBatch: timed.length ? { median: mean(timed.map((r) => r.total.msPerBatch!.median)), p95: mean(timed.map((r) => r.total.msPerBatch!.p95)) } : null,
      peakRssMB: Math.max(...mine.map((r) => r.total.peakRssMB)),
    };
  });
}

/** Writes `text` to `path` through a temporary file in the same folder and a rename. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
