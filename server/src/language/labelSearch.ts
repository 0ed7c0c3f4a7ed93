import { argmax, calibrate, ensemble, labelProbabilities, labelScores, supportPrior } from './scores';

/**
 * The arithmetic of the label-word search (`cloze suggest`), after LM-BFF's
 * automatic label search (Gao et al. 2021, §5.1): per label, candidate words
 * ranked by their class-conditional log-probability at the mask over that
 * label's rows; then whole verbalizers, combinations of candidates, ranked by
 * the accuracy they give on the data. A verbalizer's accuracy is computed with
 * the arithmetic the preview and `cloze eval` use (label scores summed over
 * the words, renormalised, calibrated, averaged over patterns), so a
 * suggestion's figure is what `cloze eval` reports for it.
 *
 * Pure: the probabilities come in as a table.
 */

/** A word the search may propose, from a vocabulary token: `great`, `Ġgreat`, `▁great`; undefined for pieces (`##ing`), punctuation, numbers and special tokens. */
export function candidateWord(token: string): string | undefined {
  const word = token.startsWith('Ġ') || token.startsWith('▁') ? token.slice(1) : token;
  // Letters only (any script); at least two, so stray letters and initials are not proposed.
  return /^\p{L}{2,}$/u.test(word) ? word : undefined;
}

/**
 * P(w | x) at the mask for a pool of W words, for R rows under P patterns,
 * and for each pattern's content-free input. `p[(pattern * R + row) * W + word]`.
 * A row a pattern could not score (no mask seen) has `scored` false there.
 */
export interface WordTable {
  readonly words: number;
  readonly rows: number;
  readonly patterns: number;
  readonly p: Float64Array;
  readonly scored: Uint8Array;
  /** `contentFree[pattern * W + word]`. */
  readonly contentFree: Float64Array;
}

/** The smallest probability taken into a logarithm: a word float32 rounds to 0 is very unlikely, not impossible. */
const FLOOR = 1e-30;

/**
 * LM-BFF's candidate score of each word for one label: the mean over the
 * label's rows (and the patterns that scored them) of log P(w | x).
 */
export function classConditionalLogProbability(table: WordTable, gold: readonly number[], label: number): Float64Array {
  const { words, rows, patterns } = table;
  const sums = new Float64Array(words);
  let count = 0;
  for (let p = 0; p < patterns; p++) {
    for (let r = 0; r < rows; r++) {
      if (gold[r] !== label || !table.scored[p * rows + r]) continue;
      count++;
      const base = (p * rows + r) * words;
      for (let w = 0; w < words; w++) sums[w] += Math.log(Math.max(table.p[base + w], FLOOR));
    }
  }
  if (count > 0) for (let w = 0; w < words; w++) sums[w] /= count;
  else sums.fill(-Infinity);
  return sums;
}

/**
 * PETAL's score of each word for one label (Schick, Schmid and Schütze 2020,
 * "Automatically Identifying Words That Can Serve as Labels", the `llr`
 * score of PET's `petal.py`): P(w | x) read as a classifier of "x has this
 * label", its log-likelihood ratio over the rows, with the label's rows
 * weighted up to as many as the others:
 *   n⁻/n⁺ · Σ_{x of the label} logit P(w | x) − Σ_{x of the others} logit P(w | x),
 * logit p = log p − log(1 − p). Here per pattern divided by n⁻ and then
 * averaged over the patterns (petal.py sums them; with every pattern scoring
 * every row that is a positive constant factor: the same ranking), so the
 * score reads as the gap in mean log-odds between the label's rows and the
 * others', as the class-conditional score beside it is a mean. It rewards
 * a word that is likely on the label's rows and unlikely on the others',
 * where LM-BFF's class-conditional score rewards the first only.
 */
export function likelihoodRatio(table: WordTable, gold: readonly number[], label: number): Float64Array {
  const { words, rows, patterns } = table;
  const scores = new Float64Array(words);
  const logit = (p: number): number => Math.log(Math.max(p, FLOOR)) - Math.log(Math.max(1 - p, FLOOR));
  let counted = 0;
  for (let p = 0; p < patterns; p++) {
    let positives = 0;
    let negatives = 0;
    for (let r = 0; r < rows; r++) {
      if (!table.scored[p * rows + r]) continue;
      if (gold[r] === label) positives++;
      else negatives++;
    }
    if (positives === 0 || negatives === 0) continue;
    for (let r = 0; r < rows; r++) {
      if (!table.scored[p * rows + r]) continue;
      const weight = gold[r] === label ? 1 / positives : -1 / negatives;
      const base = (p * rows + r) * words;
      for (let w = 0; w < words; w++) scores[w] += weight * logit(table.p[base + w]);
    }
    counted++;
  }
  if (counted > 1) for (let w = 0; w < words; w++) scores[w] /= counted;
  return scores;
}

/** The `k` best words (indices) by score, best first, among `allowed`. */
export function topCandidates(scores: Float64Array, k: number, allowed: (word: number) => boolean): number[] {
  const order = [...scores.keys()].filter(allowed).sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, k);
}

/** A verbalizer as word indices of the table, per label. */
export type WordChoice = readonly (readonly number[])[];

export type SearchCalibration = 'none' | 'content-free' | 'support';

export interface VerbalizerScore {
  readonly verbalizer: WordChoice;
  readonly accuracy: number;
  /** Mean probability of the gold label: breaks ties between equally accurate verbalizers. */
  readonly meanGold: number;
  /** Mean log-probability of the gold label (the log-likelihood per row): the smooth selection criterion. */
  readonly meanLogGold: number;
  /** Prediction per row (label index). */
  readonly predicted: readonly number[];
}

/** P(L | x) of one pattern and row for a verbalizer, by the preview's arithmetic. */
function rowDistribution(table: WordTable, choice: WordChoice, pattern: number, row: number): number[] {
  const base = (pattern * table.rows + row) * table.words;
  return labelProbabilities(labelScores(choice.map((words) => words.map((w) => table.p[base + w]))));
}

/** Accuracy of a verbalizer on the rows, its labels predicted as the ensemble over patterns predicts them. */
export function scoreVerbalizer(
  table: WordTable,
  gold: readonly number[],
  choice: WordChoice,
  calibration: SearchCalibration,
): VerbalizerScore {
  const { rows, patterns } = table;
  const raw: (number[] | null)[][] = [];
  for (let p = 0; p < patterns; p++) {
    const perRow: (number[] | null)[] = [];
    for (let r = 0; r < rows; r++) perRow.push(table.scored[p * rows + r] ? rowDistribution(table, choice, p, r) : null);
    raw.push(perRow);
  }
  const priors = raw.map((perRow, p) => {
    if (calibration === 'content-free') {
      return labelProbabilities(labelScores(choice.map((words) => words.map((w) => table.contentFree[p * table.words + w]))));
    }
    if (calibration === 'support') return supportPrior(perRow.filter((d): d is number[] => d !== null));
    return undefined;
  });
  let right = 0;
  let gold_ = 0;
  let logGold = 0;
  let counted = 0;
  const predicted: number[] = [];
  for (let r = 0; r < rows; r++) {
    const distributions: number[][] = [];
    for (let p = 0; p < patterns; p++) {
      const d = raw[p][r];
      if (d === null) continue;
      const prior = priors[p];
      distributions.push(prior !== undefined && prior.length > 0 ? calibrate(d, prior) : d);
    }
    const mean = ensemble(distributions);
    const guess = argmax(mean);
    predicted.push(guess);
    if (mean.length === 0) continue;
    counted++;
    if (guess === gold[r]) right++;
    gold_ += mean[gold[r]] ?? 0;
    logGold += Math.log(Math.max(mean[gold[r]] ?? 0, FLOOR));
  }
  return {
    verbalizer: choice,
    accuracy: counted === 0 ? 0 : right / counted,
    meanGold: counted === 0 ? 0 : gold_ / counted,
    meanLogGold: counted === 0 ? -Infinity : logGold / counted,
    predicted,
  };
}

/**
 * How verbalizers are ranked.
 * - `accuracy`: accuracy on the rows (calibrated when the search is), then
 *   fewer words, then mean P(gold). LM-BFF's criterion, and with support
 *   calibration and one word per label the `cloze suggest` default: the best
 *   held-out accuracy in the cross-validation inside SST-2 (README, "How the
 *   search chooses"). On a few hundred rows the verbalizers it compares often
 *   differ by less than their standard error.
 * - `log-likelihood`: the mean log-probability of the gold label (the
 *   cross-entropy, negated). It counts how sure the verbalizer is on every
 *   row, not only which side of ½ a row falls, so it varies smoothly and
 *   separates verbalizers that accuracy ties.
 */
export type SelectionCriterion = 'accuracy' | 'log-likelihood';

function wordCount(s: VerbalizerScore): number {
  return s.verbalizer.reduce((n, ws) => n + ws.length, 0);
}

/** Better first, by the criterion. */
export function compareScores(a: VerbalizerScore, b: VerbalizerScore, criterion: SelectionCriterion = 'accuracy'): number {
  if (criterion === 'log-likelihood') return b.meanLogGold - a.meanLogGold || b.accuracy - a.accuracy || wordCount(a) - wordCount(b);
  return b.accuracy - a.accuracy || wordCount(a) - wordCount(b) || b.meanGold - a.meanGold;
}

/** Whether `next` (one more word than `base`) earns its place: it must raise the criterion. */
function improves(next: VerbalizerScore, base: VerbalizerScore, criterion: SelectionCriterion): boolean {
  return criterion === 'log-likelihood' ? next.meanLogGold > base.meanLogGold : next.accuracy > base.accuracy;
}

/** The table restricted to some rows (in the given order): for searching on one part of the data and scoring on another. */
export function selectRows(table: WordTable, rows: readonly number[]): WordTable {
  const { words, patterns } = table;
  const p = new Float64Array(patterns * rows.length * words);
  const scored = new Uint8Array(patterns * rows.length);
  for (let pattern = 0; pattern < patterns; pattern++) {
    rows.forEach((row, i) => {
      scored[pattern * rows.length + i] = table.scored[pattern * table.rows + row];
      const from = (pattern * table.rows + row) * words;
      p.set(table.p.subarray(from, from + words), (pattern * rows.length + i) * words);
    });
  }
  return { words, rows: rows.length, patterns, p, scored, contentFree: table.contentFree };
}

export interface SearchOptions {
  readonly top: number;
  /** Most words a label may get (1: single-word verbalizers only). */
  readonly maxWordsPerLabel: number;
  readonly calibration: SearchCalibration;
  /** Single-word combinations tried exhaustively up to this many; beyond, coordinate ascent. */
  readonly exhaustiveLimit?: number;
  /** Verbalizers extended with one more word per round. */
  readonly beam?: number;
  /** How verbalizers are ranked (and whether an added word earns its place); `accuracy` unless given. */
  readonly criterion?: SelectionCriterion;
  /**
   * Per word, the tokens it is scored as (one key per model and mask context). Two words of a
   * verbalizer must not share one: across labels one token would vote for both (`cloze check`'s
   * label-word-ambiguous error), within a label it counts once (label-word-repeated). Distinct
   * words of the scoring model can still be one token in another of the file's models
   * (`Great`/`great` in an uncased one).
   */
  readonly tokenKeys?: readonly (readonly string[])[];
}

/**
 * Searches verbalizers over the candidates of each label: every single-word
 * combination (or, when there are too many, coordinate ascent from the best
 * candidates), then, while a label may take more words, the best verbalizers
 * extended by one more candidate, kept only when the word raises the
 * accuracy. A word serves one label only.
 */
export function searchVerbalizers(
  table: WordTable,
  gold: readonly number[],
  candidates: readonly (readonly number[])[],
  options: SearchOptions,
): { results: VerbalizerScore[]; tried: number } {
  const criterion = options.criterion ?? 'accuracy';
  const compare = (a: VerbalizerScore, b: VerbalizerScore): number => compareScores(a, b, criterion);
  const seen = new Map<string, VerbalizerScore>();
  const key = (choice: WordChoice): string => choice.map((words) => [...words].sort((a, b) => a - b).join('+')).join('|');
  const distinct = (choice: WordChoice): boolean => {
    const words = choice.flat();
    if (new Set(words).size !== words.length) return false;
    const keys = options.tokenKeys ? words.flatMap((w) => options.tokenKeys?.[w] ?? []) : [];
    return new Set(keys).size === keys.length;
  };
  // Verbalizers tried; `kept` are those listed (an added word must earn its place).
  let tried = 0;
  const score = (choice: WordChoice, keep: (result: VerbalizerScore) => boolean = () => true): VerbalizerScore | undefined => {
    if (!distinct(choice) || choice.some((words) => words.length === 0)) return undefined;
    const k = key(choice);
    let result = seen.get(k);
    if (!result && !rejected.has(k)) {
      tried++;
      result = scoreVerbalizer(table, gold, choice, options.calibration);
      if (keep(result)) seen.set(k, result);
      else rejected.add(k);
    }
    return result;
  };
  const rejected = new Set<string>();

  const combinations = candidates.reduce((n, c) => n * c.length, 1);
  if (combinations <= (options.exhaustiveLimit ?? 20_000)) {
    const walk = (label: number, chosen: number[][]): void => {
      if (label === candidates.length) {
        score(chosen);
        return;
      }
      for (const w of candidates[label]) walk(label + 1, [...chosen, [w]]);
    };
    walk(0, []);
  } else {
    // Coordinate ascent: each label in turn takes its best candidate with the others fixed.
    let current: number[][] = candidates.map((c) => [c[0]]);
    for (let round = 0; round < 5; round++) {
      let changed = false;
      for (let label = 0; label < candidates.length; label++) {
        let best = score(current);
        for (const w of candidates[label]) {
          const next = current.map((words, l) => (l === label ? [w] : words));
          const result = score(next);
          if (result && (!best || compare(result, best) < 0)) {
            best = result;
            current = next;
            changed = true;
          }
        }
      }
      if (!changed) break;
    }
  }

  for (let size = 2; size <= options.maxWordsPerLabel; size++) {
    const beam = [...seen.values()].sort(compare).slice(0, options.beam ?? 10);
    for (const base of beam) {
      base.verbalizer.forEach((words, label) => {
        if (words.length >= size) return;
        for (const w of candidates[label]) {
          if (words.includes(w)) continue;
          // A word that does not raise the criterion only adds noise to the verbalizer.
          score(
            base.verbalizer.map((ws, l) => (l === label ? [...ws, w] : ws)),
            (result) => improves(result, base, criterion),
          );
        }
      });
    }
  }
  return { results: [...seen.values()].sort(compare).slice(0, options.top), tried };
}
