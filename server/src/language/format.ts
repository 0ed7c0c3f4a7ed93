/**
 * How numbers and examples are written for people, in hovers (and anywhere
 * else that shows the preview): one format for every probability.
 */

/**
 * A probability as a percentage with one decimal: `17.6 %`, `0.4 %`, and
 * `<0.1 %` below that (never `3.3e-4`); `0 %` and `100 %` only when exact.
 * The space before `%` is a no-break space, so a narrow hover never wraps
 * the number away from its sign.
 */
export function formatPercent(p: number): string {
  if (!Number.isFinite(p)) return '–';
  if (p <= 0) return '0\u00a0%';
  if (p >= 1) return '100\u00a0%';
  if (p < 0.0005) return '<0.1\u00a0%';
  // 0.99996 would round to "100.0 %", which reads as certainty it is not.
  if (p > 0.9995) return '>99.9\u00a0%';
  return `${(p * 100).toFixed(1)}\u00a0%`;
}

/**
 * An example named by its first words, as people recall it: `I like the
 * Disney films…`. Cut at a word boundary when there is one (a text without
 * spaces, as Chinese, is cut by characters), white space collapsed.
 */
export function firstWords(text: string, maxLength = 32): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  if (chars.length <= maxLength) return flat;
  const cut = chars.slice(0, maxLength - 1).join('');
  const space = cut.lastIndexOf(' ');
  return `${space >= maxLength / 2 ? cut.slice(0, space) : cut}…`;
}
