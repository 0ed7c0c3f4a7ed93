import { patternDisplayName, type ClozeDocument, type Pattern } from '../language/ast';
import {
  candidateWord,
  classConditionalLogProbability,
  likelihoodRatio,
  scoreVerbalizer,
  searchVerbalizers,
  topCandidates,
  type SearchCalibration,
  type SelectionCriterion,
  type WordChoice,
  type WordTable,
} from '../language/labelSearch';
import type { RankedLabelWord } from '../language/labelWordCompletion';
import { labelWordForms, singleToken } from '../language/labelWords';
import { positionAt } from '../language/positions';
import { exampleFields, hasSingleMask, maskContext, renderPattern } from '../language/render';
import { classificationFigures, type MaskScores, type Scorer } from '../language/scores';
import type { TokenizerView } from '../language/tokenizer';
import type { PreviewRow } from './preview';

/**
 * `cloze suggest`: label-word search on labelled data, as LM-BFF's automatic
 * label search does it, with Cloze's own engine and numbers.
 *
 * 1. Pool. Every labelled row is scored under every pattern once for its
 *    top tokens at the mask; tokens that are real words (no `##` pieces,
 *    punctuation, numbers or special tokens) and are one token in the
 *    pattern's mask context *as that word* (labelWords.ts: `great` after a
 *    space is `Ġgreat` for RoBERTa, and only that form is proposed there)
 *    form each label's pool, by their probability mass on the label's rows.
 * 2. Candidates. The pooled words are scored exactly on every row; per label
 *    the `candidates` words with the highest mean log P(w | x) over the
 *    label's rows are kept (LM-BFF's class-conditional likelihood), among
 *    the words likelier on that label's rows than on any other's and within
 *    a factor of 100 of its best word. With the `petal` ranking, the words
 *    with the highest likelihood ratio instead (PETAL, labelSearch.ts), among
 *    those that score higher for the label than for any other.
 *    With a `models:` line, only words that are one token in every other
 *    model's tokenizer too (in each pattern's mask context, as its
 *    label-word check tokenizes them) can be candidates; those models do
 *    not score.
 * 3. Search. Verbalizers built from the candidates (one word per label, then
 *    up to `maxWordsPerLabel`) are ranked by their accuracy on the rows, with
 *    the arithmetic `cloze eval` uses. The CLI's defaults (one word per label,
 *    ranked by accuracy after support calibration) are the method chosen by
 *    cross-validation inside SST-2 (scripts/label-search-cv.mjs, README).
 */

export interface SuggestOptions {
  /** Verbalizers returned. */
  readonly top: number;
  /** Candidate words kept per label (LM-BFF's k). */
  readonly candidates: number;
  readonly maxWordsPerLabel: number;
  readonly calibration: SearchCalibration;
  /** How verbalizers are ranked; `accuracy` unless given (see labelSearch.ts). */
  readonly criterion?: SelectionCriterion;
  /** How candidate words are ranked per label; `lm-bff` unless given. */
  readonly ranking?: CandidateRanking;
  /** Top tokens per row and pattern that feed the pool. */
  readonly poolTopK?: number;
  /** Words pooled per label before exact scoring. */
  readonly poolSize?: number;
  /**
   * The tokenizers of the file's other models (`models:`): a word is proposed only if it is one
   * token in each of them too, in every pattern's mask context, or the verbalizer pasted in would
   * fail `cloze check` there. They do not score: only the scoring model's probabilities rank.
   */
  readonly alsoSingleIn?: readonly TokenizerView[];
  readonly onProgress?: (stage: 'pool' | 'candidates' | 'search') => void;
}

export interface CandidateWord {
  readonly word: string;
  /** The token scored per pattern (`Ġgreat`, `great`). */
  readonly tokens: readonly string[];
  /** Mean log P(w | x) over the label's rows. */
  readonly logProbability: number;
  /** With the `petal` ranking, what it ranked by: the gap in mean log-odds, the label's rows against the others' (labelSearch.ts). */
  readonly likelihoodRatio?: number;
}

/** LM-BFF's class-conditional log-probability, or PETAL's likelihood ratio. */
export type CandidateRanking = 'lm-bff' | 'petal';

export interface SuggestedVerbalizer {
  /** Words per label, in the verbalizer's label order. */
  readonly words: Record<string, string[]>;
  /** Accuracy by the search's calibration (raw when it is `none`): what the ranking used. */
  readonly accuracy: number;
  /** Accuracy without calibration: what `cloze eval` reports in its accuracy column. */
  readonly rawAccuracy: number;
  readonly macroF1: number | null;
  readonly meanGoldProbability: number;
  /** Mean log P(gold label): what the default criterion ranks by. */
  readonly meanLogGold: number;
}

export interface SuggestResult {
  readonly model: string;
  readonly patterns: readonly string[];
  readonly labels: readonly string[];
  /** Rows searched on (labelled with one of the labels). */
  readonly rows: number;
  readonly calibration: SearchCalibration;
  readonly criterion: SelectionCriterion;
  readonly ranking: CandidateRanking;
  readonly candidates: Record<string, CandidateWord[]>;
  readonly suggestions: readonly SuggestedVerbalizer[];
  /** The file's own verbalizer scored the same way, when all its words are single tokens. */
  readonly current: SuggestedVerbalizer | null;
  /** Verbalizers whose accuracy was computed. */
  readonly tried: number;
  /** Inputs run through the scorer (rows × patterns, plus the content-free inputs), twice. */
  readonly inputs: number;
}

/** How far (in nats of mean log-probability) a candidate may fall below its label's best word: a factor of 100. */
const MASS_GAP = Math.log(100);

/** The completion lists words down to a factor of 10⁴ below the label's best. */
const COMPLETION_GAP = Math.log(10_000);
/** …that separate the label at least half as well as its best-separating word does. */
const COMPLETION_MARGIN_SHARE = 0.5;

/** A pooled word with its token id per pattern. */
export interface PoolWord {
  readonly word: string;
  readonly ids: number[];
  readonly tokens: string[];
}

/** The file's labelled examples as rows to search on, besides the data rows. */
export function labelledExampleRows(doc: ClozeDocument, labels: readonly string[]): PreviewRow[] {
  return doc.examples
    .filter((example) => example.label !== undefined && labels.includes(example.label.text))
    .map((example) => ({
      line: positionAt(doc, example.span.start).line + 1,
      label: example.label?.text ?? null,
      fields: exampleFields(example, doc.patterns),
    }));
}

/** Steps 1 and 2 without the search: the exact probabilities of the pooled words on every row. */
export interface SearchTable {
  readonly patterns: readonly Pattern[];
  /** Gold label index per row of the table. */
  readonly gold: readonly number[];
  readonly words: readonly PoolWord[];
  readonly table: WordTable;
  /** The file's own verbalizer as word indices, when all its words are single tokens. */
  readonly current: WordChoice | null;
  /**
   * Per word: may it be proposed (one token in every tokenizer of `alsoSingleIn`)? The file's own
   * words are in the table to score its verbalizer even when they are not.
   */
  readonly proposable: readonly boolean[];
  /** Per word, the token it is in each model (the scoring one first) and pattern (SearchOptions.tokenKeys). */
  readonly tokenKeys: readonly (readonly string[])[];
  /** Inputs run through the scorer per pass. */
  readonly inputs: number;
}

export async function buildSearchTable(
  doc: ClozeDocument,
  tokenizer: TokenizerView,
  scorer: Scorer,
  labels: readonly string[],
  rows: readonly PreviewRow[],
  options: Pick<SuggestOptions, 'candidates' | 'poolTopK' | 'poolSize' | 'onProgress' | 'alsoSingleIn'>,
): Promise<SearchTable> {
  const patterns = doc.patterns.filter(hasSingleMask);
  const labelled = rows.filter((row) => row.label !== null && labels.includes(row.label));
  const gold = labelled.map((row) => labels.indexOf(row.label ?? ''));
  const contentFree = patterns.map((pattern) => renderPattern(pattern, new Map(), tokenizer.special));
  const inputs = [
    ...contentFree,
    ...patterns.flatMap((pattern) => labelled.map((row) => renderPattern(pattern, row.fields, tokenizer.special))),
  ];
  const at = (p: number, r: number): number => patterns.length + p * labelled.length + r;

  // 1. The pool: words among the top tokens, by their mass on each label's rows.
  options.onProgress?.('pool');
  const first = await scorer(inputs, [], options.poolTopK ?? 64);
  const pool = new Map<string, PoolWord>();
  const mass = labels.map(() => new Map<string, number>());
  const formOf = wordForms(patterns, tokenizer);
  const singleInOthers = (options.alsoSingleIn ?? []).map((other) => wordForms(patterns, other));
  const proposable = (word: string): boolean => singleInOthers.every((formIn) => formIn(word) !== undefined);
  for (let p = 0; p < patterns.length; p++) {
    for (let r = 0; r < labelled.length; r++) {
      for (const { token, tokenId, p: probability } of first[at(p, r)].top) {
        const word = candidateWord(token);
        if (word === undefined) continue;
        const form = formOf(word);
        // The token seen must be the word's own form in this pattern's context.
        if (form === undefined || form.ids[p] !== tokenId) continue;
        pool.set(word, form);
        mass[gold[r]].set(word, (mass[gold[r]].get(word) ?? 0) + probability);
      }
    }
  }
  const poolSize = options.poolSize ?? Math.max(60, 3 * options.candidates);
  // A word another model of the file splits (a label-word-multi-token error there) is never proposed,
  // but stays in the table: the label's likeliest word is what a candidate's mass is measured against
  // (labelCandidates). The pool size counts the words that can be proposed.
  const pooled = new Set(
    mass.flatMap((byWord) => {
      const sorted = [...byWord].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([word]) => word);
      const out: string[] = [];
      let kept = 0;
      for (const word of sorted) {
        if (kept >= poolSize) break;
        out.push(word);
        if (proposable(word)) kept++;
      }
      return out;
    }),
  );
  // The file's own words join the pool, so the current verbalizer is scored the same way.
  const entries = doc.verbalizers[0]?.entries ?? [];
  const currentWords = labels.map((label) => entries.filter((e) => e.label.text === label).flatMap((e) => e.words.map((w) => w.text)));
  const currentValid = currentWords.every((words) => words.length > 0 && words.every((word) => formOf(word) !== undefined));
  if (currentValid) currentWords.flat().forEach((word) => pooled.add(word));
  const words = [...pooled].map((word) => pool.get(word) ?? (formOf(word) as PoolWord));
  const index = new Map(words.map((w, i) => [w.word, i]));

  // 2. Exact probabilities of the pooled words, and the candidates per label.
  options.onProgress?.('candidates');
  const wordIds = [...new Set(words.flatMap((w) => w.ids))];
  const second = await scorer(inputs, wordIds, 1);
  const table = wordTable(words, wordIds, patterns.length, labelled.length, second, at);
  const current = currentValid ? currentWords.map((ws) => [...new Set(ws)].map((word) => index.get(word) ?? -1)) : null;
  const tokenKeys = words.map((w) =>
    [w, ...singleInOthers.map((formIn) => formIn(w.word))].flatMap((form, model) => form?.ids.map((id, p) => `${model}:${p}:${id}`) ?? []),
  );
  return { patterns, gold, words, table, current, proposable: words.map((w) => proposable(w.word)), tokenKeys, inputs: inputs.length };
}

/**
 * The candidates per label, with their scores: the `k` words with the highest
 * mean log P(w | x) over the label's rows (LM-BFF), or with `petal` the
 * highest likelihood ratio (PETAL); either way among the words within `gap`
 * of the label's likeliest word.
 */
export function labelCandidates(
  table: WordTable,
  gold: readonly number[],
  labelCount: number,
  k: number,
  /** How far below the label's best word a candidate may fall, in nats. */
  gap: number = MASS_GAP,
  ranking: CandidateRanking = 'lm-bff',
  /** Words that may be candidates (SearchTable.proposable); the others are never candidates. */
  proposable?: readonly boolean[],
): { ranked: Float64Array[]; candidates: number[][]; ratios?: Float64Array[] } {
  const ranked = Array.from({ length: labelCount }, (_, label) => classConditionalLogProbability(table, gold, label));
  const may = (w: number): boolean => proposable?.[w] ?? true;
  // The mass a candidate must come near is the label's likeliest word's, proposable or not: a word
  // another model splits still shows what the model puts there, and rare words stay out.
  const bestOf = (scores: Float64Array): number => Math.max(...scores);
  if (ranking === 'petal') {
    // PETAL's order (petal.py), over the words that carry real mass on the label's rows (within
    // `gap` of its best word, as below): by the ratio alone the accuracy search picks rare words
    // whose tiny probabilities happen to separate the rows (love/overall on SST-2).
    const ratios = Array.from({ length: labelCount }, (_, label) => likelihoodRatio(table, gold, label));
    const candidates = ratios.map((scores, label) => {
      const best = bestOf(ranked[label]);
      return topCandidates(
        scores,
        k,
        (w) => may(w) && ranked[label][w] >= best - gap && ratios.every((other, l) => l === label || scores[w] > other[w]),
      );
    });
    return { ranked, candidates, ratios };
  }
  // A candidate must be likelier on its label's rows than on any other label's, and carry
  // real mass there: within a factor of 100 of the label's best word. Without that, on a
  // few hundred rows the accuracy search finds rare words (`more`/`so`) whose tiny
  // probabilities happen to separate the rows, and do not generalise.
  const candidateIndices = ranked.map((scores, label) => {
    const best = bestOf(scores);
    return topCandidates(
      scores,
      k,
      (w) => may(w) && scores[w] >= best - gap && ranked.every((other, l) => l === label || scores[w] > other[w]),
    );
  });

  return { ranked, candidates: candidateIndices };
}

export async function suggestVerbalizers(
  doc: ClozeDocument,
  tokenizer: TokenizerView,
  scorer: Scorer,
  labels: readonly string[],
  rows: readonly PreviewRow[],
  options: SuggestOptions,
): Promise<SuggestResult> {
  const { patterns, gold, words, table, current, proposable, tokenKeys, inputs } = await buildSearchTable(
    doc,
    tokenizer,
    scorer,
    labels,
    rows,
    options,
  );
  const ranking = options.ranking ?? 'lm-bff';
  const {
    ranked,
    candidates: candidateIndices,
    ratios,
  } = labelCandidates(table, gold, labels.length, options.candidates, MASS_GAP, ranking, proposable);

  // 3. Whole verbalizers by accuracy.
  options.onProgress?.('search');
  const { results, tried } = searchVerbalizers(table, gold, candidateIndices, {
    top: options.top,
    maxWordsPerLabel: options.maxWordsPerLabel,
    calibration: options.calibration,
    criterion: options.criterion ?? 'accuracy',
    tokenKeys,
  });
  const describe = (choice: readonly (readonly number[])[]): SuggestedVerbalizer => {
    const scored = scoreVerbalizer(table, gold, choice, options.calibration);
    return {
      words: Object.fromEntries(labels.map((label, l) => [label, choice[l].map((w) => words[w].word)])),
      accuracy: scored.accuracy,
      rawAccuracy: options.calibration === 'none' ? scored.accuracy : scoreVerbalizer(table, gold, choice, 'none').accuracy,
      // Over the rows scored, as the accuracy beside it (a row no pattern scored has no prediction, −1).
      macroF1: classificationFigures(
        gold.filter((_, r) => scored.predicted[r] >= 0),
        scored.predicted.filter((p) => p >= 0),
        labels.length,
      ).macroF1,
      meanGoldProbability: scored.meanGold,
      meanLogGold: scored.meanLogGold,
    };
  };
  return {
    model: tokenizer.modelId,
    patterns: patterns.map(patternDisplayName),
    labels,
    rows: gold.length,
    calibration: options.calibration,
    criterion: options.criterion ?? 'accuracy',
    ranking,
    candidates: Object.fromEntries(
      labels.map((label, l) => [
        label,
        candidateIndices[l].map((w) => ({
          word: words[w].word,
          tokens: words[w].tokens,
          logProbability: ranked[l][w],
          ...(ratios ? { likelihoodRatio: ratios[l][w] } : {}),
        })),
      ]),
    ),
    suggestions: results.map((result) => describe(result.verbalizer)),
    current: current ? describe(current) : null,
    tried,
    inputs: inputs * 2,
  };
}

/**
 * A word's token in each pattern's mask context, through labelWords.ts as the
 * validator and the scorer see it; undefined unless it is one known token in
 * every context (with another model's tokenizer: a word its label-word check
 * would report as several tokens or unknown).
 */
function wordForms(patterns: readonly Pattern[], tokenizer: TokenizerView): (word: string) => PoolWord | undefined {
  const memo = new Map<string, PoolWord | undefined>();
  return (word) => {
    if (memo.has(word)) return memo.get(word);
    const ids: number[] = [];
    const tokens: string[] = [];
    for (const pattern of patterns) {
      const [form] = labelWordForms(word, new Map([[maskContext(pattern), [pattern]]]), tokenizer);
      const piece = form ? singleToken(form, tokenizer) : undefined;
      if (!piece) {
        memo.set(word, undefined);
        return undefined;
      }
      ids.push(piece.id);
      tokens.push(piece.token);
    }
    const result = { word, ids, tokens };
    memo.set(word, result);
    return result;
  };
}

function wordTable(
  words: readonly PoolWord[],
  wordIds: readonly number[],
  patterns: number,
  rows: number,
  scores: readonly MaskScores[],
  at: (p: number, r: number) => number,
): WordTable {
  const column = new Map(wordIds.map((id, i) => [id, i]));
  const W = words.length;
  const p = new Float64Array(patterns * rows * W);
  const scored = new Uint8Array(patterns * rows);
  const contentFree = new Float64Array(patterns * W);
  for (let pattern = 0; pattern < patterns; pattern++) {
    const cf = scores[pattern];
    words.forEach((word, w) => (contentFree[pattern * W + w] = cf.maskFound ? (cf.words[column.get(word.ids[pattern]) ?? -1]?.p ?? 0) : 0));
    for (let r = 0; r < rows; r++) {
      const result = scores[at(pattern, r)];
      if (!result.maskFound) continue;
      scored[pattern * rows + r] = 1;
      const base = (pattern * rows + r) * W;
      words.forEach((word, w) => (p[base + w] = result.words[column.get(word.ids[pattern]) ?? -1]?.p ?? 0));
    }
  }
  return { words: W, rows, patterns, p, scored, contentFree };
}

/**
 * The completion's ranking (issue 13, item 3): per label, the candidates of
 * `cloze suggest` (steps 1 and 2: real words, one token in the mask's
 * context, by LM-BFF's class-conditional log-probability), with the best
 * mean of the other labels' rows beside each score.
 */
export async function rankLabelWords(
  doc: ClozeDocument,
  tokenizer: TokenizerView,
  scorer: Scorer,
  labels: readonly string[],
  rows: readonly PreviewRow[],
  k: number,
): Promise<{ rows: number; byLabel: Map<string, RankedLabelWord[]> }> {
  const { gold, words, table } = await buildSearchTable(doc, tokenizer, scorer, labels, rows, { candidates: k });
  // A longer list than the search's (the editor shows the scores, the author chooses), but only
  // words that separate: whose margin (mean log P on the label's rows minus the best other
  // label's) is at least half the label's best margin. Frequent words (`this`, `movie`) are
  // likelier on one side by chance, and by far less. Relative, so a model whose predictions
  // barely move (a random one) still gets its best-separating words listed.
  const { ranked, candidates } = labelCandidates(table, gold, labels.length, words.length, COMPLETION_GAP);
  const other = (l: number, w: number): number => Math.max(...ranked.filter((_, o) => o !== l).map((scores) => scores[w]));
  const byLabel = new Map(
    labels.map((label, l) => {
      const margins = candidates[l].map((w) => ranked[l][w] - other(l, w));
      const threshold = COMPLETION_MARGIN_SHARE * Math.max(0, ...margins);
      return [
        label,
        candidates[l]
          .filter((_, i) => margins[i] >= threshold)
          .slice(0, k)
          .map((w) => ({ word: words[w].word, token: words[w].tokens[0], logProbability: ranked[l][w], otherLogProbability: other(l, w) })),
      ];
    }),
  );
  return { rows: gold.length, byLabel };
}
