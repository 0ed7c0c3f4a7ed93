// The syntax tree `parse()` builds: exact spans of every kind of node, line endings, escapes and
// the errors of malformed lines. Spans are checked as offsets computed from the text itself
// (`span(text, needle)`), so a test states what it points at, not a number.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, positionAt, validateStructure, type PatternPart, type Span } from '../../server/src/language';

/** The span of the `occurrence`-th (0-based) `needle` in `text`. */
function span(text: string, needle: string, occurrence = 0): Span {
  let start = -1;
  for (let i = 0; i <= occurrence; i++) {
    start = text.indexOf(needle, start + 1);
    assert.ok(start >= 0, `\`${needle}\` (#${occurrence}) is not in the text`);
  }
  return { start, end: start + needle.length };
}

/** Parts without spans, to compare the shape of a pattern. */
function shape(parts: readonly PatternPart[]): string[] {
  return parts.map((part) => {
    switch (part.kind) {
      case 'text':
        return `text:${part.value}`;
      case 'mask':
        return 'mask';
      case 'special':
        return `special:${part.token}`;
      case 'placeholder':
        return `{${part.field}}`;
      case 'segment':
        return 'segment';
    }
  });
}

describe('parse: spans', () => {
  const text = [
    '# Sentiment.',
    'model: Xenova/bert-base-uncased',
    '',
    'pattern short: {review} It was [MASK].',
    'pattern:  Just <mask>! {review}',
    'verbalizer:',
    '  positive:  great ,good,   fine  ',
    '  negative: terrible',
    'example positive: I like it.',
    'example ?:',
    '  premise: A man plays.',
    '',
    '  hypothesis:   Music.  ',
    'data: ./rows.jsonl',
  ].join('\n');
  const doc = parse(text);

  test('no syntax errors and every statement in order', () => {
    assert.deepEqual(doc.syntaxErrors, []);
    assert.deepEqual(
      doc.statements.map((s) => s.kind),
      ['comment', 'model', 'pattern', 'pattern', 'verbalizer', 'example', 'example', 'data'],
    );
  });

  test('model and data values', () => {
    assert.equal(doc.models[0].id, 'Xenova/bert-base-uncased');
    assert.deepEqual(doc.models[0].idSpan, span(text, 'Xenova/bert-base-uncased'));
    assert.deepEqual(doc.models[0].keywordSpan, span(text, 'model'));
    assert.equal(doc.data[0].path, './rows.jsonl');
    assert.deepEqual(doc.data[0].pathSpan, span(text, './rows.jsonl'));
  });

  test('pattern names, text, placeholders and masks', () => {
    const [short, second] = doc.patterns;
    assert.equal(short.name?.text, 'short');
    assert.deepEqual(short.name?.span, span(text, 'short'));
    assert.equal(short.index, 1);
    assert.deepEqual(short.textSpan, span(text, '{review} It was [MASK].'));
    assert.deepEqual(shape(short.parts), ['{review}', 'text: It was ', 'mask', 'text:.']);
    const [placeholder, , mask] = short.parts;
    assert.deepEqual(placeholder.span, span(text, '{review}'));
    assert.ok(placeholder.kind === 'placeholder');
    assert.deepEqual(placeholder.fieldSpan, span(text, 'review', 0));
    assert.deepEqual(mask.span, span(text, '[MASK]'));

    // An unnamed pattern; `<mask>` is the same mask; blanks after the colon are not text.
    assert.equal(second.name, undefined);
    assert.equal(second.index, 2);
    assert.deepEqual(second.textSpan, span(text, 'Just <mask>! {review}'));
    assert.deepEqual(shape(second.parts), ['text:Just ', 'mask', 'text:! ', '{review}']);
    assert.deepEqual(second.parts[1].span, span(text, '<mask>'));
  });

  test('labels and label words, blanks around commas excluded', () => {
    const [positive, negative] = doc.verbalizers[0].entries;
    assert.deepEqual(positive.label.span, span(text, 'positive'));
    assert.deepEqual(
      positive.words.map((w) => [w.text, w.span]),
      [
        ['great', span(text, 'great')],
        ['good', span(text, 'good')],
        ['fine', span(text, 'fine')],
      ],
    );
    assert.deepEqual(negative.words[0].span, span(text, 'terrible'));
    assert.deepEqual(doc.verbalizers[0].headerSpan, span(text, 'verbalizer:'));
    assert.equal(doc.verbalizers[0].span.end, span(text, 'terrible').end);
  });

  test('one-line and multi-field examples', () => {
    const [single, multi] = doc.examples;
    assert.equal(single.singleLine, true);
    assert.equal(single.label?.text, 'positive');
    assert.deepEqual(single.label?.span, span(text, 'positive', 1));
    assert.deepEqual(single.headerSpan, span(text, 'example positive:'));
    assert.deepEqual(single.fields[0].valueSpan, span(text, 'I like it.'));

    // `example ?:` is unlabelled; a blank line inside the block does not end it; values are trimmed.
    assert.equal(multi.singleLine, false);
    assert.equal(multi.label, undefined);
    assert.deepEqual(
      multi.fields.map((f) => [f.name?.text, f.name?.span, f.value, f.valueSpan]),
      [
        ['premise', span(text, 'premise'), 'A man plays.', span(text, 'A man plays.')],
        ['hypothesis', span(text, 'hypothesis'), 'Music.', span(text, 'Music.')],
      ],
    );
    assert.equal(multi.span.start, span(text, 'example ?:').start);
    assert.equal(multi.span.end, text.indexOf('\ndata:'));
  });

  test('line starts', () => {
    assert.equal(doc.lineStarts.length, text.split('\n').length);
    assert.deepEqual(positionAt(doc, span(text, 'short').start), { line: 3, character: 8 });
  });
});

describe('parse: scripts and line endings', () => {
  test('Chinese names, labels, fields and words', () => {
    const text = 'pattern 短: {评论}这家餐厅太[MASK]了!\nverbalizer:\n  正面: 好, 棒\nexample 正面:\n  评论: 很好吃\n';
    const doc = parse(text);
    assert.deepEqual(doc.syntaxErrors, []);
    const [pattern] = doc.patterns;
    assert.deepEqual(pattern.name?.span, span(text, '短'));
    assert.deepEqual(shape(pattern.parts), ['{评论}', 'text:这家餐厅太', 'mask', 'text:了!']);
    assert.deepEqual(pattern.parts[0].span, span(text, '{评论}'));
    const entry = doc.verbalizers[0].entries[0];
    assert.deepEqual(entry.label.span, span(text, '正面'));
    assert.deepEqual(
      entry.words.map((w) => w.span),
      [span(text, '好'), span(text, '棒')],
    );
    assert.deepEqual(doc.examples[0].label?.span, span(text, '正面', 1));
    assert.deepEqual(doc.examples[0].fields[0].name?.span, span(text, '评论', 1));
  });

  test('CRLF: the same tree as LF, spans into the CRLF text, no \\r in values', () => {
    const lf = 'model: m\npattern p: {x} It was [MASK].\nverbalizer:\n  a: good, bad\nexample a:\n  x: Fine.\n';
    const crlf = lf.replace(/\n/g, '\r\n');
    const doc = parse(crlf);
    assert.deepEqual(doc.syntaxErrors, []);
    assert.deepEqual(doc.lineStarts, [0, 10, 41, 54, 70, 82, 94]);
    assert.equal(doc.models[0].id, 'm');
    assert.deepEqual(doc.patterns[0].textSpan, span(crlf, '{x} It was [MASK].'));
    assert.deepEqual(doc.verbalizers[0].entries[0].words[1].span, span(crlf, 'bad'));
    assert.equal(doc.examples[0].fields[0].value, 'Fine.');
    assert.deepEqual(doc.examples[0].fields[0].valueSpan, span(crlf, 'Fine.'));
    assert.deepEqual(positionAt(doc, span(crlf, 'bad').start), { line: 3, character: 11 });
    // Lone CR and mixed endings split lines too.
    assert.equal(parse('model: a\rpattern: {x} [MASK]\r\n\nverbalizer:').lineStarts.length, 4);
  });

  test('a UTF-8 byte order mark is not indentation', () => {
    const text = '\uFEFFmodel: m\npattern: {x} [MASK]';
    const doc = parse(text);
    assert.deepEqual(doc.syntaxErrors, []);
    assert.equal(doc.models[0].id, 'm');
    assert.deepEqual(doc.models[0].span, { start: 1, end: 9 });
  });

  test('marker comments of the fixtures are comments', () => {
    const text = 'pattern: {x} [MASK] [MASK]\n#                   ^^^^^^ mask-multiple\n  #^^^ indented\n#@ 1:1-1:1 syntax';
    const doc = parse(text);
    assert.deepEqual(doc.syntaxErrors, []);
    assert.deepEqual(
      doc.statements.map((s) => s.kind),
      ['pattern', 'comment', 'comment', 'comment'],
    );
  });
});

describe('parse: escapes and errors', () => {
  test('escapes write the characters themselves', () => {
    const text = 'pattern: \\{x\\} \\[MASK] {x} \\\\ [MASK]';
    const doc = parse(text);
    assert.deepEqual(doc.syntaxErrors, []);
    const [pattern] = doc.patterns;
    assert.deepEqual(shape(pattern.parts), ['text:{x} [MASK] ', '{x}', 'text: \\ ', 'mask']);
    // The literal part spans the escapes as written.
    assert.deepEqual(pattern.parts[0].span, span(text, '\\{x\\} \\[MASK] '));
    assert.deepEqual(pattern.parts[3].span, span(text, '[MASK]', 1));
  });

  test('an escaped [MASK] is text: the pattern then has no mask', () => {
    const doc = parse('pattern: {x} It was \\[MASK].\nverbalizer:\n  a: b');
    assert.deepEqual(
      validateStructure(doc).map((d) => d.code),
      ['mask-missing'],
    );
  });

  test('bad escapes: the backslash and the character after it, a whole code point', () => {
    const text = 'pattern: {x} \\q [MASK] \\😀 \\';
    const doc = parse(text);
    assert.deepEqual(
      doc.syntaxErrors.map((e) => [e.span, e.message.split(':')[0]]),
      [
        [span(text, '\\q'), 'Bad escape `\\q`'],
        [span(text, '\\😀'), 'Bad escape `\\😀`'],
        [{ start: text.length - 1, end: text.length }, 'Bad escape `\\`'],
      ],
    );
    // The pattern is still read: its placeholder and mask count.
    assert.deepEqual(shape(doc.patterns[0].parts), ['{x}', 'text: \\q ', 'mask', 'text: \\😀 \\']);
  });

  test('unclosed and unmatched braces', () => {
    const text = 'pattern: {x It was [MASK] {y} and } {z';
    const doc = parse(text);
    assert.deepEqual(
      doc.syntaxErrors.map((e) => [e.span, e.message.split(':')[0]]),
      [
        // Up to the next `{`, where a placeholder may start again.
        [{ start: span(text, '{x').start, end: span(text, '{y}').start }, 'Unclosed `{`'],
        [span(text, '}', 1), 'Unmatched `}`'],
        [{ start: span(text, '{z').start, end: text.length }, 'Unclosed `{`'],
      ],
    );
    assert.deepEqual(
      doc.patterns[0].parts.filter((p) => p.kind === 'placeholder').map((p) => p.span),
      [span(text, '{y}')],
    );
  });

  test('bad placeholders', () => {
    const text = 'pattern: {} {two words} {ok_1} [MASK]';
    const doc = parse(text);
    assert.deepEqual(
      doc.syntaxErrors.map((e) => e.span),
      [span(text, '{}'), span(text, '{two words}')],
    );
    assert.deepEqual(
      doc.patterns[0].parts.filter((p) => p.kind === 'placeholder').map((p) => p.kind === 'placeholder' && p.field),
      ['ok_1'],
    );
  });

  test('one diagnostic per bad line, and the good lines around are read', () => {
    const text = [
      'modle: x',
      'pattern a: {x} [MASK]',
      'verbalizer: yes',
      '  orphan: line',
      'verbalizer:',
      '  bad label: w',
      '  ok: w, , v',
      'example ok',
      'pattern b: {x} [MASK]',
    ].join('\n');
    const doc = parse(text);
    assert.deepEqual(
      doc.syntaxErrors.map((e) => positionAt(doc, e.span.start).line),
      [0, 2, 3, 5, 6, 7],
    );
    assert.deepEqual(
      doc.patterns.map((p) => p.name?.text),
      ['a', 'b'],
    );
    assert.deepEqual(
      doc.verbalizers[0].entries.map((e) => [e.label.text, e.words.map((w) => w.text)]),
      [['ok', ['w', 'v']]],
    );
    // `bad label` gets the precise message only, not also "An entry is written `label: word`".
    assert.match(doc.syntaxErrors[3].message, /`bad label` is not a valid name/);
  });

  test('never throws and spans stay inside the text on odd input', () => {
    for (const text of [
      '',
      '\n',
      '\r\n\r',
      ' ',
      '#',
      'pattern',
      'pattern:',
      'example:',
      'verbalizer:\n  :',
      '{',
      '\\',
      '\uFEFF',
      '\uD800',
      'pattern: \\\uD83D',
    ]) {
      const doc = parse(text);
      for (const e of doc.syntaxErrors)
        assert.ok(0 <= e.span.start && e.span.start <= e.span.end && e.span.end <= text.length, JSON.stringify(text));
    }
  });
});

describe('text that looks right and is not', () => {
  const messages = (text: string): string[] => [...parse(text).syntaxErrors, ...validateStructure(parse(text))].map((d) => d.message);

  test('an invisible character inside a keyword or a name is named, not taken for a misspelling', () => {
    const text = 'model: m\npat\u200btern: {x} It was [MASK].\nverbalizer:\n  po\u200bs: great\n  neg: bad\npattern: {x} It was [MASK].\n';
    const said = messages(text);
    assert.ok(
      said.includes(
        'This line is not a statement. `pat⟨U+200B⟩tern` is `pattern` with an invisible character inside, U+200B ZERO WIDTH SPACE: delete it. A line starts with model, models, pattern, verbalizer, example, data or # (a comment).',
      ),
      said.join('\n'),
    );
    assert.ok(said.every((m) => !m.includes('Did you mean `data`')));
    assert.ok(
      said.includes(
        '`po⟨U+200B⟩s` is not a valid name: use letters, digits, `_`, `-` or `.` without spaces. It holds an invisible character, U+200B ZERO WIDTH SPACE: delete it.',
      ),
      said.join('\n'),
    );
  });

  test('a [MASK] in lower case, with a Cyrillic or Greek capital, or with an invisible character is said to be one', () => {
    const missing = (mask: string): string =>
      messages(`model: m\npattern: {x} It was ${mask}.\nverbalizer:\n  a: great\n  b: bad\n`).find((m) => m.includes('has no [MASK]')) ??
      '';
    assert.match(missing('[mask]'), /`\[mask\]` is not the mask: the mask is written in capitals, \[MASK\]\.$/);
    assert.match(missing('[M\u0410SK]'), /`\[MАSK\]` is not the mask: its А is U\+0410 \(Cyrillic\), not the Latin A\. Write \[MASK\]\.$/);
    assert.match(
      missing('[MA\u03a3K]'),
      /has no \[MASK\]: the model needs exactly one position to fill in\.$/,
      'Σ is no S: nothing looks like the mask',
    );
    assert.match(missing('[\u039cASK]'), /its Μ is U\+039C \(Greek\), not the Latin M/);
    assert.match(missing('[MA\u200bSK]'), /`\[MA⟨U\+200B⟩SK\]` holds an invisible character, U\+200B ZERO WIDTH SPACE: write \[MASK\]\.$/);
    assert.match(missing('[TASK]'), /fill in\.$/);
  });
});
