import { maskParts, patternFields, type Example, type FieldTransform, type Pattern } from './ast';
import { transformSpec } from './options';
import type { MaskContext, SpecialTokens } from './tokenizer';

/**
 * Turning a pattern and an example into the exact text given to the
 * tokenizer. The scorer and the validator both call this, so what the editor
 * checks is what the model is fed.
 */

/** Field values of one input: an example, a data row, or empty for the content-free input. */
export type FieldValues = ReadonlyMap<string, string>;

/**
 * Fills the pattern. `[MASK]`, `[SEP]`, `[CLS]` and `<s>` become the model's
 * own tokens; a missing field becomes the empty string (which is how the
 * content-free input of calibration is made). Blanks at both ends are
 * trimmed, so an empty leading field does not leave a stray space that a
 * byte-level BPE tokenizer would turn into a token.
 */
export function renderPattern(
  pattern: Pattern,
  fields: FieldValues,
  special: SpecialTokens,
  /** Values of placeholders (by part index) already transformed and truncated (truncate.ts). */
  cut?: ReadonlyMap<number, string>,
): string {
  let text = '';
  let kept = false;
  let segmentA: string | undefined;
  for (const [index, part] of pattern.parts.entries()) {
    switch (part.kind) {
      case 'segment':
        // Each segment is trimmed on its own, as the tokenizer is given two texts.
        segmentA ??= finish(text, kept);
        text = '';
        kept = false;
        break;
      case 'text':
        // A kept space (`\ `) is written as a placeholder character that trim() leaves alone.
        text += part.kept ? KEPT_SPACE : part.value;
        kept ||= part.kept === true;
        break;
      case 'mask':
        text += special.mask;
        break;
      case 'placeholder': {
        const cutValue = cut?.get(index);
        const value = cutValue ?? transformValue(fields.get(part.field) ?? '', part.transforms);
        // `|space` puts a space the trimming keeps before a value, and none before an empty one; a
        // value cut at its start keeps the space its first token has (RoBERTa's `Ġon`).
        if (value.startsWith(' ') && (cutValue !== undefined || part.transforms.some((t) => t.name === 'space'))) {
          text += KEPT_SPACE + value.slice(1);
          kept = true;
        } else {
          text += value;
        }
        break;
      }
      case 'special':
        text += part.token === '[SEP]' || part.token === '</s>' ? special.sep : (special.cls ?? '');
        break;
    }
  }
  const last = finish(text, kept);
  return segmentA === undefined ? last : `${segmentA}${SEGMENT_B}${last}`;
}

function finish(text: string, kept: boolean): string {
  const trimmed = text.trim();
  return kept ? trimmed.replaceAll(KEPT_SPACE, ' ') : trimmed;
}

/**
 * Between the two texts of a pair input (a pattern with `[SEP+]`): a
 * private-use character no tokenizer is given. The scorer splits the input
 * there and encodes the two texts as a pair; `segments` does the same.
 */
export const SEGMENT_B = '\uE001';

/** The texts of an input: one, or two for a pair. */
export function segments(input: string): [string] | [string, string] {
  const at = input.indexOf(SEGMENT_B);
  return at < 0 ? [input] : [input.slice(0, at), input.slice(at + SEGMENT_B.length)];
}

/** A private-use character no tokenizer sees: it is replaced by a space after trimming. */
const KEPT_SPACE = '\uE000';

/**
 * A field's value after the placeholder's transforms, in the order written.
 * `space` adds nothing to an empty value, so the content-free input of
 * calibration has no stray space.
 */
export function transformValue(value: string, transforms: readonly FieldTransform[]): string {
  let result = value;
  for (const transform of transforms) {
    if (transform.name === 'space' && result === '') continue;
    result = transformSpec(transform.name)?.apply(result) ?? result;
  }
  return result;
}

/**
 * The field values an example gives. A one-line example fills the single
 * field the patterns use (`text` when they use none). When the patterns use
 * several fields it fills none of them: the validator reports that.
 */
export function exampleFields(example: Example, patterns: readonly Pattern[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const field of example.fields) {
    if (field.name) {
      values.set(field.name.text, field.value);
    } else {
      const used = usedFields(patterns);
      if (used.length <= 1) values.set(used[0] ?? 'text', field.value);
    }
  }
  return values;
}

/**
 * Per parsed document the patterns array never changes, so its fields are
 * computed once: callers ask for them once per example, and recomputing would
 * make checking grow as patterns × examples.
 */
const usedFieldsCache = new WeakMap<readonly Pattern[], readonly string[]>();

/** All fields the patterns read, in order of first use. */
export function usedFields(patterns: readonly Pattern[]): string[] {
  let fields = usedFieldsCache.get(patterns);
  if (!fields) {
    const seen = new Set<string>();
    for (const pattern of patterns) for (const field of patternFields(pattern)) seen.add(field);
    fields = [...seen];
    usedFieldsCache.set(patterns, fields);
  }
  return [...fields];
}

/** Whether the pattern has exactly one mask, the condition for scoring it. */
export function hasSingleMask(pattern: Pattern): boolean {
  return maskParts(pattern).length === 1;
}

/**
 * The context of the (first) mask: after whitespace, or not, as `renderPattern` writes it. Blanks
 * the rendering trims are no space: at the start of the pattern and at the start of segment B
 * (`[SEP+] [MASK]` is `[MASK]` at the start of the second text).
 */
export function maskContext(pattern: Pattern): MaskContext {
  const index = pattern.parts.findIndex((part) => part.kind === 'mask');
  let blank = false;
  for (let i = index - 1; i >= 0; i--) {
    const part = pattern.parts[i];
    if (part.kind === 'segment') return 'no-space';
    if (part.kind !== 'text') return blank ? 'after-space' : 'no-space';
    if (part.kept) return 'after-space';
    if (part.value.trim() !== '') return blank || /\s$/u.test(part.value) ? 'after-space' : 'no-space';
    blank ||= part.value !== '';
  }
  return 'no-space';
}
