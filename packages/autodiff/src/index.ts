export { differentiate, STOP_GRADIENT, type DifferentiateOptions, type DifferentiateResult } from './grad.js';
export { gradRules, nonDifferentiable, type GradRule, type RuleArgs } from './rules/index.js';
export { Emitter } from './emit.js';
export { inferShapes, broadcastShapes, type Shape, type ShapeInfo, type Folded } from './shapes.js';
