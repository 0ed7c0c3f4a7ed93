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
  const shorter = Math.min(old.length, current.length);
  let prefix = 0;
  while (prefix < shorter && old.charCodeAt(prefix) === current.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (suffix < shorter - prefix && old.charCodeAt(old.length - 1 - suffix) === current.charCodeAt(current.length - 1 - suffix)) suffix++;
  // Changed: old [prefix, oldEnd) became current [prefix, currentEnd). The lines around the edit are
  // included, so a token that grows by a character at its end is not taken for the old token.
  const lineBefore = (text: string, at: number) => Math.max(0, Math.max(text.lastIndexOf('\n', at - 1), text.lastIndexOf('\r', at - 1)));
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
