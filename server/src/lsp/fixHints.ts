import type { ClozeDocument } from '../language';
import type { PreviewResult } from '../service/preview';

/**
 * What the preview tells the quick fixes: the model's most probable tokens at
 * the mask, summed over the patterns, best first: per example, and per label
 * the tokens that separate it: mean probability over that label's examples
 * minus the largest mean over another label's. A label word that is not one
 * token is then offered the words the model itself puts there for that label
 * and not as much for the others (ranked by raw mass, `horrible` was offered
 * for `positive`: the model puts it at the mask for most reviews).
 */
export function topTokensFromPreview(
  doc: ClozeDocument,
  preview: PreviewResult,
): { topTokensByLabel: Map<string, string[]>; topTokensByExample: Map<number, string[]> } {
  const byLabel = new Map<string, { mass: Map<string, number>; examples: number }>();
  const byExample = new Map<number, string[]>();
  for (const example of preview.examples) {
    const mass = new Map<string, number>();
    for (const result of example.results) {
      for (const top of result.top) mass.set(top.token, (mass.get(top.token) ?? 0) + top.p);
    }
    // `line` is the 1-based line of the `example` keyword, which starts its line.
    const keywordOffset = doc.lineStarts[example.line - 1];
    if (keywordOffset !== undefined) byExample.set(keywordOffset, ranked(mass));
    if (example.label === null) continue;
    const label = byLabel.get(example.label) ?? { mass: new Map<string, number>(), examples: 0 };
    for (const [token, p] of mass) label.mass.set(token, (label.mass.get(token) ?? 0) + p);
    label.examples += 1;
    byLabel.set(example.label, label);
  }
  const mean = (label: string, token: string): number => {
    const entry = byLabel.get(label);
    return entry ? (entry.mass.get(token) ?? 0) / entry.examples : 0;
  };
  const separating = (label: string): string[] => {
    const own = byLabel.get(label);
    if (!own) return [];
    const others = [...byLabel.keys()].filter((other) => other !== label);
    const scores = new Map<string, number>();
    for (const token of own.mass.keys()) {
      const score = mean(label, token) - Math.max(0, ...others.map((other) => mean(other, token)));
      if (score > 0) scores.set(token, score);
    }
    return ranked(scores);
  };
  return { topTokensByLabel: new Map([...byLabel.keys()].map((label) => [label, separating(label)])), topTokensByExample: byExample };
}

function ranked(mass: ReadonlyMap<string, number>): string[] {
  return [...mass].sort((a, b) => b[1] - a[1]).map(([token]) => token);
}
