// The recent syntax tree answers hovers and completions while the user types (lsp/recentTree.ts):
// an offset it maps between two versions must point at the same text in both, and a span it maps
// into the current version must cover the same text there as in the tree's version.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parse } from '../../server/src/language';
import { offsetInDocument, recentTree } from '../../server/src/lsp/recentTree';

const lines = [
  'model: m',
  'pattern a: {review} It was [MASK].',
  'verbalizer:',
  '  positive: great, good',
  '  negative: bad',
  'example positive: Fine.',
  '# note',
  '',
];
const pieces = ['x', ' ', '\n', '\r\n', '[MASK]', '{', '}', ':', 'é', '😀', ''];

test('mapped offsets and spans cover the same text in both versions', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...lines), { minLength: 1, maxLength: 12 }),
      fc.nat(),
      fc.nat(20),
      fc.array(fc.constantFrom(...pieces), { maxLength: 4 }),
      (chosen, at, length, inserted) => {
        const old = chosen.join('\n');
        const start = at % (old.length + 1);
        const end = Math.min(old.length, start + length);
        const current = old.slice(0, start) + inserted.join('') + old.slice(end);
        const tree = parse(old);
        const mapping = recentTree(tree, current);
        for (let offset = 0; offset < current.length; offset++) {
          const back = mapping.toTree(offset);
          if (back !== undefined) assert.equal(old[back], current[offset], `offset ${offset} → ${back}`);
        }
        const spans = tree.statements.flatMap((s) => [s.span, ...(s.kind === 'pattern' ? s.parts.map((p) => p.span) : [])]);
        for (const span of spans) {
          const mapped = mapping.toCurrent(span);
          if (mapped) assert.equal(current.slice(mapped.start, mapped.end), old.slice(span.start, span.end));
        }
      },
    ),
    { seed: 9, numRuns: 400 },
  );
});

test('a position past the end of a line is the end of that line', () => {
  const document = TextDocument.create('file:///x.cloze', 'cloze', 1, 'ab\r\ncd\nef');
  assert.equal(offsetInDocument(document, { line: 0, character: 99 }), 2);
  assert.equal(offsetInDocument(document, { line: 1, character: 99 }), 6);
  assert.equal(offsetInDocument(document, { line: 2, character: 99 }), 9);
  assert.equal(offsetInDocument(document, { line: 9, character: 0 }), 9);
});
