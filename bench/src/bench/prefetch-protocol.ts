/** Messages between {@link ./prefetch.ts} and {@link ./corrupt-worker.ts}. */
import type { DomainTag } from '@edgetta/datasets';

export type ToWorker =
  | {
      type: 'init';
      images: Uint8Array;
      labels: Int32Array;
      count: number;
      height: number;
      width: number;
      numClasses: number;
      seed: number;
      /** frost / jpeg_compression are among the domains: load their assets first. */
      needsAssets: boolean;
    }
  | {
      type: 'pass';
      pass: number;
      domains: DomainTag[];
      /** Read r is domain `domains[domainOf[r]]`, images `indices[offsets[r] .. offsets[r + 1])`. */
      domainOf: Uint16Array;
      offsets: Int32Array;
      indices: Int32Array;
      /** Reads computed but not yet acknowledged, at most. */
      ahead: number;
    }
  | { type: 'ack'; pass: number; seq: number };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'chunk'; pass: number; seq: number; pixels: Uint8Array }
  | { type: 'error'; message: string };
