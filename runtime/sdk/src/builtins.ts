import { registerMethod, registerOutputStage, type MethodDefinition, type OutputStage } from '@edgetta/core';
import { alphaBn } from '@edgetta/adapter-alpha-bn';
import { bnEma } from '@edgetta/adapter-bn-ema';
import { dua } from '@edgetta/adapter-dua';
import { norm } from '@edgetta/adapter-norm';
import { source } from '@edgetta/adapter-source';
import { unmixTns } from '@edgetta/adapter-unmix-tns';
import { tent } from '@edgetta/adapter-tent';
import { eta } from '@edgetta/adapter-eta';
import { eata } from '@edgetta/adapter-eata';
import { sar } from '@edgetta/adapter-sar';
import { rotta } from '@edgetta/adapter-rotta';
import { balancedBn } from '@edgetta/adapter-balanced-bn';
import { lameStage } from '@edgetta/adapter-lame';
import { priorStage } from '@edgetta/adapter-prior';
import { lame, presets, roid } from './presets.js';

/** The methods edgetta ships, in the order listings show them. */
export const builtinMethods: readonly MethodDefinition<any>[] = [source, norm, alphaBn, bnEma, dua, unmixTns, balancedBn, tent, eta, eata, sar, rotta, roid, lame, ...presets];

/** The output stages any method can end in (`tent+prior`, `balanced-bn+lame`). */
export const builtinStages: readonly OutputStage<any>[] = [lameStage, priorStage];

let registered = false;

/** Registers the built-in methods once (idempotent; called by AdaptiveSession.create and listMethods). */
export function registerBuiltinMethods(): void {
  if (registered) return;
  for (const m of builtinMethods) registerMethod(m);
  for (const s of builtinStages) registerOutputStage(s);
  registered = true;
}
