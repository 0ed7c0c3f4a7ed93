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

export class PythonSyntaxError extends Error {}

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
  if (!reader.done()) throw new PythonSyntaxError(`unexpected text after the value: ${source.slice(reader.at, reader.at + 20)}`);
  return value;
}

class Reader {
  at = 0;
  constructor(private readonly text: string) {}

  done(): boolean {
    return this.at >= this.text.length;
  }

  skipSpace(): void {
    while (!this.done() && /\s/.test(this.text[this.at])) this.at++;
  }

  value(): PythonValue {
    this.skipSpace();
    const char = this.text[this.at];
    if (char === '"' || char === "'") return this.string();
    if (char === '{') return this.dict();
    if (char === '[' || char === '(') return this.list(char === '[' ? ']' : ')');
    return this.bare();
  }

  private string(): string {
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
    if (this.done()) throw new PythonSyntaxError('unclosed string');
    this.at++;
    return out;
  }

  private dict(): { [key: string]: PythonValue } {
    this.at++;
    const out: { [key: string]: PythonValue } = {};
    for (;;) {
      this.skipSpace();
      if (this.text[this.at] === '}') {
        this.at++;
        return out;
      }
      const key = this.value();
      this.skipSpace();
      // `{"mask"}` is a set in Python; OpenPrompt reads a set as keys with None.
      if (this.text[this.at] === ',' || this.text[this.at] === '}') {
        out[String(key)] = null;
        if (this.text[this.at] === ',') this.at++;
        continue;
      }
      if (this.text[this.at] !== ':') throw new PythonSyntaxError(`expected ':' after the key ${JSON.stringify(key)}`);
      this.at++;
      out[String(key)] = this.value();
      this.skipSpace();
      if (this.text[this.at] === ',') this.at++;
      else if (this.text[this.at] !== '}') throw new PythonSyntaxError("expected ',' or '}'");
    }
  }

  private list(close: string): PythonValue[] {
    this.at++;
    const out: PythonValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.at] === close) {
        this.at++;
        return out;
      }
      if (this.done()) throw new PythonSyntaxError(`expected '${close}'`);
      out.push(this.value());
      this.skipSpace();
      if (this.text[this.at] === ',') this.at++;
    }
  }

  /** A name, number or expression: up to the next `,` or closing bracket at depth 0, strings respected. */
  private bare(): PythonValue {
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
      } else if (char === ',' && depth === 0) break;
      this.at++;
    }
    const source = this.text.slice(start, this.at).trim();
    if (source === '') throw new PythonSyntaxError('expected a value');
    if (source === 'True') return true;
    if (source === 'False') return false;
    if (source === 'None') return null;
    if (/^-?\d+(\.\d+)?$/.test(source)) return Number(source);
    return { expression: source };
  }
}
