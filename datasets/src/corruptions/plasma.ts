/**
 * The reference's plasma_fractal (a modification of FLHerne/mapgen diamondsquare.py) used by fog:
 * diamond-square on a toroidal mapsize x mapsize grid (mapsize a power of two), starting with
 * wibble = 100 and dividing it by `wibbleDecay` after each level; each new point is the mean of its
 * four neighbours plus wibble * U(-wibble, wibble); the result is shifted and scaled to [0, 1].
 *
 * RNG: per level (step = mapsize, mapsize/2, ..., 2), one rng.uniform(-wibble, wibble) per point, in
 * row-major order of: the square centres (rows step/2 + i*step, cols step/2 + j*step), then the points
 * (rows i*step, cols step/2 + j*step), then the points (rows step/2 + i*step, cols j*step).
 */
import type { Rng } from '../rng.js';

export function plasmaFractal(mapsize: number, wibbleDecay: number, rng: Rng): Float64Array {
  if (mapsize < 2 || (mapsize & (mapsize - 1)) !== 0) throw new RangeError(`plasmaFractal: mapsize must be a power of two >= 2, got ${mapsize}`);
  const N = mapsize;
  const m = new Float64Array(N * N);
  let step = N;
  let wibble = 100;
  const half = (): number => step >> 1;
  while (step >= 2) {
    const n = N / step; // grid points per side at this level
    const h = half();
    // fill squares: centre = mean of the 4 corners (with wrap-around) + noise
    const centres = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const i1 = (i + 1) % n;
        const j1 = (j + 1) % n;
        const a = m[i * step * N + j * step] + m[i1 * step * N + j * step];
        const b = m[i * step * N + j1 * step] + m[i1 * step * N + j1 * step];
        centres[i * n + j] = a + b;
      }
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) m[(h + i * step) * N + h + j * step] = centres[i * n + j] / 4 + wibble * rng.uniform(-wibble, wibble);
    }
    // fill diamonds: the two families of edge midpoints
    const top = new Float64Array(n * n);
    const left = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const dr = m[(h + i * step) * N + h + j * step];
        const drUp = m[(h + ((i - 1 + n) % n) * step) * N + h + j * step];
        const drLeft = m[(h + i * step) * N + h + ((j - 1 + n) % n) * step];
        const ul = m[i * step * N + j * step];
        const ulRight = m[i * step * N + ((j + 1) % n) * step];
        const ulDown = m[((i + 1) % n) * step * N + j * step];
        top[i * n + j] = dr + drUp + (ul + ulRight);
        left[i * n + j] = dr + drLeft + (ul + ulDown);
      }
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) m[i * step * N + h + j * step] = top[i * n + j] / 4 + wibble * rng.uniform(-wibble, wibble);
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) m[(h + i * step) * N + j * step] = left[i * n + j] / 4 + wibble * rng.uniform(-wibble, wibble);
    }
    step >>= 1;
    wibble /= wibbleDecay;
  }
  let min = Infinity;
  for (let i = 0; i < m.length; i++) if (m[i] < min) min = m[i];
  let max = -Infinity;
  for (let i = 0; i < m.length; i++) {
    m[i] -= min;
    if (m[i] > max) max = m[i];
  }
  for (let i = 0; i < m.length; i++) m[i] /= max;
  return m;
}
