/**
 * The Python literals the frameworks' files hold and `eval`: LM-BFF's
 * mapping dicts (`{'0':'terrible','1':'great'}`) and the `{...}` pieces of
 * OpenPrompt templates (`{"placeholder":"text_a", "shortenable": False,
 * "post_processing": lambda s: s.rstrip(string.punctuation)}`). Strings,
 * numbers, True/False/None, lists, tuples and dicts are read; anything else
 * (a lambda) is kept as its source text, for the importer to recognise or
 * report. Never evaluates anything.
 */

export type PythonValue =
  string | number | boolean | null | readonly PythonValue[] | { readonly [key: string]: PythonValue } | { readonly expression: string };

/** What is wrong, in words, with the position (1-based, in characters) and the user's own text quoted; never a parser node. */
export class PythonSyntaxError extends Error {
  /** The text that, added at the end, closes what is open (`}`, `'}`), when the text ends too early; undefined otherwise. */
  missing?: string;
}

/** One `key: value` of a dict as written: the parsed key and value and their source text (`0`, `'terrible'`). */
export interface PythonDictEntry {
  readonly key: PythonValue;
  readonly keyText: string;
  /** Undefined for a set element (`{"mask"}`), which has no value. */
  readonly value: PythonValue | undefined;
  readonly valueText: string | undefined;
}

/** The entries of each dict read, in order and with their source text, for messages that name what the user wrote. */
const dictEntries = new WeakMap<object, readonly PythonDictEntry[]>();

/** The entries of a dict parsePythonLiteral returned (undefined for anything else). */
export function entriesOf(value: PythonValue): readonly PythonDictEntry[] | undefined {
  return typeof value === 'object' && value !== null ? dictEntries.get(value) : undefined;
}

export function isExpression(value: PythonValue | undefined): value is { readonly expression: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { expression?: unknown }).expression === 'string' &&
    Object.keys(value).length === 1
  );
}

export function parsePythonLiteral(source: string): PythonValue {
  const reader = new Reader(source);
  const value = reader.value();
  reader.skipSpace();
  if (!reader.done()) throw new PythonSyntaxError(`unexpected ${reader.found()} after the value`);
  return value;
}

/** `x` quoted for a message: in backticks, shortened when long. */
function quote(text: string): string {
  return `\`${text.length > 30 ? `${text.slice(0, 27)}…` : text}\``;
}

/** An error of a text that ends too early; `closers` is what it lacks at its end (`'}` for `{'0':'a`). */
function missing(message: string, closers: string): PythonSyntaxError {
  const error = new PythonSyntaxError(message);
  error.missing = closers;
  return error;
}

const CLOSERS: Readonly<Record<string, string>> = { '{': '}', '[': ']', '(': ')' };

class Reader {
  at = 0;
  /** Where each bracket still open was opened, outermost first. */
  private readonly opened: number[] = [];
  constructor(private readonly text: string) {}

  done(): boolean {
    return this.at >= this.text.length;
  }

  skipSpace(): void {
    while (!this.done() && /\s/.test(this.text[this.at])) this.at++;
  }

  /** What is at the reading position, in words: "`x` at character 5", or "the end" of the text. */
  found(at = this.at): string {
    if (at >= this.text.length) return 'the end';
    const rest = /^('[^']*'?|"[^"]*"?|\w+|\S)/.exec(this.text.slice(at));
    return `${quote(rest ? rest[1] : this.text[at])} at character ${at + 1}`;
  }

  /** What closes every bracket still open, innermost first: `]}` inside `{'0':['a'`. */
  private closers(): string {
    return this.opened
      .map((at) => CLOSERS[this.text[at]])
      .reverse()
      .join('');
  }

  /** A bracket opened at `start` and not closed where its closer belongs. */
  private unclosed(start: number, expected: string): PythonSyntaxError {
    const open = this.text[start];
    if (this.done()) {
      const closers = this.closers();
      return missing(`the \`${open}\` at character ${start + 1} is never closed; add \`${closers}\` at the end`, closers);
    }
    return new PythonSyntaxError(`expected ${expected}, found ${this.found()}`);
  }

  value(key = false): PythonValue {
    this.skipSpace();
    const char = this.text[this.at];
    if (char === '"' || char === "'") return this.string();
    if (char === '{') return this.dict();
    if (char === '[' || char === '(') return this.list(char === '[' ? ']' : ')');
    return this.bare(key);
  }

  private string(): string {
    const start = this.at;
    const quote = this.text[this.at];
    // Triple quotes are not used by the formats read here.
    this.at++;
    let out = '';
    while (!this.done() && this.text[this.at] !== quote) {
      const char = this.text[this.at];
      if (char === '\\') {
        const next = this.text[this.at + 1] ?? '';
        out += next === 'n' ? '\n' : next === 't' ? '\t' : next;
        this.at += 2;
      } else {
        out += char;
        this.at++;
      }
    }
    if (this.done()) {
      const closers = this.closers();
      const after = closers === '' ? '' : ` and \`${closers}\` at the end`;
      throw missing(
        `the string opened by \`${quote}\` at character ${start + 1} is never closed; add \`${quote}\` where it ends${after}`,
        quote + closers,
      );
    }
    this.at++;
    return out;
  }

  private dict(): { [key: string]: PythonValue } {
    const start = this.at;
    this.at++;
    const out: { [key: string]: PythonValue } = {};
    const entries: PythonDictEntry[] = [];
    dictEntries.set(out, entries);
    this.opened.push(start);
    for (;;) {
      this.skipSpace();
      if (this.text[this.at] === '}') {
        this.at++;
        this.opened.pop();
        return out;
      }
      if (this.done()) throw this.unclosed(start, "'}'");
      const keyStart = this.at;
      const key = this.value(true);
      const keyText = this.text.slice(keyStart, this.at).trim();
      // A key that is not a string (`0`, `True`, a name) is stored under its source text, never `[object Object]`.
      const name = typeof key === 'string' ? key : keyText;
      this.skipSpace();
      // `{"mask"}` is a set in Python; OpenPrompt reads a set as keys with None.
      if (this.text[this.at] === ',' || this.text[this.at] === '}') {
        out[name] = null;
        entries.push({ key, keyText, value: undefined, valueText: undefined });
        if (this.text[this.at] === ',') this.at++;
        continue;
      }
      if (this.done()) throw this.unclosed(start, "'}'");
      if (this.text[this.at] !== ':') throw new PythonSyntaxError(`expected \`:\` after the key ${quote(keyText)}, found ${this.found()}`);
      this.at++;
      this.skipSpace();
      const valueStart = this.at;
      const value = this.value();
      out[name] = value;
      entries.push({ key, keyText, value, valueText: this.text.slice(valueStart, this.at).trim() });
      this.skipSpace();
      if (this.text[this.at] === ',') this.at++;
      else if (this.text[this.at] !== '}')
        throw this.unclosed(start, `\`,\` or \`}\` after ${quote(this.text.slice(valueStart, this.at).trim())}`);
    }
  }

  private list(close: string): PythonValue[] {
    const start = this.at;
    this.at++;
    const out: PythonValue[] = [];
    this.opened.push(start);
    for (;;) {
      this.skipSpace();
      if (this.text[this.at] === close) {
        this.at++;
        this.opened.pop();
        return out;
      }
      if (this.done()) throw this.unclosed(start, `\`${close}\``);
      out.push(this.value());
      this.skipSpace();
      if (this.text[this.at] === ',') this.at++;
    }
  }

  /**
   * A name, number or expression: up to the next `,` or closing bracket at
   * depth 0, strings respected; a dict key also ends at `:` (a value may be
   * a lambda, `lambda s: s`, whose `:` is its own).
   */
  private bare(key: boolean): PythonValue {
    const start = this.at;
    let depth = 0;
    while (!this.done()) {
      const char = this.text[this.at];
      if (char === '"' || char === "'") {
        this.string();
        continue;
      }
      if ('([{'.includes(char)) depth++;
      else if (')]}'.includes(char)) {
        if (depth === 0) break;
        depth--;
      } else if ((char === ',' || (key && char === ':')) && depth === 0) break;
      this.at++;
    }
    const source = this.text.slice(start, this.at).trim();
    if (source === '') throw new PythonSyntaxError(`expected a value, found ${this.found()}`);
    if (source === 'True') return true;
    if (source === 'False') return false;
    if (source === 'None') return null;
    if (/^-?\d+(\.\d+)?$/.test(source)) return Number(source);
    return { expression: source };
  }
}
