/**
 * A stream's plan: which (domain, sample) pairs come in which order, cut into segments and
 * batches. Pure and cheap (index arrays only; 150,000 samples take ~1 MB), so it is computed up
 * front while images are produced batch by batch.
 *
 * Random numbers (all from {@link Rng}, seeds from {@link deriveSeed}):
 * - sequential and gradual schedules: every segment gets a fresh `Rng(deriveSeed(seed, 'order'))`,
 *   as MD-TTA re-seeds before building each domain's loader. It draws the sample selection
 *   (`selectSamples`: one permutation of the source, first `samples` kept), then the order's own
 *   draws (`dirichletOrder`; none for iid and label_sorted). Segments over the same labels
 *   therefore share one order.
 * - mixed: the same per-domain selection, concatenated in domain order, then one
 *   `Rng(deriveSeed(seed, 'mixed')).permutation(total)`; the optional correlation continues on that Rng.
 * - ptta: one `Rng(deriveSeed(seed, 'ptta'))` for the whole stream, domains in order, each
 *   taking its first `samples` images in source order, as RoTTA does.
 */
import { BENCHMARK_CORRUPTIONS, HELD_OUT_CORRUPTIONS, type CorruptionName, type Severity } from '../corruptions/types.js';
import { DatasetError } from '../loaders/errors.js';
import { Rng } from '../rng.js';
import { dirichletOrder, labelSortedOrder, pttaOrder, selectSamples } from './orders.js';
import { type ProtocolSpec, type ResolvedProtocol, resolveProtocol } from './protocols.js';
import { deriveSeed } from './seeds.js';
import type { DomainTag } from './types.js';

export interface StreamPlanOptions {
  /** A protocol name, the CLI form (`dirichlet:0.1`), or a spec object. */
  protocol: ProtocolSpec | string;
  /** @defaultValue the 15 benchmark corruptions, in tta-spec order */
  corruptions?: readonly CorruptionName[];
  /** @defaultValue [5] (ignored by gradual, which uses its severity sequence) */
  severities?: readonly Severity[];
  /** An explicit domain order instead of corruptions x severities (corruption-major). */
  domains?: readonly DomainTag[];
  seed: number;
  batchSize: number;
  /** Samples per domain. @defaultValue all images of the source */
  samples?: number;
}

export interface PlanSegment {
  /** Index into `domains`, or null when the segment mixes domains. */
  domain: number | null;
  reset: boolean;
  /** Source index of each sample, in stream order. */
  indices: Int32Array;
  /** Domain of each sample (index into `domains`). */
  domainIds: Uint16Array;
}

export interface BatchSpan {
  segment: number;
  start: number;
  end: number;
}

export interface StreamPlan {
  protocol: ResolvedProtocol;
  seed: number;
  batchSize: number;
  samplesPerDomain: number;
  domains: DomainTag[];
  segments: PlanSegment[];
  batches: BatchSpan[];
  totalSamples: number;
}

const VALID_CORRUPTIONS: readonly string[] = [...BENCHMARK_CORRUPTIONS, ...HELD_OUT_CORRUPTIONS];

function checkDomain(d: DomainTag): void {
  if (!VALID_CORRUPTIONS.includes(d.corruption)) {
    throw new DatasetError('corruptions', `unknown corruption '${String(d.corruption)}' (valid: ${VALID_CORRUPTIONS.join(', ')})`);
  }
  if (!Number.isInteger(d.severity) || d.severity < 1 || d.severity > 5) {
    throw new DatasetError('severity', `severity must be an integer in 1-5, got ${String(d.severity)}`);
  }
}

function positiveInt(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) throw new DatasetError(name, `${name} must be a positive integer, got ${String(value)}`);
}

/** Plans a stream over a source with these labels (label of base image i; the same in every domain). */
export function planStream(labels: Int32Array, numClasses: number, options: StreamPlanOptions): StreamPlan {
  const protocol = resolveProtocol(options.protocol);
  const { schedule } = protocol.definition;
  const { seed, batchSize } = options;
  if (!Number.isSafeInteger(seed)) throw new DatasetError('seed', `seed must be an integer, got ${String(seed)}`);
  positiveInt(batchSize, 'batchSize');
  const count = labels.length;
  if (count === 0) throw new DatasetError('source', 'the source has no images');
  if (options.samples !== undefined) {
    positiveInt(options.samples, 'samples');
    if (options.samples > count) throw new DatasetError('samples', `samples (${options.samples}) exceeds the ${count} images per domain of the source`);
  }
  const n = options.samples ?? count;

  // Domain sequence: one entry per segment (gradual repeats corruptions with its severity sequence).
  const base =
    options.domains?.map((d) => ({ ...d })) ??
    (options.corruptions ?? BENCHMARK_CORRUPTIONS).flatMap((corruption) => (options.severities ?? [5]).map((severity) => ({ corruption, severity })));
  if (base.length === 0) throw new DatasetError('corruptions', 'no domains (empty corruption or severity list)');
  base.forEach(checkDomain);
  const seen = new Set<string>();
  for (const d of base) {
    if (seen.has(`${d.corruption}/${d.severity}`)) throw new DatasetError('corruptions', `domain ${d.corruption} severity ${d.severity} is listed twice`);
    seen.add(`${d.corruption}/${d.severity}`);
  }
  const sequence: DomainTag[] =
    schedule === 'gradual'
      ? [...new Set(base.map((d) => d.corruption))].flatMap((corruption) =>
          (protocol.params.sequence as number[]).map((s) => ({ corruption, severity: s as Severity })),
        )
      : base;
  const domains: DomainTag[] = [];
  const key = (d: DomainTag): string => `${d.corruption}/${d.severity}`;
  const idOf = new Map<string, number>();
  const seqIds = sequence.map((d) => {
    let id = idOf.get(key(d));
    if (id === undefined) {
      id = domains.length;
      idOf.set(key(d), id);
      domains.push(d);
    }
    return id;
  });

  const segments: PlanSegment[] = [];
  const eachShift = protocol.reset === 'each_shift';
  if (schedule === 'sequential' || schedule === 'gradual') {
    for (let s = 0; s < sequence.length; s++) {
      const rng = new Rng(deriveSeed(seed, 'order'));
      const selection = selectSamples(count, n, rng);
      const indices = orderWithin(protocol, selection, labels, numClasses, rng);
      segments.push({ domain: seqIds[s], reset: s === 0 || eachShift, indices, domainIds: new Uint16Array(indices.length).fill(seqIds[s]) });
    }
  } else if (schedule === 'mixed') {
    const selection = selectSamples(count, n, new Rng(deriveSeed(seed, 'order')));
    const total = selection.length * seqIds.length;
    const perm = new Rng(deriveSeed(seed, 'mixed'));
    const order = perm.permutation(total);
    const mixedLabels = new Int32Array(total);
    for (let i = 0; i < total; i++) mixedLabels[i] = labels[selection[order[i] % selection.length]];
    const correlation = protocol.params.correlation;
    const positions =
      correlation === 'label_sorted'
        ? labelSortedOrder(identity(total), mixedLabels, numClasses)
        : correlation === 'dirichlet'
          ? dirichletOrder(identity(total), mixedLabels, numClasses, protocol.params.delta as number, perm)
          : identity(total);
    const indices = new Int32Array(total);
    const domainIds = new Uint16Array(total);
    for (let i = 0; i < total; i++) {
      const flat = order[positions[i]];
      domainIds[i] = seqIds[Math.floor(flat / selection.length)];
      indices[i] = selection[flat % selection.length];
    }
    segments.push({ domain: null, reset: true, indices, domainIds });
  } else {
    const rng = new Rng(deriveSeed(seed, 'ptta'));
    const slots = (protocol.params.slots as number) || Math.min(numClasses, 100);
    const parts = seqIds.map((id) => ({ id, order: pttaOrder(identity(n), labels, numClasses, protocol.params.gamma as number, slots, rng) }));
    const indices = new Int32Array(n * parts.length);
    const domainIds = new Uint16Array(n * parts.length);
    parts.forEach((p, i) => {
      indices.set(p.order, i * n);
      domainIds.fill(p.id, i * n, (i + 1) * n);
    });
    segments.push({ domain: null, reset: true, indices, domainIds });
  }

  const batches: BatchSpan[] = [];
  segments.forEach((seg, segment) => {
    for (let start = 0; start < seg.indices.length; start += batchSize) {
      batches.push({ segment, start, end: Math.min(start + batchSize, seg.indices.length) });
    }
  });
  // RoTTA skips a final batch of a single sample (BN statistics of one sample are degenerate).
  const last = batches[batches.length - 1];
  if (schedule === 'ptta' && batchSize > 1 && last && last.end - last.start === 1) batches.pop();
  const totalSamples = batches.reduce((a, b) => a + b.end - b.start, 0);
  return { protocol, seed, batchSize, samplesPerDomain: n, domains, segments, batches, totalSamples };
}

function orderWithin(protocol: ResolvedProtocol, selection: Int32Array, labels: Int32Array, numClasses: number, rng: Rng): Int32Array {
  switch (protocol.definition.order) {
    case 'label_sorted':
      return labelSortedOrder(selection, labels, numClasses);
    case 'dirichlet':
      return dirichletOrder(selection, labels, numClasses, protocol.params.delta as number, rng, {
        minChunkSize: protocol.params.minChunkSize as number,
        maxAttempts: protocol.params.maxAttempts as number,
      });
    default:
      return selection;
  }
}

function identity(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}
