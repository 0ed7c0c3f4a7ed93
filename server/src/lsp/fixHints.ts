import type { ClozeDocument } from '../language';
import type { PreviewResult } from '../service/preview';

/**
 * What the preview tells the quick fixes: the model's most probable tokens at
 * the mask, summed over the patterns (and, per label, over the examples of
 * that label), best first. A label word that is not one token is then
 * offered the words the model itself puts there for that label.
 */
export function topTokensFromPreview(
  doc: ClozeDocument,
  preview: PreviewResult,
): { topTokensByLabel: Map<string, string[]>; topTokensByExample: Map<number, string[]> } {
  const byLabel = new Map<string, Map<string, number>>();
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
    const labelMass = byLabel.get(example.label) ?? new Map<string, number>();
    for (const [token, p] of mass) labelMass.set(token, (labelMass.get(token) ?? 0) + p);
    byLabel.set(example.label, labelMass);
  }
  return { topTokensByLabel: new Map([...byLabel].map(([label, mass]) => [label, ranked(mass)])), topTokensByExample: byExample };
}

function ranked(mass: ReadonlyMap<string, number>): string[] {
  return [...mass].sort((a, b) => b[1] - a[1]).map(([token]) => token);
}
