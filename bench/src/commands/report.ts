/**
 * `edgetta report <results.json...>`: (re)writes the self-contained HTML report of results files
 * written by `edgetta bench --out`, with the same renderer `edgetta bench --report` uses. Reports
 * are generated artefacts (not committed); the results JSON is the record.
 *
 * Every input is read, checked against the results schema and rendered in memory before anything
 * is written; each report is then written to a temporary file and renamed. Bad input writes nothing.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import type { ErrorObject } from 'ajv';
import { type CliIO, UsageError } from '../cli-io.js';
import { renderReport } from '../bench/report.js';
import { RESULTS_FORMAT, writeAtomic, type BenchResults } from '../bench/results.js';
import { benchResultsSchema } from '../bench/schema.js';

interface ReportOptions {
  out?: string;
}

const EXPECTED = `expected an ${RESULTS_FORMAT} results JSON written by edgetta bench --out, or a directory of them`;

export function createCommand(io: CliIO): Command {
  return new Command('report')
    .description('Write the self-contained HTML report of edgetta bench results files (the same report as edgetta bench --report)')
    .argument('<results...>', 'results JSON written by edgetta bench --out, or a directory of them')
    .option('--out <report.html>', 'where to write the report (one results file only; default: beside each JSON, with .html)')
    .action(async (inputs: string[], opts: ReportOptions) => {
      await runReport(inputs, opts, io);
    });
}

/** `<dir>/x.json` -> `<dir>/x.html` (other names get `.html` appended). */
export function defaultReportPath(results: string): string {
  return resolve(/\.json$/i.test(results) ? results.replace(/\.json$/i, '.html') : `${results}.html`);
}

async function kindOf(path: string): Promise<'file' | 'directory' | 'other' | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? 'file' : s.isDirectory() ? 'directory' : 'other';
  } catch {
    return null;
  }
}

/** The results files named on the command line: files as given, directories expanded to their `*.json`. */
async function resultsFiles(inputs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const kind = await kindOf(input);
    if (kind === null) throw new UsageError(input, `no such file (${EXPECTED})`);
    if (kind === 'other') throw new UsageError(input, `not a file or directory (${EXPECTED})`);
    if (kind === 'file') {
      files.push(input);
      continue;
    }
    const json = (await readdir(input)).filter((f) => f.toLowerCase().endsWith('.json')).sort();
    if (!json.length) throw new UsageError(input, `no .json files in this directory (${EXPECTED})`);
    files.push(...json.map((f) => join(input, f)));
  }
  // The same file named twice is rendered once.
  return files.filter((f, i) => files.findIndex((g) => resolve(g) === resolve(f)) === i);
}

/** One line naming where the results break the schema; the alternatives of a `oneOf`, all of them. */
function schemaError(errors: readonly ErrorObject[]): string {
  const text = (e: ErrorObject): string => {
    const p = e.params as Record<string, unknown>;
    const extra =
      e.keyword === 'additionalProperties' ? ` '${String(p.additionalProperty)}'`
      : e.keyword === 'enum' ? ` (${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')})`
      : e.keyword === 'const' ? ` (${JSON.stringify(p.allowedValue)})`
      : '';
    return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${extra}`;
  };
  const first = errors[0];
  const oneOf = /^(.*?\/oneOf)\/\d+\//.exec(first.schemaPath);
  if (!oneOf) return text(first);
  return errors.filter((e) => e.schemaPath.startsWith(`${oneOf[1]}/`)).map(text).join(' or ');
}

type Validate = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

async function schemaValidator(): Promise<Validate> {
  // Loaded only here, so the other commands do not pay for compiling the schema.
  const { Ajv } = await import('ajv');
  return new Ajv({ strict: true, allowUnionTypes: true }).compile(benchResultsSchema);
}

/** Reads and checks one results file; any problem is a UsageError naming the file. */
export async function readResults(path: string, validate: Validate): Promise<BenchResults> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ${EXPECTED}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(path, `not JSON (${(e as Error).message}); ${EXPECTED}`);
  }
  const format = (data as { format?: unknown } | null)?.format;
  if (format !== RESULTS_FORMAT) {
    throw new UsageError(path, `not an ${RESULTS_FORMAT} results file (format: ${format === undefined ? 'missing' : JSON.stringify(format)}); ${EXPECTED}`);
  }
  if (!validate(data)) throw new UsageError(path, `does not match the ${RESULTS_FORMAT} results schema: ${schemaError(validate.errors ?? [])}`);
  return data as BenchResults;
}

/** Checks `--out` before anything is read: a file path in an existing directory. */
async function checkOut(out: string, count: number): Promise<string> {
  if (out.trim() === '') throw new UsageError('--out', 'empty path; give the report file, e.g. --out report.html');
  if (count > 1) throw new UsageError('--out', `names one report, but ${count} results files were given; omit --out to write each report beside its JSON`);
  const path = resolve(out);
  if ((await kindOf(dirname(path))) !== 'directory') throw new UsageError('--out', `${dirname(path)}: no such directory (the report's directory must exist)`);
  if ((await kindOf(path)) === 'directory') throw new UsageError('--out', `${out} is a directory; give the report file, e.g. --out ${join(out, 'report.html')}`);
  return path;
}

async function runReport(inputs: readonly string[], o: ReportOptions, io: CliIO): Promise<void> {
  const files = await resultsFiles(inputs);
  const out = o.out === undefined ? undefined : await checkOut(o.out, files.length);
  const validate = await schemaValidator();
  // Everything is rendered before the first write: bad input leaves no report behind.
  const reports: { path: string; html: string }[] = [];
  for (const file of files) {
    const path = out ?? defaultReportPath(file);
    if (path === resolve(file)) throw new UsageError(o.out === undefined ? file : '--out', 'the report would overwrite the results file; give --out <report.html>');
    reports.push({ path, html: renderReport(await readResults(file, validate)) });
  }
  for (const { path, html } of reports) {
    await writeAtomic(path, html);
    io.stderr.write(`edgetta report: wrote ${path}\n`);
  }
}
