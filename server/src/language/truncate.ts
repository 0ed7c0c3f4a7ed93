import type { Pattern } from './ast';
import { optionValueOf } from './options';
import { renderPattern, segments, transformValue, type FieldValues } from './render';
import type { TokenizerView } from './tokenizer';

/**
 * Truncation per field (`pattern … shorten=premise,hypothesis truncate=tail:`),
 * as PET, OpenPrompt and LM-BFF cut their inputs: only the fields listed are
 * cut, by whole tokens of the model's tokenizer, never the mask or the
 * pattern's own text. The cut values are decoded back to text and rendered
 * in place, so the scorer sees an input that fits; what is still too long
 * (the listed fields ran out) is cut by the engine's window around the mask.
 */

export type TruncationStrategy = 'tail' | 'head' | 'balanced' | 'longest';

export interface Truncation {
  readonly fields: readonly string[];
  readonly strategy: TruncationStrategy;
}

/** The pattern's `shorten=` fields and `truncate=` strategy; undefined without `shorten=`. */
export function truncationOf(pattern: Pattern): Truncation | undefined {
  const fields = optionValueOf(pattern.options, 'shorten');
  if (!fields) return undefined;
  const strategy = optionValueOf(pattern.options, 'truncate');
  return {
    fields: fields.split(','),
    strategy: strategy === 'head' || strategy === 'balanced' || strategy === 'longest' ? strategy : 'tail',
  };
}

/**
 * How many tokens to remove from each of the listed parts (lengths in
 * priority order), as each framework computes it.
 */
export function tokensToCut(lengths: readonly number[], excess: number, strategy: TruncationStrategy): number[] {
  const cuts = lengths.map(() => 0);
  if (strategy === 'balanced') {
    // OpenPrompt's balanced_truncate with round_list: shares proportional to length, ceiled, the sum capped at the excess.
    const total = lengths.reduce((a, b) => a + b, 0);
    if (total === 0) return cuts;
    let sum = 0;
    lengths.forEach((length, i) => {
      const share = Math.ceil((length / total) * excess);
      if (sum <= excess) {
        sum += share;
        cuts[i] = sum <= excess ? share : share - (sum - excess);
      }
    });
    return cuts.map((cut, i) => Math.min(cut, lengths[i]));
  }
  if (strategy === 'longest') {
    // PET's truncate: while too long, the last token of the longer side goes (the later one on a tie).
    const left = [...lengths];
    for (let n = 0; n < excess; n++) {
      let longest = -1;
      left.forEach((length, i) => {
        if (length > 0 && (longest < 0 || length >= left[longest])) longest = i;
      });
      if (longest < 0) break;
      left[longest]--;
      cuts[longest]++;
    }
    return cuts;
  }
  let remaining = excess;
  lengths.forEach((length, i) => {
    cuts[i] = Math.min(length, Math.max(0, remaining));
    remaining -= cuts[i];
  });
  return cuts;
}

/** The model's length of an input, special tokens included; a pair counts its two texts and the pair's separators. */
export function inputLength(input: string, tokenizer: TokenizerView): number {
  const [a, b] = segments(input);
  if (b === undefined) return tokenizer.countTokens(a);
  // BERT: [CLS] A [SEP] B [SEP] (one fewer than two singles); RoBERTa: <s> A </s></s> B </s> (as many).
  return tokenizer.countTokens(a) + tokenizer.countTokens(b) - (tokenizer.special.cls === '<s>' ? 0 : 1);
}

/**
 * The rendered input with the `shorten=` fields cut to fit the model, and
 * whether anything was cut. Without `shorten=`, or when the input fits, it is
 * `renderPattern`'s.
 */
export function renderTruncated(
  pattern: Pattern,
  fields: FieldValues,
  tokenizer: TokenizerView,
): { input: string; truncatedFields: boolean } {
  const input = renderPattern(pattern, fields, tokenizer.special);
  const truncation = truncationOf(pattern);
  if (!truncation) return { input, truncatedFields: false };
  const excess = inputLength(input, tokenizer) - tokenizer.maxLength;
  if (excess <= 0) return { input, truncatedFields: false };
  // The placeholders of the listed fields, in the order of the list (then of the pattern).
  const shortenable = truncation.fields.flatMap((field) =>
    pattern.parts.flatMap((part, index) =>
      part.kind === 'placeholder' && part.field === field
        ? [{ index, pieces: tokenizer.tokenize(transformValue(fields.get(field) ?? '', part.transforms)) }]
        : [],
    ),
  );
  const cuts = tokensToCut(
    shortenable.map((s) => s.pieces.length),
    excess,
    truncation.strategy,
  );
  const cut = new Map<number, string>();
  shortenable.forEach(({ index, pieces }, i) => {
    if (cuts[i] === 0) return;
    const kept = truncation.strategy === 'head' ? pieces.slice(cuts[i]) : pieces.slice(0, pieces.length - cuts[i]);
    // Cut whole: the field is empty, and what is still too long is the mask window's to cut.
    cut.set(index, kept.length === 0 ? '' : tokenizer.decode(kept.map((piece) => piece.id)));
  });
  return { input: renderPattern(pattern, fields, tokenizer.special, cut), truncatedFields: cut.size > 0 };
}
