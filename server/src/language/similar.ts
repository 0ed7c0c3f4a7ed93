import type { TokenizerView } from './tokenizer';

/**
 * Spelling similarity, for quick fixes that propose "the word you probably
 * meant": label words by the model's vocabulary, labels, keywords, model ids.
 * It only proposes candidates; every label word it yields is still checked
 * with the real tokenizer before a fix offers it.
 */

/** Levenshtein distance over code points, or `limit + 1` as soon as it must exceed `limit`. */
export function editDistance(a: readonly string[], b: readonly string[], limit = Infinity): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      rowMin = Math.min(rowMin, current[j]);
    }
    // Every later row is at least this row's minimum: nothing below the limit can follow.
    if (rowMin > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length];
}

function commonPrefix(a: readonly string[], b: readonly string[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * How close `candidate` is to `word` as something a user could have meant, or
 * undefined when it is not close: a few edits (about one per four characters),
 * with the same first letter (the first two for two edits), or a stem the
 * word starts with that keeps most of it (`fantastic` for `fantastically`).
 * Lower is closer. Case is ignored.
 */
export function spellingDistance(word: string, candidate: string): number | undefined {
  const a = [...word.toLowerCase()];
  const b = [...candidate.toLowerCase()];
  const limit = Math.max(1, Math.floor(a.length / 4));
  const prefix = commonPrefix(a, b);
  // A stem keeps most of the word: `fantastic` for `fantastically`, not `goo` for `goood`.
  const stem = prefix === b.length && b.length >= 4 && b.length >= 0.6 * a.length && b.length < a.length;
  if (stem) return (a.length - b.length) / 2;
  // Typos rarely hit the first letters; without this, `sarcastically` is "like" `fantastically`
  // and `native` like `Negative`.
  if (a.length >= 4 && prefix === 0) return undefined;
  const distance = editDistance(a, b, limit);
  if (a.length >= 4 && distance >= 2 && prefix < 2) return undefined;
  // At least one character must stay: otherwise any one-character token is "close" to a one-character word.
  return distance <= limit && distance < a.length ? distance : undefined;
}

/** Spelling-similar items, closest first (ties: longer shared prefix, then the given order). */
export function closest(word: string, items: readonly string[], limit: number): string[] {
  const lower = [...word.toLowerCase()];
  const first = lower[0];
  const scored: Array<{ item: string; distance: number; prefix: number; index: number }> = [];
  items.forEach((item, index) => {
    // Cheap rejections first: a vocabulary has tens of thousands of items.
    if (lower.length >= 4 && first !== undefined && !item.toLowerCase().startsWith(first)) return;
    const distance = spellingDistance(word, item);
    if (distance !== undefined) scored.push({ item, distance, prefix: commonPrefix(lower, [...item.toLowerCase()]), index });
  });
  scored.sort((x, y) => x.distance - y.distance || y.prefix - x.prefix || x.index - y.index);
  return scored.slice(0, limit).map((s) => s.item);
}

/**
 * The whole words of a vocabulary as a user types them: word-start tokens
 * without their marker (`Ġgreat` → `great`, SentencePiece `▁great` → `great`),
 * no continuation pieces (`##ally`), no special tokens (`[unused1]`, `<pad>`),
 * only strings with a letter or digit. In vocabulary order, which for these
 * tokenizers roughly puts frequent words first.
 */
const vocabularyWordsCache = new WeakMap<TokenizerView, readonly string[]>();

export function vocabularyWords(tokenizer: TokenizerView): readonly string[] {
  let words = vocabularyWordsCache.get(tokenizer);
  if (!words) {
    const seen = new Set<string>();
    for (const token of tokenizer.vocabulary()) {
      const word = withoutWordMarker(token);
      if (token.startsWith('##') || /^\[.*\]$|^<.*>$/.test(token) || !/[\p{L}\p{N}]/u.test(word)) continue;
      seen.add(word);
    }
    words = [...seen];
    vocabularyWordsCache.set(tokenizer, words);
  }
  return words;
}

/** A vocabulary string as the word a user writes: without the byte-level BPE `Ġ` or SentencePiece `▁` of a word start. */
export function withoutWordMarker(token: string): string {
  return token.replace(/^[Ġ▁]/u, '');
}

/** Single-token candidates spelt like `word`, closest first, to be verified with the tokenizer. */
export function similarVocabularyWords(word: string, tokenizer: TokenizerView, limit: number): string[] {
  return closest(word, vocabularyWords(tokenizer), limit);
}
