import * as ort from 'onnxruntime-node';
import { GraphBuilder, encodeModel, type Model } from '@edgetta/onnx';
function empty(opset = 13): Model {
  return { graph: { name: 'g', nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: [] }, opsets: new Map([['', opset]]), proto: { irVersion: 8, opsetImport: [] } as any };
}
const m = empty(13);
const b = new GraphBuilder(m);
b.input({ name: 'x', elemType: 1, shape: [1, 1, 4, 4] });
const y = b.op('Pad', ['x', b.int64([0, 0, -1, 1, 0, 0, 1, -2])], { mode: 'constant' });
b.output(y, 'y');
const s = await ort.InferenceSession.create(encodeModel(m));
const r = await s.run({ x: new ort.Tensor('float32', Float32Array.from({ length: 16 }, (_, i) => i), [1, 1, 4, 4]) });
console.log(r.y.dims, r.y.data);
