// Property-based tests of the language core: documents built from plausible lines, then mutated at
// random (characters inserted and deleted, any Unicode including astral characters and lone
// surrogates, CR/LF mixes), fed to every feature at random offsets. Whatever the input, nothing
// throws, every span lies inside the text, no diagnostic splits a surrogate pair, and every quick
// fix applies cleanly and removes the problem it is offered for.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  completeAt,
  documentSymbols,
  hoverAt,
  offsetAt,
  parse,
  positionAt,
  quickFixes,
  validateStructure,
  validateWithTokenizer,
  type ClozeDocument,
  type DataSetSummary,
  type Diagnostic,
  type Span,
  type TextEdit,
  type TokenizerView,
} from '../../server/src/language';
import { applyEdits } from '../support/cursor';
import { loadTokenizer } from '../support/service';

// ---- A grammar of plausible lines -------------------------------------------------------------

const name = fc.constantFrom('short', 'long', 'lead', 'p1', '短', 'bad name', '?', 'x.y', 'a-b', '');
const field = fc.constantFrom('review', 'premise', 'hypothesis', 'text', '评论', 'x');
const word = fc.constantFrom(
  'great',
  'Great',
  'good',
  'terrible',
  'Terrible',
  'fantastically',
  'Society',
  '好',
  '很好',
  '😀',
  'Good',
  '<unk>',
  '[UNK]',
  'café',
  '',
);
const label = fc.constantFrom('positive', 'negative', 'neutral', '正面', 'Positive', 'bad label', '');
const prose = fc.constantFrom(
  'It was',
  'All in all, it was',
  'Just',
  '!',
  '.',
  ' ',
  '这家餐厅太',
  '了!',
  'really',
  '?',
  ',',
  '"',
  'In other words:',
);

const patternPiece = fc.oneof(
  prose,
  field.map((f) => `{${f}}`),
  fc.constantFrom(
    '[MASK]',
    '<mask>',
    '[SEP]',
    '[CLS]',
    '<s>',
    '</s>',
    '\\{',
    '\\}',
    '\\[MASK]',
    '\\\\',
    '\\q',
    '\\😀',
    '{',
    '}',
    '{}',
    '{two words}',
    ' ',
  ),
);
const patternLine = fc
  .tuple(name, fc.array(patternPiece, { maxLength: 8 }), fc.boolean())
  .map(([n, pieces, spaced]) => `pattern${n === '' ? '' : ` ${n}`}:${spaced ? ' ' : ''}${pieces.join(spaced ? ' ' : '')}`);
const entryLine = fc
  .tuple(fc.constantFrom('  ', '\t', '    ', ' '), label, fc.array(word, { maxLength: 5 }), fc.constantFrom(', ', ',', ' , ', ',,'))
  .map(([indent, l, words, comma]) => `${indent}${l}: ${words.join(comma)}`);
const exampleText = fc.constantFrom(
  'I like the Disney films very much.',
  'The plot was dull.',
  '带女朋友去了一家餐厅',
  'What a [MASK] this was',
  'a <mask> b',
  '',
  '😀😀',
);
const exampleLine = fc
  .tuple(fc.constantFrom('', ' positive', ' negative', ' ?', ' 正面', ' happy', ' bad label'), exampleText)
  .map(([l, t]) => `example${l}: ${t}`);
const fieldLine = fc.tuple(fc.constantFrom('  ', '\t'), field, exampleText).map(([indent, f, t]) => `${indent}${f}: ${t}`);

// Blocks as they are usually written: a verbalizer with its entries, an example with its fields.
const verbalizerBlock = fc
  .tuple(fc.constantFrom('verbalizer:', 'verbalizer: x'), fc.array(entryLine, { minLength: 1, maxLength: 4 }))
  .map(([header, entries]) => [header, ...entries].join('\n'));
const exampleBlock = fc
  .tuple(
    fc.constantFrom('example:', 'example ?:', 'example positive:', 'example 正面:'),
    fc.array(fieldLine, { minLength: 1, maxLength: 3 }),
  )
  .map(([header, fields]) => [header, ...fields].join('\n'));
const goodPattern = fc
  .tuple(name, field, prose, fc.constantFrom(' [MASK].', '[MASK]', ' <mask>', '([MASK])'))
  .map(([n, f, p, m]) => `pattern${n === '' ? '' : ` ${n}`}: {${f}} ${p}${m}`);

const line = fc.oneof(
  { weight: 3, arbitrary: verbalizerBlock },
  { weight: 2, arbitrary: exampleBlock },
  { weight: 3, arbitrary: goodPattern },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'model: tiny-random-roberta',
      'model: ./no/such',
      'model:',
      'modle: x',
      'data: rows.jsonl',
      'data: missing.csv',
      'data:',
    ),
  },
  { weight: 4, arbitrary: patternLine },
  { weight: 2, arbitrary: fc.constantFrom('verbalizer:', 'verbalizer: x', 'verbalizer :') },
  { weight: 4, arbitrary: entryLine },
  { weight: 3, arbitrary: exampleLine },
  { weight: 1, arbitrary: fc.constantFrom('example:', 'example ?:', 'example positive:', 'example positive I liked it') },
  { weight: 2, arbitrary: fieldLine },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '# a comment',
      '  # indented comment',
      '#        ^^^^^^ mask-multiple',
      'junk line',
      '  orphan: x',
      '\uFEFFmodel: x',
    ),
  },
);
const lineBreak = fc.constantFrom('\n', '\n', '\n', '\r\n', '\r');

const document = fc
  .tuple(fc.array(line, { maxLength: 14 }), fc.array(lineBreak, { minLength: 14, maxLength: 14 }))
  .map(([lines, breaks]) => lines.map((l, i) => l + (i < lines.length - 1 ? breaks[i] : '')).join(''));

// ---- Random mutations --------------------------------------------------------------------------

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const insertion = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 3 }),
  fc.constantFrom(
    '\r',
    '\n',
    '\r\n',
    '\t',
    ' ',
    '{',
    '}',
    '[',
    ']',
    '\\',
    ':',
    ',',
    '#',
    '[MASK]',
    '😀',
    '\uFEFF',
    '\u200b',
    '\u3000',
    '，',
    '：',
  ),
  loneSurrogate,
);
type Mutation = { kind: 'insert'; at: number; text: string } | { kind: 'delete'; at: number; length: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: insertion }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 4 }) }),
);

function mutate(text: string, mutations: readonly Mutation[]): string {
  let out = text;
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    out = m.kind === 'insert' ? out.slice(0, at) + m.text + out.slice(at) : out.slice(0, at) + out.slice(at + m.length);
  }
  return out;
}

const mutatedDocument = fc.tuple(document, fc.array(mutation, { maxLength: 4 })).map(([text, mutations]) => mutate(text, mutations));
const offsets = fc.array(fc.nat(), { minLength: 1, maxLength: 4 });

// ---- Invariants --------------------------------------------------------------------------------

function assertSpan(text: string, span: Span, what: string): void {
  assert.ok(Number.isInteger(span.start) && Number.isInteger(span.end), `${what}: not integers ${JSON.stringify(span)}`);
  assert.ok(
    0 <= span.start && span.start <= span.end && span.end <= text.length,
    `${what}: ${JSON.stringify(span)} outside 0..${text.length}`,
  );
}

/** Where the character at `offset` is after the edits (text inserted at the offset goes before it). */
function shiftedOffset(offset: number, edits: readonly TextEdit[]): number {
  let shift = 0;
  for (const edit of edits) if (edit.span.end <= offset) shift += edit.newText.length - (edit.span.end - edit.span.start);
  return offset + shift;
}

/** A boundary between the two halves of a surrogate pair. */
function splitsPair(text: string, offset: number): boolean {
  const before = text.charCodeAt(offset - 1);
  const after = text.charCodeAt(offset);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
}

/** Every span of the syntax tree, with a name for messages. */
function treeSpans(doc: ClozeDocument): Array<[string, Span]> {
  const spans: Array<[string, Span]> = [];
  for (const s of doc.statements) {
    spans.push([s.kind, s.span]);
    switch (s.kind) {
      case 'model':
        spans.push(['model keyword', s.keywordSpan], ['model id', s.idSpan]);
        break;
      case 'data':
        spans.push(['data keyword', s.keywordSpan], ['data path', s.pathSpan]);
        break;
      case 'pattern':
        spans.push(['pattern keyword', s.keywordSpan], ['pattern text', s.textSpan]);
        if (s.name) spans.push(['pattern name', s.name.span]);
        for (const part of s.parts) {
          spans.push([`pattern ${part.kind}`, part.span]);
          if (part.kind === 'placeholder') spans.push(['placeholder field', part.fieldSpan]);
        }
        break;
      case 'verbalizer':
        spans.push(['verbalizer header', s.headerSpan]);
        for (const entry of s.entries) {
          spans.push(['entry', entry.span], ['label', entry.label.span]);
          for (const w of entry.words) spans.push(['label word', w.span]);
        }
        break;
      case 'example':
        spans.push(['example keyword', s.keywordSpan], ['example header', s.headerSpan]);
        if (s.label) spans.push(['example label', s.label.span]);
        for (const f of s.fields) {
          spans.push(['field value', f.valueSpan]);
          if (f.name) spans.push(['field name', f.name.span]);
        }
        break;
      case 'comment':
        break;
    }
  }
  return spans;
}

const dataSets = new Map<string, DataSetSummary>([
  ['rows.jsonl', { ok: true, columns: ['review', 'label'], labels: ['positive', 'other'], rowCount: 2 }],
  ['missing.csv', { ok: false, reason: 'Cannot read missing.csv: the file does not exist.' }],
]);

function checkEverything(text: string, at: readonly number[], tokenizer: TokenizerView | undefined): void {
  const doc = parse(text);
  assert.equal(doc.text, text);
  assert.equal(doc.lineStarts[0], 0);
  for (const [what, span] of treeSpans(doc)) assertSpan(text, span, what);

  const diagnostics = [...validateStructure(doc, dataSets), ...(tokenizer ? validateWithTokenizer(doc, tokenizer) : [])];
  for (const d of diagnostics) {
    assertSpan(text, d.span, `${d.code} diagnostic`);
    assert.ok(
      !splitsPair(text, d.span.start) && !splitsPair(text, d.span.end),
      `${d.code} splits a surrogate pair: ${JSON.stringify(d.span)}`,
    );
    assert.ok(d.message.length > 0);
  }

  for (const fix of quickFixes(doc, diagnostics, tokenizer)) {
    // A fix that only runs an editor command (the model picker) edits nothing here.
    if (fix.command && fix.edits.length === 0) continue;
    for (const edit of fix.edits) assertSpan(text, edit.span, `edit of "${fix.title}"`);
    const fixed = applyEdits(text, fix.edits);
    // The fix removes the problem it is offered for, where it was. (Other diagnostics may come
    // and go: a first [MASK] in an empty pattern, say, changes the context of the label words.)
    const fixedDoc = parse(fixed);
    const after = [...validateStructure(fixedDoc, dataSets), ...(tokenizer ? validateWithTokenizer(fixedDoc, tokenizer) : [])];
    const code = fix.diagnostic.code;
    if (code === 'label-word-multi-token' || code === 'label-word-unknown') {
      const start = shiftedOffset(fix.diagnostic.span.start, fix.edits);
      const still = after.filter((d) => (d.code === 'label-word-multi-token' || d.code === 'label-word-unknown') && d.span.start === start);
      assert.deepEqual(still, [], `"${fix.title}" left the word a problem: ${JSON.stringify(fixed)}`);
    } else {
      const count = (list: readonly Diagnostic[]): number => list.filter((d) => d.code === code).length;
      assert.ok(count(after) < count(diagnostics), `"${fix.title}" left its ${code}: ${JSON.stringify(fixed)}`);
    }
  }

  for (const symbol of documentSymbols(doc)) {
    for (const s of [symbol, ...symbol.children]) {
      assertSpan(text, s.span, `symbol ${s.name}`);
      assertSpan(text, s.selectionSpan, `symbol ${s.name} selection`);
      assert.ok(s.span.start <= s.selectionSpan.start && s.selectionSpan.end <= s.span.end, `symbol ${s.name}: selection outside range`);
    }
  }

  for (const raw of at) {
    const offset = raw % (text.length + 1);
    const hover = hoverAt(doc, offset, tokenizer);
    if (hover) {
      assertSpan(text, hover.span, 'hover');
      assert.ok(hover.span.start <= offset && offset <= hover.span.end, 'hover span does not hold the offset');
    }
    for (const proposal of completeAt(doc, offset)) {
      assertSpan(text, proposal.replace, `completion ${proposal.label}`);
      assert.ok(proposal.replace.end === offset, `completion ${proposal.label} does not end at the cursor`);
    }
    const position = positionAt(doc, offset);
    assert.equal(offsetAt(doc, position), offset);
  }
}

// ---- The properties ----------------------------------------------------------------------------

test('structure: any mutated document, every feature at random offsets (no tokenizer)', () => {
  fc.assert(
    fc.property(mutatedDocument, offsets, (text, at) => checkEverything(text, at, undefined)),
    { numRuns: Number(process.env['CLOZE_PROPERTY_RUNS'] ?? 400) },
  );
});

test('with the real RoBERTa tokenizer: label words, lengths, hovers and fixes', async () => {
  const roberta = await loadTokenizer('tiny-random-roberta');
  fc.assert(
    fc.property(mutatedDocument, offsets, (text, at) => checkEverything(text, at, roberta)),
    { numRuns: Number(process.env['CLOZE_PROPERTY_RUNS'] ?? 150) },
  );
});

test('with the real cased WordPiece tokenizer', async () => {
  const cased = await loadTokenizer('tiny-random-bert-cased');
  fc.assert(
    fc.property(mutatedDocument, offsets, (text, at) => checkEverything(text, at, cased)),
    { numRuns: Number(process.env['CLOZE_PROPERTY_RUNS'] ?? 100) },
  );
});

test('arbitrary strings, not only plausible lines', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 80 }), offsets, (text, at) => checkEverything(text, at, undefined)),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.array(fc.oneof(insertion, fc.constantFrom('pattern: ', 'verbalizer:\n  a: ', 'example a:\n  x: ')), { maxLength: 12 }),
      offsets,
      (pieces, at) => checkEverything(pieces.join(''), at, undefined),
    ),
    { numRuns: 300 },
  );
});
