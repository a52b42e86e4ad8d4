/**
 * Normalization sites: the places in a model where a method can act. A site kind says what a
 * layer normalizes over and what it keeps; a method declares the kinds it adapts
 * (`MethodDefinition.appliesTo`), and the session refuses a model that has none of them with the
 * kinds it found and the methods that do apply.
 */

/**
 * - `batch-norm`: statistics over N and the spatial axes, with running statistics (BatchNormalization).
 * - `layer-norm`: per sample, over trailing axes; no running statistics (LayerNormalization).
 * - `group-norm`: per sample and channel group; no running statistics (GroupNormalization).
 * - `instance-norm`: per sample and channel over the spatial axes; no running statistics.
 */
export type SiteKind = 'batch-norm' | 'layer-norm' | 'group-norm' | 'instance-norm';

export const SITE_KINDS: readonly SiteKind[] = ['batch-norm', 'layer-norm', 'group-norm', 'instance-norm'];

/**
 * What a model's first output is, from its rank: `classifier` logits `[N, K]`, or `dense` logits
 * `[N, K, ...spatial]` (segmentation: one class distribution per pixel).
 */
export type OutputKind = 'classifier' | 'dense';

export function outputKindOf(rank: number | undefined): OutputKind | undefined {
  return rank === 2 ? 'classifier' : rank !== undefined && rank >= 3 ? 'dense' : undefined;
}

/** What a method can be applied to. */
export interface Applicability {
  /**
   * Output kinds the method's loss and bookkeeping understand (per-sample selection, class
   * memories and balanced banks need one class distribution per sample).
   * @defaultValue ['classifier', 'dense']
   */
  outputs?: readonly OutputKind[];
  /**
   * Site kinds the method adapts; the model needs at least one such site. `'any'`: the method
   * needs no site (it runs on any model, e.g. `source`). Sites of other kinds stay as exported.
   * @defaultValue ['batch-norm']
   */
  sites: readonly SiteKind[] | 'any';
}

/** How many sites of each kind a model has. */
export type SiteCounts = Partial<Record<SiteKind, number>>;

/** The sites a method adapts, and whether the model has any. */
export function applies(rule: Applicability | undefined, found: SiteCounts, output?: OutputKind): boolean {
  const sites = rule?.sites ?? ['batch-norm'];
  if (output && rule?.outputs && !rule.outputs.includes(output)) return false;
  return sites === 'any' || sites.some((k) => (found[k] ?? 0) > 0);
}

/** 'batch-norm x19, layer-norm x2', or 'no normalization layer'. */
export function describeSites(found: SiteCounts): string {
  const parts = SITE_KINDS.filter((k) => (found[k] ?? 0) > 0).map((k) => `${k} x${found[k]}`);
  return parts.length ? parts.join(', ') : 'no normalization layer';
}
