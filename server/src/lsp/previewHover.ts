import { escapeCode } from '../language/hover';
import type { PreviewResult } from '../service/preview';

/**
 * The preview part of hovers: what the model puts at the mask (on `[MASK]`)
 * and how a label word fares (on the word), as Markdown tables.
 */

function percent(p: number): string {
  return p >= 0.001 ? `${(p * 100).toFixed(1)}%` : p.toExponential(1);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function exampleName(line: number, label: string | null): string {
  return `line ${line}${label ? ` (${label})` : ''}`;
}

/**
 * Top tokens at the mask of one pattern, per example, with the label words'
 * probabilities and ranks; `engine` (the file, graph and precision that ran,
 * `describeEngine`) goes in a footer.
 */
export function maskHover(result: PreviewResult, pattern: string, engine?: string): string {
  const rows: string[] = [];
  for (const example of result.examples) {
    const r = example.results.find((x) => x.pattern === pattern);
    if (!r) continue;
    const top = r.top.map((t) => `\`${escapeCode(t.token)}\` ${percent(t.p)}`).join(', ');
    const words = r.labelWords.map((w) => `${w.word} ${percent(w.p)} (#${w.rank})`).join(', ');
    rows.push(`| ${cell(exampleName(example.line, example.label))} | ${cell(top)} | ${cell(words)} |`);
  }
  if (rows.length === 0) return '';
  return [
    `**At the mask of \`${pattern}\`** (${result.model}):`,
    '',
    '| example | top tokens | label words (rank) |',
    '|---|---|---|',
    ...rows,
    ...(engine ? ['', `_${cell(engine)}_`] : []),
  ].join('\n');
}

/** A label word's probability and vocabulary rank for each example under each pattern. */
export function labelWordHover(result: PreviewResult, label: string, word: string): string {
  const rows: string[] = [];
  for (const example of result.examples) {
    const cells = result.patterns.map((pattern) => {
      const r = example.results.find((x) => x.pattern === pattern);
      const w = r?.labelWords.find((x) => x.label === label && x.word === word);
      return w ? `${percent(w.p)} (#${w.rank})` : '—';
    });
    rows.push(`| ${cell(exampleName(example.line, example.label))} | ${cells.join(' | ')} |`);
  }
  if (rows.length === 0 || result.patterns.length === 0) return '';
  return [
    `**p(${escapeCode(word)} | x)** and rank in the vocabulary, per example and pattern:`,
    '',
    `| example | ${result.patterns.map(cell).join(' | ')} |`,
    `|---|${result.patterns.map(() => '---').join('|')}|`,
    ...rows,
  ].join('\n');
}
