/**
 * Mean softmax entropy (natural log) over the class axis 1 of logits [N, K] or dense logits
 * [N, K, ...] (averaged over samples and positions); null for other ranks or an empty batch.
 */
export function meanEntropy(logits: Float32Array, dims: readonly number[]): number | null {
  if (dims.length < 2 || dims[0] === 0) return null;
  const [n, k] = dims;
  const inner = dims.slice(2).reduce((a, b) => a * b, 1);
  let total = 0;
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < inner; p++) {
      const at = (j: number) => logits[(b * k + j) * inner + p];
      let max = -Infinity;
      for (let j = 0; j < k; j++) max = Math.max(max, at(j));
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(at(j) - max);
      const logSum = Math.log(sum);
      let h = 0;
      for (let j = 0; j < k; j++) {
        const logp = at(j) - max - logSum;
        h -= Math.exp(logp) * logp;
      }
      total += h;
    }
  }
  return total / (n * inner);
}
