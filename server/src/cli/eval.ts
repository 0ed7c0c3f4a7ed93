import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { engineReport } from '../model/engine';
import { evaluate, evaluationRows, type Calibration, type Evaluation, type FigureSet, type FiguresRecord } from '../service/evaluate';
import type { AccuracySummary } from '../service/preview';
import { dataLimits } from './check';
import { junitXml, type JUnitCase } from './junit';
import { openScoringSession, type ScoringOptions } from './session';

/**
 * `cloze eval <file>`: accuracy of each pattern, and of their ensemble, on
 * the labelled rows of the file's `data:` files (or `--data` files). A
 * progress bar (cli-progress) goes to stderr when it is a terminal.
 *
 * As a CI gate: `--min-accuracy X` checks the accuracy of the `--gate`
 * targets (the ensemble by default; pattern names, `wmean`, `all`) as the run
 * predicts (calibrated with `--calibrate`); `--format junit` writes one test
 * case per pattern and ensemble, failed when gated and below.
 *
 * Exit codes: 0 evaluated (and the gate passed), 1 the gate failed or
 * nothing could be evaluated (errors, no labelled rows), 2 bad usage.
 */

export interface EvalCommandOptions extends ScoringOptions {
  readonly data?: string[];
  readonly limit?: number;
  readonly calibrate?: boolean;
  readonly calibration?: Calibration;
  readonly errors?: number;
  readonly minAccuracy?: number;
  readonly gate?: string[];
  readonly format: 'text' | 'json' | 'junit';
}

/** One accuracy the gate checked. */
export interface GateCheck {
  readonly target: string;
  readonly accuracy: number | null;
  readonly passed: boolean;
}

export interface GateResult {
  readonly minAccuracy: number;
  readonly calibrated: boolean;
  readonly passed: boolean;
  readonly checks: readonly GateCheck[];
}

/** The figure sets `--gate` names, or the message for a target that is none of them. */
function gateTargets(result: Evaluation, targets: readonly string[]): FigureSet[] | string {
  const chosen = new Set<FigureSet>();
  for (const target of targets) {
    const matches =
      target === 'all'
        ? result.figures.filter((set) => set.kind !== 'weighted-ensemble')
        : target === 'ensemble'
          ? result.figures.filter((set) => set.kind === 'ensemble')
          : target === 'wmean' || target === 'weighted'
            ? result.figures.filter((set) => set.kind === 'weighted-ensemble')
            : result.figures.filter((set) => set.kind === 'pattern' && set.name === target);
    if (matches.length === 0) {
      const names = result.figures.filter((set) => set.kind === 'pattern').map((set) => set.name);
      return `--gate ${target}: no such pattern. Use ensemble, wmean, all or a pattern name (${names.join(', ')}).`;
    }
    matches.forEach((set) => chosen.add(set));
  }
  return result.figures.filter((set) => chosen.has(set));
}

function checkGate(result: Evaluation, sets: readonly FigureSet[], minAccuracy: number): GateResult {
  const checks = sets.map((set) => {
    const accuracy = (result.calibrate ? set.calibrated : set.raw).accuracy;
    return { target: set.name, accuracy, passed: accuracy !== null && accuracy >= minAccuracy };
  });
  return { minAccuracy, calibrated: result.calibrate, passed: checks.every((c) => c.passed), checks };
}

export async function runEval(file: string, options: EvalCommandOptions): Promise<number> {
  const session = await openScoringSession(file, options, 'evaluated');
  if (typeof session === 'number') return session;
  const { doc, tokenizer, engine } = session;
  try {
    session.report(session.errors);
    const fromCommandLine = options.data !== undefined && options.data.length > 0;
    const files = options.data && options.data.length > 0 ? options.data : doc.data.map((d) => path.resolve(path.dirname(file), d.path));
    if (files.length === 0) {
      process.stderr.write(`cloze eval: ${file} has no \`data:\` line; name a labelled JSONL, CSV or TSV file with --data.\n`);
      return 1;
    }
    const labels = [...new Set(doc.verbalizers[0]?.entries.map((e) => e.label.text) ?? [])];
    if (options.gate && options.gate.length > 0 && options.minAccuracy === undefined) {
      process.stderr.write('cloze eval: --gate names what --min-accuracy checks; give --min-accuracy too.\n');
      return 2;
    }
    const { rows, rowFiles, sources, skipped, problems } = await evaluationRows(
      doc,
      files,
      labels,
      dataLimits(options),
      fromCommandLine ? 'command-line' : 'data-line',
    );
    for (const problem of problems) process.stderr.write(`cloze eval: ${problem}\n`);
    if (rows.length === 0) {
      process.stderr.write(`cloze eval: no labelled row with a label of the verbalizer to evaluate on.\n`);
      return 1;
    }
    const bar =
      process.stderr.isTTY && options.format !== 'json'
        ? new SingleBar({ format: 'scoring {bar} {value}/{total} rows · {eta}s left', clearOnComplete: true, stream: process.stderr })
        : undefined;
    bar?.start(options.limit !== undefined ? Math.min(options.limit, rows.length) : rows.length, 0);
    const started = performance.now();
    const result = await evaluate(doc, tokenizer, (inputs, wordIds, topK) => engine.score(inputs, wordIds, topK), rows, sources, skipped, {
      calibrate: options.calibrate ?? false,
      calibration: options.calibration ?? 'content-free',
      rowFiles,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      ...(options.errors !== undefined ? { errors: options.errors } : {}),
      onProgress: (done) => bar?.update(done),
    });
    bar?.stop();
    const seconds = (performance.now() - started) / 1000;

    let gate: GateResult | undefined;
    if (options.minAccuracy !== undefined) {
      const sets = gateTargets(result, options.gate && options.gate.length > 0 ? options.gate : ['ensemble']);
      if (typeof sets === 'string') {
        process.stderr.write(`cloze eval: ${sets}\n`);
        return 2;
      }
      gate = checkGate(result, sets, options.minAccuracy);
    }

    if (options.format === 'json') {
      process.stdout.write(
        `${JSON.stringify({ ...result, file, quantized: engine.info.quantized, engine: engineReport(engine.info), ...(gate ? { gate } : {}) }, null, 2)}\n`,
      );
    } else if (options.format === 'junit') {
      process.stdout.write(formatJUnit(result, file, engine.info.file, gate, seconds));
    } else {
      process.stdout.write(formatText(result, engine.info.file));
    }
    if (gate) {
      for (const check of gate.checks.filter((c) => !c.passed)) {
        process.stderr.write(
          `cloze eval: ${check.target} ${gate.calibrated ? 'calibrated ' : ''}accuracy ${percent(check.accuracy)} is below --min-accuracy ${percent(gate.minAccuracy)}\n`,
        );
      }
      if (!gate.passed) return 1;
    }
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

function fixed(value: number | null): string {
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
  const weights = result.weights
    ? `wmean weights (accuracy on the file's ${result.weights.examples} labelled examples): ${Object.entries(
        result.calibrate ? result.weights.calibrated : result.weights.raw,
      )
        .map(([name, w]) => `${name} ${w.toFixed(2)}`)
        .join(', ')}`
    : 'wmean: the file has no labelled example, so the weighted ensemble is the plain mean';
  return `calibration ${what}\n${weights}`;
}

function formatText(result: Evaluation, modelFile: string): string {
  const lines: string[] = [];
  lines.push(
    `model ${result.model} (${modelFile}) · ${result.evaluated} labelled rows from ${result.sources.map((s) => path.basename(s.path)).join(', ')}`,
  );
  const skipped = Object.entries(result.skipped).filter(([, n]) => n > 0);
  if (skipped.length > 0) lines.push(`skipped: ${skipped.map(([reason, n]) => `${n} (${reason})`).join(', ')}`);
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
        : `the ${result.errors.length} worst misclassified rows (lowest P(gold) under the ensemble${result.calibrate ? ', calibrated' : ''})`,
    );
    for (const error of result.errors) {
      const text = Object.values(error.fields).join(' · ').replace(/\s+/g, ' ');
      lines.push(
        `  ${path.basename(error.file)}:${error.line}  gold ${error.label}, predicted ${error.predicted} · P(gold) ${percent(error.goldProbability)}  ${text.length > 90 ? `${text.slice(0, 89)}…` : text}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function formatJUnit(result: Evaluation, file: string, modelFile: string, gate: GateResult | undefined, seconds: number): string {
  const gated = new Map(gate?.checks.map((check) => [check.target, check]));
  const classname = `cloze eval ${path.basename(file)}`;
  const cases: JUnitCase[] = result.figures.map((set) => {
    const figures = result.calibrate ? set.calibrated : set.raw;
    const check = set.kind === 'pattern' || set.kind === 'ensemble' || set.kind === 'weighted-ensemble' ? gated.get(set.name) : undefined;
    const kind = result.calibrate ? 'calibrated accuracy' : 'accuracy';
    const summary = [
      `${kind} ${percent(figures.accuracy)} · macro-F1 ${fixed(figures.macroF1)} · swap ${percent(figures.swapAccuracy)}`,
      ...result.labels.map((label) => {
        const f = figures.perLabel[label];
        return `${label}: precision ${fixed(f.precision)} recall ${fixed(f.recall)} F1 ${fixed(f.f1)} support ${f.support}`;
      }),
    ].join('\n');
    const errors =
      set.kind === 'ensemble' && result.errors && result.errors.length > 0
        ? `\nworst misclassified rows:\n${result.errors.map((e) => `${path.basename(e.file)}:${e.line} gold ${e.label} predicted ${e.predicted} P(gold) ${percent(e.goldProbability)} ${Object.values(e.fields).join(' · ')}`).join('\n')}`
        : '';
    return {
      classname,
      name: check ? `${set.name}: ${kind} at least ${percent(gate?.minAccuracy ?? null)}` : `${set.name}: ${kind}`,
      ...(check && !check.passed
        ? {
            failure: {
              type: 'min-accuracy',
              message: `${set.name} ${kind} ${percent(check.accuracy)} is below ${percent(gate?.minAccuracy ?? null)}`,
              details: summary,
            },
          }
        : {}),
      systemOut: summary + errors,
    };
  });
  return junitXml({
    name: classname,
    timeSeconds: seconds,
    timestamp: new Date().toISOString().replace(/\.\d+Z$/, ''),
    properties: [
      ['model', result.model],
      ['modelFile', modelFile],
      ['rows', String(result.evaluated)],
      ['calibration', result.calibration],
      ['calibrate', String(result.calibrate)],
      ['data', result.sources.map((s) => s.path).join(', ')],
    ],
    cases,
  });
}
