import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { ClozeDocument, Span } from '../language';

/**
 * A syntax tree of a recent version of a document, usable for the current
 * version. While the user types, every hover and completion arrives for a new
 * version, and parsing a 10,000-line document for each of them costs more
 * than the time between keystrokes. Between two versions only one region of
 * the text differs (found from the common prefix and suffix of the two
 * texts); an offset outside it maps to the same place in the other version,
 * and so does a span that does not touch it. A request whose position or
 * answer touches the changed region gets a fresh parse instead.
 */
export interface RecentTree {
  readonly doc: ClozeDocument;
  /** The tree's offset for an offset of the current text, or undefined inside the changed region. */
  toTree(offset: number): number | undefined;
  /** The current text's span for a span of the tree, or undefined when it touches the changed region. */
  toCurrent(span: Span): Span | undefined;
}

/** A mapping between `tree` (of an older text) and `current`. */
export function recentTree(tree: ClozeDocument, current: string): RecentTree {
  const old = tree.text;
  if (old === current) return { doc: tree, toTree: (offset) => offset, toCurrent: (span) => span };
  const prefix = commonPrefix(old, current);
  const suffix = commonSuffix(old, current, Math.min(old.length, current.length) - prefix);
  // Changed: old [prefix, oldEnd) became current [prefix, currentEnd). The lines around the edit are
  // included, so a token that grows by a character at its end is not taken for the old token.
  const lineBefore = (text: string, at: number) => {
    let i = at - 1;
    while (i > 0 && text[i] !== '\n' && text[i] !== '\r') i--;
    return Math.max(0, i);
  };
  const lineAfter = (text: string, at: number) => {
    const match = /[\r\n]/.exec(text.slice(at, at + 4096));
    return match ? at + match.index + 1 : text.length;
  };
  const start = lineBefore(old, prefix);
  const oldEnd = lineAfter(old, old.length - suffix);
  const currentEnd = lineAfter(current, current.length - suffix);
  const shift = currentEnd - oldEnd;
  return {
    doc: tree,
    toTree(offset) {
      if (offset < start) return offset;
      if (offset >= currentEnd) return offset - shift;
      return undefined;
    },
    toCurrent(span) {
      if (span.end < start) return span;
      if (span.start >= oldEnd) return { start: span.start + shift, end: span.end + shift };
      return undefined;
    },
  };
}

/** The offset of an LSP position in a TextDocument; past a line's end is that line's end. */
export function offsetInDocument(document: TextDocument, position: { readonly line: number; readonly character: number }): number {
  const text = document.getText();
  if (!(position.line >= 0)) return 0;
  if (position.line >= document.lineCount) return text.length;
  const lineStart = document.offsetAt({ line: position.line, character: 0 });
  let lineEnd = position.line + 1 < document.lineCount ? document.offsetAt({ line: position.line + 1, character: 0 }) : text.length;
  if (lineEnd > lineStart && text[lineEnd - 1] === '\n') lineEnd--;
  if (lineEnd > lineStart && text[lineEnd - 1] === '\r') lineEnd--;
  return lineStart + Math.min(Math.max(0, Math.floor(position.character) || 0), lineEnd - lineStart);
}

/**
 * Length of the common prefix of two texts, by halving: each step compares two
 * slices (a native comparison), so a 700 KB document costs microseconds, not a
 * JavaScript loop over every character.
 */
function commonPrefix(a: string, b: string): number {
  let low = 0;
  let high = Math.min(a.length, b.length);
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (a.slice(low, middle) === b.slice(low, middle)) low = middle;
    else high = middle - 1;
  }
  return low;
}

/** Length of the common suffix of two texts, at most `limit` (so it does not overlap the prefix). */
function commonSuffix(a: string, b: string, limit: number): number {
  let low = 0;
  let high = limit;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (a.slice(a.length - middle, a.length - low) === b.slice(b.length - middle, b.length - low)) low = middle;
    else high = middle - 1;
  }
  return low;
}
