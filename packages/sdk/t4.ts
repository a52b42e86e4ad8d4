import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '@edgetta/onnx';
import { compilePass, findBatchNorms } from '@edgetta/compiler';
import { bnEma } from '@edgetta/adapter-bn-ema';
import { norm } from '@edgetta/adapter-norm';
import { readNpy } from '../../datasets/src/loaders/npy.ts';
const ir = decodeModel(fs.readFileSync('/work/shared/models/resnet20-cifar10.onnx'));
const sites = findBatchNorms(ir);
const layers = sites.map(s => ({ ...s, rank: 4 }));
const inp = readNpy(fs.readFileSync('/work/shared/fixtures/resnet20-golden/input.npy'));
const x = (inp.data as Float32Array).slice(0, 64 * 3072);
const up = compilePass(ir, sites, layers as any, bnEma.passes.update, { options: { momentum: 0.1 }, taps: true });
const nm = compilePass(ir, sites, layers as any, norm.passes.predict, { options: {} });
const s1 = await ort.InferenceSession.create(up.encode());
const s2 = await ort.InferenceSession.create(nm.encode());
const feeds: any = { input: new ort.Tensor('float32', x, [64, 3, 32, 32]) };
for (const bb of up.stateInputs) { const i = +bb.key.split('.')[1]; feeds[bb.name] = new ort.Tensor('float32', bb.key.endsWith('variance') ? sites[i].variance : sites[i].mean, bb.dims); }
const r1 = await s1.run(feeds);
const r2 = await s2.run({ input: feeds.input });
let d = 0; const a = r1.logits.data as Float32Array, b = r2.logits.data as Float32Array; for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
console.log('update-pass logits vs norm', d);
for (let l = 0; l < 19; l++) {
  const tx = r1[`edgetta.tap.${l}.x`]; const [N, C, H, W] = tx.dims; const xd = tx.data as Float32Array;
  let m = 0; for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) m += xd[(n * C) * H * W + i]; m /= N * H * W;
  const so = (r1[`edgetta.state_out.layer.${l}.mean`].data as Float32Array)[0];
  console.log(l, 'expected', (0.9 * sites[l].mean[0] + 0.1 * m).toFixed(5), 'got', so.toFixed(5));
}
