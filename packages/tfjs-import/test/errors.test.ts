import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importLayersModel, supportedLayers } from '@edgetta/tfjs-import';
import { artifactsOf, removeTempDirs, saveToDir, tempDir, tf, tfReady } from './helpers.js';
import { sequentialModel } from './models.js';

beforeAll(tfReady);
afterAll(removeTempDirs);

describe('clear errors', () => {
  it('an unsupported layer names its class and name and lists the supported classes', async () => {
    const m = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [4], units: 3, name: 'fc' }), tf.layers.layerNormalization({ name: 'ln' })],
    });
    const err = await importLayersModel(m).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/layer 'ln' is a LayerNormalization, which the TF.js importer does not support/);
    expect((err as Error).message).toContain('Supported layer classes: ');
    for (const c of ['BatchNormalization', 'Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense']) expect((err as Error).message).toContain(c);
    expect(supportedLayers()).toContain('ZeroPadding2D');
  });

  it('a GraphModel whose BatchNormalization was folded says there are no statistics left to adapt', async () => {
    const graphModel = {
      format: 'graph-model',
      generatedBy: '2.15.0',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: {
        node: [
          { name: 'input', op: 'Placeholder' },
          { name: 'conv1/Conv2D', op: '_FusedConv2D', attr: { fused_ops: { list: { s: ['Qmlhc0FkZA==', 'UmVsdQ=='] } } } },
          { name: 'conv2/Conv2D', op: '_FusedConv2D' },
          { name: 'logits', op: 'MatMul' },
          { name: 'Identity', op: 'Identity' },
        ],
        library: {},
        versions: { producer: 1482 },
      },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'conv1/weights', shape: [3, 3, 3, 8], dtype: 'float32' }] }],
    };
    const err = await importLayersModel(graphModel).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/TF\.js GraphModel/);
    expect((err as Error).message).toMatch(/no normalization statistics left to adapt/);
    expect((err as Error).message).toMatch(/LayersModel/);
    expect((err as Error).message).toContain('_FusedConv2D x2');

    // The same through a model.json path: detected before any shard is read.
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(graphModel));
    await expect(importLayersModel(path.join(dir, 'model.json'))).rejects.toThrow(/no normalization statistics left to adapt/);
  });

  it('missing and truncated weight shards name the file and the weight', async () => {
    const file = await saveToDir(sequentialModel(), 2);
    const dir = path.dirname(file);
    const second = path.join(dir, 'group1-shard2of2.bin');
    const bytes = fs.readFileSync(second);

    fs.writeFileSync(second, bytes.subarray(0, bytes.length - 10));
    const short = await importLayersModel(file).catch((e: Error) => e);
    expect((short as Error).message).toMatch(/weight '[^']+' \[[\d, ]+\] needs bytes \d+\.\.\d+ of weight group 0/);
    expect((short as Error).message).toContain(`'${second}' is missing or truncated`);

    fs.rmSync(second);
    const missing = await importLayersModel(file).catch((e: Error) => e);
    expect((missing as Error).message).toMatch(/cannot read weight shard '.*group1-shard2of2\.bin': ENOENT \(it holds .*logits\/kernel/);
  });

  it('a weight absent from the manifest, and artifacts without weight bytes', async () => {
    const a = await artifactsOf(sequentialModel());
    const renamed = { ...a, weightSpecs: a.weightSpecs!.map((w) => (w.name === 'bn1/moving_variance' ? { ...w, name: 'bn1/moving_var' } : w)) };
    await expect(importLayersModel(renamed)).rejects.toThrow(/layer 'bn1' \(BatchNormalization\): weight 'bn1\/moving_variance' is not in the weights manifest \(weights of this layer found: .*bn1\/moving_var\b/);

    const { weightData: _w, ...noBytes } = a;
    const manifest = { modelTopology: noBytes.modelTopology, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs! }] };
    await expect(importLayersModel(manifest)).rejects.toThrow(/the weights \(group1-shard1of1\.bin\) were not given; pass them as options\.weights/);
    await expect(importLayersModel(manifest, { weights: { 'other.bin': new Uint8Array(4) } })).rejects.toThrow(/weight shard 'group1-shard1of1\.bin' .* is not in options\.weights \(keys: other\.bin\)/);
  });

  it('a file that is not a model.json', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'model.json'), '{"hello": 1}');
    await expect(importLayersModel(path.join(dir, 'model.json'))).rejects.toThrow(/is not a TF\.js model\.json: it has no modelTopology/);
    await expect(importLayersModel(path.join(dir, 'nope.json'))).rejects.toThrow(/cannot read model\.json '.*nope\.json': ENOENT/);
    await expect(importLayersModel(42 as never)).rejects.toThrow(/expected a model\.json path or URL/);
  });
});
