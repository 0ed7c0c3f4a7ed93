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
  return maskScoresFromStats(logits, statsInJavaScript(logits, topK), wordIds, topK, tokenOf, truncated);
}

/** The row's maximum, Σ exp(logit − max) in float64 and the ids of its top k logits (largest first, lower id first on a tie). */
function statsInJavaScript(logits: Float32Array, topK: number): { max: number; sum: number; top: number[] } {
  const size = logits.length;
  let max = -Infinity;
  for (let i = 0; i < size; i++) if (logits[i] > max) max = logits[i];
  const count = Math.max(0, Math.min(Math.floor(topK), size));
  const top: number[] = [];
  let sum = 0;
  for (let id = 0; id < size; id++) {
    const value = logits[id];
    sum += Math.exp(value - max);
    if (count === 0 || (top.length === count && value <= logits[top[count - 1]])) continue;
    let at = top.length;
    while (at > 0 && logits[top[at - 1]] < value) at--;
    top.splice(at, 0, id);
    if (top.length > count) top.pop();
  }
  return { max, sum, top };
}

/**
 * The same answer from statistics computed elsewhere (`MaskStats`): the row's
 * maximum, Σ exp(logit − max) in float64 and the ids of its top logits. Only
 * the ranks still need a pass over the row.
 */
export function maskScoresFromStats(
  logits: Float32Array,
  stats: {
    readonly max: number;
    readonly sum: number;
    readonly top: readonly number[];
    /** How many logits are larger than each of `wordIds`' own (ids within the row), when counted elsewhere. */
    readonly above?: readonly number[];
  },
  wordIds: readonly number[],
  topK: number,
  tokenOf: (id: number) => string,
  truncated: boolean,
): MaskScores {
  const size = logits.length;
  const { max, sum } = stats;
  // A NaN or +∞ logit makes the sum NaN (or the maximum infinite): every probability would be NaN.
  if (!Number.isFinite(max) || !Number.isFinite(sum) || !(sum > 0))
    return { maskFound: false, nonFinite: true, truncated, top: [], words: [] };
  const probability = (id: number): number => Math.exp(logits[id] - max) / sum;
  const ranks = stats.above && stats.above.length === wordIds.length ? stats.above.map((count) => count + 1) : ranksOf(logits, wordIds);
  const words: WordProbability[] = wordIds.map((tokenId, w) =>
    tokenId >= 0 && tokenId < size ? { tokenId, p: probability(tokenId), rank: ranks[w] } : { tokenId, p: 0, rank: size },
  );
  const count = Math.max(0, Math.min(Math.floor(topK), size));
  const top: TokenProbability[] = stats.top
    .slice(0, count)
    .map((tokenId) => ({ token: tokenOf(tokenId), tokenId, p: probability(tokenId) }));
  return { maskFound: true, truncated, top, words };
}

/**
 * 1 + the number of logits larger than each word's (an id outside the row
 * ranks last). Label words usually rank near the top, where one pass that
 * looks further only at the few logits above the lowest word is fastest; when
 * the lowest word ranks far down (an untrained model) that pass mispredicts
 * half its branches, and one branch-free count per word is faster (about
 * 30 µs a word for 30,522 logits against 100 µs). The branch-free count of
 * the lowest word tells which case this is.
 */
function ranksOf(logits: Float32Array, wordIds: readonly number[]): number[] {
  const size = logits.length;
  const own = wordIds.map((id) => (id >= 0 && id < size ? logits[id] : Infinity));
  if (own.length === 0) return [];
  const lowest = Math.min(...own);
  const aboveLowest = countAbove(logits, lowest);
  if (aboveLowest > size / 32) return own.map((value) => (value === lowest ? aboveLowest : countAbove(logits, value)) + 1);
  const above = own.map(() => 0);
  for (let id = 0; id < size; id++) {
    const value = logits[id];
    if (value > lowest) for (let w = 0; w < own.length; w++) if (value > own[w]) above[w]++;
  }
  return above.map((count) => count + 1);
}

function countAbove(logits: Float32Array, threshold: number): number {
  let count = 0;
  for (let id = 0; id < logits.length; id++) count += +(logits[id] > threshold);
  return count;
}

/** The answer for an input the model cannot score at a mask (none it sees, or more than one). */
export function maskNotFound(truncated: boolean, severalMasks = false): MaskScores {
  return { maskFound: false, ...(severalMasks ? { severalMasks: true } : {}), truncated, top: [], words: [] };
}
