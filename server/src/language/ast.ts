/**
 * The syntax tree of a `.cloze` document.
 *
 * Every node carries a `Span` of UTF-16 offsets into the document text, so the
 * editor layer can turn it into an LSP range without re-scanning. The tree is
 * plain data: no methods, no references to the text buffer, safe to send to a
 * worker or serialise for a test.
 */

/** Half-open range of UTF-16 code-unit offsets: `start <= i < end`. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** An identifier as written (pattern name, label, field), with where it was written. */
export interface Name {
  readonly text: string;
  readonly span: Span;
}

export interface Comment {
  readonly kind: 'comment';
  readonly span: Span;
}

export interface ModelStatement {
  readonly kind: 'model';
  readonly span: Span;
  readonly keywordSpan: Span;
  /** A Hugging Face model id or a path relative to the file. */
  readonly id: string;
  readonly idSpan: Span;
}

/** One model of a `models:` list, as written. */
export interface ModelRef {
  readonly id: string;
  readonly idSpan: Span;
}

/**
 * `models: a, b, c`: the models every label word is checked against and the
 * preview compares. The default model (the one the lenses score) stays the
 * `model:` line, else the first model listed here, else the setting.
 */
export interface ModelsStatement {
  readonly kind: 'models';
  readonly span: Span;
  readonly keywordSpan: Span;
  readonly entries: readonly ModelRef[];
}

export interface DataStatement {
  readonly kind: 'data';
  readonly span: Span;
  readonly keywordSpan: Span;
  readonly path: string;
  readonly pathSpan: Span;
}

/** Literal text of a pattern, with escapes already resolved. */
export interface TextPart {
  readonly kind: 'text';
  readonly value: string;
  readonly span: Span;
  /**
   * True for an escaped space `\ `: a space the rendering never trims, so a
   * pattern can start with one (LM-BFF's `*cls*_It's*mask*`).
   */
  readonly kept?: boolean;
}

/** `[MASK]` (or `<mask>`, accepted as the same thing): mapped to the model's mask token. */
export interface MaskPart {
  readonly kind: 'mask';
  readonly span: Span;
}

/** The special tokens a pattern may write besides the mask. */
export type SpecialTokenName = '[SEP]' | '[CLS]' | '<s>' | '</s>';

export interface SpecialTokenPart {
  readonly kind: 'special';
  readonly token: SpecialTokenName;
  readonly span: Span;
}

/** `{field}`: filled with the example's value of `field`. */
export interface PlaceholderPart {
  readonly kind: 'placeholder';
  readonly field: string;
  readonly span: Span;
  /** The field name without the braces. */
  readonly fieldSpan: Span;
  /** `{field|drop-punct|lower-first}`: applied in order to the value (see options.ts). */
  readonly transforms: readonly FieldTransform[];
}

/** One `|name` after a placeholder's field. */
export interface FieldTransform {
  readonly name: string;
  readonly span: Span;
}

/** A `key=value` in a `pattern` or `verbalizer` header, before the colon. */
export interface HeaderOption {
  readonly key: Name;
  readonly value: Name;
  readonly span: Span;
}

/**
 * `[SEP+]`: segment B starts here. The input becomes a pair, encoded by the
 * tokenizer's own pair encoding (`[CLS] A [SEP] B [SEP]` with token_type_ids 1
 * for B in BERT, `<s> A </s></s> B </s>` in RoBERTa), as PET's two-part
 * patterns and LM-BFF's `*sep+*` give.
 */
export interface SegmentPart {
  readonly kind: 'segment';
  readonly span: Span;
}

export type PatternPart = TextPart | MaskPart | SpecialTokenPart | PlaceholderPart | SegmentPart;

export interface Pattern {
  readonly kind: 'pattern';
  readonly span: Span;
  readonly keywordSpan: Span;
  /** Absent for `pattern: …`; messages then say `pattern <index>`. */
  readonly name: Name | undefined;
  /** 1-based position among the document's patterns. */
  readonly index: number;
  readonly parts: readonly PatternPart[];
  /** The pattern text after the colon, leading blanks excluded. */
  readonly textSpan: Span;
  /** `pattern name key=value …:` (`verbalizer=`, see options.ts). */
  readonly options: readonly HeaderOption[];
}

export interface LabelWord {
  /** The word, without the quotes and the leading space of a quoted word. */
  readonly text: string;
  readonly span: Span;
  /**
   * The form the word is scored in when it is quoted: `" great"` (after a
   * space, `Ġgreat` for RoBERTa) or `"great"` (no space). Absent: the
   * verbalizer's `space=` decides, by default the mask's context.
   */
  readonly space?: 'before' | 'none';
}

/** One `label: word, word` line of the verbalizer. */
export interface LabelEntry {
  readonly span: Span;
  readonly label: Name;
  readonly words: readonly LabelWord[];
}

export interface Verbalizer {
  readonly kind: 'verbalizer';
  /** From the `verbalizer:` keyword to the end of its last entry. */
  readonly span: Span;
  readonly headerSpan: Span;
  readonly entries: readonly LabelEntry[];
  /** `verbalizer name:`; patterns choose it with `verbalizer=name`. */
  readonly name?: Name;
  /** `aggregate=`, `space=`, `multi-token=` (see options.ts). */
  readonly options?: readonly HeaderOption[];
}

/** A field value of an example. `name` is absent for the one-line form. */
export interface ExampleField {
  readonly name: Name | undefined;
  readonly value: string;
  readonly valueSpan: Span;
}

export interface Example {
  readonly kind: 'example';
  /** From `example` to the end of the last field line. */
  readonly span: Span;
  readonly keywordSpan: Span;
  readonly headerSpan: Span;
  /** Absent when unlabelled (`example:` or `example ?:`). */
  readonly label: Name | undefined;
  /** True for `example label: text`, false for the indented multi-field form. */
  readonly singleLine: boolean;
  readonly fields: readonly ExampleField[];
}

export type Statement = Comment | ModelStatement | ModelsStatement | DataStatement | Pattern | Verbalizer | Example;

export type Severity = 'error' | 'warning' | 'information' | 'hint';

/**
 * A problem found in a document. Codes are stable: the CLI prints them, users
 * silence or search for them, and docs/language.md lists every one.
 */
export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  /** Further places the diagnostic is about (LSP's relatedInformation), e.g. each word a summary counts. */
  readonly related?: readonly RelatedInformation[];
  /**
   * A check against another model of `models:` (language/models.ts): its id. Absent for the
   * default model's checks, which are the only ones quick fixes answer (they verify with its tokenizer).
   */
  readonly model?: string;
}

export interface RelatedInformation {
  readonly span: Span;
  readonly message: string;
}

export type DiagnosticCode =
  | 'syntax'
  | 'mask-missing'
  | 'mask-multiple'
  | 'placeholder-none'
  | 'placeholder-unknown'
  | 'pattern-missing'
  | 'pattern-duplicate'
  | 'model-duplicate'
  | 'verbalizer-missing'
  | 'verbalizer-duplicate'
  | 'label-duplicate'
  | 'label-word-multi-token'
  | 'label-word-unknown'
  | 'label-word-ambiguous'
  | 'label-word-repeated'
  | 'label-word-summary'
  | 'label-undeclared'
  | 'model-unavailable'
  | 'special-token-explicit'
  | 'input-too-long'
  | 'data-unreadable'
  | 'verbalizer-unknown'
  | 'verbalizer-labels'
  | 'mask-glued'
  | 'data-too-large'
  | 'data-rows-incomplete'
  | 'data-empty'
  | 'workspace-untrusted';

export interface ClozeDocument {
  readonly text: string;
  readonly statements: readonly Statement[];
  readonly models: readonly ModelStatement[];
  /** The `models:` lines (only the first is used; a second is `model-duplicate`). */
  readonly modelLists: readonly ModelsStatement[];
  readonly patterns: readonly Pattern[];
  readonly verbalizers: readonly Verbalizer[];
  readonly examples: readonly Example[];
  readonly data: readonly DataStatement[];
  /** Problems found while parsing (code `syntax`). */
  readonly syntaxErrors: readonly Diagnostic[];
  /** Offset of the first character of each line, for offset ↔ line/column. */
  readonly lineStarts: readonly number[];
}

/** How messages name a pattern: its name, or `pattern 2` when it has none. */
export function patternDisplayName(pattern: Pattern): string {
  return pattern.name ? pattern.name.text : `pattern ${pattern.index}`;
}

/** A pattern in running text: "pattern `short`" or "pattern 2". */
export function describePattern(pattern: Pattern): string {
  return pattern.name ? `pattern \`${pattern.name.text}\`` : `pattern ${pattern.index}`;
}

/** The fields a pattern reads, in order of first use. */
export function patternFields(pattern: Pattern): string[] {
  const fields: string[] = [];
  for (const part of pattern.parts) {
    if (part.kind === 'placeholder' && !fields.includes(part.field)) fields.push(part.field);
  }
  return fields;
}

export function maskParts(pattern: Pattern): MaskPart[] {
  return pattern.parts.filter((part): part is MaskPart => part.kind === 'mask');
}
