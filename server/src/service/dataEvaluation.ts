import { createHash } from 'node:crypto';
import { patternDisplayName, type ClozeDocument, type Pattern } from '../language/ast';
import { verbalizerOf } from '../language/options';
import { hasSingleMask } from '../language/render';
import {
  argmax,
  calibrate,
  classificationFigures,
  ensemble,
  supportPrior,
  swapLabelWords,
  toRecord,
  type Scorer,
} from '../language/scores';
import type { TokenizerView } from '../language/tokenizer';
import { CancelledError } from '../model/cancelled';
import type { LoadableModel } from '../model/engine';
import { modelFileStamp } from '../model/resolve';
import type { DataLimits } from './dataSets';
import { evaluate, evaluationRows, type Calibration, type LabelFiguresRecord, type MisclassifiedRow } from './evaluate';
import { accuracySummary, computePreview, type ExamplePreview } from './preview';

/**
 * The evaluation lens's figures: `cloze eval`'s evaluation (evaluate.ts) run
 * one pattern at a time and remembered per (model, rows of the data files,
 * pattern, verbalizer), so that after an edit only the patterns whose text or
 * verbalizer changed are scored again, and the ensemble is recomputed from
 * the remembered per-row distributions with the same arithmetic as the
 * preview (the mean of P, of P̂). A computation is shared by every job that
 * needs it and stopped when none does any more. With the support prior, each
 * pattern's P̂ is computed again from its remembered P: the prior is the mean
 * over the rows and the file's examples, so an edited example changes it
 * without any row being scored again.
 */

/** One pattern's (or the ensemble's) figures on the labelled rows; raw and calibrated. */
export interface DataFigures {
  readonly name: string;
  /** A pattern's source line as evaluated (absent for the ensemble): which pattern of a later version the figures belong to. */
  readonly source?: string;
  /** Labelled rows scored. */
  readonly rows: number;
  readonly accuracy: number | null;
  readonly calibratedAccuracy: number | null;
  readonly macroF1: number | null;
  readonly calibratedMacroF1: number | null;
  readonly meanGold: number | null;
  readonly meanGoldCalibrated: number | null;
  /** Precision, recall, F1 and support of each label, as `cloze eval` (`figures[].raw.perLabel`) counts them. */
  readonly perLabel: Readonly<Record<string, LabelFiguresRecord>>;
  readonly calibratedPerLabel: Readonly<Record<string, LabelFiguresRecord>>;
  /** Accuracy with the label words exchanged (label i takes the words of label i + 1): near 1 − accuracy when the words matter. */
  readonly swapAccuracy: number | null;
  readonly calibratedSwapAccuracy: number | null;
  /** confusion[gold][predicted] = rows. */
  readonly confusion: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly calibratedConfusion: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** The ensemble's misclassified rows, worst (lowest P(gold)) first: at most this many are kept. */
export const MAX_MISCLASSIFIED = 300;
/** A field's text is cut to this many characters in a misclassified row (the panel asks again on every edit). */
const FIELD_CHARS = 240;

export interface DataEvaluation {
  readonly model: string;
  readonly labels: readonly string[];
  readonly rows: number;
  readonly patterns: readonly DataFigures[];
  readonly ensemble: DataFigures;
  /** Why some rows or files are not in the figures (unreadable file, missing column, row limit). */
  readonly problems: readonly string[];
  readonly skipped: Readonly<Record<string, number>>;
  /** Patterns whose figures were remembered rather than scored again. */
  readonly reused: number;
  /**
   * The rows the ensemble gets wrong, raw and calibrated, worst (lowest P(gold)) first, with the
   * line each starts on in its file; at most `MAX_MISCLASSIFIED` (`misclassifiedCount` says how many there are).
   */
  readonly misclassified: { readonly raw: readonly MisclassifiedRow[]; readonly calibrated: readonly MisclassifiedRow[] };
  readonly misclassifiedCount: { readonly raw: number; readonly calibrated: number };
  /** Which prior the calibrated figures divide by, as `cloze eval --calibration`. */
  readonly calibration: Calibration;
  /** Inputs the support prior is the mean over (rows and the file's examples); 0 for content-free. */
  readonly supportSize: number;
}

/** What one pattern gives each row: the gold label, P(L | x) and P̂(L | x) (empty when the mask was cut off). */
interface PatternRows {
  readonly gold: ReadonlyArray<string | null>;
  readonly raw: ReadonlyArray<Record<string, number>>;
  readonly calibrated: ReadonlyArray<Record<string, number>>;
}

interface Computation {
  readonly promise: Promise<PatternRows>;
  readonly wanters: Set<object>;
  readonly listeners: Set<() => void>;
  readonly total: number;
  done: number;
  cancelled: boolean;
}

export interface DataEvaluationRequest {
  readonly doc: ClozeDocument;
  /** The data files, resolved. */
  readonly files: readonly string[];
  readonly tokenizer: TokenizerView;
  /** Model folder and precision: what makes two models' numbers differ. */
  readonly modelKey: string;
  /** A scorer for one computation; each gets its own key so none cancels another. */
  readonly scorerFor: (computationKey: string) => Scorer;
  /** Told when a computation's scorer is done with (settled, failed or cancelled): the inference worker forgets its key. */
  readonly releaseScorer?: (computationKey: string) => void;
  readonly limits: DataLimits;
  /** Rows scored so far and in all, across the patterns still to score. */
  readonly onProgress?: (done: number, total: number) => void;
  /** The prior of the calibrated figures (`cloze.preview.calibration`); content-free when absent. */
  readonly calibration?: Calibration;
}

/**
 * What makes two models' numbers differ (`DataEvaluationRequest.modelKey`, `ScoreMemo`): the model
 * folder, the precision, and the files as they are on disk now (a model replaced in its folder is
 * another model).
 */
export function dataModelKey(location: LoadableModel, quantized: boolean): string {
  return JSON.stringify([location.root, location.name, quantized, modelFileStamp(location, quantized)]);
}

/** Remembered pattern evaluations; each is a few numbers per row. */
const MAX_REMEMBERED = 200;

export class DataEvaluations {
  private readonly computations = new Map<string, Computation>();
  /** Calls of `supportCalibrated` so far: each scores under a key of its own. */
  private supportCalls = 0;
  /** Jobs cancelled, perhaps before they asked for their computations. */
  private readonly cancelledJobs = new WeakSet<object>();

  /**
   * Evaluates the document's patterns on the rows of `files`. `job` names the
   * caller: `cancel(job)` stops the computations only it still needs.
   */
  async evaluate(request: DataEvaluationRequest, job: object): Promise<DataEvaluation> {
    const { doc, tokenizer } = request;
    const labels = [...new Set(doc.verbalizers[0]?.entries.map((e) => e.label.text) ?? [])];
    const { rows, rowFiles, sources, skipped, problems } = await evaluationRows(doc, request.files, labels, request.limits);
    if (this.cancelledJobs.has(job)) throw new CancelledError('The evaluation lens no longer needs this evaluation.');
    if (rows.length === 0)
      throw new Error(
        problems.length > 0
          ? `${problems.join(' ')}${request.files.length > 1 ? ' Nothing else is left to evaluate on.' : ''}`
          : 'No labelled row with a label of the verbalizer.',
      );
    const rowsKey = hash(JSON.stringify(rows.map((row) => [row.label, [...row.fields]])));
    const patterns = doc.patterns.filter(hasSingleMask);
    let reused = 0;
    const needed = patterns.map((pattern) => {
      const key = hash(JSON.stringify([request.modelKey, rowsKey, patternKey(doc, pattern), labels]));
      let computation = this.computations.get(key);
      if (computation && !computation.cancelled) {
        reused++;
        // Recently used: moved to the end, so the oldest are dropped first.
        this.computations.delete(key);
        this.computations.set(key, computation);
      } else {
        computation = this.start(key, { ...doc, patterns: [pattern] }, tokenizer, request.scorerFor(key), rows, sources, skipped);
        // Each computation scores under a key of its own: forgotten when it settles, else one entry per edit stays for good.
        computation.promise.then(
          () => request.releaseScorer?.(key),
          () => request.releaseScorer?.(key),
        );
      }
      computation.wanters.add(job);
      return computation;
    });
    // Progress over all the job's patterns: those remembered count as done.
    const report = (): void => {
      request.onProgress?.(
        needed.reduce((sum, c) => sum + c.done, 0),
        needed.reduce((sum, c) => sum + c.total, 0),
      );
    };
    for (const computation of needed) computation.listeners.add(report);
    try {
      const scoredRows = await Promise.all(needed.map((c) => c.promise));
      const calibration = request.calibration ?? 'content-free';
      const { results, supportSize } =
        calibration === 'support'
          ? await this.supportCalibrated(request, job, patterns, scoredRows, labels)
          : { results: scoredRows, supportSize: 0 };
      const figures = patterns.map((pattern, p) => ({
        ...figuresOf(patternDisplayName(pattern), results[p], labels),
        source: doc.text.slice(pattern.span.start, pattern.span.end),
      }));
      const rowCount = results[0]?.gold.length ?? 0;
      const ensembleRows: PatternRows = {
        gold: results[0]?.gold ?? [],
        raw: Array.from({ length: rowCount }, (_, r) =>
          meanOf(
            results.map((p) => p.raw[r]),
            labels,
          ),
        ),
        calibrated: Array.from({ length: rowCount }, (_, r) =>
          meanOf(
            results.map((p) => p.calibrated[r]),
            labels,
          ),
        ),
      };
      const misclassified = (distributions: ReadonlyArray<Record<string, number>>): MisclassifiedRow[] =>
        rows
          .flatMap((row, r) => {
            const gold = ensembleRows.gold[r];
            const distribution = distributions[r];
            if (gold === null || distribution[gold] === undefined) return [];
            const predicted = labels[argmax(labels.map((label) => distribution[label]))];
            if (predicted === gold) return [];
            const fields = Object.fromEntries(
              [...row.fields].map(([k, v]) => [k, v.length > FIELD_CHARS ? `${v.slice(0, FIELD_CHARS)}…` : v]),
            );
            return [
              {
                file: rowFiles[r],
                line: row.line,
                label: gold,
                predicted,
                goldProbability: distribution[gold],
                probabilities: distribution,
                fields,
              },
            ];
          })
          .sort((a, b) => a.goldProbability - b.goldProbability);
      const wrongRaw = misclassified(ensembleRows.raw);
      const wrongCalibrated = misclassified(ensembleRows.calibrated);
      return {
        model: tokenizer.modelId,
        labels,
        rows: rows.length,
        patterns: figures,
        ensemble: figuresOf('ensemble', ensembleRows, labels),
        problems,
        skipped,
        reused,
        misclassified: { raw: wrongRaw.slice(0, MAX_MISCLASSIFIED), calibrated: wrongCalibrated.slice(0, MAX_MISCLASSIFIED) },
        misclassifiedCount: { raw: wrongRaw.length, calibrated: wrongCalibrated.length },
        calibration,
        supportSize,
      };
    } finally {
      for (const computation of needed) computation.listeners.delete(report);
      this.trim();
    }
  }

  /**
   * Each pattern's rows calibrated by the support prior, as `cloze eval --calibration support`
   * computes it: the mean P over the rows it scored and the file's own examples (labels ignored).
   * The examples are a few inputs, scored again for every version; the rows are the remembered ones.
   */
  private async supportCalibrated(
    request: DataEvaluationRequest,
    job: object,
    patterns: readonly Pattern[],
    scored: readonly PatternRows[],
    labels: readonly string[],
  ): Promise<{ results: PatternRows[]; supportSize: number }> {
    // A key per call: forgetting a shared one when this call ends would cancel another job's scoring under it.
    const supportKey = `support:${++this.supportCalls}`;
    try {
      return await this.supportCalibratedWith(request.scorerFor(supportKey), request, job, patterns, scored, labels);
    } finally {
      request.releaseScorer?.(supportKey);
    }
  }

  private async supportCalibratedWith(
    scorer: Scorer,
    request: DataEvaluationRequest,
    job: object,
    patterns: readonly Pattern[],
    scored: readonly PatternRows[],
    labels: readonly string[],
  ): Promise<{ results: PatternRows[]; supportSize: number }> {
    const { doc, tokenizer } = request;
    const guarded: Scorer = (inputs, wordIds, topK) => {
      if (this.cancelledJobs.has(job)) throw new CancelledError('The evaluation lens no longer needs this evaluation.');
      return scorer(inputs, wordIds, topK);
    };
    const complete = (d: Record<string, number> | undefined): d is Record<string, number> =>
      d !== undefined && labels.every((label) => d[label] !== undefined);
    const results: PatternRows[] = [];
    for (const [p, pattern] of patterns.entries()) {
      const own =
        doc.examples.length === 0
          ? []
          : (await computePreview({ ...doc, patterns: [pattern] }, tokenizer, guarded, { topK: 1, calibrate: false })).examples.map(
              (example) => example.results[0]?.labels,
            );
      const support = [...scored[p].raw, ...own].filter(complete).map((d) => labels.map((label) => d[label]));
      const prior = support.length > 0 ? supportPrior(support) : labels.map(() => 1 / labels.length);
      results.push({
        gold: scored[p].gold,
        raw: scored[p].raw,
        calibrated: scored[p].raw.map((d) =>
          complete(d)
            ? toRecord(
                labels,
                calibrate(
                  labels.map((label) => d[label]),
                  prior,
                ),
              )
            : {},
        ),
      });
    }
    // As `cloze eval` counts it: every row evaluated and every example, scored or not.
    return { results, supportSize: (scored[0]?.gold.length ?? 0) + doc.examples.length };
  }

  /** The job is superseded: computations no other job needs stop at their next chunk. */
  cancel(job: object): void {
    this.cancelledJobs.add(job);
    for (const [key, computation] of this.computations) {
      if (!computation.wanters.delete(job) || computation.wanters.size > 0) continue;
      if (computation.done < computation.total) {
        computation.cancelled = true;
        this.computations.delete(key);
      }
    }
  }

  private start(
    key: string,
    doc: ClozeDocument,
    tokenizer: TokenizerView,
    scorer: Scorer,
    rows: Parameters<typeof evaluate>[3],
    sources: Parameters<typeof evaluate>[4],
    skipped: Record<string, number>,
  ): Computation {
    const gold: Array<string | null> = [];
    const raw: Array<Record<string, number>> = [];
    const calibrated: Array<Record<string, number>> = [];
    const computation: Computation = {
      wanters: new Set(),
      listeners: new Set(),
      total: rows.length,
      done: 0,
      cancelled: false,
      promise: Promise.resolve().then(async () => {
        await evaluate(
          doc,
          tokenizer,
          (inputs, wordIds, topK) => {
            if (computation.cancelled) throw new CancelledError('The evaluation lens no longer needs this pattern.');
            return scorer(inputs, wordIds, topK);
          },
          rows,
          sources,
          skipped,
          {
            calibrate: false,
            onExamples: (examples: readonly ExamplePreview[]) => {
              for (const example of examples) {
                const [result] = example.results;
                gold.push(example.label);
                raw.push(result?.labels ?? {});
                calibrated.push(result?.calibrated ?? {});
              }
            },
            onProgress: (done) => {
              computation.done = done;
              for (const listener of computation.listeners) listener();
            },
          },
        );
        return { gold, raw, calibrated };
      }),
    };
    // A failed or cancelled computation is not remembered: the next job tries again.
    computation.promise.catch(() => {
      if (this.computations.get(key) === computation) this.computations.delete(key);
    });
    this.computations.set(key, computation);
    return computation;
  }

  private trim(): void {
    for (const [key, computation] of this.computations) {
      if (this.computations.size <= MAX_REMEMBERED) break;
      if (computation.wanters.size === 0 || computation.done >= computation.total) this.computations.delete(key);
    }
  }
}

/** What a pattern's numbers depend on besides the model and the rows: its text and options, and its verbalizer. */
function patternKey(doc: ClozeDocument, pattern: Pattern): string {
  const verbalizer = verbalizerOf(doc, pattern);
  return JSON.stringify([
    doc.text.slice(pattern.textSpan.start, pattern.span.end),
    pattern.options.map((o) => [o.key.text, o.value.text]),
    verbalizer ? doc.text.slice(verbalizer.span.start, verbalizer.span.end) : null,
  ]);
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The ensemble of one row: the mean over the patterns that scored it (as the preview's ensemble). */
function meanOf(distributions: ReadonlyArray<Record<string, number> | undefined>, labels: readonly string[]): Record<string, number> {
  const scored = distributions.filter((d): d is Record<string, number> => d !== undefined && labels.every((l) => d[l] !== undefined));
  const mean = ensemble(scored.map((d) => labels.map((label) => d[label])));
  return mean.length === 0 ? {} : toRecord(labels, mean);
}

function figuresOf(name: string, rows: PatternRows, labels: readonly string[]): DataFigures {
  // The same summary as `cloze eval` (accuracy, mean gold probability), over the same rows.
  const examples: ExamplePreview[] = rows.gold.map((label, r) => ({
    line: r + 1,
    label,
    fields: {},
    results: [],
    ensemble: rows.raw[r],
    calibratedEnsemble: rows.calibrated[r],
    prediction: null,
    correct: null,
  }));
  const summary = accuracySummary(name, examples, labels, (e) => ({ labels: e.ensemble, calibrated: e.calibratedEnsemble }));
  // Accuracy, macro-F1, per-label figures and the swap test with `cloze eval`'s functions (evaluate.ts `figuresRecord`).
  const classified = (pick: (r: number) => Record<string, number>) => {
    const gold: number[] = [];
    const predicted: number[] = [];
    const swapped: number[] = [];
    rows.gold.forEach((label, r) => {
      const distribution = pick(r);
      if (label === null || distribution[label] === undefined) return;
      const values = labels.map((l) => distribution[l]);
      gold.push(labels.indexOf(label));
      predicted.push(argmax(values));
      swapped.push(argmax(swapLabelWords(values)));
    });
    const figures = classificationFigures(gold, predicted, labels.length);
    const confusion = Object.fromEntries(labels.map((g) => [g, Object.fromEntries(labels.map((p) => [p, 0]))]));
    gold.forEach((g, i) => {
      const p = labels[predicted[i]];
      if (p !== undefined) confusion[labels[g]][p] += 1;
    });
    const perLabel = Object.fromEntries(
      labels.map((label, l) => {
        const { precision, recall, f1, support } = figures.perLabel[l];
        return [label, { precision, recall, f1, support }];
      }),
    );
    return { figures, perLabel, confusion, swap: classificationFigures(gold, swapped, labels.length).accuracy };
  };
  const raw = classified((r) => rows.raw[r]);
  const calibrated = classified((r) => rows.calibrated[r]);
  return {
    name,
    rows: summary.labelled,
    accuracy: summary.accuracy,
    calibratedAccuracy: summary.calibratedAccuracy,
    macroF1: raw.figures.macroF1,
    calibratedMacroF1: calibrated.figures.macroF1,
    meanGold: summary.meanGoldProbability,
    meanGoldCalibrated: summary.meanGoldCalibrated,
    perLabel: raw.perLabel,
    calibratedPerLabel: calibrated.perLabel,
    swapAccuracy: raw.swap,
    calibratedSwapAccuracy: calibrated.swap,
    confusion: raw.confusion,
    calibratedConfusion: calibrated.confusion,
  };
}
