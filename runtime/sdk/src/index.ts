export { AdaptiveSession, type AdaptiveSessionOptions, type SessionSnapshot, type SessionStats } from './session.js';
export { resolveGuard, type GuardOptions, type GuardStats } from './guard.js';
export { builtinMethods, registerBuiltinMethods } from './builtins.js';
export { meanEntropy } from './metrics.js';
export { inputLayoutOf, INPUT_LAYOUT_KEY, type ModelSource } from './load.js';
export { liveSessions } from '@edgetta/engine';
export { registerMethod, getMethod, Rng, type MethodDefinition, type Ops, type LayerSource, type StepContext } from '@edgetta/core';
import { listMethods as list } from '@edgetta/core';
import { registerBuiltinMethods } from './builtins.js';

/** Names of the registered methods (built-ins included). */
export function listMethods(): string[] {
  registerBuiltinMethods();
  return list();
}
export { restoreBatchNorm, recoverNorms, RecoveryError, checkCalibration, type CalibrationBatch, type RestoreOptions, type RecoveryReport } from './recover.js';
export { annotateShapes } from './prepare.js';
