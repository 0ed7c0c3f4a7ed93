import type { ExamplePreview, PatternResult, PreviewResult, SkippedWord } from './preview';

/**
 * The preview as text, for `cloze preview` and for editors that show it as a message (the server's
 * `cloze.openPreview` command, where there is no panel).
 */

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

/**
 * The line saying a label word is left out of the scores. A word is skipped per pattern (its mask
 * context can split it in one pattern and not in another: RoBERTa's `terrible` at the start of the
 * input but not after a space), so the patterns are named unless it is skipped in every one.
 */
export function skippedWordLine(skipped: SkippedWord, patterns: readonly string[]): string {
  const everywhere = patterns.every((name) => skipped.patterns.includes(name));
  // An unnamed pattern's display name is already "pattern 2".
  const names = skipped.patterns.map((name) => (/^pattern \d+$/.test(name) ? name : `pattern ${name}`));
  const where = everywhere ? '' : ` in ${names.join(' and ')}`;
  return `skipped label word \`${skipped.word}\` (${skipped.label})${where}: it ${skipped.reason}`;
}

/**
 * A table per example: one row per pattern and one for the ensemble. `engine` is the file, graph
 * and precision that ran (`describeEngine`); `calibrateHint` names the interface's own switch.
 */
export function previewText(result: PreviewResult, engine: string | undefined, calibrateHint: string): string {
  const lines: string[] = [];
  const numbers = result.calibrate
    ? `calibrated probabilities (P̂, against each pattern’s ${result.calibration === 'support' ? 'mean prediction over the examples' : 'content-free input'})`
    : `label probabilities P(label | input) (${calibrateHint})`;
  lines.push(`model ${result.model}${engine ? ` (${engine})` : ''} · ${numbers}`);
  lines.push(`labels: ${result.labels.join(', ')}`);
  for (const skipped of result.skippedWords) lines.push(skippedWordLine(skipped, result.patterns));
  for (const excluded of result.excluded)
    lines.push(`not previewed: ${excluded.pattern} (line ${excluded.line}): ${excluded.reason} (${excluded.code})`);
  for (const example of result.excludedExamples) lines.push(`not previewed: the example on line ${example.line}: ${example.message}`);
  if (result.examples.length === 0 && result.excludedExamples.length === 0)
    lines.push('', 'The file has no examples to preview. Add one, e.g. `example positive: I loved it.`');

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
    lines.push('', `line ${example.line}  ${example.label ?? '(unlabelled)'}: ${describeFields(example)}`);
    lines.push(header);
    for (const pattern of example.results) {
      lines.push(
        pattern.maskFound
          ? row(pattern.pattern, shown(result, pattern), pattern.prediction, pattern.correct)
          : pattern.nonFinite
            ? `  ${pattern.pattern.padEnd(nameWidth)}  no numbers: ${result.model} gave NaN or infinite logits at the mask for this input`
            : pattern.severalMasks
              ? `  ${pattern.pattern.padEnd(nameWidth)}  not scored: the text holds ${pattern.maskToken}, ${result.model}'s mask token, a second mask besides the pattern's`
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
    // Labelled examples no pattern scored (mask cut off, NaN logits) are not in the accuracy: counted here.
    const labelled = result.examples.filter((e) => e.label !== null && result.labels.includes(e.label)).length;
    const left = labelled - summary.ensemble.labelled;
    lines.push(
      '',
      `accuracy on ${summary.ensemble.labelled} labelled example${summary.ensemble.labelled === 1 ? '' : 's'}${left > 0 ? ` (${left} not scored)` : ''}: ${entries.join(' · ')}`,
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
