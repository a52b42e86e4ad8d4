import { attrInt, GraphBuilder, type Model, type Node } from '@edgetta/onnx';
import { Emitter } from './emit.js';
import { gradRules, nonDifferentiable } from './rules/index.js';
import { defaultOpset, inferShapes, type ShapeInfo } from './shapes.js';

/** Name fragment of the Identity nodes that stop gradients (what `Ops.stopGradient` emits). */
export const STOP_GRADIENT = 'StopGradient';

export interface DifferentiateOptions {
  /** The scalar value to differentiate. */
  loss: string;
  /** Graph inputs (or initializers) to differentiate with respect to. */
  wrt: readonly string[];
  /** Graph output name of each gradient. @defaultValue `grad.<name>` */
  outputNames?: Readonly<Record<string, string>>;
  /** Nodes whose outputs are treated as constants. @defaultValue Identity nodes named with 'StopGradient' */
  isStopGradient?: (node: Node) => boolean;
  /** Shapes already inferred for this model (they are extended with the backward nodes). */
  shapes?: ShapeInfo;
}

export interface DifferentiateResult {
  /** wrt name -> graph output name of its gradient. */
  gradients: Record<string, string>;
  /** Backward nodes appended. */
  nodes: number;
  /** Forward nodes that got a backward rule applied, in reverse order (the gradient path). */
  path: string[];
}

const FLOAT_TYPES = new Set([1, 10, 11, 16]);

function defaultStop(node: Node): boolean {
  return node.opType === 'Identity' && node.name.includes(STOP_GRADIENT);
}

/** True when a node's outputs can carry a gradient at all. */
function carriesGradient(node: Node): boolean {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return true;
  if (nonDifferentiable.has(node.opType)) return false;
  if (node.opType === 'Cast') return FLOAT_TYPES.has(attrInt(node, 'to', 1));
  return true;
}

/**
 * Reverse-mode autodiff on the IR: appends to `model` (in place) the backward nodes of `loss` with
 * respect to `wrt` and one graph output per gradient. Only nodes on a path from a parameter to the
 * loss get backward nodes, so frozen weights cost nothing; each op's rule lives in `gradRules`.
 * An op on the path without a rule is an error naming the op, the node and a parameter that needs it.
 */
export function differentiate(model: Model, opts: DifferentiateOptions): DifferentiateResult {
  const g = model.graph;
  const isStop = opts.isStopGradient ?? defaultStop;
  const nodes = topologicalOrder(model);
  const known = new Set([...g.inputs.map((v) => v.name), ...g.initializers.keys(), ...nodes.flatMap((n) => n.outputs)]);
  for (const p of opts.wrt) if (!known.has(p)) throw new Error(`autodiff: parameter '${p}' is not a graph input, initializer or value`);
  if (!known.has(opts.loss)) throw new Error(`autodiff: loss '${opts.loss}' is not a value of the graph`);

  // Forward: which values depend on a parameter (and on which one, for error messages).
  const dep = new Map<string, string>();
  for (const p of opts.wrt) dep.set(p, p);
  for (const n of nodes) {
    if (isStop(n) || !carriesGradient(n)) continue;
    const from = n.inputs.find((i) => i && dep.has(i));
    if (from === undefined) continue;
    for (const o of n.outputs) if (o) dep.set(o, dep.get(from)!);
  }
  if (!dep.has(opts.loss)) throw new Error(`autodiff: the loss '${opts.loss}' does not depend on any of the parameters (${opts.wrt.join(', ')})`);

  // Backward reachability from the loss through dependent values: the gradient path.
  const needed = new Set<string>([opts.loss]);
  const path: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (!n.outputs.some((o) => needed.has(o) && dep.has(o))) continue;
    path.push(n);
    for (const x of n.inputs) if (x && dep.has(x)) needed.add(x);
  }

  const opset = defaultOpset(model);
  const info = opts.shapes ?? inferShapes(model);
  const b = new GraphBuilder(model, 'edgetta/grad');
  const e = new Emitter(b, info, opset);
  const grads = new Map<string, string[]>();
  const push = (v: string, gv: string) => {
    e.setShape(gv, e.shape(v));
    (grads.get(v) ?? grads.set(v, []).get(v)!).push(gv);
  };
  const total = (v: string): string | null => {
    const parts = grads.get(v);
    if (!parts || parts.length === 0) return null;
    const s = e.sum(parts);
    grads.set(v, [s]);
    return s;
  };

  const start = g.nodes.length;
  const lossShape = e.shape(opts.loss);
  if (lossShape && lossShape.some((d) => d !== 1)) throw new Error(`autodiff: the loss '${opts.loss}' must be a scalar, its shape is [${lossShape.join(', ')}]`);
  push(opts.loss, lossShape ? e.f32(1, lossShape as number[]) : e.op('ConstantOfShape', [e.op('Shape', [opts.loss])], { value: { kind: 'tensor', value: { dims: [1], dataType: 1, rawData: new Uint8Array(new Float32Array([1]).buffer) } } }));

  for (const n of path) {
    const dy = n.outputs.map((o) => (o && dep.has(o) ? total(o) : null));
    if (dy.every((d) => d === null)) continue;
    const needs = n.inputs.map((x) => !!x && needed.has(x));
    const param = dep.get(n.inputs.find((x) => x && needed.has(x))!)!;
    const rule = n.domain === '' || n.domain === 'ai.onnx' ? gradRules[n.opType] : undefined;
    if (!rule) {
      throw new Error(
        `autodiff: no gradient rule for op ${n.domain ? `${n.domain}.` : ''}${n.opType} (node '${n.name}'), which is on the gradient path of parameter '${param}'; ` +
          `ops with rules: ${Object.keys(gradRules).sort().join(', ')}`,
      );
    }
    let dx: (string | null)[];
    try {
      dx = rule({ node: n, e, dy, needs });
    } catch (err) {
      const msg = (err as Error).message;
      throw new Error(`${msg.startsWith('autodiff:') ? msg : `autodiff: ${n.opType} '${n.name}': ${msg}`} (gradient path of parameter '${param}')`);
    }
    n.inputs.forEach((x, i) => {
      if (!needs[i]) return;
      const gv = dx[i];
      if (!gv) {
        throw new Error(`autodiff: the ${n.opType} rule gives no gradient for input ${i} ('${x}') of node '${n.name}', which depends on parameter '${dep.get(x)}'`);
      }
      push(x, gv);
    });
  }

  const gradients: Record<string, string> = {};
  for (const p of opts.wrt) {
    const name = opts.outputNames?.[p] ?? `grad.${p}`;
    // A parameter that does not reach the loss has a zero gradient.
    const gv = total(p) ?? e.op('Mul', [p, e.f32(0)]);
    const shape = e.shape(p);
    gradients[p] = b.output(gv, name, shape ?? null);
  }
  return { gradients, nodes: g.nodes.length - start, path: path.map((n) => n.name) };
}

/** The graph's nodes in a topological order (ONNX requires one; this also tolerates files that break it). */
function topologicalOrder(model: Model): Node[] {
  const g = model.graph;
  const ready = new Set<string>(['', ...g.inputs.map((v) => v.name), ...g.initializers.keys()]);
  const out: Node[] = [];
  let pending = g.nodes;
  while (pending.length) {
    const next: Node[] = [];
    for (const n of pending) {
      if (n.inputs.every((i) => ready.has(i))) {
        out.push(n);
        for (const o of n.outputs) ready.add(o);
      } else next.push(n);
    }
    if (next.length === pending.length) {
      // Inputs produced nowhere (e.g. subgraph-scoped names): keep the file order for the rest.
      out.push(...next);
      break;
    }
    pending = next;
  }
  return out;
}
