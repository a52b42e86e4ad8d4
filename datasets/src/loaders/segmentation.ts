/**
 * Segmentation data and metrics: a labelled set of images with one class per pixel, and a
 * confusion matrix over pixels from dense logits `[N, K, H, W]` (argmax over the class axis),
 * giving mean IoU and pixel accuracy with an ignored label (void) left out of both.
 */
import type { SourceInfo } from './types.js';

/** `count` RGB images (packed HWC uint8, as LabeledImages) and their label maps (one uint8 class per pixel). */
export interface SegmentationSet {
  images: Uint8Array;
  masks: Uint8Array;
  count: number;
  height: number;
  width: number;
  /** Classes 0..numClasses-1 count in the metrics; `ignoreIndex` (void) does not. */
  numClasses: number;
  ignoreIndex: number;
  classNames?: string[];
  source: SourceInfo;
}

/** Per-class IoU, mean IoU over the classes present, and pixel accuracy. */
export interface SegmentationScores {
  /** Mean over classes that occur in the labels or the predictions, a fraction. */
  miou: number;
  /** Correct pixels / labelled pixels, a fraction. */
  pixelAccuracy: number;
  /** IoU per class, NaN for a class neither labelled nor predicted. */
  iou: number[];
  /** Labelled (non-ignored) pixels counted. */
  pixels: number;
}

/** A K x K pixel confusion matrix (rows: label, columns: prediction), accumulated batch by batch. */
export class ConfusionMatrix {
  readonly counts: Float64Array;

  constructor(readonly numClasses: number, readonly ignoreIndex = 255) {
    if (!Number.isInteger(numClasses) || numClasses < 2) throw new RangeError(`ConfusionMatrix: numClasses must be an integer >= 2, got ${numClasses}`);
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /** Adds a batch: `logits` [N, K, H, W] (K = numClasses), `labels` N*H*W classes. */
  add(logits: Float32Array, dims: readonly number[], labels: ArrayLike<number>): void {
    const [n, k, h, w] = dims;
    if (dims.length !== 4 || k !== this.numClasses) throw new RangeError(`ConfusionMatrix.add: logits must be [N, ${this.numClasses}, H, W], got [${dims.join(', ')}]`);
    const plane = h * w;
    if (labels.length !== n * plane) throw new RangeError(`ConfusionMatrix.add: ${labels.length} labels for ${n} maps of ${h}x${w}`);
    for (let b = 0; b < n; b++) {
      for (let p = 0; p < plane; p++) {
        const y = labels[b * plane + p];
        if (y === this.ignoreIndex) continue;
        if (!(y >= 0 && y < k)) throw new RangeError(`ConfusionMatrix.add: label ${y} at pixel ${b * plane + p} is outside [0, ${k}) and is not the ignored ${this.ignoreIndex}`);
        let best = 0;
        let max = logits[b * k * plane + p];
        for (let c = 1; c < k; c++) {
          const v = logits[(b * k + c) * plane + p];
          if (v > max) ((max = v), (best = c));
        }
        this.counts[y * k + best]++;
      }
    }
  }

  scores(): SegmentationScores {
    const k = this.numClasses;
    const iou: number[] = [];
    let correct = 0;
    let total = 0;
    for (let c = 0; c < k; c++) {
      let row = 0;
      let col = 0;
      for (let j = 0; j < k; j++) ((row += this.counts[c * k + j]), (col += this.counts[j * k + c]));
      const tp = this.counts[c * k + c];
      correct += tp;
      total += row;
      const union = row + col - tp;
      iou.push(union > 0 ? tp / union : NaN);
    }
    const present = iou.filter((v) => !Number.isNaN(v));
    return { miou: present.reduce((a, b) => a + b, 0) / Math.max(1, present.length), pixelAccuracy: total ? correct / total : NaN, iou, pixels: total };
  }
}
