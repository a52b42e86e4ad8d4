/**
 * Parsing and validation of `edgetta bench` arguments. Every error is a {@link UsageError} naming
 * the option and the valid choices, thrown before any data is read or anything is written.
 */
import { builtinMethods, getMethod, listMethods, resolveGuard, type GuardOptions, type MethodDefinition } from '@edgetta/sdk';
import { listOutputStages, resolveOptions } from '@edgetta/core';
import { isDatasetError, PROTOCOL_NAMES, resolveProtocol, type ResolvedProtocol } from '@edgetta/datasets';
import { UsageError } from '../cli-io.js';

/** One row of the benchmark: a registered method with the options given on the command line. */
export interface MethodSpec {
  /** Row label: the text given, e.g. `tent:lr=0.0005` (unique within a run). */
  id: string;
  name: string;
  /** Options as given (before defaults are merged). */
  given: Record<string, number | boolean>;
  /** Defaults merged with `given`, as the session will use them. */
  options: Record<string, number | boolean>;
  definition: MethodDefinition<any>;
}

/**
 * Parses `--methods`: comma-separated names, each optionally followed by `:key=value` options.
 * A `key=value` item after a comma belongs to the method before it, so
 * `norm,tent:lr=0.001,steps=1,sar` is norm, tent {lr, steps}, sar. `all` means every registered method.
 */
export function parseMethods(text: string, registered: readonly string[] = listMethods()): MethodSpec[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError('--methods', `no method given (registered: ${registered.join(', ')})`);
  const raw: { name: string; pairs: string[] }[] = [];
  for (const item of items) {
    const colon = item.indexOf(':');
    const isOption = colon < 0 && item.includes('=');
    if (isOption) {
      if (raw.length === 0) throw new UsageError('--methods', `option '${item}' comes before any method (write method:key=value)`);
      raw[raw.length - 1].pairs.push(item);
      continue;
    }
    const name = colon < 0 ? item : item.slice(0, colon).trim();
    if (name === 'all' && colon < 0) {
      for (const m of ordered(registered)) raw.push({ name: m, pairs: [] });
      continue;
    }
    if (!registered.includes(name) && !resolves(name)) {
      const stages = listOutputStages();
      throw new UsageError('--methods', `unknown method '${name}' (valid: ${registered.join(', ')}${stages.length ? `; each may end in +${stages.join(' or +')}` : ''})`);
    }
    raw.push({ name, pairs: colon < 0 ? [] : [item.slice(colon + 1)] });
  }
  const specs = raw.map(({ name, pairs }) => toSpec(name, pairs));
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.id)) throw new UsageError('--methods', `'${s.id}' is listed twice`);
    seen.add(s.id);
  }
  return specs;
}

/** A `<method>+<stage>` name resolves without being registered. */
function resolves(name: string): boolean {
  try {
    getMethod(name);
    return true;
  } catch {
    return false;
  }
}

/** Registered methods in the order edgetta lists its built-ins (source, norm, ...), then the others by name. */
function ordered(registered: readonly string[]): string[] {
  const builtin = builtinMethods.map((m) => m.name).filter((n) => registered.includes(n));
  return [...builtin, ...registered.filter((n) => !builtin.includes(n)).sort()];
}

function toSpec(name: string, pairs: string[]): MethodSpec {
  const definition = getMethod(name);
  const specs = definition.optionSpecs as Record<string, { type?: string }>;
  const valid = Object.keys(specs);
  const validText = valid.length ? valid.join(', ') : 'none';
  const given: Record<string, number | boolean> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
    if (!key || eq < 0) throw new UsageError('--methods', `cannot parse option '${pair}' of ${name} (write ${name}:key=value; options: ${validText})`);
    if (!Object.prototype.hasOwnProperty.call(specs, key)) throw new UsageError('--methods', `unknown option '${key}' for method '${name}' (valid options: ${validText})`);
    if (specs[key].type === 'boolean') {
      if (value !== 'true' && value !== 'false') throw new UsageError('--methods', `${name}:${key} must be true or false, got '${value}'`);
      given[key] = value === 'true';
    } else {
      const num = Number(value);
      if (value === '' || !Number.isFinite(num)) throw new UsageError('--methods', `${name}:${key} must be a number, got '${value}'`);
      given[key] = num;
    }
  }
  let options: Record<string, number | boolean>;
  try {
    options = resolveOptions(definition, given, name) as Record<string, number | boolean>;
  } catch (e) {
    throw new UsageError('--methods', `${(e as Error).message}`);
  }
  const id = pairs.length ? `${name}:${Object.entries(given).map(([k, v]) => `${k}=${v}`).join(',')}` : name;
  return { id, name, given, options, definition };
}

/** Parses `--protocol` with the stream registry (any protocol it has, with its parameters). */
export function parseProtocolArg(text: string): { text: string; resolved: ResolvedProtocol } {
  try {
    return { text: text.trim(), resolved: resolveProtocol(text.trim()) };
  } catch (e) {
    if (!isDatasetError(e)) throw e;
    const msg = e.message.replace(/^protocol: /, '');
    throw new UsageError('--protocol', /valid:/.test(msg) ? msg : `${msg} (protocols: ${PROTOCOL_NAMES.join(', ')})`);
  }
}

/**
 * Parses `--guard`: the session's collapse guard as `key=value` pairs, e.g.
 * `sourceWeight=0.5,resetEvery=7`; checked by the SDK's own validation (every method gets it).
 */
export function parseGuard(text: string): GuardOptions {
  const guard: Record<string, number> = {};
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const m = /^([A-Za-z]+)=(.+)$/.exec(item);
    if (!m) throw new UsageError('--guard', `expected key=value pairs separated by commas (e.g. sourceWeight=0.5,resetEvery=7), got '${item}'`);
    if (Object.hasOwn(guard, m[1])) throw new UsageError('--guard', `'${m[1]}' is given twice`);
    const v = Number(m[2]);
    if (m[2].trim() === '' || !Number.isFinite(v)) throw new UsageError('--guard', `${m[1]}: expected a number, got '${m[2]}'`);
    guard[m[1]] = v;
  }
  try {
    resolveGuard(guard);
  } catch (e) {
    throw new UsageError('--guard', (e as Error).message.replace(/^guard(\.|: )/, ''));
  }
  return guard;
}

/** Parses an integer option; `min` bounds it from below. */
export function parseInteger(text: string, option: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = Number(text);
  if (!/^\s*-?\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < min || v > max) {
    const range = max < Number.MAX_SAFE_INTEGER ? `${min}-${max}` : min > Number.MIN_SAFE_INTEGER ? `>= ${min}` : '';
    throw new UsageError(option, `expected an integer${range ? ` ${range}` : ''}, got '${text}'`);
  }
  return v;
}

/** Parses `--seed`: '1', '1,2,3' or a range '1-5'; keeps the given order, no duplicates. */
export function parseSeeds(text: string): number[] {
  const out: number[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const m = /^(\d+)-(\d+)$/.exec(part);
    const values = m ? range(Number(m[1]), Number(m[2])) : [parseInteger(part, '--seed', 0)];
    if (m && (Number(m[1]) > Number(m[2]) || Number(m[2]) - Number(m[1]) > 1000)) throw new UsageError('--seed', `bad range '${part}' (use e.g. 1-5)`);
    for (const v of values) {
      if (out.includes(v)) throw new UsageError('--seed', `seed ${v} is listed twice`);
      out.push(v);
    }
  }
  return out;
}

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let v = lo; v <= hi; v++) out.push(v);
  return out;
}
