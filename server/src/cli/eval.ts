import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { engineReport } from '../model/engine';
import { evaluate, evaluationRows, type Evaluation } from '../service/evaluate';
import type { AccuracySummary } from '../service/preview';
import { dataLimits } from './check';
import { openScoringSession, type ScoringOptions } from './session';

/**
 * `cloze eval <file>`: accuracy of each pattern, and of their ensemble, on
 * the labelled rows of the file's `data:` files (or `--data` files). A
 * progress bar (cli-progress) goes to stderr when it is a terminal.
 *
 * Exit codes: 0 evaluated, 1 nothing could be evaluated (errors, no
 * labelled rows), 2 bad usage.
 */

export interface EvalCommandOptions extends ScoringOptions {
  readonly data?: string[];
  readonly limit?: number;
  readonly calibrate?: boolean;
  readonly format: 'text' | 'json';
}

export async function runEval(file: string, options: EvalCommandOptions): Promise<number> {
  const session = await openScoringSession(file, options, 'evaluated');
  if (typeof session === 'number') return session;
  const { doc, tokenizer, engine } = session;
  try {
    session.report(session.errors);
    const files = options.data && options.data.length > 0 ? options.data : doc.data.map((d) => path.resolve(path.dirname(file), d.path));
    if (files.length === 0) {
      process.stderr.write(`cloze: ${file} has no \`data:\` line; name a labelled JSONL, CSV or TSV file with --data.\n`);
      return 1;
    }
    const labels = [...new Set(doc.verbalizers[0]?.entries.map((e) => e.label.text) ?? [])];
    const { rows, sources, skipped, problems } = await evaluationRows(doc, files, labels, dataLimits(options));
    for (const problem of problems) process.stderr.write(`cloze: ${problem}\n`);
    if (rows.length === 0) {
      process.stderr.write(`cloze: no labelled row with a label of the verbalizer to evaluate on.\n`);
      return 1;
    }
    const bar =
      process.stderr.isTTY && options.format === 'text'
        ? new SingleBar({ format: 'scoring {bar} {value}/{total} rows · {eta}s left', clearOnComplete: true, stream: process.stderr })
        : undefined;
    bar?.start(options.limit !== undefined ? Math.min(options.limit, rows.length) : rows.length, 0);
    const result = await evaluate(doc, tokenizer, (inputs, wordIds, topK) => engine.score(inputs, wordIds, topK), rows, sources, skipped, {
      calibrate: options.calibrate ?? false,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      onProgress: (done) => bar?.update(done),
    });
    bar?.stop();
    process.stdout.write(
      options.format === 'json'
        ? `${JSON.stringify({ ...result, file, quantized: engine.info.quantized, engine: engineReport(engine.info) }, null, 2)}\n`
        : formatText(result, engine.info.file),
    );
    return 0;
  } catch (error) {
    return session.scoringFailed(error);
  } finally {
    await engine.dispose();
  }
}

function percent(value: number | null): string {
  return value === null ? '–' : `${(value * 100).toFixed(1)}%`;
}

function row(summary: AccuracySummary, calibrate: boolean): string {
  const [main, other] = calibrate ? [summary.calibratedAccuracy, summary.accuracy] : [summary.accuracy, summary.calibratedAccuracy];
  const gold = calibrate ? summary.meanGoldCalibrated : summary.meanGoldProbability;
  return `  ${summary.pattern.padEnd(12)} ${percent(main).padStart(8)} ${percent(other).padStart(12)} ${percent(gold).padStart(10)}`;
}

function formatText(result: Evaluation, modelFile: string): string {
  const lines: string[] = [];
  lines.push(
    `model ${result.model} (${modelFile}) · ${result.evaluated} labelled rows from ${result.sources.map((s) => path.basename(s.path)).join(', ')}`,
  );
  const skipped = Object.entries(result.skipped).filter(([, n]) => n > 0);
  if (skipped.length > 0) lines.push(`skipped: ${skipped.map(([reason, n]) => `${n} (${reason})`).join(', ')}`);
  lines.push('');
  lines.push(
    `  ${'pattern'.padEnd(12)} ${(result.calibrate ? 'cal. acc' : 'accuracy').padStart(8)} ${(result.calibrate ? 'uncalibrated' : 'calibrated').padStart(12)} ${'P(gold)'.padStart(10)}`,
  );
  for (const summary of result.patterns) lines.push(row(summary, result.calibrate));
  lines.push(row(result.ensemble, result.calibrate));
  lines.push('');
  lines.push(`confusion of the ensemble (rows: gold, columns: predicted${result.calibrate ? ', calibrated' : ''})`);
  const width = Math.max(8, ...result.labels.map((l) => l.length + 1));
  lines.push(`  ${''.padEnd(width)}${result.labels.map((l) => l.padStart(width)).join('')}`);
  for (const gold of result.labels) {
    lines.push(`  ${gold.padEnd(width)}${result.labels.map((p) => String(result.confusion[gold]?.[p] ?? 0).padStart(width)).join('')}`);
  }
  return `${lines.join('\n')}\n`;
}
