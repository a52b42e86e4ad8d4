import type { GradRule } from './types.js';

/** Arithmetic with numpy broadcasting: gradients are reduced back to each operand's shape. */
export const elementwiseRules: Record<string, GradRule> = {
  Add: ({ node: { inputs: [a, b], outputs: [y] }, e, dy: [g], needs }) => [
    needs[0] ? e.unbroadcast(g!, a, y) : null,
    needs[1] ? e.unbroadcast(g!, b, y) : null,
  ],
  Sub: ({ node: { inputs: [a, b], outputs: [y] }, e, dy: [g], needs }) => [
    needs[0] ? e.unbroadcast(g!, a, y) : null,
    needs[1] ? e.unbroadcast(e.neg(g!), b, y) : null,
  ],
  Mul: ({ node: { inputs: [a, b], outputs: [y] }, e, dy: [g], needs }) => [
    needs[0] ? e.unbroadcast(e.op('Mul', [g!, b]), a, y) : null,
    needs[1] ? e.unbroadcast(e.op('Mul', [g!, a]), b, y) : null,
  ],
  Div: ({ node: { inputs: [a, b], outputs: [y] }, e, dy: [g], needs }) => {
    // d(a/b)/db = -y/b, so both gradients share g/b.
    const gb = e.op('Div', [g!, b]);
    return [needs[0] ? e.unbroadcast(gb, a, y) : null, needs[1] ? e.unbroadcast(e.neg(e.op('Mul', [gb, y])), b, y) : null];
  },
  Pow: ({ node: { inputs: [a, b], outputs: [y] }, e, dy: [g], needs }) => [
    needs[0] ? e.unbroadcast(e.op('Mul', [g!, e.op('Mul', [b, e.op('Pow', [a, e.op('Sub', [b, e.f32(1)])])])]), a, y) : null,
    needs[1] ? e.unbroadcast(e.op('Mul', [g!, e.op('Mul', [y, e.op('Log', [a])])]), b, y) : null,
  ],
  Neg: ({ e, dy: [g] }) => [e.neg(g!)],
  Sum: ({ node: { inputs, outputs: [y] }, e, dy: [g], needs }) => inputs.map((x, i) => (needs[i] ? e.unbroadcast(g!, x, y) : null)),
  Mean: ({ node: { inputs, outputs: [y] }, e, dy: [g], needs }) => {
    const scaled = e.op('Mul', [g!, e.f32(1 / inputs.length)]);
    return inputs.map((x, i) => (needs[i] ? e.unbroadcast(scaled, x, y) : null));
  },
  // Ties go to the first operand, as tfjs does.
  Max: (args) => minMax(args, 'Less'),
  Min: (args) => minMax(args, 'Greater'),
  Where: ({ node: { inputs: [c, a, b], outputs: [y] }, e, dy: [g], needs }) => {
    const zero = e.f32(0);
    return [null, needs[1] ? e.unbroadcast(e.op('Where', [c, g!, zero]), a, y) : null, needs[2] ? e.unbroadcast(e.op('Where', [c, zero, g!]), b, y) : null];
  },
  Expand: ({ node: { inputs: [x], outputs: [y] }, e, dy: [g] }) => [e.unbroadcast(g!, x, y), null],
};

function minMax({ node, e, dy: [g], needs }: Parameters<GradRule>[0], loses: 'Less' | 'Greater'): (string | null)[] {
  if (node.inputs.length !== 2) throw new Error(`autodiff: ${node.opType} '${node.name}' has ${node.inputs.length} inputs; its gradient rule supports 2`);
  const [a, b] = node.inputs;
  const y = node.outputs[0];
  const bWins = e.op(loses, [a, b]);
  const zero = e.f32(0);
  return [needs[0] ? e.unbroadcast(e.op('Where', [bWins, zero, g!]), a, y) : null, needs[1] ? e.unbroadcast(e.op('Where', [bWins, g!, zero]), b, y) : null];
}
