import * as ort from 'onnxruntime-node';
import { GraphBuilder, encodeModel, type Model } from '@edgetta/onnx';
function empty(opset = 15): Model {
  return { graph: { name: 'g', nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: [] }, opsets: new Map([['', opset]]), proto: { irVersion: 8, opsetImport: [] } as any };
}
const threads = Number(process.argv[2] ?? 1);
async function bench(name: string, build: (b: GraphBuilder) => string, shape: number[]) {
  const m = empty();
  const b = new GraphBuilder(m);
  b.input({ name: 'x', elemType: 1, shape });
  b.output(build(b), 'y');
  const s = await ort.InferenceSession.create(encodeModel(m), { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const n = shape.reduce((a, c) => a * c, 1);
  const x = new ort.Tensor('float32', Float32Array.from({ length: n }, () => Math.random()), shape);
  for (let i = 0; i < 3; i++) await s.run({ x });
  const t: number[] = [];
  for (let i = 0; i < 15; i++) { const t0 = performance.now(); await s.run({ x }); t.push(performance.now() - t0); }
  t.sort((a, c) => a - c);
  console.log(name, shape.join('x'), t[7].toFixed(2), 'ms');
}
for (const [c, h] of [[16, 32], [32, 16], [64, 8]]) {
  const w = (b: GraphBuilder) => b.initializer('w', Float32Array.from({ length: c * c * 9 }, () => Math.random() - 0.5), [c, c, 3, 3]);
  await bench('conv', (b) => b.op('Conv', ['x', w(b)], { pads: [1, 1, 1, 1] }), [64, c, h, h]);
  await bench('convT', (b) => b.op('ConvTranspose', ['x', w(b)], { pads: [1, 1, 1, 1] }), [64, c, h, h]);
  await bench('mul', (b) => b.op('Mul', ['x', 'x']), [64, c, h, h]);
  await bench('mulC', (b) => b.op('Mul', ['x', b.initializer('s', new Float32Array(c).fill(2), [c, 1, 1])]), [64, c, h, h]);
  await bench('sign*', (b) => b.op('Mul', ['x', b.op('Sign', ['x'])]), [64, c, h, h]);
  await bench('reducesum', (b) => b.op('ReduceSum', ['x', b.int64([0, 2, 3])], { keepdims: 0 }), [64, c, h, h]);
  await bench('bnaffine', (b) => b.op('BatchNormalization', ['x', b.initializer('s', new Float32Array(c).fill(2), [c]), b.initializer('s', new Float32Array(c).fill(2), [c]), b.initializer('s', new Float32Array(c).fill(0), [c]), b.initializer('s', new Float32Array(c).fill(1), [c])], { epsilon: { kind: 'float', value: 0 } }), [64, c, h, h]);
}
const c = 32, h = 16;
const w2 = (b: GraphBuilder) => b.initializer('w', Float32Array.from({ length: c * 16 * 9 }, () => Math.random() - 0.5), [c, 16, 3, 3]);
await bench('convT s2', (b) => b.op('ConvTranspose', ['x', w2(b)], { pads: [1, 1, 1, 1], strides: [2, 2], output_padding: [1, 1] }), [64, c, h, h]);
await bench('conv s2 fwd', (b) => b.op('Conv', ['x', b.initializer('w', Float32Array.from({ length: c * 16 * 9 }, () => Math.random() - 0.5), [c, 16, 3, 3])], { pads: [1, 1, 1, 1], strides: [2, 2] }), [64, 16, 32, 32]);
