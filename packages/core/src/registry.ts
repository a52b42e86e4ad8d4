import type { MethodDefinition } from './method.js';
import { withOutputStage, type OutputStage } from './output-stage.js';

/* One registry per process even when two copies of this package are loaded (the tfjs getGlobal trick). */
const KEY = Symbol.for('edgetta.methods');
type Registry = Map<string, MethodDefinition<any>>;

function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  return (g[KEY] ??= new Map());
}

/**
 * Registers a method under its name. Registering the same object again is a no-op; a different
 * definition under a taken name throws (as onnxruntime's registerBackend does).
 */
export function registerMethod(def: MethodDefinition<any>): void {
  if (!def || typeof def.name !== 'string' || !/^[a-z0-9][a-z0-9+\-_.]*$/.test(def.name)) {
    throw new Error(`registerMethod: a method needs a lowercase name of letters, digits, '+', '-', '_' or '.', got ${JSON.stringify(def?.name)}`);
  }
  if (typeof def.step !== 'function' || typeof def.passes !== 'object') {
    throw new Error(`registerMethod('${def.name}'): a method needs 'passes' and a 'step' function`);
  }
  const r = registry();
  const existing = r.get(def.name);
  if (existing && existing !== def) throw new Error(`registerMethod: a different method is already registered as '${def.name}'`);
  r.set(def.name, def);
}

const STAGES = Symbol.for('edgetta.output-stages');
const STAGED = Symbol.for('edgetta.staged-methods');

function stages(): Map<string, OutputStage<any>> {
  const g = globalThis as unknown as Record<symbol, Map<string, OutputStage<any>> | undefined>;
  return (g[STAGES] ??= new Map());
}

/** Registers an output stage under its name, so `<method>+<stage>` names resolve (`tent+prior`). */
export function registerOutputStage(stage: OutputStage<any>): void {
  if (!stage || typeof stage.name !== 'string' || !/^[a-z0-9][a-z0-9\-_.]*$/.test(stage.name) || typeof stage.adjust !== 'function') {
    throw new Error(`registerOutputStage: a stage needs a lowercase name (letters, digits, '-', '_', '.') and an adjust function, got ${JSON.stringify(stage?.name)}`);
  }
  const existing = stages().get(stage.name);
  if (existing && existing !== stage) throw new Error(`registerOutputStage: a different stage is already registered as '${stage.name}'`);
  stages().set(stage.name, stage);
}

export function listOutputStages(): string[] {
  return [...stages().keys()].sort();
}

/**
 * The registered method, or `<method>+<stage>` built from a registered method and output stage
 * (built once, then the same object), or a clear error listing the registered names.
 */
export function getMethod(name: string): MethodDefinition<any> {
  const def = registry().get(name) ?? staged(name);
  if (!def) {
    const s = listOutputStages();
    throw new Error(`unknown method '${name}'; registered methods: ${listMethods().join(', ') || '(none)'}${s.length ? `; any of them can end in +<stage>, stages: ${s.join(', ')}` : ''}`);
  }
  return def;
}

function staged(name: string): MethodDefinition<any> | undefined {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  const cache = (g[STAGED] ??= new Map());
  const hit = cache.get(name);
  if (hit) return hit;
  const at = name.lastIndexOf('+');
  const stage = at > 0 ? stages().get(name.slice(at + 1)) : undefined;
  if (!stage) return undefined;
  const base = registry().get(name.slice(0, at)) ?? staged(name.slice(0, at));
  if (!base) return undefined;
  const def = withOutputStage(base, stage, name);
  cache.set(name, def);
  return def;
}

export function listMethods(): string[] {
  return [...registry().keys()].sort();
}

/**
 * Merges user options over a method's defaults and validates them: unknown names list the valid
 * ones; values must be finite numbers within the documented range (or booleans for boolean options).
 */
export function resolveOptions<O extends object>(def: MethodDefinition<O>, given: Partial<O> | undefined, argName = 'methodOptions'): O {
  const specs = def.optionSpecs as Record<string, import('./method.js').OptionSpec>;
  const out = { ...def.defaults } as Record<string, unknown>;
  if (given === undefined || given === null) return out as O;
  if (typeof given !== 'object') throw new TypeError(`${argName}: expected an object of options for '${def.name}', got ${typeof given}`);
  const valid = Object.keys(specs);
  for (const [k, v] of Object.entries(given)) {
    const spec = specs[k];
    if (!spec) {
      throw new Error(
        `${argName}: unknown option '${k}' for method '${def.name}'; valid options: ${valid.length ? valid.join(', ') : '(none)'}`,
      );
    }
    if (spec.type === 'boolean') {
      if (typeof v !== 'boolean') throw new Error(`${argName}.${k}: expected true or false, got ${String(v)}`);
      out[k] = v;
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${argName}.${k}: expected a finite number, got ${String(v)}`);
    if (spec.integer && !Number.isInteger(v)) throw new Error(`${argName}.${k}: expected an integer, got ${v}`);
    if (spec.min !== undefined && v < spec.min) throw new Error(`${argName}.${k}: must be >= ${spec.min}, got ${v}`);
    if (spec.max !== undefined && v > spec.max) throw new Error(`${argName}.${k}: must be <= ${spec.max}, got ${v}`);
    if (spec.greaterThan !== undefined && !(v > spec.greaterThan)) throw new Error(`${argName}.${k}: must be > ${spec.greaterThan}, got ${v}`);
    out[k] = v;
  }
  return out as O;
}
