import type { PassOutput, StepContext } from './method.js';

/** The step of a method that runs its 'predict' pass once and answers with it. */
export function predictOnce<O>(ctx: StepContext<O>): Promise<PassOutput> {
  return ctx.run('predict');
}
