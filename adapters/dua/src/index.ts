/**
 * dua: Dynamic Unsupervised Adaptation. Mirza, Micorek, Possegger & Bischof, "The Norm Must Go
 * On: Dynamic Unsupervised Domain Adaptation by Normalization", CVPR 2022. tta-spec 3.6.
 *
 * Update rule, for each incoming image t = 1, 2, ... (until `maxUpdates`):
 *   m_t = m0 * omega^t + mMin;
 *   one train-mode forward of `copies` augmented views of the image (crop + flip + rotation)
 *   updates every layer's running statistics with momentum m_t (unbiased variance);
 * then the batch is predicted in eval mode with the running statistics. No gradients, and no
 * label-based selection (the official script's report-best is an oracle; not reproduced).
 */
import { evalModeBatchNorm, Rng, sourceRunningStats, trainModeBatchNorm, type MethodDefinition } from '@edgetta/core';
import { augmentCopies } from './augment.js';
import { chwToNhwc, hwcToChw } from './layout.js';

export interface DuaOptions {
  /** Initial momentum m0. @defaultValue 0.1 */
  m0: number;
  /** Momentum decay per image. @defaultValue 0.94 */
  omega: number;
  /** Momentum floor. @defaultValue 0.005 */
  mMin: number;
  /** Augmented views per image. @defaultValue 64 */
  copies: number;
  /** Images to adapt on before the statistics freeze (the paper's T; 0 = never freeze). @defaultValue 80 */
  maxUpdates: number;
  /** Seed of the augmentation. @defaultValue 0 */
  seed: number;
}

export const dua: MethodDefinition<DuaOptions> = {
  name: 'dua',
  summary: 'Momentum-decayed running statistics from augmented views of each image (no gradients).',
  paper: 'Mirza et al., The Norm Must Go On, CVPR 2022.',
  defaults: { m0: 0.1, omega: 0.94, mMin: 0.005, copies: 64, maxUpdates: 80, seed: 0 },
  optionSpecs: {
    m0: { doc: 'initial momentum, in [0, 1]', min: 0, max: 1 },
    omega: { doc: 'momentum decay per image, in (0, 1]', greaterThan: 0, max: 1 },
    mMin: { doc: 'momentum floor, in [0, 1]', min: 0, max: 1 },
    copies: { doc: 'augmented views per image (>= 2)', min: 2, integer: true },
    maxUpdates: { doc: 'images adapted on before freezing (0 = never)', min: 0, integer: true },
    seed: { doc: 'augmentation seed', integer: true },
  },
  initLayerState: sourceRunningStats,
  initState: () => ({ 'dua.t': new Float32Array(1) }),
  passes: {
    update: {
      reads: ['mean', 'variance'],
      writes: ['mean', 'variance'],
      hyper: ['momentum'],
      norm: (args) => trainModeBatchNorm(args, args.hyper.momentum),
    },
    predict: { reads: ['mean', 'variance'], norm: evalModeBatchNorm },
  },
  async step(ctx) {
    const { options: o, batch } = ctx;
    // Imported Keras models take NHWC batches: augment in CHW, feed the views back as NHWC.
    const nhwc = batch.layout === 'NHWC';
    const [n, c, h, w] = nhwc ? [batch.dims[0], batch.dims[3], batch.dims[1], batch.dims[2]] : batch.dims;
    const per = c * h * w;
    for (let i = 0; i < n; i++) {
      const t = ctx.state.get('dua.t')[0] + 1;
      if (o.maxUpdates > 0 && t > o.maxUpdates) break;
      // One generator per image index keeps the views reproducible across batch splits.
      const rng = new Rng((o.seed * 1_000_003 + t) | 0);
      const image = batch.data.subarray(i * per, (i + 1) * per);
      const views = augmentCopies(nhwc ? hwcToChw(image, c, h, w) : image, c, h, w, o.copies, rng);
      const input = nhwc ? { data: chwToNhwc(views, o.copies, c, h, w), dims: [o.copies, h, w, c], layout: batch.layout } : { data: views, dims: [o.copies, c, h, w] };
      await ctx.run('update', { input, hyper: { momentum: o.m0 * Math.pow(o.omega, t) + o.mMin } });
      ctx.state.set('dua.t', Float32Array.of(t));
    }
    return ctx.run('predict');
  },
};
