import type { CorruptionName, Severity } from '../corruptions/types.js';
import type { Preprocess } from '../loaders/preprocess.js';

/** One test domain: a corruption at a severity. */
export interface DomainTag {
  corruption: CorruptionName;
  severity: Severity;
}

/** Plain-JSON description of an {@link ImageSource}, copied into manifests. */
export interface SourceManifest {
  /** 'generated' (corruptions applied on the fly) or 'cifar-c' (arrays read from disk). */
  kind: string;
  description: string;
  /** Images per domain in the source. */
  count: number;
  height: number;
  width: number;
  numClasses: number;
  /** sha256 of the underlying data file(s) when known. */
  sha256?: string | Record<string, string>;
  /** Seed and scheme of generated corruptions (kind 'generated'). */
  corruptionSeed?: number;
  seeding?: string;
  [key: string]: unknown;
}

/**
 * Images of every domain, by index: the same `count` base images (with the same labels) under
 * each corruption and severity, as in CIFAR-10-C. Streams only ever ask for the images of the
 * batch being built.
 */
export interface ImageSource {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  /** Label of base image i (the same in every domain). */
  readonly labels: Int32Array;
  readonly manifest: SourceManifest;
  /** Writes the packed HWC uint8 pixels of images `indices` under `domain` into `out`, in order. */
  read(domain: DomainTag, indices: Int32Array, out: Uint8Array): Promise<void>;
  /** Checks up front that every domain can be read (opens files); throws a DatasetError naming the file. */
  prepare?(domains: readonly DomainTag[]): Promise<void>;
  close?(): Promise<void>;
}

/** One batch of a stream. */
export interface StreamBatch {
  /** Position of the batch in the stream (0-based). */
  index: number;
  /** Preprocessed images, float32, laid out as `shape` (NCHW [n, 3, H, W] by default). */
  images: Float32Array;
  shape: [number, number, number, number];
  /** The same images as packed HWC RGB uint8 (exact CIFAR-10-C pixels). */
  pixels: Uint8Array;
  labels: Int32Array;
  /** Index of each sample in the source (0..count-1; the CIFAR-10 test index). */
  indices: Int32Array;
  /** Per sample, its domain as an index into `manifest.domains`. */
  domainIds: Uint16Array;
  /** The domain of every sample, or null when the batch mixes domains (mixed_domains, ptta). */
  domain: DomainTag | null;
  /** Index into `manifest.segments`. */
  segment: number;
  /** The runner must reset the method (model, optimizer, method state) before this batch. */
  reset: boolean;
  /** First batch of a segment. Informational: continual protocols do not tell the method. */
  segmentStart: boolean;
}

export type ResetPolicy = 'each_shift' | 'once';

/** One contiguous part of a stream: a domain's samples in protocol order (or several domains mixed). */
export interface SegmentManifest {
  /** Index into `domains`, or null when the segment mixes domains. */
  domain: number | null;
  samples: number;
  /** A reset happens before the segment's first batch. */
  reset: boolean;
}

/** Everything needed to regenerate a stream; plain JSON, carried by every result. */
export interface ProtocolManifest {
  format: 'edgetta.stream/1';
  protocol: string;
  /** Resolved protocol parameters, defaults included. */
  params: Record<string, number | string | boolean | number[]>;
  seed: number;
  batchSize: number;
  /** Samples taken from each domain (all of the source when not limited). */
  samplesPerDomain: number;
  totalSamples: number;
  numBatches: number;
  reset: ResetPolicy;
  /** Distinct domains in first-appearance order; `domainIds` and segments index into it. */
  domains: DomainTag[];
  /** Stream order of segments. */
  segments: SegmentManifest[];
  preprocess: Preprocess;
  source: SourceManifest;
  /** How the stream consumes random numbers (see docs/datasets.md). */
  rng: { generator: string; order: string };
}
