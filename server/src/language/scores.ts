import type { Aggregation, MultiTokenHandler } from './options';

/**
 * The numbers the editor shows, as docs/language.md defines them ("Meaning of
 * the numbers"): from the model's probabilities of the label words at the mask
 * to label probabilities, calibrated probabilities and the ensemble over
 * patterns. Pure arithmetic on plain arrays, so the same code serves the
 * lenses, the hovers and `cloze preview`, and tests can check it by hand.
 *
 * Distributions over labels are arrays aligned with the verbalizer's label
 * order; `toRecord` turns one into `{ label: P }` for JSON.
 */

/** The probability of one vocabulary token at the mask. */
export interface TokenProbability {
  readonly token: string;
  readonly tokenId: number;
  readonly p: number;
}

/** The probability of a requested token (a label word) at the mask, and its rank in the vocabulary. */
export interface WordProbability {
  readonly tokenId: number;
  readonly p: number;
  /** 1 for the most probable token of the whole vocabulary; tokens with equal probability share a rank. */
  readonly rank: number;
}

/** What the model says at the mask of one input. */
export interface MaskScores {
  /** False when the input has no mask token the model can see, or no numbers came for it (`nonFinite`); `top` and `words` are then empty. */
  readonly maskFound: boolean;
  /**
   * True when the model's logits at the mask were not all numbers for this input (a NaN or +∞:
   * broken weights, or an overflow on this input). No probability can be computed, so the input
   * is not scored, as one whose mask was cut off, rather than shown as a tie.
   */
  readonly nonFinite?: boolean;
  /**
   * True when the input holds the mask token more than once: its text (an example, a data row) has
   * the model's mask token in it, so which mask is the pattern's cannot be told, and the input is
   * not scored rather than scored at the text's mask.
   */
  readonly severalMasks?: boolean;
  /** True when the input was longer than the model reads and text away from the mask was cut. */
  readonly truncated: boolean;
  /** The most probable tokens, best first. */
  readonly top: readonly TokenProbability[];
  /** One entry per requested token id, in the order requested. */
  readonly words: readonly WordProbability[];
}

/**
 * Anything that scores inputs at their mask: the in-process engine, the
 * worker, or a test double. `inputs` already contain the model's mask token.
 */
export type Scorer = (inputs: readonly string[], wordIds: readonly number[], topK: number) => Promise<MaskScores[]>;

/** s(L) = Σ p(w | x) over the label words of each label. */
export function labelScores(wordProbabilities: readonly (readonly number[])[]): number[] {
  return wordProbabilities.map((ps) => ps.reduce((sum, p) => sum + p, 0));
}

/**
 * Renormalises non-negative weights into a distribution. When they carry no
 * information (all zero: no label word was scorable, or every probability
 * underflowed) the answer is uniform, the distribution that claims nothing,
 * rather than NaN.
 */
export function normalize(weights: readonly number[]): number[] {
  const total = weights.reduce((sum, w) => sum + w, 0);
  if (!(total > 0) || !Number.isFinite(total)) return weights.map(() => 1 / weights.length);
  return weights.map((w) => w / total);
}

/** P(L | x) = s(L) / Σ s(L'). */
export function labelProbabilities(scores: readonly number[]): number[] {
  return normalize(scores);
}

/**
 * Contextual calibration (Zhao et al. 2021): P̂(L | x) ∝ P(L | x) / P₀(L),
 * where P₀ is the pattern's distribution on the content-free input.
 *
 * A label the prior gives exactly zero would get an infinite weight. That is
 * the limit of a tiny prior, so such labels (when x gives them any mass) take
 * all the calibrated mass, shared in proportion to P(L | x); labels with zero
 * probability under both stay at zero.
 */
export function calibrate(probabilities: readonly number[], prior: readonly number[]): number[] {
  const unbounded = probabilities.map((p, i) => p > 0 && !(prior[i] > 0));
  if (unbounded.some(Boolean)) return normalize(probabilities.map((p, i) => (unbounded[i] ? p : 0)));
  return normalize(probabilities.map((p, i) => (p > 0 ? p / prior[i] : 0)));
}

/** The mean of several distributions over the same labels (the ensemble over patterns); [] when there are none. */
export function ensemble(distributions: readonly (readonly number[])[]): number[] {
  const [first] = distributions;
  if (first === undefined) return [];
  return first.map((_, i) => distributions.reduce((sum, d) => sum + d[i], 0) / distributions.length);
}

/** The index of the most probable label (the first on a tie), or -1 for an empty distribution. */
export function argmax(distribution: readonly number[]): number {
  let best = -1;
  for (let i = 0; i < distribution.length; i++) {
    if (best < 0 || distribution[i] > distribution[best]) best = i;
  }
  return best;
}

/** `{ label: P }` in label order, for JSON and the protocol. */
export function toRecord(labels: readonly string[], distribution: readonly number[]): Record<string, number> {
  const record: Record<string, number> = {};
  labels.forEach((label, i) => (record[label] = distribution[i]));
  return record;
}

/**
 * The log-probability a label word of several tokens is scored with at the
 * one mask, from its tokens' log-probabilities there (OpenPrompt's
 * `multi_token_handler`). A logit and a log-probability differ by the same
 * constant for every token of the vocabulary, so handling either gives the
 * same word score up to that constant: the label probabilities are the same.
 */
export function handleMultiToken(tokenLogProbabilities: readonly number[], handler: MultiTokenHandler): number {
  switch (handler) {
    case 'first':
      return tokenLogProbabilities[0];
    case 'max':
      return Math.max(...tokenLogProbabilities);
    case 'mean':
      return tokenLogProbabilities.reduce((sum, lp) => sum + lp, 0) / tokenLogProbabilities.length;
  }
}

/** OpenPrompt adds this to the label-word probabilities before taking their logarithm. */
const OPENPROMPT_EPSILON = 1e-15;

/**
 * P(L | x) from the log-probabilities log p(w | x) of each label's distinct
 * words, by the verbalizer's aggregation rule (docs/language.md §6):
 *
 * - `sum`: P(L) ∝ Σ_w p(w | x), the v1 rule (`labelScores`, `labelProbabilities`);
 * - `mean-logit` (PET): P(L) = softmax over labels of the mean of the words' logits;
 * - `mean-logprob` (OpenPrompt ManualVerbalizer): the words' logits are
 *   softmaxed over all label words of all labels, q(w); then
 *   P(L) = softmax over labels of the mean of log(q(w) + 1e-15).
 *
 * Logits are log p + log Z with the same Z for every token, and a softmax
 * over labels does not change when every label's score moves by the same
 * amount, so both mean rules can be computed from log-probabilities exactly.
 * A label without a scorable word gets probability 0 (uniform when no label has one).
 */
export function aggregateLabels(rule: Aggregation, wordLogProbabilities: readonly (readonly number[])[]): number[] {
  if (rule === 'sum') return labelProbabilities(labelScores(wordLogProbabilities.map((lps) => lps.map(Math.exp))));
  let perWord = wordLogProbabilities;
  if (rule === 'mean-logprob') {
    const all = wordLogProbabilities.flat();
    const total = logSumExp(all);
    perWord = wordLogProbabilities.map((lps) => lps.map((lp) => Math.log(Math.exp(lp - total) + OPENPROMPT_EPSILON)));
  }
  const means = perWord.map((lps) => (lps.length === 0 ? -Infinity : lps.reduce((sum, lp) => sum + lp, 0) / lps.length));
  return softmax(means);
}

/** log Σ exp(x), stable; -Infinity for no terms or only -Infinity. */
export function logSumExp(values: readonly number[]): number {
  const max = Math.max(...values);
  if (!Number.isFinite(max)) return max;
  return max + Math.log(values.reduce((sum, v) => sum + Math.exp(v - max), 0));
}

/** A softmax that is uniform when every score is -Infinity (no label has a scorable word). */
export function softmax(scores: readonly number[]): number[] {
  const total = logSumExp(scores);
  if (!Number.isFinite(total)) return scores.map(() => 1 / scores.length);
  return scores.map((s) => Math.exp(s - total));
}

/**
 * Support-set calibration (OpenPrompt's `calibrate` on a support set): the
 * prior P₀ is the mean of P(L | x) over real, unlabelled inputs (the file's
 * examples and the data rows, their labels ignored) instead of the one
 * content-free input. It divides out how much the pattern favours a label on
 * the inputs it actually sees. `calibrate` then applies it as for the
 * content-free prior; [] when there are no inputs.
 */
export function supportPrior(distributions: readonly (readonly number[])[]): number[] {
  return ensemble(distributions);
}

/**
 * The ensemble weighted per pattern, as PET's `wmean` weights each pattern by
 * its accuracy on the labelled training examples. Weights that carry nothing
 * (all zero, none given) fall back to the plain mean.
 */
export function weightedEnsemble(distributions: readonly (readonly number[])[], weights: readonly number[]): number[] {
  const [first] = distributions;
  if (first === undefined) return [];
  const total = weights.reduce((sum, w) => sum + (w > 0 ? w : 0), 0);
  if (!(total > 0)) return ensemble(distributions);
  return first.map((_, i) => distributions.reduce((sum, d, p) => sum + (weights[p] > 0 ? weights[p] : 0) * d[i], 0) / total);
}

/**
 * Label words exchanged between labels (the "swap test"): label i gets the
 * words of label i + 1 (for two labels, the words are swapped). Since
 * P(L | x) only depends on the sum of each label's word probabilities, the
 * swapped verbalizer's distribution is this rotation of the original one; a
 * calibrated distribution rotates the same way, its prior rotating with it.
 */
export function swapLabelWords(distribution: readonly number[]): number[] {
  return distribution.map((_, i) => distribution[(i + 1) % distribution.length]);
}

/** Precision, recall and F1 of one label; precision (recall) is 0 when nothing is predicted as (labelled) it, as scikit-learn counts. */
export interface LabelFigures {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Rows whose gold label it is. */
  readonly support: number;
  /** Rows predicted as it. */
  readonly predicted: number;
}

export interface ClassificationFigures {
  /** Share of rows predicted right; null when there are none. */
  readonly accuracy: number | null;
  /**
   * Mean F1 over the labels that occur as gold or as prediction (scikit-learn's
   * default `labels`): a label never seen on either side cannot be judged.
   */
  readonly macroF1: number | null;
  /** In label order. */
  readonly perLabel: readonly LabelFigures[];
}

/** Accuracy, macro-F1 and per-label figures of predictions against gold labels (indices into the label order; -1 predicts nothing). */
export function classificationFigures(gold: readonly number[], predicted: readonly number[], labelCount: number): ClassificationFigures {
  const truePositives = new Array<number>(labelCount).fill(0);
  const support = new Array<number>(labelCount).fill(0);
  const predictedAs = new Array<number>(labelCount).fill(0);
  let right = 0;
  gold.forEach((g, i) => {
    const p = predicted[i];
    if (g >= 0 && g < labelCount) support[g]++;
    if (p >= 0 && p < labelCount) predictedAs[p]++;
    if (g === p && g >= 0) {
      right++;
      truePositives[g]++;
    }
  });
  const perLabel = support.map((s, l) => {
    const precision = predictedAs[l] > 0 ? truePositives[l] / predictedAs[l] : 0;
    const recall = s > 0 ? truePositives[l] / s : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support: s, predicted: predictedAs[l] };
  });
  const seen = perLabel.filter((figures) => figures.support > 0 || figures.predicted > 0);
  return {
    accuracy: gold.length === 0 ? null : right / gold.length,
    macroF1: seen.length === 0 ? null : seen.reduce((sum, figures) => sum + figures.f1, 0) / seen.length,
    perLabel,
  };
}
