import { parse } from '../language/parse';
import { engineReport, type ModelInfo } from '../model/engine';
import { computePreview, type PreviewResult } from '../service/preview';
import { skippedWordLine } from '../service/previewReport';
import { createService } from './check';
import { openScoringSession, type ScoringOptions } from './session';
import { readSourceFile } from './sourceFile';

/**
 * `cloze preview` with several models: `--model a --model b`, or a file with
 * a `models:` line. Each model is loaded, scored and disposed in turn (one
 * engine in memory at a time), with the same computePreview the lenses use;
 * the text output puts the predictions side by side, the JSON holds each
 * model's full preview.
 */

/** Which model a column is: an id given by `--model`, or the file's own (its default, or one of `models:`). */
export interface ModelColumn {
  readonly override?: string;
  readonly listed?: string;
}

/**
 * The columns of a preview: the `--model` ids when given, else the file's
 * default model and the others of its `models:` line; one column (or none,
 * when the file cannot be read: the single preview reports that) means no
 * comparison.
 */
export function previewColumns(file: string, requested: readonly string[], options: ScoringOptions): ModelColumn[] {
  if (requested.length > 0) return [...new Set(requested)].map((id) => ({ override: id }));
  const source = readSourceFile(file);
  if (!source.ok) return [];
  const doc = parse(source.text);
  const service = createService(options);
  const others = service.otherModelChoices(doc, file, service.modelChoice(doc, file));
  return others.length === 0 ? [] : [{}, ...others.map((choice) => ({ listed: choice.id }))];
}

export interface CompareOptions extends ScoringOptions {
  readonly calibrate?: boolean;
  readonly topK: number;
  readonly format: 'text' | 'json';
}

interface Column {
  readonly result: PreviewResult;
  readonly info: ModelInfo;
}

/** The id a column previews, for the JSON's `unavailable` (the file's default when the column names none). */
function columnId(file: string, column: ModelColumn, options: ScoringOptions): string {
  if (column.override !== undefined) return column.override;
  if (column.listed !== undefined) return column.listed;
  const source = readSourceFile(file);
  if (!source.ok) return 'the default model';
  const doc = parse(source.text);
  return createService(options).modelChoice(doc, file).id;
}

export async function runComparison(file: string, columns: readonly ModelColumn[], options: CompareOptions): Promise<number> {
  const done: Column[] = [];
  // Problems shared by every model (the file's structure) are said once.
  const said = new Set<string>();
  let failed = 0;
  // As `cloze eval`'s: a model left out of the JSON is listed with why, not only said on stderr.
  const unavailable: Array<{ model: string; message: string }> = [];
  for (const column of columns) {
    const id = columnId(file, column, { ...options, model: undefined });
    const onModelUnavailable = (message: string): void => void unavailable.push({ model: id, message });
    const session = await openScoringSession(
      file,
      { ...options, model: column.override, listedModel: column.listed, onModelUnavailable },
      'previewed',
      said,
    );
    if (typeof session === 'number') {
      if (session === 2) return 2;
      failed++;
      continue;
    }
    const { doc, tokenizer, engine } = session;
    try {
      session.report(session.errors);
      const result = await computePreview(doc, tokenizer, (inputs, wordIds, topK) => engine.score(inputs, wordIds, topK), {
        topK: options.topK,
        calibrate: options.calibrate ?? false,
      });
      done.push({ result, info: engine.info });
    } catch (error) {
      session.scoringFailed(error);
      failed++;
    } finally {
      await engine.dispose();
    }
  }
  // No model loaded: the JSON still says which and why, as `cloze eval`'s does; a file that cannot be
  // previewed with any model (its structure) has no model to list, and the CLI's failure JSON says why.
  if (done.length === 0) {
    if (options.format === 'json' && unavailable.length > 0) {
      process.stdout.write(`${JSON.stringify({ file, models: [], previews: [], unavailable }, null, 2)}\n`);
    }
    return 1;
  }
  if (options.format === 'json') {
    const previews = done.map(({ result, info }) => ({ ...result, quantized: info.quantized, engine: engineReport(info) }));
    process.stdout.write(`${JSON.stringify({ file, models: done.map((c) => c.result.model), previews, unavailable }, null, 2)}\n`);
  } else {
    process.stdout.write(formatComparison(done.map((c) => c.result)));
  }
  // Every model that could be previewed is shown; one that could not makes the run fail, as a single preview does.
  return failed > 0 ? 1 : 0;
}

function percent(p: number | null | undefined): string {
  return p === undefined || p === null ? '–' : `${(p * 100).toFixed(1)}%`;
}

/**
 * One table per example: a row per pattern (and the ensemble), a column per
 * model with its prediction, that label's probability and ✓/✗; then each
 * model's accuracy on the labelled examples.
 */
export function formatComparison(results: readonly PreviewResult[]): string {
  const [first] = results;
  const calibrate = first.calibrate;
  const lines: string[] = [];
  lines.push(
    `models ${results.map((r) => r.model).join(' · ')} · ${calibrate ? 'calibrated probabilities P̂' : 'label probabilities P(label | input) (--calibrate for calibrated)'}`,
  );
  lines.push(`labels: ${first.labels.join(', ')}`);
  for (const result of results) {
    for (const skipped of result.skippedWords) lines.push(`${result.model}: ${skippedWordLine(skipped, result.patterns)}`);
  }
  for (const excluded of first.excluded)
    lines.push(`not previewed: ${excluded.pattern} (line ${excluded.line}): ${excluded.reason} (${excluded.code})`);
  if (first.examples.length === 0) lines.push('', 'The file has no examples to preview. Add one, e.g. `example positive: I loved it.`');

  const labelWidth = Math.max(6, ...first.labels.map((label) => label.length));
  const cellWidth = Math.max(labelWidth + 10, ...results.map((r) => r.model.length));
  const nameWidth = Math.max(8, ...first.patterns.map((name) => name.length));
  const cell = (prediction: string | null, p: number | undefined, correct: boolean | null, unscored?: string): string => {
    if (unscored) return unscored.padEnd(cellWidth);
    if (prediction === null) return '–'.padEnd(cellWidth);
    const mark = correct === null ? ' ' : correct ? '✓' : '✗';
    return `${prediction.padEnd(labelWidth)} ${percent(p).padStart(6)} ${mark}`.padEnd(cellWidth);
  };
  const header = `  ${'pattern'.padEnd(nameWidth)}  ${results.map((r) => r.model.padEnd(cellWidth)).join('  ')}`.trimEnd();

  first.examples.forEach((example, e) => {
    const fields = Object.entries(example.fields);
    const text = fields.length === 1 ? fields[0][1] : fields.map(([field, value]) => `${field}: ${value}`).join(' | ');
    lines.push(
      '',
      `line ${example.line}  ${example.label ?? '(unlabelled)'}: ${text.length > 90 ? `${text.slice(0, 89)}…` : text}`,
      header,
    );
    example.results.forEach((pattern, p) => {
      const cells = results.map((r) => {
        const own = r.examples[e]?.results[p];
        if (!own) return cell(null, undefined, null);
        const distribution = calibrate ? own.calibrated : own.labels;
        const unscored = own.maskFound
          ? undefined
          : own.nonFinite
            ? 'no numbers (NaN)'
            : own.severalMasks
              ? 'text has the mask token'
              : 'mask cut off';
        return cell(own.prediction, own.prediction === null ? undefined : distribution[own.prediction], own.correct, unscored);
      });
      lines.push(`  ${pattern.pattern.padEnd(nameWidth)}  ${cells.join('  ')}`.trimEnd());
    });
    if (example.results.length > 1) {
      const cells = results.map((r) => {
        const own = r.examples[e];
        if (!own) return cell(null, undefined, null);
        const distribution = calibrate ? own.calibratedEnsemble : own.ensemble;
        return cell(own.prediction, own.prediction === null ? undefined : distribution[own.prediction], own.correct);
      });
      lines.push(`  ${'ensemble'.padEnd(nameWidth)}  ${cells.join('  ')}`.trimEnd());
    }
  });

  // Each model's own count: a model that gave no numbers for some examples (NaN logits) scored fewer.
  if (results.some((r) => r.summary.ensemble.labelled > 0)) {
    lines.push('', 'accuracy on the labelled examples each model scored:');
    for (const result of results) {
      const { summary } = result;
      const n = summary.ensemble.labelled;
      const entries = [...summary.patterns, ...(summary.patterns.length > 1 ? [summary.ensemble] : [])].map(
        (s) => `${s.pattern} ${percent(calibrate ? s.calibratedAccuracy : s.accuracy)}`,
      );
      lines.push(`  ${result.model} (${n} example${n === 1 ? '' : 's'}): ${n > 0 ? entries.join(' · ') : '–'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
