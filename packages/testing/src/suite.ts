import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { MethodDefinition } from '@edgetta/core';
import { checkPassAgainstReference } from './reference-check.js';
import { randomInput, smallCnn } from './models.js';
import { readNpyFile } from './npy.js';

/** `../shared` next to the repository (as laid out for sessions and CI). */
export const sharedDir = fileURLToPath(new URL('../../../../shared/', import.meta.url));
export const resnetPath = `${sharedDir}models/resnet20-cifar10.onnx`;
export const goldenDir = `${sharedDir}fixtures/resnet20-golden/`;

/** The golden noisy input batch [256, 3, 32, 32] (first `n` images). */
export function goldenInput(n = 256): Float32Array {
  return (readNpyFile(`${goldenDir}input.npy`).data as Float32Array).slice(0, n * 3072);
}

export interface PassCase {
  pass: string;
  options?: Record<string, number>;
  hyper?: Record<string, number>;
}

/**
 * Registers tests that compile each pass of `method` and compare every normalization layer's
 * output (and written state) with the method's equations on the float64 reference interpreter:
 * on a small random CNN (incl. a depthwise conv and a rank-2 BatchNorm) and on ResNet-20.
 * Tolerance: relative error 2e-5 (float32 graph vs float64 reference).
 */
export function referenceSuite(method: MethodDefinition<any>, cases: PassCase[], tolerance = 2e-5): void {
  describe(`${method.name}: compiled normalization equals the reference equations`, () => {
    for (const c of cases) {
      const label = `${c.pass}${c.options ? ` ${JSON.stringify(c.options)}` : ''}`;
      it(`${label} on a small random CNN (batch 6)`, async () => {
        const checks = await checkPassAgainstReference(smallCnn(7), method, c.pass, { name: 'x', data: randomInput(11, [6, 3, 8, 8]), dims: [6, 3, 8, 8] }, c);
        expect(checks).toHaveLength(4);
        for (const k of checks) expect(k.relError, `layer ${k.layer}`).toBeLessThan(tolerance);
      });
      it(`${label} on ResNet-20 (batch 16, golden noisy input)`, async () => {
        const checks = await checkPassAgainstReference(new Uint8Array(fs.readFileSync(resnetPath)), method, c.pass, { name: 'input', data: goldenInput(16), dims: [16, 3, 32, 32] }, c);
        expect(checks).toHaveLength(19);
        for (const k of checks) expect(k.relError, `layer ${k.layer}`).toBeLessThan(tolerance);
      });
    }
  });
}
