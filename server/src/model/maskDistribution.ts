import type { MaskScores, TokenProbability, WordProbability } from '../language/scores';

/**
 * From the logits at the mask to what the preview shows: the softmax over the
 * whole vocabulary, the top tokens and the probability and rank of each label
 * word. The logits are float32 as the model gives them; the sums run in
 * float64 after subtracting the maximum, so neither a large logit overflows
 * nor 50,000 small terms lose precision.
 */
export function maskScoresFromLogits(
  logits: Float32Array,
  wordIds: readonly number[],
  topK: number,
  tokenOf: (id: number) => string,
  truncated: boolean,
): MaskScores {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const probability = (id: number): number => Math.exp(logits[id] - max) / sum;

  const words: WordProbability[] = wordIds.map((tokenId) => {
    if (!(tokenId >= 0 && tokenId < logits.length)) return { tokenId, p: 0, rank: logits.length };
    // The rank is computed on the logits, which order tokens as the probabilities do.
    const own = logits[tokenId];
    let above = 0;
    for (let i = 0; i < logits.length; i++) if (logits[i] > own) above++;
    return { tokenId, p: probability(tokenId), rank: above + 1 };
  });

  const top: TokenProbability[] = topIds(logits, topK).map((tokenId) => ({ token: tokenOf(tokenId), tokenId, p: probability(tokenId) }));
  return { maskFound: true, truncated, top, words };
}

/** The ids of the k largest logits, largest first, lower id first on a tie: one pass with a small sorted list. */
function topIds(logits: Float32Array, k: number): number[] {
  const count = Math.max(0, Math.min(Math.floor(k), logits.length));
  const best: number[] = [];
  for (let id = 0; id < logits.length; id++) {
    const value = logits[id];
    if (best.length === count && (count === 0 || value <= logits[best[count - 1]])) continue;
    let at = best.length;
    while (at > 0 && logits[best[at - 1]] < value) at--;
    best.splice(at, 0, id);
    if (best.length > count) best.pop();
  }
  return best;
}

/** The answer for an input the model cannot score at a mask. */
export function maskNotFound(truncated: boolean): MaskScores {
  return { maskFound: false, truncated, top: [], words: [] };
}
