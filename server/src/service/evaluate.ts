import * as path from 'node:path';
import type { ClozeDocument } from '../language/ast';
import { argmax, type Scorer } from '../language/scores';
import type { TokenizerView } from '../language/tokenizer';
import { usedFields } from '../language/render';
import { defaultDataLimits, readDataSet, type DataLimits, type Row } from './dataSets';
import { accuracySummary, computePreview, type AccuracySummary, type ExamplePreview, type PreviewRow } from './preview';

/**
 * `cloze eval`: the patterns' accuracy on labelled data, as a PET user would
 * measure it before training: every labelled row of the file's `data:` files
 * (or of files given on the command line) is scored under every pattern with
 * the same code the preview uses, and summarised per pattern and for the
 * ensemble, with a confusion matrix.
 */

export interface EvaluationSource {
  readonly path: string;
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
  readonly labels: readonly string[];
  readonly patterns: readonly AccuracySummary[];
  readonly ensemble: AccuracySummary;
  /** Ensemble predictions (calibrated with `calibrate`): confusion[gold][predicted] = rows. */
  readonly confusion: Record<string, Record<string, number>>;
}

export interface EvaluationOptions {
  readonly calibrate: boolean;
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
): Promise<{ rows: PreviewRow[]; sources: EvaluationSource[]; skipped: Record<string, number>; problems: string[] }> {
  const rows: PreviewRow[] = [];
  const sources: EvaluationSource[] = [];
  const skipped: Record<string, number> = {};
  const problems: string[] = [];
  const fields = usedFields(doc.patterns);
  const declared = new Set(labels);
  for (const file of files) {
    const data = await readDataSet(file, limits);
    if (!data.ok) {
      problems.push(data.reason);
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
    if (missing.length > 0) {
      problems.push(`${path.basename(file)} has no column ${missing.map((m) => `\`${m}\``).join(', ')}, which the patterns read.`);
      continue;
    }
    sources.push({ path: file, rows: data.rows.length });
    data.rows.forEach((row, index) => {
      const label = row['label'];
      if (label === undefined || label === '') {
        skipped['no label'] = (skipped['no label'] ?? 0) + 1;
      } else if (!declared.has(label)) {
        skipped[`label not in the verbalizer`] = (skipped[`label not in the verbalizer`] ?? 0) + 1;
      } else {
        rows.push({ line: index + 1, label, fields: fill(row) });
      }
    });
  }
  return { rows, sources, skipped, problems };
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
  for (let start = 0; start < limited.length || start === 0; start += chunkSize) {
    const chunk = limited.slice(start, start + chunkSize);
    // Top tokens are not needed here; 1 keeps the results small.
    const preview = await computePreview(doc, tokenizer, scorer, { topK: 1, calibrate: options.calibrate, rows: chunk });
    labels = preview.labels;
    patterns = preview.patterns;
    previews.push(...preview.examples);
    options.onExamples?.(preview.examples);
    options.onProgress?.(Math.min(start + chunk.length, limited.length), limited.length);
    if (limited.length === 0) break;
  }
  const confusion: Record<string, Record<string, number>> = Object.fromEntries(
    labels.map((gold) => [gold, Object.fromEntries(labels.map((p) => [p, 0]))]),
  );
  for (const example of previews) {
    const shown = options.calibrate ? example.calibratedEnsemble : example.ensemble;
    const predicted = labels[argmax(labels.map((label) => shown[label] ?? 0))];
    if (example.label !== null && predicted !== undefined) confusion[example.label][predicted] += 1;
  }
  return {
    model: tokenizer.modelId,
    calibrate: options.calibrate,
    sources,
    evaluated: previews.length,
    skipped:
      options.limit !== undefined && rows.length > limited.length
        ? { ...skipped, 'beyond --limit': rows.length - limited.length }
        : skipped,
    labels,
    patterns: patterns.map((name, p) => accuracySummary(name, previews, labels, (example) => example.results[p])),
    ensemble: accuracySummary('ensemble', previews, labels, (example) => ({
      labels: example.ensemble,
      calibrated: example.calibratedEnsemble,
    })),
    confusion,
  };
}
