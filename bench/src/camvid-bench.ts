/**
 * pnpm bench:camvid — CGNet (../shared/models/cgnet-camvid.onnx) on the first CamVid test images
 * (../shared/data/camvid), clean and with additive Gaussian noise, per method: mean IoU and pixel
 * accuracy (void ignored), batches of 8 at 360x480, each method from a fresh session. A benchmark of
 * dense adaptation, not a test; the 15-corruption protocol for large images is still to come.
 *
 *   pnpm bench:camvid [--limit 64] [--sigma 0.1] [--methods source,norm,alpha-bn,tent,tent:lr=0.0001] [--threads 2]
 */
import { Command } from 'commander';
import * as ort from 'onnxruntime-node';
import { AdaptiveSession } from '@edgetta/sdk';
import { Rng } from '@edgetta/core';
import { ConfusionMatrix, toFloat32 } from '@edgetta/datasets';
import { readCamVid } from '@edgetta/datasets/node';

const o = new Command()
  .option('--model <file>', 'the segmenter', '../shared/models/cgnet-camvid.onnx')
  .option('--camvid <dir>', 'the CamVid test set', '../shared/data/camvid')
  .option('--limit <n>', 'images', '64')
  .option('--sigma <x>', 'Gaussian noise standard deviation on [0, 1] pixels', '0.1')
  .option('--methods <list>', 'methods, with options as name:key=value', 'source,norm,alpha-bn,tent,tent:lr=0.0001')
  .option('--threads <n>', 'intra-op threads', '2')
  .parse()
  .opts<{ model: string; camvid: string; limit: string; sigma: string; methods: string; threads: string }>();

const set = await readCamVid(o.camvid, { limit: Number(o.limit) });
const px = set.height * set.width;
const clean = toFloat32(set.images, set.count, set.height, set.width);
const rng = new Rng(0);
const noisy = clean.map((v) => Math.min(1, Math.max(0, v + Number(o.sigma) * rng.normal())));
const batch = 8;
console.log(`| images | method | mIoU % | pixel acc % | s |\n|---|---|---:|---:|---:|`);
for (const [data, label] of [[clean, 'clean'], [noisy, `gaussian sigma ${o.sigma}`]] as const) {
  for (const spec of o.methods.split(',')) {
    const [method, opts] = spec.split(':');
    const methodOptions = Object.fromEntries((opts ?? '').split(';').filter(Boolean).map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
    const t0 = performance.now();
    const s = await AdaptiveSession.create(o.model, { method, methodOptions, runtime: 'node', threads: Number(o.threads) });
    const m = new ConfusionMatrix(set.numClasses, set.ignoreIndex);
    for (let i = 0; i + batch <= set.count; i += batch) {
      const out = (await s.run({ input: new ort.Tensor('float32', data.slice(i * px * 3, (i + batch) * px * 3), [batch, 3, set.height, set.width]) })).logits;
      m.add(out.data as Float32Array, out.dims, set.masks.subarray(i * px, (i + batch) * px));
    }
    await s.dispose();
    const sc = m.scores();
    console.log(`| ${label} | ${spec} | ${(100 * sc.miou).toFixed(2)} | ${(100 * sc.pixelAccuracy).toFixed(2)} | ${((performance.now() - t0) / 1000).toFixed(0)} |`);
  }
}
