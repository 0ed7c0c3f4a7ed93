import type {
  ClozeDocument,
  DataStatement,
  Diagnostic,
  Example,
  FieldTransform,
  HeaderOption,
  ExampleField,
  LabelEntry,
  LabelWord,
  ModelRef,
  ModelStatement,
  ModelsStatement,
  Name,
  Pattern,
  PatternPart,
  Span,
  Statement,
  Verbalizer,
} from './ast';
import { FIELD_TRANSFORMS, PATTERN_OPTIONS, VERBALIZER_OPTIONS, optionSpec, transformSpec, type OptionSpec } from './options';
import { describeCharacter, invisibleNote, showInvisible } from './invisible';

/**
 * The parser of the Cloze language: a hand-written, line-oriented recursive
 * descent that never throws. The language is line based (a statement is one
 * line, or a header line followed by indented lines), so recovery is simple:
 * a line that cannot be read yields one `syntax` diagnostic and the parser
 * resumes at the next line. One bad line never hides the problems of others.
 */

const KEYWORDS = ['model', 'models', 'pattern', 'verbalizer', 'example', 'data'] as const;

/** Names of patterns, labels and fields: letters and marks of any script, digits, `_`, `-`, `.`. */
const NAME = /^[\p{L}\p{M}\p{N}_.-]+$/u;
/** Field names inside `{…}`: the brief allows letters of any script, digits and `_`. */
const FIELD = /^[\p{L}\p{M}\p{N}_]+$/u;

const ESCAPABLE = new Set(['{', '}', '[', ']', '\\', ' ']);
/** Characters that may start an escape, a placeholder, a stray brace or a special token in pattern text. */
const PLAIN_TEXT_END = /[\\{}[<]/g;

const SPECIAL_TOKENS: ReadonlyArray<{ text: string; part: 'mask' | 'segment' | '[SEP]' | '[CLS]' | '<s>' | '</s>' }> = [
  { text: '[MASK]', part: 'mask' },
  // Before `[SEP]`, which it starts with.
  { text: '[SEP+]', part: 'segment' },
  { text: '<mask>', part: 'mask' },
  { text: '[SEP]', part: '[SEP]' },
  { text: '</s>', part: '</s>' },
  { text: '[CLS]', part: '[CLS]' },
  { text: '<s>', part: '<s>' },
];

interface Line {
  /** Offset of the first character. */
  readonly start: number;
  /** Offset just past the last character, line break excluded. */
  readonly end: number;
  readonly text: string;
}

interface MutableExample {
  readonly keywordSpan: Span;
  readonly headerSpan: Span;
  readonly label: Name | undefined;
  readonly fields: ExampleField[];
  end: number;
}

interface MutableVerbalizer {
  readonly headerSpan: Span;
  readonly name: Name | undefined;
  readonly options: readonly HeaderOption[];
  readonly entries: LabelEntry[];
  end: number;
}

export function parse(text: string): ClozeDocument {
  return new Parser(text).run();
}

export function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  const lineBreak = /\r\n|\r|\n/g;
  let start = 0;
  for (let match = lineBreak.exec(text); match; match = lineBreak.exec(text)) {
    lines.push({ start, end: match.index, text: text.slice(start, match.index) });
    start = match.index + match[0].length;
  }
  lines.push({ start, end: text.length, text: text.slice(start) });
  return lines;
}

class Parser {
  private readonly lines: Line[];
  private readonly statements: Statement[] = [];
  private readonly errors: Diagnostic[] = [];
  private patternCount = 0;
  /** The open indented block, if any: indented lines belong to it. */
  private block: { kind: 'verbalizer'; node: MutableVerbalizer } | { kind: 'example'; node: MutableExample } | undefined;
  /** The last line told to be indented, so the lines after it in the same run are told too. */
  private lastIndentationHint: { end: number; kind: 'verbalizer' | 'example' } | undefined;
  /** The index of the line being parsed (a search for it made 200,000 `k: v` lines take 37 s). */
  private lineIndex = 0;

  constructor(private readonly text: string) {
    this.lines = splitLines(text);
  }

  run(): ClozeDocument {
    this.lines.forEach((line, index) => {
      this.lineIndex = index;
      this.parseLine(line.start === 0 ? withoutByteOrderMark(line) : line);
    });
    this.closeBlock();
    const statements = this.statements;
    return {
      text: this.text,
      statements,
      models: statements.filter((s): s is ModelStatement => s.kind === 'model'),
      modelLists: statements.filter((s): s is ModelsStatement => s.kind === 'models'),
      patterns: statements.filter((s): s is Pattern => s.kind === 'pattern'),
      verbalizers: statements.filter((s): s is Verbalizer => s.kind === 'verbalizer'),
      examples: statements.filter((s): s is Example => s.kind === 'example'),
      data: statements.filter((s): s is DataStatement => s.kind === 'data'),
      syntaxErrors: this.errors,
      lineStarts: this.lines.map((line) => line.start),
    };
  }

  private parseLine(line: Line): void {
    const indent = line.text.length - line.text.trimStart().length;
    const content = line.text.trim();
    if (content === '') return;
    if (content.startsWith('#')) {
      this.statements.push({ kind: 'comment', span: { start: line.start + indent, end: line.end } });
      return;
    }
    if (indent > 0) {
      this.parseIndented(line, indent);
      return;
    }
    this.closeBlock();
    const keyword = /^[\p{L}\p{M}\p{N}_-]+/u.exec(line.text)?.[0] ?? '';
    switch (keyword) {
      case 'model':
      case 'data':
        this.parseSimple(line, keyword);
        return;
      case 'models':
        this.parseModels(line);
        return;
      case 'pattern':
        this.parsePattern(line);
        return;
      case 'verbalizer':
        this.parseVerbalizerHeader(line);
        return;
      case 'example':
        this.parseExampleHeader(line);
        return;
      default:
        this.error(
          { start: line.start, end: line.end },
          `This line is not a statement. ${invisibleKeyword(line.text) ?? suggestKeyword(keyword) + this.indentationHint(line, suggestKeyword(keyword) !== '')}A line starts with model, models, pattern, verbalizer, example, data or # (a comment).`,
        );
    }
  }

  /**
   * "Indent it" for a `name: value` line at column 1 right after a block (or
   * after such lines): it was most likely meant as an entry of the
   * `verbalizer:` or a field of the `example` above, and the missing
   * indentation ended the block.
   */
  private indentationHint(line: Line, keywordSuggested = false): string {
    if (!/^[\p{L}\p{M}\p{N}_.-]+\s*:/u.test(line.text)) return '';
    // `exmaple: I like it.` after entries is a misspelt keyword, not an entry: label words have no spaces.
    const value = line.text.slice(line.text.indexOf(':') + 1);
    const sentence = value.split(',').some((word) => /\S\s+\S/u.test(word.trim()));
    let kind: 'verbalizer' | 'example' | undefined;
    let index = this.lineIndex - 1;
    while (index >= 0 && this.lines[index].text.trim().replace(/^#.*/, '') === '') index--;
    const previous = this.lines[index];
    if (previous && previous.end === this.lastIndentationHint?.end) {
      kind = this.lastIndentationHint.kind;
    } else if (previous) {
      // The header of the block the previous line is in (or is).
      for (let i = index; i >= 0 && !kind; i--) {
        const text = this.lines[i].text;
        if (text.trim() === '' || text.trimStart().startsWith('#') || /^\s/.test(text)) continue;
        if (BLOCK_HEADER.verbalizer.test(text)) kind = 'verbalizer';
        else if (BLOCK_HEADER.example.test(text)) kind = 'example';
        else break;
      }
    }
    if (!kind || (keywordSuggested && kind === 'verbalizer' && sentence)) return '';
    this.lastIndentationHint = { end: line.end, kind };
    return kind === 'verbalizer'
      ? 'If it is an entry of the `verbalizer:` above, indent it: entries are indented lines. '
      : 'If it is a field of the `example` above, indent it: fields are indented lines. ';
  }

  private parseIndented(line: Line, indent: number): void {
    const span = { start: line.start + indent, end: line.end };
    if (!this.block) {
      this.error(
        span,
        'Unexpected indented line: only the entries of a `verbalizer:` and the fields of a multi-line `example` are indented.',
      );
      return;
    }
    const errorsBefore = this.errors.length;
    const pair = this.readPair(line, indent);
    // readPair reports a bad name itself; the generic message would only repeat it, wrongly.
    const reported = this.errors.length > errorsBefore;
    if (this.block.kind === 'verbalizer') {
      if (!pair) {
        if (!reported) this.error(span, 'A verbalizer entry is written `label: word, word, …`.');
        return;
      }
      this.block.node.entries.push(this.labelEntry(line, pair));
      this.block.node.end = line.end;
    } else {
      if (!pair) {
        if (!reported) this.error(span, 'An example field is written `field: value`.');
        return;
      }
      const value = trimmedSpan(line, pair.valueStart, line.end);
      this.block.node.fields.push({ name: pair.name, value: value.text, valueSpan: value.span });
      this.block.node.end = line.end;
    }
  }

  /** Reads `name: rest` from an indented line, or reports why it cannot. */
  private readPair(line: Line, indent: number): { name: Name; valueStart: number } | undefined {
    const colon = line.text.indexOf(':', indent);
    if (colon < 0) return undefined;
    const rawName = line.text.slice(indent, colon);
    const name = rawName.trimEnd();
    if (!NAME.test(name)) {
      if (name !== '') {
        this.error(
          { start: line.start + indent, end: line.start + indent + rawName.length },
          `${invalidName(name)}${
            KEYWORDS.some((keyword) => new RegExp(`^${keyword}\\s`).test(name))
              ? ' The line is indented, so it is read as part of the block above; a statement starts at column 1: remove the indentation.'
              : ''
          }`,
        );
      }
      return undefined;
    }
    const nameStart = line.start + indent;
    return { name: { text: name, span: { start: nameStart, end: nameStart + name.length } }, valueStart: line.start + colon + 1 };
  }

  private labelEntry(line: Line, pair: { name: Name; valueStart: number }): LabelEntry {
    const words: LabelWord[] = [];
    const list = line.text.slice(pair.valueStart - line.start);
    let offset = pair.valueStart;
    const pieces = list.split(',');
    // Each extra comma is said once: in `label: ,` the empty pieces before and after it name the same one.
    const extraCommas = new Set<number>();
    pieces.forEach((piece, i) => {
      const word = trimmedSpan(line, offset, offset + piece.length);
      if (word.text === '') {
        if (pieces.length > 1 || i > 0) {
          const at = i < pieces.length - 1 ? offset + piece.length : offset - 1;
          if (!extraCommas.has(at)) this.error({ start: at, end: at + 1 }, 'Empty label word: remove the extra comma.');
          extraCommas.add(at);
        }
      } else {
        words.push(this.labelWord(word.text, word.span));
      }
      offset += piece.length + 1;
    });
    if (words.length === 0) {
      this.error(pair.name.span, `Label \`${pair.name.text}\` has no label words: write \`${pair.name.text}: word, word\`.`);
    }
    return { span: { start: pair.name.span.start, end: line.end }, label: pair.name, words };
  }

  /**
   * A label word; a quoted one (`" great"`, `"great"`) states the token form
   * it is scored in: with its leading space or without.
   */
  private labelWord(text: string, span: Span): LabelWord {
    if (!text.startsWith('"')) return { text, span };
    const inner = text.slice(1, -1);
    // A plain word (trimmed: §10's grammar), with at most one space (U+0020) before it: a tab or a no-break
    // space is no token's space, and was read as the form without one.
    if (text.length < 2 || !text.endsWith('"') || !/^ ?[^\s"](?:[^"]*[^\s"])?$/u.test(inner)) {
      this.error(
        span,
        'A quoted label word is written `" word"` (scored after a space, `Ġword` for RoBERTa) or `"word"` (scored without one), with one word inside the quotes.',
      );
      // Checked as the word without its quotes, so the tokenizer checks still say something useful.
      return { text: text.replaceAll('"', '').trim() || text, span };
    }
    const spaced = inner.startsWith(' ');
    return { text: inner.trim(), span, space: spaced ? 'before' : 'none' };
  }

  /** `model: id` and `data: path`. */
  private parseSimple(line: Line, keyword: 'model' | 'data'): void {
    const keywordSpan = { start: line.start, end: line.start + keyword.length };
    const colon = /^\s*:/.exec(line.text.slice(keyword.length));
    if (!colon) {
      this.error(
        { start: line.start, end: line.end },
        `Expected \`${keyword}: ${keyword === 'model' ? '<model id or path>' : '<file>'}\`.`,
      );
      return;
    }
    const value = trimmedSpan(line, keywordSpan.end + colon[0].length, line.end);
    if (value.text === '') {
      this.error(
        { start: line.start, end: line.end },
        keyword === 'model'
          ? 'The model is missing: write a Hugging Face model id (`Xenova/bert-base-uncased`) or a path (`./models/mine`).'
          : 'The data file is missing: write a path to a JSONL, CSV or TSV file.',
      );
      return;
    }
    const span = { start: line.start, end: line.end };
    if (keyword === 'model') {
      this.statements.push({ kind: 'model', span, keywordSpan, id: value.text, idSpan: value.span });
    } else {
      this.statements.push({ kind: 'data', span, keywordSpan, path: value.text, pathSpan: value.span });
    }
  }

  /** `models: a, b, c`: model ids or paths separated by commas (neither contains one). */
  private parseModels(line: Line): void {
    const keywordSpan = { start: line.start, end: line.start + 'models'.length };
    const colon = /^\s*:/.exec(line.text.slice('models'.length));
    if (!colon) {
      this.error({ start: line.start, end: line.end }, 'Expected `models: <model id>, <model id>, …`.');
      return;
    }
    const first = keywordSpan.end + colon[0].length;
    if (trimmedSpan(line, first, line.end).text === '') {
      this.error(
        { start: line.start, end: line.end },
        'The models are missing: list the model ids or paths to check the label words against, separated by commas (`models: Xenova/bert-base-uncased, Xenova/roberta-base`).',
      );
      return;
    }
    const entries: ModelRef[] = [];
    let start = first;
    for (;;) {
      const comma = line.text.indexOf(',', start - line.start);
      const end = comma < 0 ? line.end : line.start + comma;
      const item = trimmedSpan(line, start, end);
      if (item.text !== '') entries.push({ id: item.text, idSpan: item.span });
      else this.error({ start: comma < 0 ? start - 1 : end, end: comma < 0 ? start : end + 1 }, 'Empty model id: remove the extra comma.');
      if (comma < 0) break;
      start = end + 1;
    }
    this.statements.push({ kind: 'models', span: { start: line.start, end: line.end }, keywordSpan, entries });
  }

  /** Reads `keyword [name]:` and returns the name and where the text after the colon starts. */
  private readHeader(line: Line, keyword: string, allowQuestionMark: boolean): { name: Name | undefined; afterColon: number } | undefined {
    const rest = line.text.slice(keyword.length);
    const colon = rest.indexOf(':');
    if (colon < 0) return undefined;
    const between = rest.slice(0, colon);
    const nameText = between.trim();
    if (between !== '' && !/^\s/.test(between)) return undefined;
    if (nameText === '' || (allowQuestionMark && nameText === '?')) {
      return { name: undefined, afterColon: line.start + keyword.length + colon + 1 };
    }
    const nameStart = line.start + keyword.length + between.indexOf(nameText);
    const name = { text: nameText, span: { start: nameStart, end: nameStart + nameText.length } };
    if (!NAME.test(nameText)) {
      this.error(name.span, invalidName(nameText));
    }
    return { name, afterColon: line.start + keyword.length + colon + 1 };
  }

  private parsePattern(line: Line): void {
    const rest = line.text.slice('pattern'.length);
    const colon = rest.indexOf(':');
    const between = colon < 0 ? '' : rest.slice(0, colon);
    if (colon < 0 || (between !== '' && !/^\s/u.test(between))) {
      this.error({ start: line.start, end: line.end }, 'Expected `pattern [name]: <text with one [MASK]>`.');
      return;
    }
    const words = this.headerWords(line, 'pattern', between, PATTERN_OPTIONS);
    if (words.name && RESERVED_PATTERN_NAMES.includes(words.name.text)) {
      this.error(
        words.name.span,
        `\`${words.name.text}\` names the patterns' ensemble in \`cloze eval\` (\`--gate ${words.name.text}\`) and its reports; give this pattern another name.`,
      );
    }
    const header = { name: words.name, afterColon: line.start + 'pattern'.length + colon + 1 };
    const text = trimmedSpan(line, header.afterColon, line.end);
    this.patternCount += 1;
    this.statements.push({
      kind: 'pattern',
      span: { start: line.start, end: line.end },
      keywordSpan: { start: line.start, end: line.start + 'pattern'.length },
      name: header.name,
      index: this.patternCount,
      parts: this.patternParts(text.text, text.span.start),
      textSpan: text.span,
      options: words.options,
    });
  }

  /** Splits pattern text into literal text, `[MASK]`, special tokens and `{placeholders}`. */
  private patternParts(text: string, base: number): PatternPart[] {
    const parts: PatternPart[] = [];
    let literal = '';
    let literalStart = base;
    const flush = (end: number): void => {
      if (literal !== '') parts.push({ kind: 'text', value: literal, span: { start: literalStart, end } });
      literal = '';
    };
    let i = 0;
    while (i < text.length) {
      const at = base + i;
      const char = text[i];
      if (char === '\\') {
        // The escaped character is a whole code point: `\😀` must not end a span inside a surrogate pair.
        const nextCode = text.codePointAt(i + 1);
        const next = nextCode === undefined ? undefined : String.fromCodePoint(nextCode);
        if (next === ' ') {
          // A kept space: its own part, so that rendering can tell it from trimmable white space.
          flush(at);
          parts.push({ kind: 'text', value: ' ', span: { start: at, end: at + 2 }, kept: true });
        } else if (next !== undefined && ESCAPABLE.has(next)) {
          if (literal === '') literalStart = at;
          literal += next;
        } else {
          this.error(
            { start: at, end: at + 1 + (next?.length ?? 0) },
            `Bad escape \`\\${next ?? ''}\`: only \\{ \\} \\[ \\] \\\\ and \\ (a space that is kept) are escapes. Write \\\\ for a backslash.`,
          );
          if (literal === '') literalStart = at;
          literal += next === undefined ? '\\' : `\\${next}`;
        }
        i += 1 + (next?.length ?? 0);
        continue;
      }
      if (char === '{') {
        const close = text.indexOf('}', i + 1);
        const nextOpen = text.indexOf('{', i + 1);
        if (close < 0 || (nextOpen >= 0 && nextOpen < close)) {
          this.error(
            { start: at, end: base + (close < 0 ? text.length : nextOpen) },
            'Unclosed `{`: a placeholder is written `{field}`; write `\\{` for a literal brace.',
          );
          if (literal === '') literalStart = at;
          literal += char;
          i += 1;
          continue;
        }
        const inside = text.slice(i + 1, close);
        const bar = inside.indexOf('|');
        const field = bar < 0 ? inside : inside.slice(0, bar);
        const span = { start: at, end: base + close + 1 };
        if (!FIELD.test(field)) {
          this.error(
            span,
            field === ''
              ? 'Empty placeholder `{}`: write the field name, e.g. `{review}`.'
              : `\`{${inside}}\` is not a placeholder: a field name has only letters, digits and \`_\`. Write \`\\{\` for a literal brace.`,
          );
          if (literal === '') literalStart = at;
          literal += text.slice(i, close + 1);
          i = close + 1;
          continue;
        }
        flush(at);
        const transforms = bar < 0 ? [] : this.fieldTransforms(inside.slice(bar + 1), at + 1 + bar + 1);
        parts.push({ kind: 'placeholder', field, span, fieldSpan: { start: at + 1, end: at + 1 + field.length }, transforms });
        i = close + 1;
        continue;
      }
      if (char === '}') {
        this.error({ start: at, end: at + 1 }, 'Unmatched `}`: write `\\}` for a literal brace.');
        if (literal === '') literalStart = at;
        literal += char;
        i += 1;
        continue;
      }
      const special = char === '[' || char === '<' ? SPECIAL_TOKENS.find((s) => text.startsWith(s.text, i)) : undefined;
      if (special?.part === 'segment' && parts.some((part) => part.kind === 'segment')) {
        // A pair has two texts: a second `[SEP+]` would start a third segment, which no tokenizer encodes.
        this.error(
          { start: at, end: at + special.text.length },
          'A second [SEP+]: a pattern has two segments at most (the tokenizer encodes a pair). Remove it, or write [SEP] for a separator inside a segment.',
        );
        i += special.text.length;
        continue;
      }
      if (special) {
        flush(at);
        const span = { start: at, end: at + special.text.length };
        parts.push(
          special.part === 'mask' || special.part === 'segment'
            ? { kind: special.part, span }
            : { kind: 'special', token: special.part, span },
        );
        i += special.text.length;
        continue;
      }
      // Plain text runs to the next character that may start something else: one slice, not a
      // string per character (a 10,000-line document has hundreds of thousands of them).
      PLAIN_TEXT_END.lastIndex = i + 1;
      const stop = PLAIN_TEXT_END.exec(text)?.index ?? text.length;
      if (literal === '') literalStart = at;
      literal += text.slice(i, stop);
      i = stop;
    }
    flush(base + text.length);
    return parts;
  }

  /** `drop-punct|lower-first`, the text after a placeholder's first `|`; unknown names are reported and left out. */
  private fieldTransforms(list: string, base: number): FieldTransform[] {
    const transforms: FieldTransform[] = [];
    let offset = base;
    for (const name of list.split('|')) {
      const span = { start: offset, end: offset + name.length };
      if (transformSpec(name)) {
        transforms.push({ name, span });
      } else {
        this.error(
          name === '' ? { start: offset - 1, end: offset } : span,
          `${name === '' ? 'Empty transform' : `Unknown transform \`${name}\``}: a placeholder is written \`{field|transform|…}\` with ${FIELD_TRANSFORMS.map((t) => t.name).join(', ')}.`,
        );
      }
      offset += name.length + 1;
    }
    return transforms;
  }

  /**
   * The words between a keyword and the colon of a `pattern` or `verbalizer`
   * header: an optional name, then `key=value` options. Without any `=` the
   * whole text is the name, as in v1, so `pattern bad name:` keeps its message.
   */
  private headerWords(
    line: Line,
    keyword: string,
    between: string,
    specs: readonly OptionSpec[],
  ): { name: Name | undefined; options: HeaderOption[] } {
    const base = line.start + keyword.length;
    const nameText = between.trim();
    if (!between.includes('=')) {
      if (nameText === '') return { name: undefined, options: [] };
      const start = base + between.indexOf(nameText);
      const name = { text: nameText, span: { start, end: start + nameText.length } };
      if (!NAME.test(nameText)) {
        this.error(name.span, invalidName(nameText));
      }
      return { name, options: [] };
    }
    let name: Name | undefined;
    const options: HeaderOption[] = [];
    const allowed = specs.map((spec) => `${spec.key}=`).join(', ');
    for (const match of between.matchAll(/\S+/gu)) {
      const word = match[0];
      const start = base + (match.index ?? 0);
      const span = { start, end: start + word.length };
      const equals = word.indexOf('=');
      if (equals < 0) {
        if (name || options.length > 0) {
          this.error(
            span,
            `\`${word}\` is neither the name nor an option: a header is \`${keyword} [name] [key=value …]:\`, options being ${allowed}.`,
          );
        } else {
          name = { text: word, span };
          if (!NAME.test(word)) this.error(span, invalidName(word));
        }
        continue;
      }
      const key = { text: word.slice(0, equals), span: { start, end: start + equals } };
      const value = { text: word.slice(equals + 1), span: { start: start + equals + 1, end: span.end } };
      const spec = optionSpec(specs, key.text);
      if (!spec) {
        this.error(key.span, `Unknown option \`${key.text}\` for a ${keyword}: the options are ${allowed}.`);
        continue;
      }
      if (options.some((option) => option.key.text === key.text)) {
        this.error(span, `\`${key.text}=\` is given twice in this header.`);
        continue;
      }
      if (spec.values ? !spec.values.some((v) => v.value === value.text) : !(spec.valuePattern ?? NAME).test(value.text)) {
        this.error(
          value.text === '' ? span : value.span,
          spec.values
            ? `\`${key.text}=\` takes ${spec.values.map((v) => `\`${v.value}\``).join(', ')}${value.text === '' ? '' : `, not \`${value.text}\``}.`
            : `\`${key.text}=\` takes ${spec.valuePattern ? 'field names separated by commas' : 'a name'}${value.text === '' ? '' : `, not \`${value.text}\``}.`,
        );
        continue;
      }
      options.push({ key, value, span });
    }
    return { name, options };
  }

  private parseVerbalizerHeader(line: Line): void {
    const match = /^verbalizer((?:\s[^:]*)?):\s*$/u.exec(line.text);
    if (!match) {
      this.error(
        { start: line.start, end: line.end },
        'Expected `verbalizer [name] [key=value …]:` alone on its line, followed by indented lines `label: word, word`.',
      );
      return;
    }
    const { name, options } = this.headerWords(line, 'verbalizer', match[1], VERBALIZER_OPTIONS);
    const node: MutableVerbalizer = { headerSpan: { start: line.start, end: line.end }, name, options, entries: [], end: line.end };
    this.block = { kind: 'verbalizer', node };
  }

  private parseExampleHeader(line: Line): void {
    const header = this.readHeader(line, 'example', true);
    if (!header) {
      this.error(
        { start: line.start, end: line.end },
        'Expected `example [label]: <text>`, or `example [label]:` followed by indented `field: value` lines.',
      );
      return;
    }
    const keywordSpan = { start: line.start, end: line.start + 'example'.length };
    const value = trimmedSpan(line, header.afterColon, line.end);
    if (value.text !== '') {
      this.statements.push({
        kind: 'example',
        span: { start: line.start, end: line.end },
        keywordSpan,
        headerSpan: { start: line.start, end: header.afterColon },
        label: header.name,
        singleLine: true,
        fields: [{ name: undefined, value: value.text, valueSpan: value.span }],
      });
      return;
    }
    const node: MutableExample = {
      keywordSpan,
      headerSpan: { start: line.start, end: header.afterColon },
      label: header.name,
      fields: [],
      end: line.end,
    };
    this.block = { kind: 'example', node };
  }

  /** Ends the open indented block and turns it into a statement. */
  private closeBlock(): void {
    const block = this.block;
    this.block = undefined;
    if (!block) return;
    if (block.kind === 'verbalizer') {
      const node = block.node;
      if (node.entries.length === 0) {
        this.error(node.headerSpan, 'The verbalizer has no labels: add indented lines `label: word, word` below it.');
      }
      this.statements.push({
        kind: 'verbalizer',
        span: { start: node.headerSpan.start, end: node.end },
        headerSpan: node.headerSpan,
        entries: node.entries,
        ...(node.name ? { name: node.name } : {}),
        ...(node.options.length > 0 ? { options: node.options } : {}),
      });
      return;
    }
    const node = block.node;
    if (node.fields.length === 0) {
      this.error(node.headerSpan, 'The example has no text: write it after the colon, or as indented `field: value` lines below.');
      return;
    }
    this.statements.push({
      kind: 'example',
      span: { start: node.headerSpan.start, end: node.end },
      keywordSpan: node.keywordSpan,
      headerSpan: node.headerSpan,
      label: node.label,
      singleLine: false,
      fields: node.fields,
    });
  }

  private error(span: Span, message: string): void {
    this.errors.push({ code: 'syntax', severity: 'error', message, span });
  }
}

/**
 * A file saved with a UTF-8 byte order mark (as some Windows editors do, and as
 * `cloze check` reads it) starts with U+FEFF. It is no indentation: the first
 * statement starts after it, and spans stay offsets into the text as given.
 */
function withoutByteOrderMark(line: Line): Line {
  return line.text.startsWith('\uFEFF') ? { start: line.start + 1, end: line.end, text: line.text.slice(1) } : line;
}

/** The part of a line between two offsets, without surrounding blanks, and its span. */
function trimmedSpan(line: Line, start: number, end: number): { text: string; span: Span } {
  const raw = line.text.slice(start - line.start, end - line.start);
  const leading = raw.length - raw.trimStart().length;
  const text = raw.trim();
  return { text, span: { start: start + leading, end: start + leading + text.length } };
}

/** "`pat⟨U+200B⟩tern` is `pattern` with an invisible character inside (…): delete it. " when the line's first word is one. */
function invisibleKeyword(text: string): string | undefined {
  const first = /^[^\s:]+/u.exec(text)?.[0] ?? '';
  const found = /\p{Cf}/u.exec(first)?.[0];
  if (found === undefined) return undefined;
  const plain = first.replace(/\p{Cf}/gu, '');
  const keyword = KEYWORDS.find((k) => k === plain);
  return keyword
    ? `\`${showInvisible(first)}\` is \`${keyword}\` with an invisible character inside, ${describeCharacter(found)}: delete it. `
    : `\`${showInvisible(first)}\` holds an invisible character, ${describeCharacter(found)}. `;
}

/** The message for a name that is not one; an invisible character in it is named, since the editor shows nothing. */
/** Whether `name` can be written as a name (of a label, a pattern, a verbalizer) in a .cloze file. */
export function isValidName(name: string): boolean {
  return NAME.test(name);
}

function invalidName(name: string): string {
  return `\`${showInvisible(name)}\` is not a valid name: use letters, digits, \`_\`, \`-\` or \`.\` without spaces.${invisibleNote(name)}`;
}

/** "Did you mean `pattern`?" for a misspelt keyword, by edit distance. */
/**
 * The header lines of the blocks whose lines are indented: `verbalizer:` with a name or options
 * (`verbalizer v2 space=before:`) and `example:` with a label. The quick fixes find blocks with them too.
 */
export const BLOCK_HEADER = {
  verbalizer: /^verbalizer(\s[^:]*)?:\s*$/,
  example: /^example(\s[^:]*)?:\s*$/,
} as const;

/**
 * Names `cloze eval --gate` and the evaluation reports give the ensembles: a pattern so named would be
 * gated, reported and listed in JUnit as one of them (two test cases "ensemble", the gate's failure
 * filed under the wrong one).
 */
const RESERVED_PATTERN_NAMES: readonly string[] = ['ensemble', 'all', 'wmean', 'weighted'];

function suggestKeyword(word: string): string {
  if (word === '') return '';
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const keyword of KEYWORDS) {
    const distance = editDistance(lower, keyword);
    if (distance < bestDistance) {
      best = keyword;
      bestDistance = distance;
    }
  }
  return best ? `Did you mean \`${best}\`? ` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
