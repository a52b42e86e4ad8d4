import { f } from '@edgetta/onnx';
import { like, physicalAxis, type KTensor, type LayerContext } from './context.js';
import { normAxis } from './layout.js';

type Emit = (ctx: LayerContext, t: KTensor) => string;

const unary = (op: string, attrs: Record<string, number | ReturnType<typeof f>> = {}): Emit => (ctx, t) => ctx.b.op(op, [t.value], attrs);

const clip = (ctx: LayerContext, x: string, lo: number, hi: number): string => ctx.b.op('Clip', [x, ctx.b.scalar(lo), ctx.b.scalar(hi)]);

/** x * g(x), for gated activations. */
const gated = (gate: (ctx: LayerContext, x: string) => string): Emit => (ctx, t) => ctx.b.op('Mul', [t.value, gate(ctx, t.value)]);

/** Softmax-like ops take the Keras axis (default last) as the physical axis holding it. */
const alongAxis = (op: string): Emit => (ctx, t) => ctx.b.op(op, [t.value], { axis: physicalAxis(t, normAxis(-1, t.shape.length)) });

/**
 * Keras activations by their serialized name (lower-cased, underscores dropped, so tfjs'
 * `hardSigmoid` and Keras' `hard_sigmoid` meet). Each emits the ONNX ops of the function.
 */
const ACTIVATIONS: Record<string, Emit> = {
  linear: (_ctx, t) => t.value,
  relu: unary('Relu'),
  relu6: (ctx, t) => clip(ctx, t.value, 0, 6),
  elu: unary('Elu', { alpha: f(1) }),
  selu: unary('Selu'),
  sigmoid: unary('Sigmoid'),
  // tfjs and Keras 2: clip(0.2 x + 0.5, 0, 1); Keras 3 changed the slope to 1/6.
  hardsigmoid: (ctx, t) => ctx.b.op('HardSigmoid', [t.value], { alpha: f(ctx.options.kerasVersion.startsWith('3') ? 1 / 6 : 0.2), beta: f(0.5) }),
  hardswish: unary('HardSwish'),
  hardsilu: unary('HardSwish'),
  tanh: unary('Tanh'),
  softmax: alongAxis('Softmax'),
  logsoftmax: alongAxis('LogSoftmax'),
  softplus: unary('Softplus'),
  softsign: unary('Softsign'),
  exponential: unary('Exp'),
  swish: gated((ctx, x) => ctx.b.op('Sigmoid', [x])),
  silu: gated((ctx, x) => ctx.b.op('Sigmoid', [x])),
  mish: gated((ctx, x) => ctx.b.op('Tanh', [ctx.b.op('Softplus', [x])])),
  // 0.5 x (1 + erf(x / sqrt 2)), as tfjs computes it.
  gelu: (ctx, t) => {
    const erf = ctx.b.op('Erf', [ctx.b.op('Mul', [t.value, ctx.b.scalar(Math.SQRT1_2)])]);
    return ctx.b.op('Mul', [ctx.b.op('Mul', [t.value, ctx.b.scalar(0.5)]), ctx.b.op('Add', [erf, ctx.b.scalar(1)])]);
  },
  // The tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  gelunew: (ctx, t) => {
    const x = t.value;
    const cube = ctx.b.op('Mul', [ctx.b.op('Mul', [x, x]), x]);
    const inner = ctx.b.op('Mul', [ctx.b.op('Add', [x, ctx.b.op('Mul', [cube, ctx.b.scalar(0.044715)])]), ctx.b.scalar(Math.sqrt(2 / Math.PI))]);
    return ctx.b.op('Mul', [ctx.b.op('Mul', [x, ctx.b.scalar(0.5)]), ctx.b.op('Add', [ctx.b.op('Tanh', [inner]), ctx.b.scalar(1)])]);
  },
};

/** A serialized activation: a name, or a Keras 3 object `{ class_name }` / `{ config: { name } }`. */
export function activationName(raw: unknown): string {
  if (raw === undefined || raw === null) return 'linear';
  if (typeof raw === 'string') return raw;
  const o = raw as Record<string, any>;
  return String(o.config?.name ?? o.class_name ?? o.className ?? 'linear');
}

function key(name: string): string {
  return name.toLowerCase().replace(/_/g, '');
}

/** Applies a Keras activation to `t`; unknown names are an error naming the layer. */
export function applyActivation(ctx: LayerContext, t: KTensor, raw: unknown): KTensor {
  const name = activationName(raw);
  const emit = ACTIVATIONS[key(name)];
  if (!emit) ctx.fail(`activation '${name}' is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
  return like(t, emit(ctx, t));
}

export const supportedActivations: readonly string[] = Object.keys(ACTIVATIONS);
