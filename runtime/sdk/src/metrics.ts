/** Mean softmax entropy (natural log) over the rows of [N, K] logits. */
export function meanEntropy(logits: Float32Array, dims: readonly number[]): number | null {
  if (dims.length !== 2 || dims[0] === 0) return null;
  const [n, k] = dims;
  let total = 0;
  for (let r = 0; r < n; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[r * k + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[r * k + j] - max);
    const logSum = Math.log(sum);
    let h = 0;
    for (let j = 0; j < k; j++) {
      const logp = logits[r * k + j] - max - logSum;
      h -= Math.exp(logp) * logp;
    }
    total += h;
  }
  return total / n;
}
