import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { AdaptiveSession } from '@edgetta/sdk';
import { readNpy } from '../../datasets/src/loaders/npy.ts';
const model = '../../../shared/models/resnet20-cifar10.onnx';
const inp = readNpy(fs.readFileSync('../../../shared/fixtures/resnet20-golden/input.npy'));
const labels = readNpy(fs.readFileSync('../../../shared/fixtures/resnet20-golden/labels.npy'));
const plain = await ort.InferenceSession.create(model);
for (const method of ['norm', 'unmix-tns']) {
  const s = await AdaptiveSession.create(model, { method, runtime: 'node' });
  const gold = fs.existsSync(`../../../shared/fixtures/resnet20-golden/logits_${method}.npy`) ? readNpy(fs.readFileSync(`../../../shared/fixtures/resnet20-golden/logits_${method}.npy`)).data as Float32Array : null;
  let maxd = 0, maxp = 0, wrong = 0;
  const t0 = performance.now();
  for (let b = 0; b < 4; b++) {
    const x = (inp.data as Float32Array).slice(b * 64 * 3072, (b + 1) * 64 * 3072);
    const out = await s.run({ input: new ort.Tensor('float32', x, [64, 3, 32, 32]) });
    const l = out.logits.data as Float32Array;
    if (method === 'source') { const p = await plain.run({ input: new ort.Tensor('float32', x, [64, 3, 32, 32]) }); const pl = p.logits.data as Float32Array; for (let i = 0; i < l.length; i++) maxp = Math.max(maxp, Math.abs(l[i] - pl[i])); }
    if (gold) for (let i = 0; i < l.length; i++) maxd = Math.max(maxd, Math.abs(l[i] - gold[b * 640 + i]));
    for (let r = 0; r < 64; r++) { let am = 0; for (let k = 1; k < 10; k++) if (l[r * 10 + k] > l[r * 10 + am]) am = k; if (am !== (labels.data as Uint8Array)[b * 64 + r]) wrong++; }
  }
  console.log(method, 'maxdiff golden', maxd, 'vs plain', maxp, 'err%', wrong / 2.56, 'ms', (performance.now() - t0).toFixed(0), s.stats.lastEntropy);
}
