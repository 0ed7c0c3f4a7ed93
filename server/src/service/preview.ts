import { maskParts, patternDisplayName, type ClozeDocument, type LabelWord, type Pattern } from '../language/ast';
import { fixedSpace, labelWordForms, singleToken } from '../language/labelWords';
import { verbalizerOf, verbalizerSettings, type Aggregation, type MultiTokenHandler } from '../language/options';
import { exampleProblems, type ExampleProblem } from '../language/exampleProblems';
import { positionAt } from '../language/positions';
import { exampleFields, hasSingleMask, maskContext, renderPattern, segments } from '../language/render';
import {
  aggregateLabels,
  argmax,
  calibrate,
  ensemble,
  handleMultiToken,
  supportPrior,
  toRecord,
  type MaskScores,
  type Scorer,
  type TokenProbability,
} from '../language/scores';
import { formatPieces, type MaskContext, type TokenizerView } from '../language/tokenizer';
import { renderTruncated } from '../language/truncate';
import { boundedTokenizing, checkBudgetMs } from '../model/tokenizers';

/**
 * The preview of issue 3: what the model puts at the mask for every example
 * and pattern, turned into label probabilities. The editor's lenses and hovers
 * and `cloze preview --format json` all show this one structure.
 *
 * It is planned from the syntax tree and the tokenizer (which inputs, which
 * label-word tokens), scored in one call, and assembled by the arithmetic of
 * language/scores.ts. Label words are scored in the token form the mask's
 * context implies (`Ġgreat` after a space for RoBERTa), exactly as the
 * validator checks them; words that are not one known token are left out and
 * listed in `skippedWords` (the validator reports them as errors).
 */

/** One input to preview: an example of the file, or a row of a data file (`cloze eval`). */
export interface PreviewRow {
  /** 1-based line of the example, or of the row in its data file. */
  readonly line: number;
  readonly label: string | null;
  readonly fields: ReadonlyMap<string, string>;
}

export interface PreviewOptions {
  /** How many of the most probable tokens at the mask each result lists. */
  readonly topK: number;
  /** Whether predictions, accuracies and the text view use the calibrated probabilities. */
  readonly calibrate: boolean;
  /** What to preview instead of the file's examples (`cloze eval` passes data rows). */
  readonly rows?: readonly PreviewRow[];
  /**
   * The prior calibration divides by: each pattern's content-free input (the
   * default), or its mean P(L | x) over the previewed inputs (`support`,
   * OpenPrompt's support-set calibration; labels unused).
   */
  readonly calibration?: 'content-free' | 'support';
}

export interface PreviewLabelWord {
  readonly label: string;
  readonly word: string;
  /** The vocabulary token scored, e.g. `great` or `Ġgreat`; a multi-token word's tokens separated by spaces. */
  readonly token: string;
  /** The token's id; a multi-token word's first token's. */
  readonly tokenId: number;
  /** p(w | x); for a multi-token word, exp of the handled log-probability (the first token's, the geometric mean, the largest). */
  readonly p: number;
  /** 1-based rank of the token in the whole vocabulary at the mask. */
  readonly rank: number;
}

export interface PatternResult {
  readonly pattern: string;
  /** The exact text given to the tokenizer; for a pair input (`[SEP+]`), its first text. */
  readonly input: string;
  /** The second text of a pair input, encoded as segment B; absent for one text. */
  readonly inputB?: string;
  readonly maskToken: string;
  /** False when the model never saw the mask, or gave no numbers (`nonFinite`); the distributions are then empty. */
  readonly maskFound: boolean;
  /** The model's logits at the mask were not all numbers (NaN or +∞) for this input. */
  readonly nonFinite?: boolean;
  /** The input holds the model's mask token besides the pattern's (from its text): not scored. */
  readonly severalMasks?: boolean;
  /** The input was longer than the model reads and was cut away from the mask. */
  readonly truncated: boolean;
  /** P(L | x). */
  readonly labels: Record<string, number>;
  /** P̂(L | x), calibrated against the pattern's content-free input. */
  readonly calibrated: Record<string, number>;
  /** The most probable label by the numbers shown (`calibrated` when calibrating). */
  readonly prediction: string | null;
  /** Whether `prediction` is the example's label; null for unlabelled examples. */
  readonly correct: boolean | null;
  readonly labelWords: readonly PreviewLabelWord[];
  readonly top: readonly TokenProbability[];
}

export interface ExamplePreview {
  /** 1-based line of the `example` keyword. */
  readonly line: number;
  readonly label: string | null;
  readonly fields: Record<string, string>;
  readonly results: readonly PatternResult[];
  /** Mean over the patterns of P(L | x). */
  readonly ensemble: Record<string, number>;
  /** Mean over the patterns of P̂(L | x). */
  readonly calibratedEnsemble: Record<string, number>;
  readonly prediction: string | null;
  readonly correct: boolean | null;
}

/** How a pattern (or the ensemble) does on the labelled examples. */
export interface AccuracySummary {
  readonly pattern: string;
  /** Examples whose label is one of the verbalizer's. */
  readonly labelled: number;
  /** Share of them predicted right from P (null when none is labelled). */
  readonly accuracy: number | null;
  readonly calibratedAccuracy: number | null;
  /** Mean P(gold | x): a softer measure than accuracy. */
  readonly meanGoldProbability: number | null;
  readonly meanGoldCalibrated: number | null;
}

/** An example of the file that is not scored, for an error in it: where, why, and what it says. */
export interface ExcludedExample extends ExampleProblem {
  readonly label: string | null;
  readonly fields: Readonly<Record<string, string>>;
}

export interface ExcludedPattern {
  readonly pattern: string;
  readonly line: number;
  readonly code: 'mask-missing' | 'mask-multiple' | 'verbalizer-unknown';
  readonly reason: string;
}

export interface SkippedWord {
  readonly label: string;
  readonly word: string;
  readonly patterns: readonly string[];
  readonly reason: string;
}

export interface PreviewResult {
  readonly model: string;
  readonly calibrate: boolean;
  /** Which prior `priors` is (`content-free` unless asked otherwise). */
  readonly calibration?: 'content-free' | 'support';
  /** The previewed patterns' display names (`short`, `pattern 2`). */
  readonly patterns: readonly string[];
  readonly labels: readonly string[];
  readonly examples: readonly ExamplePreview[];
  /** The content-free input of each pattern (its fields empty) and P₀, the prior calibration divides by. */
  readonly contentFree: Record<string, string>;
  readonly priors: Record<string, Record<string, number>>;
  /**
   * Patterns whose prior could not be measured, and why: the content-free input was not scored
   * (NaN or infinite logits, or its mask cut off) and there was no support to average instead.
   * Their prior is uniform, so calibration leaves their numbers as they are.
   */
  readonly priorProblems?: Record<string, string>;
  readonly summary: { readonly patterns: readonly AccuracySummary[]; readonly ensemble: AccuracySummary };
  /** Patterns that cannot be previewed, and why. */
  readonly excluded: readonly ExcludedPattern[];
  /** The file's examples left out because the file has an error in them (`exampleProblems`), and why. */
  readonly excludedExamples: readonly ExcludedExample[];
  readonly skippedWords: readonly SkippedWord[];
}

/** One label word as its token (or, with a multi-token handler, its tokens), ready to score. */
interface ScoredWord {
  readonly label: number;
  readonly word: string;
  readonly token: string;
  readonly tokenIds: readonly number[];
}

/** What a previewed pattern scores: its name, the label-word tokens its mask context gives, and how they combine. */
interface PatternPlan {
  readonly pattern: Pattern;
  readonly name: string;
  readonly words: readonly ScoredWord[];
  readonly aggregate: Aggregation;
  readonly multiToken: MultiTokenHandler | undefined;
}

/** Examples assembled between two yields to the event loop (about a millisecond of work). */
const EXAMPLES_PER_SLICE = 8;

export async function computePreview(
  doc: ClozeDocument,
  tokenizer: TokenizerView,
  scorer: Scorer,
  options: PreviewOptions,
): Promise<PreviewResult> {
  const labels = verbalizerLabels(doc);
  const excluded = excludedPatterns(doc);
  // Under one time budget: each tokenizer call outside one starts its own watchdog (about 0.1 ms), which
  // was most of the 9.7 s a label of 50,000 words took to preview. Five times a check's: it only has to stop
  // a tokenizer that hangs (the check met it first), not a long verbalizer on a slow machine (`cloze eval` in CI).
  const { plans, skippedWords } = boundedTokenizing(5 * checkBudgetMs(doc.text.length), () => planPatterns(doc, labels, tokenizer));
  const wordIds = [...new Set(plans.flatMap((plan) => plan.words.flatMap((word) => word.tokenIds)))];

  // The file's examples with an error in them are left out (and said), never scored as written.
  const problems = options.rows ? [] : exampleProblems(doc);
  const ownRows = doc.examples.map((example) => ({
    line: positionAt(doc, example.span.start).line + 1,
    label: example.label?.text ?? null,
    fields: exampleFields(example, doc.patterns),
  }));
  const excludedExamples = problems.flatMap((problem): ExcludedExample[] => {
    const at = ownRows.findIndex((r) => r.line === problem.line);
    const example = doc.examples[at];
    if (at < 0 || !example) return [];
    // The fields as written, for naming the example: a one-line example whose patterns read several fields
    // fills none of them (`exampleFields`), and would be shown as `(empty)`.
    const written = Object.fromEntries(example.fields.map((field) => [field.name?.text ?? 'text', field.value]));
    return [{ ...problem, label: ownRows[at].label, fields: written }];
  });
  const examples: readonly PreviewRow[] = options.rows ?? ownRows.filter((row) => !problems.some((problem) => problem.line === row.line));
  const contentFree = plans.map((plan) => renderPattern(plan.pattern, new Map(), tokenizer.special));
  // One call for everything, so the scorer can batch and cache across patterns and examples.
  // `shorten=` fields are cut here, by the pattern's strategy, before the engine sees the input.
  const rendered = examples.flatMap(({ fields }) => plans.map((plan) => renderTruncated(plan.pattern, fields, tokenizer)));
  const inputs = [...contentFree, ...rendered.map((r) => r.input)];
  const scores = plans.length === 0 ? [] : await scorer(inputs, wordIds, options.topK);
  if (scores.length !== inputs.length) throw new Error(`The scorer answered ${scores.length} inputs of ${inputs.length}.`);

  const contentFreePriors = plans.map((plan, i) => distribution(plan, labels, scores[i]).probabilities);
  const priors =
    options.calibration === 'support'
      ? plans.map((plan, p) => {
          const support = examples
            .map((_, e) => scores[plans.length + e * plans.length + p])
            .filter((s) => s.maskFound)
            .map((s) => distribution(plan, labels, s).probabilities);
          return support.length > 0 ? supportPrior(support) : contentFreePriors[p];
        })
      : contentFreePriors;
  const priorProblems = Object.fromEntries(
    plans.flatMap((plan, i) => {
      const measured =
        scores[i].maskFound ||
        (options.calibration === 'support' && examples.some((_, e) => scores[plans.length + e * plans.length + i].maskFound));
      if (measured) return [];
      const why = scores[i].nonFinite
        ? 'the model gave NaN or infinite logits for the empty input'
        : 'the empty input is too long, its [MASK] was cut off';
      return [[plan.name, why]];
    }),
  );
  const declared = new Set(labels);
  const examplePreviews: ExamplePreview[] = [];
  for (const [e, { line, label: gold, fields }] of examples.entries()) {
    // In the language server this runs on the thread that answers hovers and completions:
    // a few examples at a time, so none of those waits for a whole preview (10–30 ms for 256 pairs).
    if (e > 0 && e % EXAMPLES_PER_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const results = plans.map((plan, p) => {
      const index = plans.length + e * plans.length + p;
      const cutFields = rendered[e * plans.length + p].truncatedFields;
      const scored = cutFields ? { ...scores[index], truncated: true } : scores[index];
      return patternResult(plan, labels, inputs[index], scored, priors[p], gold, declared, tokenizer.special.mask, options);
    });
    examplePreviews.push(exampleSummary(line, gold, fields, results, labels, declared, options));
  }

  return {
    model: tokenizer.modelId,
    calibrate: options.calibrate,
    ...(options.calibration === 'support' ? { calibration: 'support' as const } : {}),
    patterns: plans.map((plan) => plan.name),
    labels,
    examples: examplePreviews,
    // A pair's two texts are shown joined by the `[SEP+]` that separates them in the pattern.
    contentFree: Object.fromEntries(plans.map((plan, i) => [plan.name, segments(contentFree[i]).join(' [SEP+] ')])),
    priors: Object.fromEntries(plans.map((plan, i) => [plan.name, toRecord(labels, priors[i])])),
    ...(Object.keys(priorProblems).length > 0 ? { priorProblems } : {}),
    summary: {
      patterns: plans.map((plan, p) => accuracySummary(plan.name, examplePreviews, labels, (example) => example.results[p])),
      ensemble: accuracySummary('ensemble', examplePreviews, labels, (example) => ({
        labels: example.ensemble,
        calibrated: example.calibratedEnsemble,
      })),
    },
    excluded,
    excludedExamples,
    skippedWords,
  };
}

/** The verbalizer's labels in order, each once (a repeated label is an error the validator reports). */
function verbalizerLabels(doc: ClozeDocument): string[] {
  return [...new Set(doc.verbalizers[0]?.entries.map((entry) => entry.label.text) ?? [])];
}

function excludedPatterns(doc: ClozeDocument): ExcludedPattern[] {
  const unknownVerbalizer = doc.patterns
    .filter((pattern) => hasSingleMask(pattern) && doc.verbalizers.length > 0 && !verbalizerOf(doc, pattern))
    .map((pattern): ExcludedPattern => ({
      pattern: patternDisplayName(pattern),
      line: positionAt(doc, pattern.span.start).line + 1,
      code: 'verbalizer-unknown',
      reason: 'the pattern names a verbalizer the file does not declare',
    }));
  return doc.patterns
    .filter((pattern) => !hasSingleMask(pattern))
    .map((pattern): ExcludedPattern => {
      const masks = maskParts(pattern).length;
      return {
        pattern: patternDisplayName(pattern),
        line: positionAt(doc, pattern.span.start).line + 1,
        code: masks === 0 ? 'mask-missing' : 'mask-multiple',
        reason: masks === 0 ? 'the pattern has no [MASK]' : `the pattern has ${masks} masks; the model fills one`,
      };
    })
    .concat(unknownVerbalizer);
}

/**
 * The label-word tokens of each previewed pattern. A word is tokenized once
 * per mask context; a token listed twice under one label counts once, so a
 * repeated word cannot double its label's score.
 */
function planPatterns(
  doc: ClozeDocument,
  labels: readonly string[],
  tokenizer: TokenizerView,
): { plans: PatternPlan[]; skippedWords: SkippedWord[] } {
  type Form = { token: string; tokenIds: number[] } | { reason: string };
  const forms = new Map<string, Form>();
  const skipped = new Map<string, { label: string; word: string; patterns: string[]; reason: string }>();
  const formOf = (word: LabelWord, context: MaskContext, space: 'before' | 'none' | undefined, multi: boolean): Form => {
    const key = `${context}\u0000${space ?? ''}\u0000${multi}\u0000${word.text}`;
    let form = forms.get(key);
    if (!form) {
      const [tokenized] = labelWordForms(word.text, new Map([[context, []]]), tokenizer, space);
      const piece = singleToken(tokenized, tokenizer);
      const { pieces } = tokenized;
      form = piece
        ? { token: piece.token, tokenIds: [piece.id] }
        : multi && pieces.length > 1
          ? { token: formatPieces(pieces), tokenIds: pieces.map((p) => p.id) }
          : {
              reason:
                pieces.length === 1
                  ? `maps to the unknown token ${pieces[0].token}`
                  : pieces.length === 0
                    ? 'becomes no token'
                    : `is not one token: ${word.text} → ${formatPieces(pieces)}`,
            };
      forms.set(key, form);
    }
    return form;
  };

  const plans: PatternPlan[] = [];
  for (const pattern of doc.patterns.filter(hasSingleMask)) {
    const verbalizer = verbalizerOf(doc, pattern);
    if (!verbalizer && doc.verbalizers.length > 0) continue;
    const settings = verbalizerSettings(verbalizer);
    const name = patternDisplayName(pattern);
    const context = maskContext(pattern);
    const words: ScoredWord[] = [];
    for (const entry of verbalizer?.entries ?? []) {
      const label = labels.indexOf(entry.label.text);
      // A label the first verbalizer does not declare (`verbalizer-labels`) has no place in the distribution.
      if (label < 0) continue;
      for (const word of entry.words) {
        const form = formOf(word, context, fixedSpace(word, settings), settings.multiToken !== undefined);
        const key = 'reason' in form ? '' : form.tokenIds.join(' ');
        if ('reason' in form) {
          const skipKey = `${entry.label.text}\u0000${word.text}\u0000${form.reason}`;
          const record = skipped.get(skipKey) ?? { label: entry.label.text, word: word.text, patterns: [], reason: form.reason };
          if (!record.patterns.includes(name)) record.patterns.push(name);
          skipped.set(skipKey, record);
        } else if (!words.some((w) => w.label === label && w.tokenIds.join(' ') === key)) {
          words.push({ label, word: word.text, ...form });
        }
      }
    }
    plans.push({ pattern, name, words, aggregate: settings.aggregate, multiToken: settings.multiToken });
  }
  return { plans, skippedWords: [...skipped.values()] };
}

/** P(L | x) of one pattern on one input, from the model's word probabilities. */
function distribution(
  plan: PatternPlan,
  labels: readonly string[],
  scores: MaskScores,
): { probabilities: number[]; words: PreviewLabelWord[] } {
  if (!scores.maskFound) return { probabilities: labels.map(() => 1 / labels.length), words: [] };
  const byId = new Map(scores.words.map((word) => [word.tokenId, word]));
  const perLabel: number[][] = labels.map(() => []);
  const words = plan.words.map((word) => {
    const scored = word.tokenIds.map((id) => byId.get(id));
    const logProbabilities = scored.map((s) => Math.log(s?.p ?? 0));
    const logP = plan.multiToken && word.tokenIds.length > 1 ? handleMultiToken(logProbabilities, plan.multiToken) : logProbabilities[0];
    perLabel[word.label].push(logP);
    const ranks = scored.map((s) => s?.rank ?? 0);
    // The rank shown is the scored token's: the first token's, or the best one's with `max`.
    const rank = plan.multiToken === 'max' ? Math.min(...ranks) : ranks[0];
    return { label: labels[word.label], word: word.word, token: word.token, tokenId: word.tokenIds[0], p: Math.exp(logP), rank };
  });
  return { probabilities: aggregateLabels(plan.aggregate, perLabel), words };
}

function patternResult(
  plan: PatternPlan,
  labels: readonly string[],
  input: string,
  scores: MaskScores,
  prior: readonly number[],
  gold: string | null,
  declared: ReadonlySet<string>,
  maskToken: string,
  options: PreviewOptions,
): PatternResult {
  const [first, second] = segments(input);
  const base = {
    pattern: plan.name,
    input: first,
    ...(second === undefined ? {} : { inputB: second }),
    maskToken,
    maskFound: scores.maskFound,
    ...(scores.nonFinite ? { nonFinite: true } : {}),
    ...(scores.severalMasks ? { severalMasks: true } : {}),
    truncated: scores.truncated,
    top: scores.top,
  };
  if (!scores.maskFound) return { ...base, labels: {}, calibrated: {}, prediction: null, correct: null, labelWords: [] };
  const { probabilities, words } = distribution(plan, labels, scores);
  const calibrated = calibrate(probabilities, prior);
  const prediction = labels[argmax(options.calibrate ? calibrated : probabilities)] ?? null;
  return {
    ...base,
    labels: toRecord(labels, probabilities),
    calibrated: toRecord(labels, calibrated),
    prediction,
    correct: gold !== null && declared.has(gold) && prediction !== null ? prediction === gold : null,
    labelWords: words,
  };
}

function exampleSummary(
  line: number,
  gold: string | null,
  fields: ReadonlyMap<string, string>,
  results: readonly PatternResult[],
  labels: readonly string[],
  declared: ReadonlySet<string>,
  options: PreviewOptions,
): ExamplePreview {
  const scored = results.filter((result) => result.maskFound);
  const raw = ensemble(scored.map((result) => labels.map((label) => result.labels[label])));
  const calibrated = ensemble(scored.map((result) => labels.map((label) => result.calibrated[label])));
  const shown = options.calibrate ? calibrated : raw;
  const prediction = shown.length > 0 ? (labels[argmax(shown)] ?? null) : null;
  return {
    line,
    label: gold,
    fields: Object.fromEntries(fields),
    results,
    ensemble: toRecord(labels, raw),
    calibratedEnsemble: toRecord(labels, calibrated),
    prediction,
    correct: gold !== null && declared.has(gold) && prediction !== null ? prediction === gold : null,
  };
}

/** Accuracy and mean gold probability of one pattern (or the ensemble) over previewed inputs. */
export function accuracySummary(
  name: string,
  examples: readonly ExamplePreview[],
  labelOrder: readonly string[],
  pick: (example: ExamplePreview) => { labels: Record<string, number>; calibrated: Record<string, number> },
): AccuracySummary {
  let labelled = 0;
  let right = 0;
  let rightCalibrated = 0;
  let gold = 0;
  let goldCalibrated = 0;
  for (const example of examples) {
    const { labels, calibrated } = pick(example);
    if (example.label === null || !labelOrder.includes(example.label) || labels[example.label] === undefined) continue;
    labelled++;
    if (bestLabel(labelOrder, labels) === example.label) right++;
    if (bestLabel(labelOrder, calibrated) === example.label) rightCalibrated++;
    gold += labels[example.label];
    goldCalibrated += calibrated[example.label];
  }
  const share = (count: number): number | null => (labelled === 0 ? null : count / labelled);
  return {
    pattern: name,
    labelled,
    accuracy: share(right),
    calibratedAccuracy: share(rightCalibrated),
    meanGoldProbability: share(gold),
    meanGoldCalibrated: share(goldCalibrated),
  };
}

/**
 * The first label (in verbalizer order) with the highest probability, as
 * `argmax` picks it. The order comes from the verbalizer, not the record,
 * because JavaScript lists integer-like keys (`0`, `1`) first.
 */
function bestLabel(labels: readonly string[], distribution: Record<string, number>): string | undefined {
  return labels[argmax(labels.map((label) => distribution[label]))];
}
