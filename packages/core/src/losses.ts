/**
 * Losses of the gradient methods as graph pieces, written once against {@link Ops} (the ONNX
 * emitter builds them into the pass graph and the autodiff differentiates them; the reference
 * interpreter computes them in float64 for tests). Logits are `[N, K]` (the sample-selective losses)
 * or also `[N, K, H, W]` (mean entropy); entropy uses the natural log.
 */
import type { Ops } from './ops.js';

/**
 * Softmax entropy over the class axis 1, H = -sum_k p_k log p_k: `[N]` for classifier logits
 * `[N, K]`, `[N, H, W]` (one per pixel) for dense logits `[N, K, H, W]`.
 */
export function sampleEntropy<T>(ops: Ops<T>, logits: T): T {
  const logp = ops.logSoftmax(logits, 1);
  return ops.sub(ops.scalar(0), ops.reduceSum(ops.mul(ops.exp(logp), logp), [1], false));
}

/**
 * Tent: L = (1/N) sum_b H_b for a classifier; for dense logits the mean over every sample and
 * pixel (per-pixel entropy, as Tent on segmentation). Flattened first, so one graph serves any rank.
 */
export function meanEntropyLoss<T>(ops: Ops<T>, logits: T): T {
  return ops.reduceMean(ops.reshape(sampleEntropy(ops, logits), [-1]), [0], false);
}

/** E0 = factor * ln K with K the number of classes, computed in the graph from the logits. */
export function entropyThreshold<T>(ops: Ops<T>, logits: T, factor: number): T {
  return ops.mul(ops.scalar(factor), ops.log(ops.count(logits, [1])));
}

export interface MaskedLoss<T> {
  /** The loss: mean of the weighted terms over the selected samples (0 when none is selected). */
  loss: T;
  /** Per-sample selection mask `[N]` (0/1). */
  mask: T;
  /** Number of selected samples (scalar). */
  count: T;
}

/**
 * Mean of `weights * values` over the samples where `mask` is 1; 0 (with zero gradients) when the
 * mask is empty, so an empty selection is reported by `count`, never by a NaN.
 */
export function maskedMean<T>(ops: Ops<T>, values: T, mask: T, weights?: T): MaskedLoss<T> {
  const count = ops.reduceSum(mask, [0], false);
  const w = weights ? ops.mul(mask, weights) : mask;
  const loss = ops.div(ops.reduceSum(ops.mul(w, values), [0], false), ops.maximum(count, ops.scalar(1)));
  return { loss, mask, count };
}

export interface ReliableEntropyArgs<T> {
  /** Reliability threshold E0 (scalar): samples with H < E0 are kept. */
  e0: T;
  /**
   * Redundancy filter (ETA/EATA): the moving-average prediction m [K], whether it exists yet
   * (scalar 0/1), and the margin: samples whose |cos(p_b, m)| >= margin are dropped.
   */
  redundancy?: { average: T; active: T; margin: number };
  /** Weight each kept sample by exp(E0 - H_b), detached (ETA/EATA). */
  weighted?: boolean;
  /** A further per-sample mask `[N]` to intersect with (SAR's second pass keeps the first pass's set). */
  mask?: T;
}

/**
 * Sample-selective entropy (EATA's S(x) and SAR's reliable entropy): keep samples with H_b < E0,
 * optionally drop those redundant with the moving-average prediction, weight by exp(E0 - H_b),
 * average over the kept samples. Filters and weights carry no gradient.
 */
export function reliableEntropyLoss<T>(ops: Ops<T>, logits: T, args: ReliableEntropyArgs<T>): MaskedLoss<T> & { entropy: T; probs: T } {
  const h = sampleEntropy(ops, logits);
  const hd = ops.stopGradient(h);
  let mask = ops.less(hd, args.e0);
  if (args.mask) mask = ops.mul(mask, args.mask);
  const probs = ops.stopGradient(ops.softmax(logits, 1));
  if (args.redundancy) {
    const { average, active, margin } = args.redundancy;
    const dot = ops.reduceSum(ops.mul(probs, average), [1], false);
    const norms = ops.mul(ops.sqrt(ops.reduceSum(ops.mul(probs, probs), [1], false)), ops.sqrt(ops.reduceSum(ops.mul(average, average), [0], false)));
    // torch.nn.functional.cosine_similarity: x.y / max(|x||y|, 1e-8).
    const cos = ops.div(dot, ops.maximum(norms, ops.scalar(1e-8)));
    const diverse = ops.less(ops.abs(cos), ops.scalar(margin));
    // Before the first average exists (active = 0) every reliable sample counts.
    mask = ops.mul(mask, ops.add(ops.sub(ops.scalar(1), active), ops.mul(active, diverse)));
  }
  const weights = args.weighted ? ops.stopGradient(ops.exp(ops.sub(args.e0, hd))) : undefined;
  return { ...maskedMean(ops, h, mask, weights), entropy: hd, probs };
}

/** Soft cross-entropy to given targets `[N, K]` (e.g. a teacher's probabilities): mean_b -sum_k t_bk log p_bk, optionally weighted per sample. */
export function softCrossEntropyLoss<T>(ops: Ops<T>, logits: T, targets: T, weights?: T): T {
  const ce = ops.sub(ops.scalar(0), ops.reduceSum(ops.mul(ops.stopGradient(targets), ops.logSoftmax(logits, 1)), [1], false));
  return ops.reduceMean(weights ? ops.mul(ce, ops.stopGradient(weights)) : ce, [0], false);
}

/** Cross-entropy to the model's own argmax labels, mean_b -max_k log p_bk (EATA's Fisher loss). */
export function argmaxCrossEntropyLoss<T>(ops: Ops<T>, logits: T): T {
  return ops.reduceMean(ops.sub(ops.scalar(0), ops.reduceMax(ops.logSoftmax(logits, 1), [1], false)), [0], false);
}

/** A quadratic anchor: coefficient * sum_j F_j (theta_j - theta0_j)^2 over all terms (EATA's Fisher regularizer). */
export function anchorPenalty<T>(ops: Ops<T>, terms: readonly { param: T; anchor: T; weight: T }[], coefficient: number): T {
  let total: T | undefined;
  for (const { param, anchor, weight } of terms) {
    const d = ops.sub(param, anchor);
    const s = ops.reduceSum(ops.mul(weight, ops.mul(d, d)), [0], false);
    total = total === undefined ? s : ops.add(total, s);
  }
  return ops.mul(ops.scalar(coefficient), total ?? ops.scalar(0));
}
