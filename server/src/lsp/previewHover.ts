import { firstWords, formatPercent } from '../language/format';
import { escapeCode, escapeMarkdown } from '../language/hover';
import type { ExamplePreview, PatternResult, PreviewResult } from '../service/preview';

/**
 * The preview part of hovers: what the model puts at the mask (on `[MASK]`)
 * and how a label word fares (on the word), as Markdown tables.
 */

const percent = formatPercent;

/** Rows a hover table shows at most; the rest are counted ("and 15 more"). A hover is read, not scrolled. */
export const HOVER_ROWS = 10;

/** Label words a row lists at most; beyond, the most probable ones and a count. */
const HOVER_WORDS = 6;

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** An example by its first words, with its label: `I like the Disney films… (positive)`. */
function exampleName(example: ExamplePreview): string {
  const text = Object.values(example.fields).join(' · ');
  const name = text.trim() === '' ? `line ${example.line}` : escapeMarkdown(firstWords(text));
  return `${name}${example.label ? ` (${escapeMarkdown(example.label)})` : ''}`;
}

function mark(correct: boolean | null): string {
  return correct === true ? '✓ ' : correct === false ? '✗ ' : '';
}

/** "and 15 more examples", or nothing when every row is shown. */
function more(hidden: number, what: string): string[] {
  return hidden > 0
    ? ['', `_… and ${hidden} more ${what}${hidden === 1 ? '' : 's'}; the preview panel and \`cloze preview\` list all._`]
    : [];
}

/** The examples left out for an error in them, by line: the table above is of the others. */
function notScored(result: PreviewResult): string[] {
  const left = result.excludedExamples;
  if (left.length === 0) return [];
  const lines = left.map((e) => e.line).join(', ');
  return [
    '',
    `_Not scored, for an error in ${left.length === 1 ? 'it' : 'them'}: the example${left.length === 1 ? ' on line' : 's on lines'} ${lines}._`,
  ];
}

/**
 * Top tokens at the mask of one pattern, per example, with the label words'
 * probabilities and ranks. Wrong predictions come first, then the rest in
 * file order, at most `HOVER_ROWS` of them; a first line sums the pattern up;
 * `engine` (the file, graph and precision that ran, `describeEngine`) goes in a footer.
 */
export function maskHover(result: PreviewResult, pattern: string, engine?: string): string {
  const entries: Array<{ example: ExamplePreview; r: PatternResult }> = [];
  for (const example of result.examples) {
    const r = example.results.find((x) => x.pattern === pattern);
    if (r) entries.push({ example, r });
  }
  // Every example has an error in it: the hover says so rather than nothing.
  if (entries.length === 0) return notScored(result).join('\n').trim();
  const ordered = [...entries.filter((e) => e.r.correct === false), ...entries.filter((e) => e.r.correct !== false)];
  const rows = ordered.slice(0, HOVER_ROWS).map(({ example, r }) => {
    const prediction =
      r.prediction === null
        ? '—'
        : `${mark(r.correct)}${r.prediction} ${percent((result.calibrate ? r.calibrated : r.labels)[r.prediction] ?? 0)}`;
    const top = r.top
      .slice(0, 3)
      .map((t) => `\`${escapeCode(t.token)}\` ${percent(t.p)}`)
      .join(', ');
    // A knowledge-based verbalizer scores hundreds of words: the most probable few stand for them.
    const shown = r.labelWords.length > HOVER_WORDS ? [...r.labelWords].sort((a, b) => b.p - a.p).slice(0, HOVER_WORDS - 1) : r.labelWords;
    const words = [
      ...shown.map((w) => `${escapeMarkdown(w.word)} ${percent(w.p)} (#${w.rank})`),
      ...(shown.length < r.labelWords.length ? [`+${r.labelWords.length - shown.length} more`] : []),
    ].join(', ');
    return `| ${cell(exampleName(example))} | ${cell(prediction)} | ${cell(words)} | ${cell(top)} |`;
  });
  const labelled = entries.filter((e) => e.r.correct !== null);
  const right = labelled.filter((e) => e.r.correct === true).length;
  const tally = labelled.length > 0 ? `: ${right} of ${labelled.length} labelled examples right` : '';
  return [
    `**At the mask of \`${pattern}\`** (${result.model}), ${entries.length} example${entries.length === 1 ? '' : 's'}${tally}${result.calibrate ? ' (calibrated)' : ''}:`,
    '',
    '| example | prediction | label words (rank) | top tokens |',
    '|---|---|---|---|',
    ...rows,
    ...more(entries.length - rows.length, 'example'),
    ...notScored(result),
    ...(engine ? ['', `_${cell(engine)}_`] : []),
  ].join('\n');
}

/**
 * A label word's probability and vocabulary rank for each example under each
 * pattern, at most `HOVER_ROWS` examples, and the mean over all of them.
 */
export function labelWordHover(result: PreviewResult, label: string, word: string): string {
  if (result.examples.length === 0 || result.patterns.length === 0) return '';
  const found = (example: ExamplePreview, pattern: string) =>
    example.results.find((x) => x.pattern === pattern)?.labelWords.find((x) => x.label === label && x.word === word);
  // A word the preview has no numbers for (not one token, so not scored): no table of dashes under its diagnostic.
  if (!result.examples.some((example) => result.patterns.some((pattern) => found(example, pattern) !== undefined))) return '';
  const rows = result.examples.slice(0, HOVER_ROWS).map((example) => {
    const cells = result.patterns.map((pattern) => {
      const w = found(example, pattern);
      return w ? `${percent(w.p)} (#${w.rank})` : '—';
    });
    return `| ${cell(exampleName(example))} | ${cells.join(' | ')} |`;
  });
  const means = result.patterns.map((pattern) => {
    const ps = result.examples.flatMap((example) => {
      const w = found(example, pattern);
      return w ? [w.p] : [];
    });
    return ps.length === 0 ? '—' : `**${percent(ps.reduce((a, b) => a + b, 0) / ps.length)}**`;
  });
  // Examples a pattern could not score (mask cut off, NaN logits) are not in its mean.
  const allScored = result.examples.every((example) => result.patterns.every((pattern) => found(example, pattern) !== undefined));
  const meanLabel = allScored ? `mean of ${result.examples.length}` : 'mean over the examples scored';
  return [
    // Beside a model × token matrix of several models, the numbers name the one model that gave them.
    `**p(${escapeCode(word)} | x)** under \`${escapeCode(result.model)}\` and rank in its vocabulary, per example and pattern:`,
    '',
    `| example | ${result.patterns.map(cell).join(' | ')} |`,
    `|---|${result.patterns.map(() => '---').join('|')}|`,
    ...rows,
    ...(result.examples.length > 1 ? [`| _${meanLabel}_ | ${means.join(' | ')} |`] : []),
    ...more(result.examples.length - rows.length, 'example'),
  ].join('\n');
}
