import * as fs from 'node:fs';
import type { ClozeDocument, Diagnostic } from '../language/ast';
import { parse } from '../language/parse';
import { positionAt } from '../language/positions';
import { hasSingleMask } from '../language/render';
import { MaskedLmEngine, type ModelInfo } from '../model/engine';
import { computePreview, type ExamplePreview, type PatternResult, type PreviewResult } from '../service/preview';
import { createService } from './check';

/**
 * `cloze preview <file>`: what the model puts at the mask for each example,
 * as the editor's lenses show it. The engine runs in this process: a CLI run
 * has nothing else to keep responsive, so it needs no worker.
 *
 * Exit codes: 0 a preview was printed, 1 the file cannot be previewed
 * (no verbalizer, no pattern with one mask, model unavailable), 2 bad usage.
 */

export interface PreviewCommandOptions {
  readonly modelsDir?: string;
  readonly offline?: boolean;
  readonly model?: string;
  readonly calibrate?: boolean;
  readonly topK: number;
  readonly quantized: boolean;
  readonly format: 'text' | 'json';
}

/** Structural errors after which there is nothing to score. */
const blockingCodes = new Set(['pattern-missing', 'verbalizer-missing']);

export async function runPreview(file: string, options: PreviewCommandOptions): Promise<number> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    process.stderr.write(`cloze: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
    return 2;
  }
  const doc = parse(text);
  const service = createService(options);
  const structural = service.checkStructure(doc, file);
  const report = (diagnostics: readonly Diagnostic[]): void => {
    for (const d of diagnostics) process.stderr.write(`${location(file, doc, d)} ${d.severity} ${d.code} ${d.message}\n`);
  };

  const blockers = structural.filter((d) => blockingCodes.has(d.code));
  if (doc.patterns.length > 0 && !doc.patterns.some(hasSingleMask)) {
    blockers.push(...structural.filter((d) => d.code === 'mask-missing' || d.code === 'mask-multiple'));
  }
  if (blockers.length > 0) {
    report(blockers);
    process.stderr.write(`cloze: ${file} cannot be previewed: it needs a verbalizer and a pattern with exactly one [MASK].\n`);
    return 1;
  }

  const choice = service.modelChoice(doc, file, options.model);
  const tokenizer = await service.tokenizer(choice);
  if (!tokenizer.ok) {
    report([tokenizer.diagnostic]);
    return 1;
  }
  if (!choice.location.ok) return 1; // The tokenizer loaded, so the model was found; this only narrows the type.
  let engine: MaskedLmEngine;
  try {
    engine = await MaskedLmEngine.load(choice.location, service.settings.cacheDir, { quantized: options.quantized });
  } catch (error) {
    report([
      {
        code: 'model-unavailable',
        severity: 'error',
        span: choice.span,
        message: `Model ${choice.id} is unavailable: ${error instanceof Error ? error.message : String(error)}`,
      },
    ]);
    return 1;
  }
  try {
    // Errors that do not stop the preview still change what it means (a skipped label word, a missing field): show them.
    report([...structural, ...(await service.checkTokens(doc, choice))].filter((d) => d.severity === 'error'));
    const result = await computePreview(doc, tokenizer.tokenizer, (inputs, wordIds, topK) => engine.score(inputs, wordIds, topK), {
      topK: options.topK,
      calibrate: options.calibrate ?? false,
    });
    if (options.format === 'json') {
      process.stdout.write(`${JSON.stringify({ ...result, file, quantized: engine.info.quantized }, null, 2)}\n`);
    } else {
      process.stdout.write(formatText(result, engine.info));
    }
    return 0;
  } finally {
    await engine.dispose();
  }
}

function location(file: string, doc: ClozeDocument, diagnostic: Diagnostic): string {
  const { line, character } = positionAt(doc, diagnostic.span.start);
  return `${file}:${line + 1}:${character + 1}`;
}

function percent(p: number | undefined): string {
  return p === undefined ? '–' : `${(p * 100).toFixed(1)}%`;
}

/** A token's probability: three decimals, or two significant digits when that would show 0.000 (random models). */
function probability(p: number): string {
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}

function mark(correct: boolean | null): string {
  return correct === null ? ' ' : correct ? '✓' : '✗';
}

/** A table per example: one row per pattern and one for the ensemble. */
export function formatText(result: PreviewResult, info: ModelInfo): string {
  const lines: string[] = [];
  const numbers = result.calibrate
    ? 'calibrated probabilities (P̂, against each pattern’s content-free input)'
    : 'label probabilities P(label | input) (--calibrate for calibrated)';
  lines.push(`model ${result.model} (${info.file}) · ${numbers}`);
  lines.push(`labels: ${result.labels.join(', ')}`);
  for (const skipped of result.skippedWords) lines.push(`skipped label word \`${skipped.word}\` (${skipped.label}): it ${skipped.reason}`);
  for (const excluded of result.excluded)
    lines.push(`not previewed: ${excluded.pattern} (line ${excluded.line}): ${excluded.reason} (${excluded.code})`);
  if (result.examples.length === 0) lines.push('', 'The file has no examples to preview. Add one, e.g. `example positive: I loved it.`');

  const nameWidth = Math.max(8, ...result.patterns.map((name) => name.length));
  const labelWidth = Math.max(6, ...result.labels.map((label) => label.length));
  const header = `  ${'pattern'.padEnd(nameWidth)}  ${'prediction'.padEnd(labelWidth + 9)}  ${result.labels.map((label) => label.padStart(labelWidth)).join('  ')}`;
  const row = (name: string, distribution: Record<string, number>, prediction: string | null, correct: boolean | null): string => {
    const winner =
      prediction === null
        ? '–'.padEnd(labelWidth + 7)
        : `${prediction.padEnd(labelWidth)} ${percent(distribution[prediction]).padStart(6)}`;
    const cells = result.labels.map((label) => percent(distribution[label]).padStart(labelWidth));
    return `  ${name.padEnd(nameWidth)}  ${winner} ${mark(correct)}  ${cells.join('  ')}`;
  };

  for (const example of result.examples) {
    lines.push('', `line ${example.line}  ${example.label ?? '(unlabelled)'}: ${describeFields(example)}`, header);
    for (const pattern of example.results) {
      lines.push(
        pattern.maskFound
          ? row(pattern.pattern, shown(result, pattern), pattern.prediction, pattern.correct)
          : `  ${pattern.pattern.padEnd(nameWidth)}  the mask was cut off: the input is too long for ${result.model}`,
      );
      if (pattern.top.length > 0)
        lines.push(`  ${''.padEnd(nameWidth)}  top: ${pattern.top.map((token) => `${token.token} ${probability(token.p)}`).join(', ')}`);
    }
    if (example.results.length > 1)
      lines.push(row('ensemble', result.calibrate ? example.calibratedEnsemble : example.ensemble, example.prediction, example.correct));
  }

  const { summary } = result;
  if (summary.ensemble.labelled > 0) {
    const entries = [...summary.patterns, ...(summary.patterns.length > 1 ? [summary.ensemble] : [])].map(
      (s) => `${s.pattern} ${percent((result.calibrate ? s.calibratedAccuracy : s.accuracy) ?? undefined)}`,
    );
    lines.push(
      '',
      `accuracy on ${summary.ensemble.labelled} labelled example${summary.ensemble.labelled === 1 ? '' : 's'}: ${entries.join(' · ')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function shown(result: PreviewResult, pattern: PatternResult): Record<string, number> {
  return result.calibrate ? pattern.calibrated : pattern.labels;
}

function describeFields(example: ExamplePreview): string {
  const entries = Object.entries(example.fields);
  const text = entries.length === 1 ? entries[0][1] : entries.map(([field, value]) => `${field}: ${value}`).join(' | ');
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}
