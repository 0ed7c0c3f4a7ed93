import assert from 'node:assert/strict';
import type { TextEdit } from '../../server/src/language';

/** A document with one `$$` where the cursor is: the text without it, and the cursor's offset. */
export function withCursor(source: string): { text: string; offset: number } {
  const offset = source.indexOf('$$');
  assert.ok(offset >= 0 && source.indexOf('$$', offset + 2) < 0, 'the document needs exactly one $$');
  return { text: source.slice(0, offset) + source.slice(offset + 2), offset };
}

/** Applies edits as an editor does: all against the original text; they must not overlap. */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  for (const edit of sorted) {
    assert.ok(
      0 <= edit.span.start && edit.span.start <= edit.span.end && edit.span.end <= text.length,
      `edit out of the text: ${JSON.stringify(edit)}`,
    );
  }
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(sorted[i - 1].span.end <= sorted[i].span.start, `overlapping edits: ${JSON.stringify(sorted)}`);
  }
  let out = text;
  for (const edit of sorted.reverse()) out = out.slice(0, edit.span.start) + edit.newText + out.slice(edit.span.end);
  return out;
}
