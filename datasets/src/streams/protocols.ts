/**
 * The stream protocols of tta-spec 2.2 as a registry of plain objects keyed by name. Each entry
 * says how domains follow one another (`schedule`), how samples are ordered inside a domain
 * (`order`), when the method is reset, and its parameters with defaults. `parseProtocol`
 * reads the CLI form `name[:value][,key=value...]` (e.g. `dirichlet:0.1`, `ptta:gamma=0.1`).
 */
import { DatasetError } from '../loaders/errors.js';
import type { ResetPolicy } from './types.js';

/** How domains follow one another. */
export type Schedule =
  /** Each domain in turn, one segment per domain. */
  | 'sequential'
  /** Each corruption in turn, with the severity sequence (1,2,3,4,5,4,3,2,1) inside it: one segment per step. */
  | 'gradual'
  /** All domains' samples concatenated and shuffled once: a single segment. */
  | 'mixed'
  /** RoTTA: each domain's samples in PTTA order, concatenated; batches run across domain boundaries. */
  | 'ptta';

/** How samples are ordered inside a segment. */
export type Order = 'iid' | 'label_sorted' | 'dirichlet' | 'ptta';

export type ParamValue = number | string | boolean | number[];

export interface ProtocolDefinition {
  name: string;
  summary: string;
  schedule: Schedule;
  order: Order;
  /** Parameter defaults; only these keys are accepted. */
  defaults: Record<string, ParamValue>;
  /** The parameter a bare value sets (`dirichlet:0.1` sets delta). */
  primary?: string;
}

const GRADUAL_SEQUENCE = [1, 2, 3, 4, 5, 4, 3, 2, 1];

export type ProtocolName = 'reset_each_shift' | 'continual' | 'gradual' | 'mixed_domains' | 'label_sorted' | 'dirichlet' | 'ptta';

/** Every protocol, keyed by name. */
export const protocols: { readonly [K in ProtocolName]: ProtocolDefinition } = {
  reset_each_shift: {
    name: 'reset_each_shift',
    summary: 'Domains in turn, i.i.d. order inside each; the method is reset before every domain.',
    schedule: 'sequential',
    order: 'iid',
    defaults: { reset: 'each_shift' },
  },
  continual: {
    name: 'continual',
    summary: 'Domains in turn, i.i.d. order inside each; one reset at the start, boundaries not signalled.',
    schedule: 'sequential',
    order: 'iid',
    defaults: { reset: 'once' },
  },
  gradual: {
    name: 'gradual',
    summary: 'Continual, with severities 1,2,3,4,5,4,3,2,1 inside each corruption.',
    schedule: 'gradual',
    order: 'iid',
    defaults: { reset: 'once', sequence: GRADUAL_SEQUENCE },
  },
  mixed_domains: {
    name: 'mixed_domains',
    summary: 'All domains concatenated and shuffled once; a single pass.',
    schedule: 'mixed',
    order: 'iid',
    defaults: { reset: 'once', correlation: 'none', delta: 0.1 },
  },
  label_sorted: {
    name: 'label_sorted',
    summary: 'Domains in turn, samples sorted by class inside each (MD-TTA "correlated").',
    schedule: 'sequential',
    order: 'label_sorted',
    defaults: { reset: 'once' },
  },
  dirichlet: {
    name: 'dirichlet',
    summary: 'Domains in turn, NOTE-style Dirichlet class-correlated order inside each.',
    schedule: 'sequential',
    order: 'dirichlet',
    primary: 'delta',
    defaults: { reset: 'once', delta: 0.1, minChunkSize: 10, maxAttempts: 1000 },
  },
  ptta: {
    name: 'ptta',
    summary: "RoTTA's PTTA sampler: continual domains with Dirichlet(gamma) class slots; a trailing batch of 1 is dropped.",
    schedule: 'ptta',
    order: 'ptta',
    primary: 'gamma',
    defaults: { reset: 'once', gamma: 0.1, slots: 0 },
  },
};

export const PROTOCOL_NAMES = Object.keys(protocols) as ProtocolName[];

/** A protocol with (some of) its parameters. */
export interface ProtocolSpec {
  name: ProtocolName;
  params?: Record<string, ParamValue>;
}

export interface ResolvedProtocol {
  definition: ProtocolDefinition;
  params: Record<string, ParamValue>;
  reset: ResetPolicy;
}

function isProtocolName(name: string): name is ProtocolName {
  return Object.prototype.hasOwnProperty.call(protocols, name);
}

function unknownProtocol(name: string): DatasetError {
  return new DatasetError('protocol', `unknown protocol '${name}' (valid: ${PROTOCOL_NAMES.join(', ')})`);
}

/** Parses `name`, `name:value` or `name:key=value,key=value` into a spec. */
export function parseProtocol(text: string): ProtocolSpec {
  const colon = text.indexOf(':');
  const name = (colon < 0 ? text : text.slice(0, colon)).trim();
  if (!isProtocolName(name)) throw unknownProtocol(name);
  const def = protocols[name];
  const params: Record<string, ParamValue> = {};
  if (colon >= 0) {
    for (const item of text.slice(colon + 1).split(',')) {
      const eq = item.indexOf('=');
      const key = eq < 0 ? def.primary : item.slice(0, eq).trim();
      if (key === undefined) throw new DatasetError('protocol', `'${name}' takes no bare value ('${item}'); use key=value (keys: ${Object.keys(def.defaults).join(', ')})`);
      const raw = (eq < 0 ? item : item.slice(eq + 1)).trim();
      const num = Number(raw);
      params[key] = raw !== '' && Number.isFinite(num) ? num : raw;
    }
  }
  return { name, params };
}

/** Fills defaults and validates parameter names, types and ranges. */
export function resolveProtocol(spec: ProtocolSpec | string): ResolvedProtocol {
  const s = typeof spec === 'string' ? parseProtocol(spec) : spec;
  if (!isProtocolName(s.name)) throw unknownProtocol(String(s.name));
  const definition = protocols[s.name];
  const params: Record<string, ParamValue> = { ...definition.defaults };
  for (const [key, value] of Object.entries(s.params ?? {})) {
    if (!(key in definition.defaults)) {
      throw new DatasetError('protocol', `${s.name} has no parameter '${key}' (parameters: ${Object.keys(definition.defaults).join(', ')})`);
    }
    const expected = Array.isArray(definition.defaults[key]) ? 'array' : typeof definition.defaults[key];
    const actual = Array.isArray(value) ? 'array' : typeof value;
    if (expected !== actual) throw new DatasetError('protocol', `${s.name}: '${key}' must be a ${expected}, got ${JSON.stringify(value)}`);
    params[key] = value;
  }
  const reset = params.reset;
  if (reset !== 'each_shift' && reset !== 'once') throw new DatasetError('protocol', `${s.name}: reset must be 'each_shift' or 'once', got ${String(reset)}`);
  const positive = (key: string): void => {
    const v = params[key];
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new DatasetError('protocol', `${s.name}: ${key} must be a positive number, got ${String(v)}`);
  };
  if (definition.order === 'dirichlet' || (definition.schedule === 'mixed' && params.correlation === 'dirichlet')) positive('delta');
  if (definition.order === 'dirichlet') {
    for (const k of ['minChunkSize', 'maxAttempts']) {
      if (!Number.isInteger(params[k]) || (params[k] as number) < (k === 'maxAttempts' ? 1 : 0)) {
        throw new DatasetError('protocol', `${s.name}: ${k} must be a ${k === 'maxAttempts' ? 'positive' : 'non-negative'} integer, got ${String(params[k])}`);
      }
    }
  }
  if (definition.order === 'ptta') {
    positive('gamma');
    if (!Number.isInteger(params.slots) || (params.slots as number) < 0) throw new DatasetError('protocol', `ptta: slots must be a non-negative integer (0 = min(classes, 100)), got ${String(params.slots)}`);
  }
  if (definition.schedule === 'mixed' && !['none', 'label_sorted', 'dirichlet'].includes(params.correlation as string)) {
    throw new DatasetError('protocol', `mixed_domains: correlation must be none, label_sorted or dirichlet, got ${String(params.correlation)}`);
  }
  if (definition.schedule === 'gradual') {
    const seq = params.sequence as number[];
    if (seq.length === 0 || seq.some((v) => !Number.isInteger(v) || v < 1 || v > 5)) {
      throw new DatasetError('protocol', `gradual: sequence must be severities in 1-5, got [${seq.join(', ')}]`);
    }
  }
  return { definition, params, reset };
}
