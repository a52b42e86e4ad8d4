import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { goldenInput, instanceNormModel, resnetPath } from '@edgetta/testing';
import { AdaptiveSession, listMethods } from '@edgetta/sdk';

const good = () => new ort.Tensor('float32', goldenInput(4), [4, 3, 32, 32]);

describe('bad input gets a clear error and changes nothing', () => {
  it('a TF.js model.json says which importer reads it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgetta-tfjs-json-'));
    const write = (name: string, json: unknown): string => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, JSON.stringify(json));
      return p;
    };
    const layers = write('layers.json', { format: 'layers-model', modelTopology: { class_name: 'Sequential', config: {} }, weightsManifest: [] });
    const graph = write('graph.json', { format: 'graph-model', modelTopology: { node: [{ name: 'x', op: 'Placeholder' }] }, weightsManifest: [] });
    const other = write('other.json', { hello: 1 });
    await expect(AdaptiveSession.create(layers)).rejects.toThrow(/layers\.json: a TF\.js LayersModel \(Keras\) model\.json; import it first: AdaptiveSession\.create\(await importLayersModel\(.*\)\) with importLayersModel from @edgetta\/tfjs-import/);
    await expect(AdaptiveSession.create(graph)).rejects.toThrow(/graph\.json: a TF\.js GraphModel \(tfjs-converter output\), which edgetta does not import yet; convert the original SavedModel to ONNX/);
    await expect(AdaptiveSession.create(other)).rejects.toThrow(/other\.json: a JSON file, not an ONNX model \(nor a TF\.js model\.json: it has no modelTopology\)/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('unknown method lists the registered ones; unknown or out-of-range options list the valid ones', async () => {
    await expect(AdaptiveSession.create(resnetPath, { method: 'tentt' })).rejects.toThrow(/unknown method 'tentt'; registered methods: .*alpha-bn.*norm/);
    await expect(AdaptiveSession.create(resnetPath, { method: 'alpha-bn', methodOptions: { alfa: 0.2 } })).rejects.toThrow(
      /methodOptions: unknown option 'alfa' for method 'alpha-bn'; valid options: alpha/,
    );
    await expect(AdaptiveSession.create(resnetPath, { method: 'alpha-bn', methodOptions: { alpha: 1.5 } })).rejects.toThrow(/methodOptions.alpha: must be <= 1, got 1.5/);
    await expect(AdaptiveSession.create(resnetPath, { method: 'norm', methodOptions: { alpha: 0.1 } })).rejects.toThrow(/valid options: \(none\)/);
    expect(listMethods()).toEqual(expect.arrayContaining(['source', 'norm', 'alpha-bn', 'bn-ema', 'dua']));
  });

  it('a model without BatchNormalization names its norm-like ops', async () => {
    await expect(AdaptiveSession.create(instanceNormModel(), { method: 'norm' })).rejects.toThrow(
      /method .norm. adapts batch-norm sites, and this model has instance-norm x1; methods that apply to this model: source/,
    );
  });

  it('a truncated, empty or non-ONNX file is named and explained', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgetta-'));
    const truncated = path.join(dir, 'truncated.onnx');
    fs.writeFileSync(truncated, fs.readFileSync(resnetPath).subarray(0, 5000));
    await expect(AdaptiveSession.create(truncated)).rejects.toThrow(new RegExp(`${truncated.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a valid ONNX model`));
    const text = path.join(dir, 'notes.onnx');
    fs.writeFileSync(text, 'this is not a model at all, just some text that happens to be here\n'.repeat(20));
    await expect(AdaptiveSession.create(text)).rejects.toThrow(/notes.onnx: not a valid ONNX model/);
    await expect(AdaptiveSession.create(new Uint8Array())).rejects.toThrow(/model is empty/);
    await expect(AdaptiveSession.create(path.join(dir, 'missing.onnx'))).rejects.toThrow(/cannot read .*missing.onnx.*ENOENT/);
    await expect(AdaptiveSession.create(42 as unknown as string)).rejects.toThrow(/model: expected a file path, a URL, a Uint8Array or an ArrayBuffer/);
  });

  it('feeds with a wrong name, dtype, rank or channel count are rejected before running', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: 'bn-ema', runtime: 'node' });
    const before = s.snapshot();
    await expect(s.run({ image: good() })).rejects.toThrow(/feeds: unknown input 'image'; the model's inputs are: input/);
    await expect(s.run({})).rejects.toThrow(/feeds: missing input 'input'/);
    await expect(s.run({ input: new ort.Tensor('int32', new Int32Array(3072), [1, 3, 32, 32]) })).rejects.toThrow(/feeds.input: dtype is int32, the model expects float32/);
    await expect(s.run({ input: new ort.Tensor('float32', new Float32Array(3072), [3, 32, 32]) })).rejects.toThrow(/feeds.input: rank 3 .*expects rank 4/);
    await expect(s.run({ input: new ort.Tensor('float32', new Float32Array(4 * 4096), [4, 4, 32, 32]) })).rejects.toThrow(
      /feeds.input: dimension 1 \(channels\) is 4, the model expects 3/,
    );
    expect(s.snapshot()).toEqual(before);
    expect(s.stats.batches).toBe(0);
    await s.dispose();
  });

  it('a batch with NaN or Inf is rejected naming the feed and sample, state unchanged', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: 'bn-ema', runtime: 'node' });
    await s.run({ input: good() });
    const before = s.snapshot();
    const data = goldenInput(4);
    data[3072 * 2 + 17] = Number.NaN;
    await expect(s.run({ input: new ort.Tensor('float32', data, [4, 3, 32, 32]) })).rejects.toThrow(
      /feeds.input: value NaN at flat index 6161 \(sample 2\); the batch was rejected and the adaptation state is unchanged/,
    );
    data[3072 * 2 + 17] = Number.POSITIVE_INFINITY;
    await expect(s.run({ input: new ort.Tensor('float32', data, [4, 3, 32, 32]) })).rejects.toThrow(/value Infinity/);
    expect(s.snapshot()).toEqual(before);
    await s.dispose();
  });

  it('batch size 1 with norm explains why and suggests alpha-bn; alpha-bn runs at batch size 1', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: 'norm', runtime: 'node' });
    const one = new ort.Tensor('float32', goldenInput(1), [1, 3, 32, 32]);
    await expect(s.run({ input: one })).rejects.toThrow(/batch size 1 is too small for method 'norm' \(needs >= 2\).*use 'alpha-bn'/);
    const a = await AdaptiveSession.create(resnetPath, { method: 'alpha-bn', runtime: 'node' });
    const out = await a.run({ input: one });
    expect(out.logits.dims).toEqual([1, 10]);
    await Promise.all([s.dispose(), a.dispose()]);
  });

  it('a disposed session refuses to run', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: 'source', runtime: 'node' });
    await s.dispose();
    await expect(s.run({ input: good() })).rejects.toThrow(/disposed/);
  });
});

describe('a batch that overflows inside the graph', () => {
  for (const method of ['norm', 'alpha-bn', 'bn-ema', 'unmix-tns']) {
    it(`${method}: a finite but overflowing batch (3e38) never poisons later batches`, async () => {
      const s = await AdaptiveSession.create(resnetPath, { method, runtime: 'node' });
      const ref = await AdaptiveSession.create(resnetPath, { method, runtime: 'node' });
      const huge = new Float32Array(4 * 3072).fill(3e38);
      await s.run({ input: new ort.Tensor('float32', huge, [4, 3, 32, 32]) }).catch(() => undefined); // rejected or answered: either is fine
      const after = (await s.run({ input: good() })).logits.data as Float32Array;
      expect(after.every(Number.isFinite)).toBe(true);
      if (method !== 'bn-ema' && method !== 'unmix-tns') expect(after).toEqual((await ref.run({ input: good() })).logits.data);
      await Promise.all([s.dispose(), ref.dispose()]);
    });
  }
});
