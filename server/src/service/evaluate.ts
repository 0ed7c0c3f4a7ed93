import * as path from 'node:path';
import type { ClozeDocument } from '../language/ast';
import {
  argmax,
  calibrate,
  classificationFigures,
  ensemble,
  supportPrior,
  swapLabelWords,
  toRecord,
  weightedEnsemble,
  type ClassificationFigures,
  type Scorer,
} from '../language/scores';
import type { TokenizerView } from '../language/tokenizer';
import { usedFields } from '../language/render';
import { quotedNames } from '../language/quoting';
import { defaultDataLimits, readDataSet, type DataLimits, type DataPathOrigin, type Row } from './dataSets';
import {
  accuracySummary,
  computePreview,
  type AccuracySummary,
  type ExamplePreview,
  type ExcludedExample,
  type ExcludedPattern,
  type PreviewRow,
  type SkippedWord,
} from './preview';

/**
 * `cloze eval`: the patterns' accuracy on labelled data, as a PET user would
 * measure it before training: every labelled row of the file's `data:` files
 * (or of files given on the command line) is scored under every pattern with
 * the same code the preview uses, and summarised per pattern and for the
 * ensemble, with a confusion matrix.
 */

export interface EvaluationSource {
  readonly path: string;
  /** Its labelled rows taken (the rows read, less those skipped: no label, an undeclared one, a column missing). */
  readonly rows: number;
}

export interface Evaluation {
  readonly model: string;
  readonly calibrate: boolean;
  readonly sources: readonly EvaluationSource[];
  /** Rows scored: labelled with a label of the verbalizer. */
  readonly evaluated: number;
  /** Rows left out, by reason. */
  readonly skipped: Record<string, number>;
  /**
   * Per pattern, rows it could not score, left out of its figures: the mask cut off (the input
   * too long), or no numbers from the model (NaN or infinite logits). Only patterns with some.
   */
  readonly unscored: Record<string, { readonly maskCutOff: number; readonly nonFinite: number; readonly severalMasks: number }>;
  /**
   * Per pattern, rows scored on an input cut to fit the model (the text away from the mask dropped):
   * their figures are of what was left. Only patterns with some. A model that reads fewer tokens
   * than the others can lose a whole field this way and predict the same label for every row.
   */
  readonly truncated: Record<string, number>;
  /** Patterns whose content-free prior could not be measured, and why (their calibrated figures are the raw ones). */
  readonly priorProblems?: Record<string, string>;
  readonly labels: readonly string[];
  readonly patterns: readonly AccuracySummary[];
  /**
   * Patterns of the file that were not evaluated (no `[MASK]` or several, a verbalizer the file does
   * not declare), and why: the figures are of the others, and `cloze eval` fails (the file has errors).
   */
  readonly excluded: readonly ExcludedPattern[];
  /** Label words left out of every figure (not one token of the model, …), as the preview lists them. */
  readonly skippedWords: readonly SkippedWord[];
  /** The file's examples with an error (a field missing, a label not declared): not among the wmean weights' examples. */
  readonly excludedExamples: readonly ExcludedExample[];
  readonly ensemble: AccuracySummary;
  /** Ensemble predictions (calibrated with `calibrate`): confusion[gold][predicted] = rows. */
  readonly confusion: Record<string, Record<string, number>>;
  /** Which prior the calibrated figures divide by (`calibratedAccuracy`, `calibrated` below). */
  readonly calibration: Calibration;
  /** Each pattern's calibration prior P₀(L): its content-free input's, or the mean over the support set. */
  readonly priors: Record<string, Record<string, number>>;
  /** Inputs the support prior is the mean over (the data rows and the file's examples); 0 for content-free. */
  readonly supportSize: number;
  /** The ensemble weighted by each pattern's accuracy on the file's labelled examples (PET's `wmean`). */
  readonly weightedEnsemble: AccuracySummary;
  /** The weights of `weightedEnsemble`, raw and calibrated; null when the file has no labelled example (then it is the plain mean). */
  readonly weights: {
    readonly examples: number;
    readonly raw: Record<string, number>;
    readonly calibrated: Record<string, number>;
  } | null;
  /** Accuracy, macro-F1, per-label figures and the swap test of every pattern, the ensemble and the weighted ensemble. */
  readonly figures: readonly FigureSet[];
  /** The worst misclassified rows of the ensemble (lowest P(gold) first), when asked for. */
  readonly errors?: readonly MisclassifiedRow[];
}

/** `content-free`: the pattern's fields left empty (Zhao et al. 2021); `support`: the mean prediction over real inputs (OpenPrompt). */
export type Calibration = 'content-free' | 'support';

export interface LabelFiguresRecord {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly support: number;
}

export interface FiguresRecord {
  readonly accuracy: number | null;
  readonly macroF1: number | null;
  readonly perLabel: Record<string, LabelFiguresRecord>;
  /** Accuracy with the label words exchanged between labels (label i takes the words of label i + 1). */
  readonly swapAccuracy: number | null;
}

export interface FigureSet {
  /** The pattern's display name, `ensemble` or `weighted ensemble`. */
  readonly name: string;
  readonly kind: 'pattern' | 'ensemble' | 'weighted-ensemble';
  readonly raw: FiguresRecord;
  readonly calibrated: FiguresRecord;
}

export interface MisclassifiedRow {
  readonly file: string;
  /** 1-based line of the data file the row starts on (a CSV record may span several lines). */
  readonly line: number;
  readonly label: string;
  readonly predicted: string;
  /** P(gold) under the ensemble as predicted (calibrated with `calibrate`). */
  readonly goldProbability: number;
  readonly probabilities: Record<string, number>;
  readonly fields: Record<string, string>;
}

export interface EvaluationOptions {
  readonly calibrate: boolean;
  /** The prior of the calibrated figures; default `content-free`. */
  readonly calibration?: Calibration;
  /** List this many of the worst misclassified rows (`errors`). */
  readonly errors?: number;
  /** The data file of each row (aligned with `rows`), for `errors`. */
  readonly rowFiles?: readonly string[];
  /** Score at most this many rows (the first ones), for a quick look at a big file. */
  readonly limit?: number;
  /** Rows scored per call, so progress can be reported. */
  readonly chunkSize?: number;
  readonly onProgress?: (done: number, total: number) => void;
  /** Each chunk's scored rows as they come (the evaluation lens keeps them per pattern, lsp/dataLenses.ts). */
  readonly onExamples?: (examples: readonly ExamplePreview[]) => void;
}

/** The labelled rows of data files, as preview inputs; rows the verbalizer cannot score are counted, not scored. */
export async function evaluationRows(
  doc: ClozeDocument,
  files: readonly string[],
  labels: readonly string[],
  limits: DataLimits = defaultDataLimits,
  origin: DataPathOrigin = 'data-line',
): Promise<{
  rows: PreviewRow[];
  rowFiles: string[];
  sources: EvaluationSource[];
  skipped: Record<string, number>;
  problems: string[];
  /**
   * The files none of whose rows are evaluated, and why: unreadable, empty, lacking a column the
   * patterns read or the `label` column (their reasons are among `problems` too). A gate must not
   * pass on the other files.
   */
  notEvaluated: Array<{ path: string; reason: string; unreadable?: true }>;
  /** The labels of skipped rows that the verbalizer does not declare, in the order first seen. */
  undeclared: string[];
}> {
  const rows: PreviewRow[] = [];
  const rowFiles: string[] = [];
  const sources: EvaluationSource[] = [];
  const skipped: Record<string, number> = {};
  const problems: string[] = [];
  const notEvaluated: Array<{ path: string; reason: string; unreadable?: true }> = [];
  const skip = (file: string, reason: string, unreadable = false): void => {
    problems.push(reason);
    notEvaluated.push({ path: file, reason, ...(unreadable ? { unreadable: true as const } : {}) });
  };
  const undeclared = new Set<string>();
  const fields = usedFields(doc.patterns);
  const declared = new Set(labels);
  for (const typed of files) {
    // Messages name the file as typed; the results hold it absolute, as `data:` lines' paths are once resolved
    // against their file: a `--data` path as typed is relative to a working folder the JSON's reader does not know.
    const file = path.resolve(typed);
    const data = await readDataSet(typed, limits, origin);
    if (!data.ok) {
      skip(file, data.reason, true);
      continue;
    }
    if (data.limited) problems.push(`${path.basename(file)}: ${data.limited}; the rest is not evaluated.`);
    const inputColumns = data.columns.filter((column) => column !== 'label');
    // Like a one-line example, a file with one text column fills the one field the patterns use.
    const fill = (row: Row): Map<string, string> =>
      fields.length === 1 && inputColumns.length === 1
        ? new Map([[fields[0], row[inputColumns[0]] ?? '']])
        : new Map(fields.map((field) => [field, row[field] ?? '']));
    const missing = fields.length === 1 && inputColumns.length === 1 ? [] : fields.filter((field) => !data.columns.includes(field));
    // No row read because the byte limit fell inside the first one: the limit said so above; its columns are unknown.
    if (data.rows.length === 0 && data.limited) {
      notEvaluated.push({ path: file, reason: `${path.basename(file)}: ${data.limited}` });
      continue;
    }
    // As the data-empty diagnostic says it: an empty file (or a CSV/TSV header alone) lacks no column, it lacks rows.
    if (data.rows.length === 0) {
      skip(file, `${path.basename(file)} has no rows: there is nothing in it to evaluate.`);
      continue;
    }
    if (missing.length > 0) {
      const has = data.columns.length > 0 ? `it has ${quotedNames(data.columns)}` : 'it has no rows';
      skip(file, `${path.basename(file)} has no column ${missing.map((m) => `\`${m}\``).join(', ')}, which the patterns read (${has}).`);
      continue;
    }
    // Rows are scored against the column named `label`: a file that calls it otherwise (`sentiment`, `gold`) would only
    // be said to have "no labelled row".
    const labelColumn = data.columns.includes('label');
    if (!labelColumn) {
      skip(
        file,
        `${path.basename(file)} has no \`label\` column (it has ${quotedNames(data.columns)}): the gold labels are read from a column named \`label\`.`,
      );
    }
    const before = rows.length;
    const fileUndeclared = new Set<string>();
    // The columns the rows fill the fields from: a row without one would be scored with that field empty.
    const read = fields.length === 1 && inputColumns.length === 1 ? inputColumns : fields;
    data.rows.forEach((row, index) => {
      const label = row['label'];
      const lacking = read.find((column) => row[column] === undefined);
      if (lacking !== undefined) {
        const reason = `no \`${lacking}\``;
        skipped[reason] = (skipped[reason] ?? 0) + 1;
      } else if (label === undefined || label === '') {
        skipped['no label'] = (skipped['no label'] ?? 0) + 1;
      } else if (!declared.has(label)) {
        skipped[`label not in the verbalizer`] = (skipped[`label not in the verbalizer`] ?? 0) + 1;
        undeclared.add(label);
        fileUndeclared.add(label);
      } else {
        // The line the row starts on in its file, so `file:line` (and the panel's link) opens it.
        rows.push({ line: data.lines[index] ?? index + 1, label, fields: fill(row) });
        rowFiles.push(file);
      }
    });
    // A source is a file rows were taken from, with how many: a file none of whose rows is scored is
    // not one (it is among `notEvaluated`), or the report's "N labelled rows from …" would name it.
    if (rows.length > before) sources.push({ path: file, rows: rows.length - before });
    // Read, but not one row scored (every label undeclared, or none given): as good as not evaluated.
    if (labelColumn && rows.length === before) {
      const labels = [...fileUndeclared];
      // Not among `problems`: the skipped rows are counted, with their labels, where the report says what was skipped.
      notEvaluated.push({
        path: file,
        reason:
          labels.length > 0
            ? `none of the ${data.rows.length.toLocaleString('en-US')} rows of ${path.basename(file)} has a label of the verbalizer (they have ${quotedNames(labels)}).`
            : `none of the ${data.rows.length.toLocaleString('en-US')} rows of ${path.basename(file)} has a label and every column the patterns read.`,
      });
    }
  }
  return { rows, rowFiles, sources, skipped, problems, notEvaluated, undeclared: [...undeclared] };
}

export async function evaluate(
  doc: ClozeDocument,
  tokenizer: TokenizerView,
  scorer: Scorer,
  rows: readonly PreviewRow[],
  sources: readonly EvaluationSource[],
  skipped: Record<string, number>,
  options: EvaluationOptions,
): Promise<Evaluation> {
  const limited = options.limit !== undefined ? rows.slice(0, options.limit) : rows;
  const chunkSize = options.chunkSize ?? 64;
  const previews: ExamplePreview[] = [];
  let labels: readonly string[] = [];
  let patterns: readonly string[] = [];
  let contentFreePriors: Record<string, Record<string, number>> = {};
  let priorProblems: Record<string, string> = {};
  let excluded: readonly ExcludedPattern[] = [];
  let skippedWords: readonly SkippedWord[] = [];
  for (let start = 0; start < limited.length || start === 0; start += chunkSize) {
    const chunk = limited.slice(start, start + chunkSize);
    // Top tokens are not needed here; 1 keeps the results small.
    const preview = await computePreview(doc, tokenizer, scorer, { topK: 1, calibrate: options.calibrate, rows: chunk });
    labels = preview.labels;
    patterns = preview.patterns;
    contentFreePriors = preview.priors;
    priorProblems = preview.priorProblems ?? {};
    excluded = preview.excluded;
    skippedWords = preview.skippedWords;
    previews.push(...preview.examples);
    options.onExamples?.(preview.examples);
    options.onProgress?.(Math.min(start + chunk.length, limited.length), limited.length);
    if (limited.length === 0) break;
  }
  // The file's own examples: their labelled ones weight the patterns of `wmean`, and all
  // of them (labels ignored) belong to the support set of support calibration.
  const ownPreview = doc.examples.length > 0 ? await computePreview(doc, tokenizer, scorer, { topK: 1, calibrate: false }) : undefined;
  const own = ownPreview?.examples ?? [];

  const calibration = options.calibration ?? 'content-free';
  const uniform = labels.map(() => 1 / labels.length);
  const rawOf = (example: ExamplePreview, p: number): number[] | null => {
    const result = example.results[p];
    return result?.maskFound ? labels.map((label) => result.labels[label]) : null;
  };
  const priors = patterns.map((name, p) => {
    if (calibration === 'content-free') return labels.map((label) => contentFreePriors[name]?.[label] ?? 1 / labels.length);
    const support = [...previews, ...own].map((example) => rawOf(example, p)).filter((d): d is number[] => d !== null);
    return support.length > 0 ? supportPrior(support) : uniform;
  });
  const calibratedOf = (example: ExamplePreview, p: number): number[] | null => {
    const raw = rawOf(example, p);
    if (raw === null) return null;
    // The content-free figures are the preview's own; support ones divide by the support prior.
    return calibration === 'content-free' ? labels.map((label) => example.results[p].calibrated[label]) : calibrate(raw, priors[p]);
  };

  // PET's wmean: each pattern weighted by its accuracy on the labelled examples (here the file's).
  const labelledOwn = own.filter((example) => example.label !== null && labels.includes(example.label));
  const weightsOf = (distribution: (example: ExamplePreview, p: number) => number[] | null): number[] =>
    patterns.map((_, p) => {
      const scored = labelledOwn.filter((example) => distribution(example, p) !== null);
      if (scored.length === 0) return 0;
      const right = scored.filter((example) => labels[argmax(distribution(example, p) ?? [])] === example.label).length;
      return right / scored.length;
    });
  const weights =
    labelledOwn.length > 0
      ? { examples: labelledOwn.length, raw: weightsOf(rawOf), calibrated: weightsOf(calibratedOf) }
      : { examples: 0, raw: patterns.map(() => 1), calibrated: patterns.map(() => 1) };

  const combine = (distributions: readonly (number[] | null)[], patternWeights: readonly number[] | null): number[] => {
    const present = distributions.flatMap((d, p) => (d === null ? [] : [{ d, w: patternWeights?.[p] ?? 1 }]));
    return patternWeights === null
      ? ensemble(present.map(({ d }) => d))
      : weightedEnsemble(
          present.map(({ d }) => d),
          present.map(({ w }) => w),
        );
  };
  const scored = previews.map((example) => {
    const raw = patterns.map((_, p) => rawOf(example, p));
    const calibrated = patterns.map((_, p) => calibratedOf(example, p));
    return {
      example,
      raw,
      calibrated,
      ensembleRaw: combine(raw, null),
      ensembleCalibrated: combine(calibrated, null),
      weightedRaw: combine(raw, weights.raw),
      weightedCalibrated: combine(calibrated, weights.calibrated),
    };
  });
  type Scored = (typeof scored)[number];
  const index = new Map(previews.map((example, i) => [example, scored[i]]));
  const at = (example: ExamplePreview): Scored => index.get(example) as Scored;
  const record = (distribution: readonly number[] | null): Record<string, number> =>
    distribution === null || distribution.length === 0 ? {} : toRecord(labels, distribution);

  const confusion: Record<string, Record<string, number>> = Object.fromEntries(
    labels.map((gold) => [gold, Object.fromEntries(labels.map((p) => [p, 0]))]),
  );
  for (const row of scored) {
    const shown = options.calibrate ? row.ensembleCalibrated : row.ensembleRaw;
    const predicted = labels[argmax(shown)];
    if (row.example.label !== null && predicted !== undefined) confusion[row.example.label][predicted] += 1;
  }

  const sets: Array<{
    name: string;
    kind: FigureSet['kind'];
    raw: (row: Scored) => number[] | null;
    calibrated: (row: Scored) => number[] | null;
  }> = [
    ...patterns.map((name, p) => ({
      name,
      kind: 'pattern' as const,
      raw: (row: Scored) => row.raw[p],
      calibrated: (row: Scored) => row.calibrated[p],
    })),
    { name: 'ensemble', kind: 'ensemble', raw: (row) => row.ensembleRaw, calibrated: (row) => row.ensembleCalibrated },
    { name: 'weighted ensemble', kind: 'weighted-ensemble', raw: (row) => row.weightedRaw, calibrated: (row) => row.weightedCalibrated },
  ];
  const figures: FigureSet[] = sets.map((set) => ({
    name: set.name,
    kind: set.kind,
    raw: figuresRecord(scored, labels, set.raw),
    calibrated: figuresRecord(scored, labels, set.calibrated),
  }));

  let errors: MisclassifiedRow[] | undefined;
  if (options.errors !== undefined) {
    errors = scored
      .flatMap((row, r) => {
        const shown = options.calibrate ? row.ensembleCalibrated : row.ensembleRaw;
        const gold = row.example.label === null ? -1 : labels.indexOf(row.example.label);
        const predicted = argmax(shown);
        if (gold < 0 || predicted < 0 || predicted === gold) return [];
        return [
          {
            file: options.rowFiles?.[r] ?? '',
            line: row.example.line,
            label: labels[gold],
            predicted: labels[predicted],
            goldProbability: shown[gold],
            probabilities: toRecord(labels, shown),
            fields: row.example.fields,
          },
        ];
      })
      .sort((a, b) => a.goldProbability - b.goldProbability)
      .slice(0, options.errors);
  }

  return {
    model: tokenizer.modelId,
    calibrate: options.calibrate,
    sources,
    evaluated: previews.length,
    excluded,
    skippedWords,
    excludedExamples: ownPreview?.excludedExamples ?? [],
    skipped:
      options.limit !== undefined && rows.length > limited.length
        ? { ...skipped, 'beyond --limit': rows.length - limited.length }
        : skipped,
    // A content-free prior that could not be measured (support calibration measures its own).
    ...(calibration === 'content-free' && Object.keys(priorProblems).length > 0 ? { priorProblems } : {}),
    unscored: Object.fromEntries(
      patterns.flatMap((name, p) => {
        const missed = previews.map((example) => example.results[p]).filter((r) => r !== undefined && !r.maskFound);
        const nonFinite = missed.filter((r) => r.nonFinite).length;
        const severalMasks = missed.filter((r) => r.severalMasks).length;
        return missed.length > 0 ? [[name, { maskCutOff: missed.length - nonFinite - severalMasks, nonFinite, severalMasks }]] : [];
      }),
    ),
    truncated: Object.fromEntries(
      patterns.flatMap((name, p) => {
        const cut = previews.filter((example) => example.results[p]?.maskFound && example.results[p]?.truncated).length;
        return cut > 0 ? [[name, cut]] : [];
      }),
    ),
    labels,
    patterns: patterns.map((name, p) =>
      accuracySummary(name, previews, labels, (example) => ({
        labels: example.results[p].labels,
        calibrated: record(at(example).calibrated[p]),
      })),
    ),
    ensemble: accuracySummary('ensemble', previews, labels, (example) => ({
      labels: example.ensemble,
      calibrated: record(at(example).ensembleCalibrated),
    })),
    confusion,
    calibration,
    priors: Object.fromEntries(patterns.map((name, p) => [name, toRecord(labels, priors[p])])),
    supportSize: calibration === 'support' ? previews.length + own.length : 0,
    weightedEnsemble: accuracySummary('weighted ensemble', previews, labels, (example) => ({
      labels: record(at(example).weightedRaw),
      calibrated: record(at(example).weightedCalibrated),
    })),
    weights:
      weights.examples > 0
        ? {
            examples: weights.examples,
            raw: toRecord(patterns, weights.raw),
            calibrated: toRecord(patterns, weights.calibrated),
          }
        : null,
    figures,
    ...(errors !== undefined ? { errors } : {}),
  };
}

/** The figures of one way of predicting over the scored rows (rows it cannot score are left out, as `accuracySummary` does). */
function figuresRecord<Row extends { example: ExamplePreview }>(
  rows: readonly Row[],
  labels: readonly string[],
  distributionOf: (row: Row) => readonly number[] | null,
): FiguresRecord {
  const gold: number[] = [];
  const predicted: number[] = [];
  const swapped: number[] = [];
  for (const row of rows) {
    const distribution = distributionOf(row);
    const g = row.example.label === null ? -1 : labels.indexOf(row.example.label);
    if (distribution === null || distribution.length === 0 || g < 0) continue;
    gold.push(g);
    predicted.push(argmax(distribution));
    swapped.push(argmax(swapLabelWords(distribution)));
  }
  const figures: ClassificationFigures = classificationFigures(gold, predicted, labels.length);
  const swap = classificationFigures(gold, swapped, labels.length);
  return {
    accuracy: figures.accuracy,
    macroF1: figures.macroF1,
    perLabel: Object.fromEntries(
      labels.map((label, l) => {
        const { precision, recall, f1, support } = figures.perLabel[l];
        return [label, { precision, recall, f1, support }];
      }),
    ),
    swapAccuracy: swap.accuracy,
  };
}
