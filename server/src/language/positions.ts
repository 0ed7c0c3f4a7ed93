import type { ClozeDocument } from './ast';

/** A 0-based line and UTF-16 column, as LSP counts them. */
export interface Position {
  readonly line: number;
  readonly character: number;
}

/** Converts an offset to a line and column with the document's line table (binary search). */
export function positionAt(doc: Pick<ClozeDocument, 'lineStarts' | 'text'>, offset: number): Position {
  const clamped = Math.max(0, Math.min(offset, doc.text.length));
  let low = 0;
  let high = doc.lineStarts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (doc.lineStarts[middle] <= clamped) low = middle;
    else high = middle - 1;
  }
  return { line: low, character: clamped - doc.lineStarts[low] };
}

export function offsetAt(doc: Pick<ClozeDocument, 'lineStarts' | 'text'>, position: Position): number {
  if (position.line >= doc.lineStarts.length) return doc.text.length;
  if (position.line < 0) return 0;
  return Math.min(doc.lineStarts[position.line] + Math.max(0, position.character), doc.text.length);
}
