import { activationRules } from './activations.js';
import { elementwiseRules } from './elementwise.js';
import { nnRules } from './nn.js';
import { reduceRules } from './reduce.js';
import { resizeRules } from './resize.js';
import { shapeRules } from './shape.js';
import type { GradRule } from './types.js';

export type { GradRule, RuleArgs } from './types.js';

/** Every gradient rule, by ONNX op type (default domain). One rule per op. */
export const gradRules: Readonly<Record<string, GradRule>> = Object.freeze({
  ...elementwiseRules,
  ...activationRules,
  ...reduceRules,
  ...nnRules,
  ...shapeRules,
  ...resizeRules,
});

/**
 * Ops whose outputs carry no gradient (shapes, comparisons, indices, piecewise-constant maps):
 * values computed by them are constants for the backward pass, as the method subgraphs' counts
 * (Shape/Gather/ReduceProd/Cast) and masks (Less/Cast) are.
 */
export const nonDifferentiable: ReadonlySet<string> = new Set([
  'Shape', 'Size', 'Constant', 'ConstantOfShape', 'Range', 'NonZero', 'ArgMax', 'ArgMin',
  'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf',
  'Floor', 'Ceil', 'Round', 'Sign', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'EyeLike',
  'OneHot',
]);
