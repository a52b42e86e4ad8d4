/**
 * A lazy, seeded stream of test batches over an {@link ImageSource}: the plan (sample order) is
 * computed up front, images are read or generated only for the batch being yielded, so a full
 * 150,000-image run holds one batch of pixels at a time.
 */
import { type Preprocess, resolvePreprocess, toFloat32 } from '../loaders/preprocess.js';
import { DatasetError } from '../loaders/errors.js';
import { planStream, type StreamPlan, type StreamPlanOptions } from './plan.js';
import type { ImageSource, ProtocolManifest, StreamBatch } from './types.js';

export interface StreamOptions extends StreamPlanOptions {
  /** How `batch.images` is computed from the pixels. @defaultValue NCHW float32 RGB in [0, 1] */
  preprocess?: Partial<Preprocess>;
}

export interface Stream extends AsyncIterable<StreamBatch> {
  readonly manifest: ProtocolManifest;
  readonly plan: StreamPlan;
  readonly numBatches: number;
  readonly numSamples: number;
  /** Checks before the first batch that the source can serve every domain (e.g. all files exist). */
  prepare(): Promise<void>;
  /** Yields the batches in order; each call starts a fresh pass with identical content. */
  batches(): AsyncGenerator<StreamBatch>;
}

export const RNG_DESCRIPTION = {
  generator: 'xoshiro128** seeded by splitmix32 (@edgetta/core Rng)',
  order:
    'sequential/gradual: per segment Rng(deriveSeed(seed,"order")): permutation(count)[:samples], then dirichlet draws; ' +
    'mixed: same selection, then Rng(deriveSeed(seed,"mixed")).permutation(total) and correlation draws; ' +
    'ptta: Rng(deriveSeed(seed,"ptta")) across domains; images: Rng(imageSeed(seed, corruption, severity, index))',
};

/** Builds a stream; throws a {@link DatasetError} naming the bad option. */
export function createStream(source: ImageSource, options: StreamOptions): Stream {
  if (source.labels.length !== source.count) {
    throw new DatasetError('source', `${source.labels.length} labels for ${source.count} images`);
  }
  const plan = planStream(source.labels, source.numClasses, options);
  const preprocess = resolvePreprocess(options.preprocess);
  const manifest: ProtocolManifest = {
    format: 'edgetta.stream/1',
    protocol: plan.protocol.definition.name,
    params: { ...plan.protocol.params },
    seed: plan.seed,
    batchSize: plan.batchSize,
    samplesPerDomain: plan.samplesPerDomain,
    totalSamples: plan.totalSamples,
    numBatches: plan.batches.length,
    reset: plan.protocol.reset,
    domains: plan.domains.map((d) => ({ ...d })),
    segments: plan.segments.map((s) => ({ domain: s.domain, samples: s.indices.length, reset: s.reset })),
    preprocess,
    source: { ...source.manifest },
    rng: { ...RNG_DESCRIPTION },
  };
  const { height, width } = source;
  const px = height * width * 3;

  async function* batches(): AsyncGenerator<StreamBatch> {
    for (let b = 0; b < plan.batches.length; b++) {
      const span = plan.batches[b];
      const seg = plan.segments[span.segment];
      const n = span.end - span.start;
      const indices = seg.indices.slice(span.start, span.end);
      const domainIds = seg.domainIds.slice(span.start, span.end);
      const pixels = new Uint8Array(n * px);
      // One read per run of samples from the same domain (whole batch unless domains are mixed).
      for (let k = 0; k < n; ) {
        let run = 1;
        while (k + run < n && domainIds[k + run] === domainIds[k]) run++;
        await source.read(plan.domains[domainIds[k]], indices.subarray(k, k + run), pixels.subarray(k * px, (k + run) * px));
        k += run;
      }
      const labels = new Int32Array(n);
      for (let k = 0; k < n; k++) labels[k] = source.labels[indices[k]];
      const uniform = domainIds.every((d) => d === domainIds[0]);
      yield {
        index: b,
        images: toFloat32(pixels, n, height, width, preprocess),
        shape: preprocess.layout === 'nchw' ? [n, 3, height, width] : [n, height, width, 3],
        pixels,
        labels,
        indices,
        domainIds,
        domain: uniform ? { ...plan.domains[domainIds[0]] } : null,
        segment: span.segment,
        reset: span.start === 0 && seg.reset,
        segmentStart: span.start === 0,
      };
    }
  }

  return {
    manifest,
    plan,
    numBatches: plan.batches.length,
    numSamples: plan.totalSamples,
    prepare: async () => {
      await source.prepare?.(plan.domains);
    },
    batches,
    [Symbol.asyncIterator]: batches,
  };
}
