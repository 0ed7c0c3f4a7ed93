import * as path from 'node:path';
import type { AccuracySummary } from './preview';
import { skippedWordLine } from './previewReport';
import type { Evaluation, FigureSet, FiguresRecord } from './evaluate';

/**
 * The text report of an evaluation, as `cloze eval` prints it and as the
 * editor's "Evaluate on the File's Data" shows it in its output: one text,
 * so the two never disagree on what a figure is called or which are shown.
 */

export function percent(value: number | null): string {
  return value === null ? '–' : `${(value * 100).toFixed(1)}%`;
}

export function fixed(value: number | null): string {
  return value === null ? '–' : value.toFixed(3);
}

function row(summary: AccuracySummary, figures: FigureSet | undefined, calibrate: boolean): string {
  const [main, other] = calibrate ? [summary.calibratedAccuracy, summary.accuracy] : [summary.accuracy, summary.calibratedAccuracy];
  const gold = calibrate ? summary.meanGoldCalibrated : summary.meanGoldProbability;
  const shown = figures ? (calibrate ? figures.calibrated : figures.raw) : undefined;
  return `  ${summary.pattern.padEnd(18)} ${percent(main).padStart(8)} ${percent(other).padStart(12)} ${percent(gold).padStart(8)} ${fixed(shown?.macroF1 ?? null).padStart(8)} ${percent(shown?.swapAccuracy ?? null).padStart(8)}`;
}

function perLabelLines(result: Evaluation): string[] {
  const width = Math.max(8, ...result.labels.map((l) => l.length + 1));
  const lines = [
    `per label (${result.calibrate ? 'calibrated' : 'raw'}): precision, recall, F1; support = labelled rows`,
    `  ${''.padEnd(18)} ${'label'.padEnd(width)} ${'precision'.padStart(9)} ${'recall'.padStart(7)} ${'F1'.padStart(6)} ${'support'.padStart(8)}`,
  ];
  for (const set of result.figures) {
    const figures: FiguresRecord = result.calibrate ? set.calibrated : set.raw;
    result.labels.forEach((label, i) => {
      const f = figures.perLabel[label];
      lines.push(
        `  ${(i === 0 ? set.name : '').padEnd(18)} ${label.padEnd(width)} ${fixed(f.precision).padStart(9)} ${fixed(f.recall).padStart(7)} ${fixed(f.f1).padStart(6)} ${String(f.support).padStart(8)}`,
      );
    });
  }
  return lines;
}

function calibrationLine(result: Evaluation): string {
  const what =
    result.calibration === 'support'
      ? `support: P₀ = mean P(L | x) over ${result.supportSize} inputs (the data rows and the file's examples)`
      : 'content-free: P₀ = P(L | pattern with its fields empty)';
  // Examples with an error are not among the weights' examples: said, so a count lower than the file's is not a puzzle.
  const withError = result.excludedExamples.filter((example) => example.label !== null);
  const leftOut =
    withError.length === 0
      ? ''
      : `; left out, with an error: the example${withError.length === 1 ? '' : 's'} on line${withError.length === 1 ? '' : 's'} ${withError.map((example) => example.line).join(', ')}`;
  // The table shows the weighted ensemble raw and calibrated: each by its own weights, so both are said when they differ.
  const weightsText = (record: Record<string, number>): string =>
    Object.entries(record)
      .map(([name, w]) => `${name} ${w.toFixed(2)}`)
      .join(', ');
  const weightSets = (w: NonNullable<Evaluation['weights']>): string => {
    const [shown, other, otherName] = result.calibrate ? [w.calibrated, w.raw, 'raw'] : [w.raw, w.calibrated, 'calibrated'];
    const same = weightsText(shown) === weightsText(other);
    return same ? weightsText(shown) : `${weightsText(shown)} (${otherName}: ${weightsText(other)})`;
  };
  const weights = result.weights
    ? `wmean weights (accuracy on the file's ${result.weights.examples === 1 ? 'one labelled example' : `${result.weights.examples} labelled examples`}${leftOut}): ${weightSets(result.weights)}`
    : `wmean: the file has no labelled example${withError.length > 0 ? ' without an error' : ''}, so the weighted ensemble is the plain mean${leftOut}`;
  const problems = Object.entries(result.priorProblems ?? {}).map(
    ([pattern, why]) => `\nno prior for ${pattern}: ${why}, so its calibrated figures are its raw ones`,
  );
  return `calibration ${what}${problems.join('')}\n${weights}`;
}

export function evaluationText(result: Evaluation, modelFile: string): string {
  const lines: string[] = [];
  const rows = (n: number): string => `${n} row${n === 1 ? '' : 's'}`;
  lines.push(
    `model ${result.model} (${modelFile}) · ${result.evaluated} labelled ${result.evaluated === 1 ? 'row' : 'rows'} from ${result.sources.map((s) => path.basename(s.path)).join(', ')}`,
  );
  const skipped = Object.entries(result.skipped).filter(([, n]) => n > 0);
  if (skipped.length > 0) lines.push(`skipped: ${skipped.map(([reason, n]) => `${n} (${reason})`).join(', ')}`);
  for (const [pattern, { maskCutOff, nonFinite, severalMasks }] of Object.entries(result.unscored)) {
    const why = [
      ...(nonFinite > 0 ? [`${rows(nonFinite)} with NaN or infinite logits from ${result.model}`] : []),
      ...(maskCutOff > 0 ? [`${rows(maskCutOff)} too long, [MASK] cut off`] : []),
      ...(severalMasks > 0 ? [`${rows(severalMasks)} whose text holds the mask token, a second mask`] : []),
    ];
    lines.push(`not scored by ${pattern}, left out of its figures: ${why.join('; ')}`);
  }
  const cut = Object.entries(result.truncated);
  if (cut.length > 0)
    lines.push(
      `cut to fit ${result.model}, scored on what was left: ${cut.map(([pattern, n]) => `${pattern} ${rows(n)}`).join(', ')} (the text farthest from the mask dropped)`,
    );
  for (const excluded of result.excluded) {
    lines.push(`not evaluated: ${excluded.pattern} (line ${excluded.line}): ${excluded.reason} (${excluded.code})`);
  }
  // The figures are those of the words that were scored: a word left out is said beside them, as `cloze preview` says it.
  for (const skipped of result.skippedWords)
    lines.push(
      skippedWordLine(
        skipped,
        result.patterns.map((p) => p.pattern),
      ),
    );
  lines.push(calibrationLine(result));
  lines.push('');
  lines.push(
    `  ${'pattern'.padEnd(18)} ${(result.calibrate ? 'cal. acc' : 'accuracy').padStart(8)} ${(result.calibrate ? 'uncalibrated' : 'calibrated').padStart(12)} ${'P(gold)'.padStart(8)} ${'macro-F1'.padStart(8)} ${'swap'.padStart(8)}`,
  );
  const figuresOf = (kind: FigureSet['kind'], name: string): FigureSet | undefined =>
    result.figures.find((set) => set.kind === kind && set.name === name);
  for (const summary of result.patterns) lines.push(row(summary, figuresOf('pattern', summary.pattern), result.calibrate));
  lines.push(row(result.ensemble, figuresOf('ensemble', 'ensemble'), result.calibrate));
  lines.push(row(result.weightedEnsemble, figuresOf('weighted-ensemble', 'weighted ensemble'), result.calibrate));
  lines.push('  (swap: accuracy with the label words exchanged between the labels)');
  lines.push('');
  lines.push(...perLabelLines(result));
  lines.push('');
  lines.push(`confusion of the ensemble (rows: gold, columns: predicted${result.calibrate ? ', calibrated' : ''})`);
  const width = Math.max(8, ...result.labels.map((l) => l.length + 1));
  lines.push(`  ${''.padEnd(width)}${result.labels.map((l) => l.padStart(width)).join('')}`);
  for (const gold of result.labels) {
    lines.push(`  ${gold.padEnd(width)}${result.labels.map((p) => String(result.confusion[gold]?.[p] ?? 0).padStart(width)).join('')}`);
  }
  if (result.errors !== undefined) {
    lines.push('');
    lines.push(
      result.errors.length === 0
        ? 'no misclassified rows'
        : `${result.errors.length === 1 ? 'the worst misclassified row' : `the ${result.errors.length} worst misclassified rows`} (lowest P(gold) under the ensemble${result.calibrate ? ', calibrated' : ''})`,
    );
    for (const error of result.errors) {
      // A data row is someone else's text: its control characters (an ANSI escape would recolour or clear the terminal) are shown, not sent.
      const text = printable(Object.values(error.fields).join(' · ').replace(/\s+/g, ' '));
      lines.push(
        `  ${path.basename(error.file)}:${error.line}  gold ${error.label}, predicted ${error.predicted} · P(gold) ${percent(error.goldProbability)}  ${text.length > 90 ? `${text.slice(0, 89)}…` : text}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Text from a file (a message quoting a `model:` value, a data row) made safe for a terminal: control
 * characters are shown as `\xNN` rather than sent, so an ANSI escape in a file cannot recolour or clear
 * the screen of whoever runs the CLI.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
