import type { ClozeDocument, HeaderOption, Pattern, Verbalizer } from './ast';

/**
 * The vocabulary of the language's extensions (v2): the `key=value` options
 * of `pattern` and `verbalizer` headers and the `|transforms` of a
 * placeholder. Parser, validator, hover, completion and the exporters all
 * read these tables, so a new option or transform is added in one place.
 * Every default is what a v1 file meant, so v1 files keep their meaning.
 */

/** How a label's words become one label score (docs/language.md §6). */
export type Aggregation = 'sum' | 'mean-logit' | 'mean-logprob';
/** Which token form a label word is scored in: the mask's context (v1), or always one form. */
export type SpaceForm = 'auto' | 'before' | 'none';
/** What a label word of several tokens is scored as, at the one mask (OpenPrompt's multi_token_handler). */
export type MultiTokenHandler = 'first' | 'mean' | 'max';

export interface OptionValue {
  readonly value: string;
  readonly doc: string;
}

export interface OptionSpec {
  readonly key: string;
  readonly doc: string;
  /** The allowed values; undefined: any name (a verbalizer's name). */
  readonly values?: readonly OptionValue[];
  /** The value when the option is not written; undefined: none. */
  readonly default?: string;
  /** For a free value: what it must look like (default: a name). */
  readonly valuePattern?: RegExp;
}

export const VERBALIZER_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'aggregate',
    doc: 'how the probabilities of a label’s words make the label’s score',
    default: 'sum',
    values: [
      { value: 'sum', doc: 'the sum of the words’ probabilities over the whole vocabulary, renormalised over the labels (Cloze v1)' },
      { value: 'mean-logit', doc: 'the mean of the words’ logits, softmaxed over the labels (PET)' },
      {
        value: 'mean-logprob',
        doc: 'the mean of the words’ log-probabilities after a softmax over all label words, softmaxed over the labels (OpenPrompt ManualVerbalizer)',
      },
    ],
  },
  {
    key: 'space',
    doc: 'which token form the label words are scored in',
    default: 'auto',
    values: [
      { value: 'auto', doc: 'the form the mask’s context implies: after a space `Ġword` for RoBERTa, else `word` (Cloze v1)' },
      { value: 'before', doc: 'always the form after a space (`Ġword`), as PET, LM-BFF and OpenPrompt score them' },
      { value: 'none', doc: 'always the form without a space before it' },
    ],
  },
  {
    key: 'multi-token',
    doc: 'score label words of several tokens at the one mask, instead of rejecting them',
    values: [
      { value: 'first', doc: 'the word’s first token' },
      { value: 'mean', doc: 'the mean of its tokens’ logits' },
      { value: 'max', doc: 'the largest of its tokens’ logits' },
    ],
  },
];

export const PATTERN_OPTIONS: readonly OptionSpec[] = [
  { key: 'verbalizer', doc: 'the named verbalizer this pattern is scored with (default: the file’s first verbalizer)' },
  {
    key: 'shorten',
    doc: 'the fields that may be cut when the input is longer than the model reads, first cut first (`shorten=premise,hypothesis`); the mask and the pattern’s own text are never cut',
    valuePattern: /^[\p{L}\p{M}\p{N}_]+(?:,[\p{L}\p{M}\p{N}_]+)*$/u,
  },
  {
    key: 'truncate',
    doc: 'how the `shorten=` fields are cut',
    default: 'tail',
    values: [
      {
        value: 'tail',
        doc: 'from the end of the first listed field, then the next (OpenPrompt `tail` lists the fields last first, `head` first first)',
      },
      { value: 'head', doc: 'from the start of the first listed field, then the next (LM-BFF `truncate_head`)' },
      { value: 'balanced', doc: 'every listed field loses tokens at its end in proportion to its length (OpenPrompt `balanced`)' },
      {
        value: 'longest',
        doc: 'one token at a time from the end of the longest field, the later one on a tie (PET, Hugging Face `longest_first`)',
      },
    ],
  },
];

export interface TransformSpec {
  readonly name: string;
  readonly doc: string;
  readonly apply: (value: string) => string;
}

/** ASCII punctuation, as Python's `string.punctuation` (PET's `remove_final_punc` strips these). */
const FINAL_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]+$/u;

export const FIELD_TRANSFORMS: readonly TransformSpec[] = [
  {
    name: 'drop-punct',
    doc: 'removes the punctuation at the end of the value (PET `remove_final_punc`, OpenPrompt `post_processing`)',
    apply: (value) => value.replace(FINAL_PUNCTUATION, ''),
  },
  {
    name: 'drop-last',
    doc: 'removes the last character of the value, whatever it is (LM-BFF `*sent-_0*`, `lambda s: s[:-1]`)',
    apply: (value) => [...value].slice(0, -1).join(''),
  },
  {
    name: 'lower-first',
    doc: 'lower-cases the first character (LM-BFF `*sentl_0*`, PET `lowercase_first`)',
    apply: (value) => mapFirst(value, (c) => c.toLowerCase()),
  },
  {
    name: 'upper-first',
    doc: 'upper-cases the first character (LM-BFF `*sentu_0*`)',
    apply: (value) => mapFirst(value, (c) => c.toUpperCase()),
  },
  {
    name: 'space',
    doc: 'puts a space before the value, kept even at the start of the input (LM-BFF `*+sent_0*`)',
    apply: (value) => ` ${value}`,
  },
];

function mapFirst(value: string, map: (char: string) => string): string {
  const first = value.codePointAt(0);
  if (first === undefined) return value;
  const char = String.fromCodePoint(first);
  return map(char) + value.slice(char.length);
}

export function transformSpec(name: string): TransformSpec | undefined {
  return FIELD_TRANSFORMS.find((t) => t.name === name);
}

export function optionSpec(specs: readonly OptionSpec[], key: string): OptionSpec | undefined {
  return specs.find((spec) => spec.key === key);
}

export function optionValueOf(options: readonly HeaderOption[] | undefined, key: string): string | undefined {
  return optionValue(options, key);
}

function optionValue(options: readonly HeaderOption[] | undefined, key: string): string | undefined {
  return options?.find((option) => option.key.text === key)?.value.text;
}

/** The scoring settings of a verbalizer, defaults filled in; invalid values (reported by the parser) fall back to them. */
export interface VerbalizerSettings {
  readonly aggregate: Aggregation;
  readonly space: SpaceForm;
  readonly multiToken: MultiTokenHandler | undefined;
}

export function verbalizerSettings(verbalizer: Verbalizer | undefined): VerbalizerSettings {
  const pick = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const value = optionValue(verbalizer?.options, key);
    return allowed.includes(value as T) ? (value as T) : fallback;
  };
  const multi = optionValue(verbalizer?.options, 'multi-token');
  return {
    aggregate: pick<Aggregation>('aggregate', ['sum', 'mean-logit', 'mean-logprob'], 'sum'),
    space: pick<SpaceForm>('space', ['auto', 'before', 'none'], 'auto'),
    multiToken: multi === 'first' || multi === 'mean' || multi === 'max' ? multi : undefined,
  };
}

/** The verbalizer a pattern chooses with `verbalizer=name`, if that option is written. */
export function chosenVerbalizerName(pattern: Pattern): string | undefined {
  return optionValue(pattern.options, 'verbalizer');
}

/**
 * The verbalizer a pattern is scored with: the one it names, else the file's
 * first. Undefined when it names one that does not exist (`verbalizer-unknown`):
 * scoring it with another would show numbers for a PVP the user did not write.
 */
export function verbalizerOf(doc: ClozeDocument, pattern: Pattern): Verbalizer | undefined {
  const name = chosenVerbalizerName(pattern);
  if (name === undefined) return doc.verbalizers[0];
  return firstVerbalizers(doc).get(name);
}

/**
 * Whether a verbalizer repeats the name of an earlier one (or is a second unnamed one): it is
 * `verbalizer-duplicate` and not used. A lookup, not a scan of the earlier ones: a file of
 * tens of thousands of blocks took seconds per check when every block scanned those before it.
 */
export function isRepeatedVerbalizer(doc: ClozeDocument, verbalizer: Verbalizer): boolean {
  return firstVerbalizers(doc).get(verbalizer.name?.text) !== verbalizer;
}

/** The first verbalizer of each name (`undefined`: unnamed), per parsed document (which is never changed). */
const firstByName = new WeakMap<ClozeDocument, Map<string | undefined, Verbalizer>>();

function firstVerbalizers(doc: ClozeDocument): Map<string | undefined, Verbalizer> {
  let first = firstByName.get(doc);
  if (!first) {
    first = new Map();
    for (const verbalizer of doc.verbalizers) if (!first.has(verbalizer.name?.text)) first.set(verbalizer.name?.text, verbalizer);
    firstByName.set(doc, first);
  }
  return first;
}

/** The patterns scored with a verbalizer. */
export function patternsOf(doc: ClozeDocument, verbalizer: Verbalizer): Pattern[] {
  return doc.patterns.filter((pattern) => verbalizerOf(doc, pattern) === verbalizer);
}
