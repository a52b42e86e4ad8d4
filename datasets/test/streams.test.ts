import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  corruptedSource,
  createStream,
  DatasetError,
  dirichletOrder,
  imageSeed,
  parseProtocol,
  planStream,
  PROTOCOL_NAMES,
  protocols,
  resolveProtocol,
  type CorruptFn,
  type ImageSource,
  type LabeledImages,
  type StreamBatch,
  type StreamPlan,
} from '@edgetta/datasets';
import { readCifar10 } from '@edgetta/datasets/node';
import { BENCHMARK_CORRUPTIONS } from '../src/corruptions/types.js';
import { Rng } from '../src/rng.js';

const TEST_BATCH = join(new URL('../../../shared/data/', import.meta.url).pathname, 'cifar10/test_batch.bin');
let test: LabeledImages;

beforeAll(async () => {
  test = await readCifar10(TEST_BATCH);
});

/** Labels of a segment (or of the whole stream) in stream order. */
function labelsOf(plan: StreamPlan, segment?: number): number[] {
  const segs = segment === undefined ? plan.segments : [plan.segments[segment]];
  return segs.flatMap((s) => Array.from(s.indices, (i) => test.labels[i]));
}

/** Mean length of runs of equal consecutive labels. */
function meanRunLength(labels: number[]): number {
  let runs = 1;
  for (let i = 1; i < labels.length; i++) if (labels[i] !== labels[i - 1]) runs++;
  return labels.length / runs;
}

function expectPermutationOf(indices: Int32Array, count: number): void {
  const seen = new Uint8Array(count);
  for (const i of indices) {
    expect(seen[i]).toBe(0);
    seen[i] = 1;
  }
  expect(indices.length).toBe(count);
}

const plan = (protocol: string, extra: Partial<Parameters<typeof planStream>[2]> = {}): StreamPlan =>
  planStream(test.labels, 10, { protocol, seed: 1, batchSize: 64, corruptions: ['gaussian_noise', 'fog', 'contrast'], ...extra });

describe('dirichlet(0.1) label-run structure on the 10,000 CIFAR-10 test labels', () => {
  it('has long class runs, between i.i.d. and fully label-sorted', () => {
    const iid = meanRunLength(labelsOf(plan('continual'), 0));
    const dir = meanRunLength(labelsOf(plan('dirichlet:0.1'), 0));
    const sorted = meanRunLength(labelsOf(plan('label_sorted'), 0));
    // i.i.d. over 10 balanced classes: expected run length 1 / (1 - 0.1) ~ 1.11
    expect(iid).toBeGreaterThan(1.05);
    expect(iid).toBeLessThan(1.2);
    // label-sorted: exactly one run per class
    expect(sorted).toBe(1000);
    // NOTE ordering emits at most K chunks x K classes = 100 runs, and delta = 0.1 puts most of a
    // class in one or two chunks, so runs are far longer than i.i.d.'s.
    expect(dir).toBeGreaterThanOrEqual(100);
    expect(dir).toBeLessThan(sorted);
  });

  it('is stable across seeds: every seed gives long runs and >= 10 samples per chunk', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const p = planStream(test.labels, 10, { protocol: 'dirichlet:0.1', seed, batchSize: 64, corruptions: ['fog'] });
      const labels = labelsOf(p, 0);
      expect(meanRunLength(labels)).toBeGreaterThanOrEqual(100);
      // a batch of 64 mostly holds few classes: median distinct classes per batch <= 3
      const distinct: number[] = [];
      for (let b = 0; b + 64 <= labels.length; b += 64) distinct.push(new Set(labels.slice(b, b + 64)).size);
      distinct.sort((a, b) => a - b);
      expect(distinct[distinct.length >> 1]).toBeLessThanOrEqual(3);
    }
  });

  it('reproduces the NOTE algorithm step by step (chunk sizes balanced, classes contiguous per chunk)', () => {
    const selection = Int32Array.from({ length: 10_000 }, (_, i) => i);
    const order = dirichletOrder(selection, test.labels, 10, 0.1, new Rng(3));
    expectPermutationOf(order, 10_000);
    // Same draws, replayed by hand: chunk boundaries are where the emitted class sequence restarts.
    const rng = new Rng(3);
    const byClass = Array.from({ length: 10 }, (_, k) => Array.from(selection).filter((i) => test.labels[i] === k));
    let chunks: number[][][];
    for (;;) {
      const sizes = new Array(10).fill(0);
      chunks = Array.from({ length: 10 }, () => [] as number[][]);
      for (let k = 0; k < 10; k++) {
        const idx = rng.shuffle(Int32Array.from(byClass[k]));
        const q = rng.dirichlet(new Float64Array(10).fill(0.1));
        let sum = 0;
        for (let j = 0; j < 10; j++) {
          if (sizes[j] >= 1000) q[j] = 0;
          sum += q[j];
        }
        let acc = 0;
        let from = 0;
        for (let j = 0; j < 10; j++) {
          acc += q[j] / sum;
          const to = j === 9 ? idx.length : Math.floor(acc * idx.length);
          chunks[j][k] = Array.from(idx.subarray(from, to));
          sizes[j] += to - from;
          from = to;
        }
      }
      if (Math.min(...sizes) >= 10) break;
    }
    const expected: number[] = [];
    for (let j = 0; j < 10; j++) for (const k of rng.permutation(10)) expected.push(...chunks[j][k]);
    expect(Array.from(order)).toEqual(expected);
  });

  it('retries until every chunk has 10 samples, and fails with a clear error when it cannot', () => {
    // 60 samples in 10 classes: N/K = 6 < 10, so no split can give every chunk 10 samples.
    let error: unknown;
    try {
      planStream(test.labels, 10, { protocol: 'dirichlet:delta=0.1,maxAttempts=20', seed: 1, batchSize: 8, samples: 60, corruptions: ['fog'] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toBe(
      'protocol dirichlet: no Dirichlet(delta=0.1) split of 60 samples into 10 class chunks gave every chunk >= 10 samples in 20 attempts; use more samples per domain or a larger delta',
    );
    // 200 samples: feasible, found after retries
    const p = planStream(test.labels, 10, { protocol: 'dirichlet:0.1', seed: 1, batchSize: 8, samples: 200, corruptions: ['fog'] });
    expect(p.segments[0].indices.length).toBe(200);
  });
});

describe('every protocol', () => {
  it('emits every sample exactly once per domain (all samples and a subsample)', () => {
    for (const name of PROTOCOL_NAMES) {
      for (const samples of [undefined, 500]) {
        const p = plan(name, samples ? { samples } : {});
        const n = samples ?? 10_000;
        const perDomain = p.domains.map(() => [] as number[]);
        for (const seg of p.segments) seg.domainIds.forEach((d, k) => perDomain[d].push(seg.indices[k]));
        const repeats = name === 'gradual' ? [2, 2, 2, 2, 1] : null; // severity 5 once, the others twice per corruption
        p.domains.forEach((d, id) => {
          const times = repeats ? repeats[d.severity - 1] : 1;
          expect(perDomain[id].length).toBe(n * times);
          const counts = new Map<number, number>();
          for (const i of perDomain[id]) counts.set(i, (counts.get(i) ?? 0) + 1);
          expect(counts.size).toBe(n);
          for (const c of counts.values()) expect(c).toBe(times);
          if (name === 'ptta') expect(Math.max(...counts.keys())).toBe(n - 1); // RoTTA takes the first n in file order
        });
      }
    }
  });

  it('same seed gives the same stream, a different seed a different one', () => {
    for (const name of PROTOCOL_NAMES) {
      const a = plan(name);
      const b = plan(name);
      const c = plan(name, { seed: 2 });
      const flat = (p: StreamPlan) => p.segments.flatMap((s) => Array.from(s.indices));
      expect(flat(b)).toEqual(flat(a));
      expect(flat(c)).not.toEqual(flat(a));
    }
  });

  it('cuts batches inside segments (across them only for ptta), with batch size 1 supported', () => {
    const p = plan('continual', { samples: 100, batchSize: 64 });
    expect(p.batches.map((b) => b.end - b.start)).toEqual([64, 36, 64, 36, 64, 36]);
    const one = plan('reset_each_shift', { samples: 10, batchSize: 1 });
    expect(one.batches.length).toBe(30);
    expect(one.batches.every((b) => b.end - b.start === 1)).toBe(true);
    const ptta = plan('ptta', { samples: 100, batchSize: 64 });
    expect(ptta.batches.map((b) => b.end - b.start)).toEqual([64, 64, 64, 64, 44]);
  });

  it('ptta drops a trailing batch of one sample (but never with batch size 1)', () => {
    const p = plan('ptta', { samples: 107, batchSize: 64 }); // 321 = 5 * 64 + 1
    expect(p.batches.length).toBe(5);
    expect(p.totalSamples).toBe(320);
    expect(plan('ptta', { samples: 3, batchSize: 1 }).totalSamples).toBe(9);
  });

  it('ptta follows RoTTA: per domain, class slots in a random order, consuming one Rng across domains', () => {
    const p = plan('ptta:0.1');
    const labels = labelsOf(p);
    expect(meanRunLength(labels)).toBeGreaterThan(50);
    // The domains differ (one Rng across the stream) unlike MD-TTA's per-domain re-seeding.
    const d0 = p.segments[0].indices.subarray(0, 10_000);
    const d1 = p.segments[0].indices.subarray(10_000, 20_000);
    expect(Array.from(d1)).not.toEqual(Array.from(d0));
    expect(resolveProtocol('ptta').params.gamma).toBe(0.1);
  });
});

describe('schedules and resets', () => {
  it('gradual runs severities 1,2,3,4,5,4,3,2,1 inside each corruption, one reset at the start', () => {
    const p = plan('gradual', { samples: 50 });
    const seq = p.segments.map((s) => p.domains[s.domain!]);
    expect(seq.map((d) => d.severity)).toEqual([1, 2, 3, 4, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 4, 3, 2, 1]);
    expect(seq.map((d) => d.corruption)).toEqual([
      ...new Array(9).fill('gaussian_noise'),
      ...new Array(9).fill('fog'),
      ...new Array(9).fill('contrast'),
    ]);
    expect(p.segments.map((s) => s.reset)).toEqual([true, ...new Array(26).fill(false)]);
  });

  it('reset_each_shift resets before every domain; continual and dirichlet only once', () => {
    expect(plan('reset_each_shift').segments.map((s) => s.reset)).toEqual([true, true, true]);
    expect(plan('continual').segments.map((s) => s.reset)).toEqual([true, false, false]);
    expect(plan('dirichlet').segments.map((s) => s.reset)).toEqual([true, false, false]);
    expect(plan('label_sorted:reset=each_shift').segments.map((s) => s.reset)).toEqual([true, true, true]);
  });

  it('re-seeds the order per domain as MD-TTA does: i.i.d. domains share one permutation', () => {
    const p = plan('continual');
    expect(Array.from(p.segments[1].indices)).toEqual(Array.from(p.segments[0].indices));
  });

  it('mixed_domains covers every (domain, index) pair once, shuffled across domains', () => {
    const p = plan('mixed_domains', { samples: 2000 });
    expect(p.segments.length).toBe(1);
    const seg = p.segments[0];
    expect(seg.indices.length).toBe(6000);
    const pairs = new Set<number>();
    for (let k = 0; k < seg.indices.length; k++) pairs.add(seg.domainIds[k] * 100_000 + seg.indices[k]);
    expect(pairs.size).toBe(6000);
    // consecutive samples come from different domains about 2/3 of the time
    let switches = 0;
    for (let k = 1; k < seg.domainIds.length; k++) if (seg.domainIds[k] !== seg.domainIds[k - 1]) switches++;
    expect(switches / 5999).toBeGreaterThan(0.6);
    expect(switches / 5999).toBeLessThan(0.73);
    // mixed + Dirichlet correlation (MD-TTA mixed_domains_correlated)
    const corr = plan('mixed_domains:correlation=dirichlet,delta=0.1', { samples: 2000 });
    expect(meanRunLength(labelsOf(corr))).toBeGreaterThan(50);
    expect(new Set(Array.from(corr.segments[0].domainIds, (d, k) => d * 100_000 + corr.segments[0].indices[k])).size).toBe(6000);
  });

  it('takes an explicit domain order (e.g. RoTTA severity-major) and rejects bad domains', () => {
    const p = planStream(test.labels, 10, {
      protocol: 'continual',
      seed: 0,
      batchSize: 10,
      samples: 10,
      domains: [
        { corruption: 'fog', severity: 1 },
        { corruption: 'snow', severity: 1 },
        { corruption: 'fog', severity: 2 },
      ],
    });
    expect(p.domains).toEqual([
      { corruption: 'fog', severity: 1 },
      { corruption: 'snow', severity: 1 },
      { corruption: 'fog', severity: 2 },
    ]);
    expect(() => plan('continual', { corruptions: ['fog', 'blur' as never] })).toThrow(/unknown corruption 'blur' \(valid: gaussian_noise, shot_noise/);
    expect(() => plan('continual', { severities: [7 as never] })).toThrow(/severity must be an integer in 1-5, got 7/);
    expect(() => plan('continual', { samples: 20_000 })).toThrow(/samples \(20000\) exceeds the 10000 images/);
    expect(() => plan('continual', { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => plan('continual', { corruptions: ['fog', 'fog'] })).toThrow(/listed twice/);
  });
});

describe('protocol registry and parsing', () => {
  it('parses the CLI form and lists valid names on error', () => {
    expect(parseProtocol('dirichlet:0.1')).toEqual({ name: 'dirichlet', params: { delta: 0.1 } });
    expect(parseProtocol('ptta:gamma=0.05,slots=4')).toEqual({ name: 'ptta', params: { gamma: 0.05, slots: 4 } });
    expect(resolveProtocol('dirichlet').params).toEqual({ reset: 'once', delta: 0.1, minChunkSize: 10, maxAttempts: 1000 });
    expect(() => parseProtocol('iid')).toThrow(
      "protocol: unknown protocol 'iid' (valid: reset_each_shift, continual, gradual, mixed_domains, label_sorted, dirichlet, ptta)",
    );
    expect(() => resolveProtocol('dirichlet:-1')).toThrow(/delta must be a positive number, got -1/);
    expect(() => resolveProtocol('continual:lr=1')).toThrow(/continual has no parameter 'lr'/);
    expect(() => resolveProtocol('continual:1')).toThrow(/takes no bare value/);
    expect(Object.keys(protocols)).toEqual(PROTOCOL_NAMES);
  });
});

/** A stand-in corruption: adds a value drawn from the image's Rng, so pixels reveal the seeding. */
function fakeCorrupt(calls: { n: number }): CorruptFn {
  return (image, name, severity, rng) => {
    calls.n++;
    const shift = rng.int(0, 256);
    const data = new Uint8Array(image.data.length);
    for (let i = 0; i < data.length; i++) data[i] = (image.data[i] + shift + severity + name.length) & 255;
    return { data, height: image.height, width: image.width };
  };
}

/** Byte equality (vitest's deep equality is slow on large typed arrays). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

async function collect(stream: AsyncIterable<StreamBatch>): Promise<StreamBatch[]> {
  const out: StreamBatch[] = [];
  for await (const b of stream) out.push(b);
  return out;
}

describe('lazy streams over a corrupted source', () => {
  it('generates images only for the batch being yielded', async () => {
    const calls = { n: 0 };
    const source = corruptedSource(test, { seed: 7, corrupt: fakeCorrupt(calls) });
    const stream = createStream(source, { protocol: 'continual', seed: 1, batchSize: 64 });
    expect(stream.numSamples).toBe(150_000);
    expect(calls.n).toBe(0);
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    expect(calls.n).toBe(64);
    await it.next();
    expect(calls.n).toBe(128);
    await it.return?.(undefined);
    const b = first.value as StreamBatch;
    expect(b.shape).toEqual([64, 3, 32, 32]);
    expect(b.images.length).toBe(64 * 3072);
    expect(b.reset).toBe(true);
    expect(b.domain).toEqual({ corruption: 'gaussian_noise', severity: 5 });
  });

  it('gives each (seed, corruption, severity, index) the same pixels whatever the protocol', async () => {
    const source = corruptedSource(test, { seed: 11, corrupt: fakeCorrupt({ n: 0 }) });
    const opts = { seed: 3, batchSize: 50, samples: 100, corruptions: ['fog', 'snow'] as const };
    const a = await collect(createStream(source, { ...opts, corruptions: [...opts.corruptions], protocol: 'reset_each_shift' }));
    const b = await collect(createStream(source, { ...opts, corruptions: [...opts.corruptions], protocol: 'mixed_domains' }));
    const pixelsOf = (batches: StreamBatch[]) => {
      const m = new Map<string, string>();
      for (const x of batches) {
        x.indices.forEach((i, k) => {
          const d = x.domainIds[k];
          m.set(`${d}/${i}`, Buffer.from(x.pixels.subarray(k * 3072, (k + 1) * 3072)).toString('base64'));
        });
      }
      return m;
    };
    const pa = pixelsOf(a);
    const pb = pixelsOf(b);
    expect(pa.size).toBe(200);
    expect(pb).toEqual(pa);
    // and each equals a direct call with the documented seed
    const x = a[0];
    const i = x.indices[5];
    const direct = fakeCorrupt({ n: 0 })(
      { data: test.images.subarray(i * 3072, (i + 1) * 3072), height: 32, width: 32 },
      'fog',
      5,
      new Rng(imageSeed(11, 'fog', 5, i)),
    );
    expect(sameBytes(x.pixels.subarray(5 * 3072, 6 * 3072), direct.data)).toBe(true);
    expect(Array.from(x.labels)).toEqual(Array.from(x.indices, (j) => test.labels[j]));
    // float images are the pixels / 255 in NCHW
    expect(x.images[2 * 1024 + 33]).toBeCloseTo(x.pixels[33 * 3 + 2] / 255, 6);
  });

  it('same seed gives identical batches; a second pass repeats the first', async () => {
    const source = corruptedSource(test, { seed: 1, corrupt: fakeCorrupt({ n: 0 }) });
    const mk = () => createStream(source, { protocol: 'dirichlet:0.1', seed: 5, batchSize: 64, samples: 1000, corruptions: ['fog'] });
    const s = mk();
    const a = await collect(s);
    const again = await collect(s);
    const b = await collect(mk());
    expect(a.length).toBe(16);
    for (let k = 0; k < a.length; k++) {
      expect(b[k].indices).toEqual(a[k].indices);
      expect(sameBytes(b[k].pixels, a[k].pixels)).toBe(true);
      expect(sameBytes(again[k].pixels, a[k].pixels)).toBe(true);
      expect(sameBytes(new Uint8Array(b[k].images.buffer), new Uint8Array(a[k].images.buffer))).toBe(true);
    }
  });

  it('marks mixed batches with domain null and per-sample domain ids', async () => {
    const source = corruptedSource(test, { seed: 1, corrupt: fakeCorrupt({ n: 0 }) });
    const batches = await collect(createStream(source, { protocol: 'mixed_domains', seed: 1, batchSize: 32, samples: 64, corruptions: ['fog', 'snow'] }));
    expect(batches.length).toBe(4);
    expect(batches.every((b) => b.domain === null)).toBe(true);
    expect(batches.flatMap((b) => Array.from(b.domainIds)).filter((d) => d === 1).length).toBe(64);
  });

  it('applies the requested preprocessing', async () => {
    const source = corruptedSource(test, { seed: 1, corrupt: fakeCorrupt({ n: 0 }) });
    const s = createStream(source, {
      protocol: 'continual',
      seed: 1,
      batchSize: 2,
      samples: 2,
      corruptions: ['fog'],
      preprocess: { layout: 'nhwc', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    });
    const [b] = await collect(s);
    expect(b.shape).toEqual([2, 32, 32, 3]);
    expect(b.images[7]).toBeCloseTo((b.pixels[7] / 255 - 0.5) / 0.5, 6);
    expect(s.manifest.preprocess).toEqual({ layout: 'nhwc', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], channelOrder: 'rgb' });
  });
});

describe('protocol manifests', () => {
  it('are complete plain JSON for every protocol', () => {
    const source: ImageSource = corruptedSource(test, { seed: 9, corrupt: fakeCorrupt({ n: 0 }) });
    for (const name of PROTOCOL_NAMES) {
      const s = createStream(source, { protocol: name, seed: 4, batchSize: 64, samples: 640, corruptions: [...BENCHMARK_CORRUPTIONS] });
      const m = s.manifest;
      expect(JSON.parse(JSON.stringify(m))).toEqual(m);
      expect(m.format).toBe('edgetta.stream/1');
      expect(m.protocol).toBe(name);
      expect(m.seed).toBe(4);
      expect(m.batchSize).toBe(64);
      expect(m.samplesPerDomain).toBe(640);
      expect(m.numBatches).toBe(s.numBatches);
      expect(m.params).toEqual(resolveProtocol(name).params);
      expect(m.domains.length).toBe(name === 'gradual' ? 75 : 15);
      expect(m.domains[0].corruption).toBe('gaussian_noise');
      const segSum = m.segments.reduce((a, x) => a + x.samples, 0);
      expect(segSum).toBe(name === 'gradual' ? 9 * 15 * 640 : 15 * 640);
      expect(m.totalSamples).toBe(segSum);
      expect(m.source).toMatchObject({ kind: 'generated', count: 10_000, height: 32, width: 32, numClasses: 10, corruptionSeed: 9 });
      expect(m.source.seeding).toMatch(/imageSeed|deriveSeed/);
      expect(m.rng.order).toMatch(/deriveSeed\(seed,"order"\)/);
    }
  });
});
