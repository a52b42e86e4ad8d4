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
  while (step >= 2) {
    const n = N / step; // grid points per side at this level
    const h = step >> 1;
    // fill squares: centre = mean of the 4 corners (with wrap-around) + noise. Centres only read corners,
    // so each is written as soon as it is computed (same values, same draw order as computing all first).
    for (let i = 0; i < n; i++) {
      const row = i * step * N;
      const rowDown = ((i + 1) % n) * step * N;
      for (let j = 0; j < n; j++) {
        const col = j * step;
        const colRight = ((j + 1) % n) * step;
        const a = m[row + col] + m[rowDown + col];
        const b = m[row + colRight] + m[rowDown + colRight];
        m[row + h * N + h + col] = (a + b) / 4 + wibble * rng.uniform(-wibble, wibble);
      }
    }
    // fill diamonds: the two families of edge midpoints. Both read only centres and corners, so again
    // each point is written as soon as it is computed: first every (i*step, h + j*step), then every
    // (h + i*step, j*step).
    for (let i = 0; i < n; i++) {
      const row = i * step * N;
      const centreRow = (h + i * step) * N;
      const centreRowUp = (h + ((i - 1 + n) % n) * step) * N;
      for (let j = 0; j < n; j++) {
        const dr = m[centreRow + h + j * step];
        const drUp = m[centreRowUp + h + j * step];
        const ul = m[row + j * step];
        const ulRight = m[row + ((j + 1) % n) * step];
        m[row + h + j * step] = (dr + drUp + (ul + ulRight)) / 4 + wibble * rng.uniform(-wibble, wibble);
      }
    }
    for (let i = 0; i < n; i++) {
      const row = i * step * N;
      const rowDown = ((i + 1) % n) * step * N;
      const centreRow = (h + i * step) * N;
      for (let j = 0; j < n; j++) {
        const dr = m[centreRow + h + j * step];
        const drLeft = m[centreRow + h + ((j - 1 + n) % n) * step];
        const ul = m[row + j * step];
        const ulDown = m[rowDown + j * step];
        m[centreRow + j * step] = (dr + drLeft + (ul + ulDown)) / 4 + wibble * rng.uniform(-wibble, wibble);
      }
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
