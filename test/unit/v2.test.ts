// The v2 constructs of the language: how they parse, how they render, and which token form a label
// word is scored in, across the tokenizer families of ../shared/models (real tokenizers).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from '../../server/src/language/parse';
import { renderPattern, segments } from '../../server/src/language/render';
import { renderTruncated } from '../../server/src/language/truncate';
import { validateStructure } from '../../server/src/language/validate';
import { validateWithTokenizer } from '../../server/src/language/validateTokens';
import { verbalizerOf, verbalizerSettings } from '../../server/src/language/options';
import { computePreview } from '../../server/src/service/preview';
import { hoverAt } from '../../server/src/language/hover';
import { completeAt } from '../../server/src/language/complete';
import { quickFixes } from '../../server/src/language/actions';
import { documentSymbols } from '../../server/src/language/symbols';
import { engineFor } from '../support/directOnnx';
import { loadTokenizer } from '../support/service';

const special = { mask: '[MASK]', sep: '[SEP]', cls: '[CLS]' };
const render = (pattern: string, fields: Record<string, string>): string =>
  renderPattern(parse(`pattern: ${pattern}`).patterns[0], new Map(Object.entries(fields)), special);

describe('parsing the v2 constructs', () => {
  test('pattern and verbalizer headers: a name, then key=value options', () => {
    const doc = parse(
      [
        'pattern p1 verbalizer=yahoo: {q} [MASK]',
        'verbalizer:',
        '  a: x',
        'verbalizer yahoo aggregate=mean-logit space=before multi-token=max:',
        '  a: y',
      ].join('\n'),
    );
    assert.deepEqual(doc.syntaxErrors, []);
    const [pattern] = doc.patterns;
    assert.equal(pattern.name?.text, 'p1');
    assert.deepEqual(
      pattern.options.map((o) => [o.key.text, o.value.text]),
      [['verbalizer', 'yahoo']],
    );
    assert.equal(verbalizerOf(doc, pattern)?.name?.text, 'yahoo');
    assert.deepEqual(verbalizerSettings(doc.verbalizers[1]), { aggregate: 'mean-logit', space: 'before', multiToken: 'max' });
    assert.deepEqual(verbalizerSettings(doc.verbalizers[0]), { aggregate: 'sum', space: 'auto', multiToken: undefined }, 'v1 defaults');
    // The option's value span is what `verbalizer-unknown` and hovers point at.
    const value = pattern.options[0].value.span;
    assert.equal(doc.text.slice(value.start, value.end), 'yahoo');
  });

  test('a v1 header keeps its v1 meaning and messages', () => {
    const doc = parse('pattern bad name: {x} [MASK]\nverbalizer:\n  a: b');
    assert.match(doc.syntaxErrors[0].message, /`bad name` is not a valid name/);
    assert.match(
      parse('verbalizer: x\n  a: b').syntaxErrors[0].message,
      /^Expected `verbalizer \[name\] \[key=value …\]:` alone on its line/,
    );
  });

  test('bad options and transforms are syntax errors on what is wrong', () => {
    const doc = parse('pattern p colour=red verbalizer=: {x|shout|drop-last} [MASK]\nverbalizer multi-token=all:\n  a: b');
    const messages = doc.syntaxErrors.map((d) => [doc.text.slice(d.span.start, d.span.end), d.message.split(':')[0]]);
    assert.deepEqual(messages, [
      ['colour', 'Unknown option `colour` for a pattern'],
      ['verbalizer=', '`verbalizer=` takes a name.'],
      ['shout', 'Unknown transform `shout`'],
      ['all', '`multi-token=` takes `first`, `mean`, `max`, not `all`.'],
    ]);
    const placeholder = doc.patterns[0].parts.find((part) => part.kind === 'placeholder');
    assert.ok(placeholder?.kind === 'placeholder');
    assert.deepEqual(
      placeholder.transforms.map((t) => t.name),
      ['drop-last'],
      'the known transform is kept',
    );
    assert.equal(doc.text.slice(placeholder.fieldSpan.start, placeholder.fieldSpan.end), 'x');
  });

  test('quoted label words state their token form', () => {
    const doc = parse('pattern: {x} [MASK]\nverbalizer:\n  a: " great", "great", great, "a b"\n  b: "bad, " bad ", ""');
    const words = doc.verbalizers[0].entries.map((entry) => entry.words.map((w) => [w.text, w.space]));
    assert.deepEqual(words[0], [
      ['great', 'before'],
      ['great', 'none'],
      ['great', undefined],
      ['a b', 'none'],
    ]);
    assert.equal(doc.syntaxErrors.length, 3, 'an unclosed quote, a trailing space, an empty word');
  });
});

test('shorten= names fields the pattern reads; truncate= takes a strategy', () => {
  const doc = parse('pattern p shorten=a,x truncate=longest: {a} [MASK]\npattern q shorten=a-b: {a} [MASK]\nverbalizer:\n  l: w');
  const errors = validateStructure(doc).filter((d) => d.code === 'syntax');
  assert.deepEqual(
    errors.map((d) => [doc.text.slice(d.span.start, d.span.end), d.message]),
    [
      ['a-b', '`shorten=` takes field names separated by commas, not `a-b`.'],
      ['x', '`shorten=` names `x`, which pattern `p` does not read (it reads {a}).'],
    ],
  );
});

test('[SEP+] splits the input into a pair; a second one is an error', () => {
  const doc = parse('pattern: {h}? [SEP+] [MASK], {p} [SEP+] x');
  assert.deepEqual(
    doc.patterns[0].parts.map((part) => part.kind),
    ['placeholder', 'text', 'segment', 'text', 'mask', 'text', 'placeholder', 'text'],
  );
  assert.match(doc.syntaxErrors[0].message, /^A second \[SEP\+\]: a pattern has two segments at most/);
  const input = renderPattern(
    doc.patterns[0],
    new Map([
      ['h', 'Is it'],
      ['p', 'It is.'],
    ]),
    special,
  );
  assert.deepEqual(segments(input), ['Is it?', '[MASK], It is.  x']);
  // Each segment is trimmed on its own; an empty one stays (the content-free input of a pair).
  assert.deepEqual(segments(renderPattern(parse('pattern: [MASK] [SEP+] {p}').patterns[0], new Map(), special)), ['[MASK]', '']);
});

describe('rendering field transforms and kept spaces', () => {
  const review = 'I liked it a lot!!';
  const cases: ReadonlyArray<[string, string]> = [
    ['{r|drop-punct} It was [MASK].', 'I liked it a lot It was [MASK].'],
    ['{r|drop-last} It was [MASK].', 'I liked it a lot! It was [MASK].'],
    ['[MASK], {r|lower-first}', '[MASK], i liked it a lot!!'],
    ['[MASK], {r|drop-punct|lower-first}', '[MASK], i liked it a lot'],
    ['{r|upper-first}', 'I liked it a lot!!'],
    ['{r|space}[MASK]', ' I liked it a lot!![MASK]'],
    ['\\ It was [MASK]. {r}', ' It was [MASK]. I liked it a lot!!'],
  ];
  for (const [pattern, expected] of cases) {
    test(pattern, () => assert.equal(render(pattern, { r: review }), expected));
  }
  test('transforms of an empty field leave no space, so the content-free input is v1’s', () => {
    assert.equal(render('{r|space|drop-last} It was [MASK].', {}), 'It was [MASK].');
    assert.equal(render('{r|upper-first}', { r: 'élan' }), 'Élan');
    assert.equal(render('{r|drop-last}', { r: 'x😀' }), 'x', 'drops a whole code point');
  });
});

describe('which token form label words are scored in', () => {
  const doc = (model: string, verbalizer: string, words: string, pattern = '[MASK]! {x}'): string =>
    [
      `model: ${model}`,
      `pattern: ${pattern}`,
      `verbalizer${verbalizer}:`,
      `  a: ${words}`,
      `  b: ${model.includes('chinese') ? '差' : 'No'}`,
      'example: Hello there.',
    ].join('\n');

  const cases: ReadonlyArray<{ model: string; verbalizer: string; words: string; pattern?: string; token: string | undefined }> = [
    // RoBERTa: at the start of the text the mask sees `Soc iety` (v1: skipped) …
    { model: 'tiny-random-roberta', verbalizer: '', words: 'Society', token: undefined },
    // … but the frameworks score `ĠSociety`: space=before for the verbalizer, or a quoted word.
    { model: 'tiny-random-roberta', verbalizer: ' space=before', words: 'Society', token: 'ĠSociety' },
    { model: 'tiny-random-roberta', verbalizer: '', words: '" Society"', token: 'ĠSociety' },
    // A quoted word without the space is `great` even after a space.
    { model: 'tiny-random-roberta', verbalizer: '', words: '"great"', pattern: '{x} It was [MASK].', token: 'great' },
    { model: 'tiny-random-roberta', verbalizer: ' space=none', words: 'great', pattern: '{x} It was [MASK].', token: 'great' },
    // With a handler a multi-token word is scored.
    { model: 'tiny-random-roberta', verbalizer: ' multi-token=first', words: 'Society', token: 'Soc iety' },
    // WordPiece: the same token in either form.
    { model: 'tiny-random-bert-uncased', verbalizer: ' space=before', words: 'Great', token: 'great' },
    { model: 'tiny-random-bert-cased', verbalizer: '', words: '" Great"', token: 'Great' },
    { model: 'tiny-random-bert-cased', verbalizer: ' multi-token=mean', words: 'fantastically', token: 'fantastic ##ally' },
    { model: 'tiny-random-bert-chinese', verbalizer: ' space=before', words: '好', token: '好' },
  ];
  for (const c of cases) {
    test(`${c.model}: verbalizer${c.verbalizer} with ${c.words} in ${c.pattern ?? '[MASK]! {x}'}`, async () => {
      const tokenizer = await loadTokenizer(c.model);
      const engine = await engineFor(c.model, { quantized: false });
      const parsed = parse(doc(c.model, c.verbalizer, c.words, c.pattern));
      const result = await computePreview(parsed, tokenizer, (inputs, ids, k) => engine.score(inputs, ids, k), {
        topK: 1,
        calibrate: false,
      });
      const scored = result.examples[0].results[0].labelWords.find((w) => w.label === 'a');
      assert.equal(scored?.token, c.token);
      // The checker agrees with the scorer: an error exactly when the word is not scored.
      const diagnostics = [...validateStructure(parsed), ...validateWithTokenizer(parsed, tokenizer)].filter((d) =>
        d.code.startsWith('label-word'),
      );
      const errors = diagnostics.filter((d) => d.severity === 'error');
      assert.equal(errors.length, c.token === undefined ? 1 : 0, diagnostics.map((d) => d.message).join('\n'));
      if (c.token?.includes(' ')) assert.match(diagnostics[0]?.message ?? '', /With `multi-token=/);
    });
  }
});

describe('hover, completion and quick fixes of the v2 constructs', () => {
  const source = [
    'model: tiny-random-roberta',
    'pattern lead verbalizer=topics: [MASK]ly {q|drop-punct}',
    'pattern typo verbalizer=topic: {q} It was [MASK].',
    'verbalizer:',
    '  society: Society',
    '  science: Science',
    'verbalizer topics aggregate=mean-logit space=before:',
    '  society: Society',
    '  science: Science',
  ].join('\n');
  const doc = parse(source);
  const at = (needle: string, occurrence = 0): number => {
    let index = -1;
    for (let i = 0; i <= occurrence; i++) index = source.indexOf(needle, index + 1);
    assert.ok(index >= 0, needle);
    return index + 1;
  };

  test('hovers explain options, transforms, verbalizer names and fixed word forms', async () => {
    const tokenizer = await loadTokenizer('tiny-random-roberta');
    assert.match(
      hoverAt(doc, at('verbalizer=topics'), tokenizer)?.markdown ?? '',
      /pattern option: the named verbalizer[\s\S]*Verbalizer `topics`: labels scored by the mean of the words’ logits/,
    );
    assert.match(
      hoverAt(doc, at('drop-punct'), tokenizer)?.markdown ?? '',
      /\*\*\|drop-punct\*\* — field transform: removes the punctuation at the end/,
    );
    assert.match(
      hoverAt(doc, at('mean-logit'), tokenizer)?.markdown ?? '',
      /`mean-logit`: the mean of the words’ logits, softmaxed over the labels \(PET\)/,
    );
    assert.match(hoverAt(doc, at('topics aggregate'), tokenizer)?.markdown ?? '', /Chosen by pattern `lead`/);
    // `Society` in `topics` is scored after a space: ĠSociety, one token, although [MASK] starts the pattern.
    const word = hoverAt(doc, at('Society', 1), tokenizer)?.markdown ?? '';
    assert.match(word, /Scored after a space \(`space=before`\)/);
    assert.match(word, /one token `ĠSociety` \(3930\)/);
  });

  test('completion proposes transforms, option keys, values and verbalizer names', () => {
    const complete = (text: string): string[] => {
      const d = parse(text);
      return completeAt(d, text.length).map((p) => p.label);
    };
    assert.deepEqual(complete('pattern p: {q|'), ['drop-punct', 'drop-last', 'lower-first', 'upper-first', 'space']);
    assert.deepEqual(complete('pattern p: {q|drop-punct|lo'), ['drop-punct', 'drop-last', 'lower-first', 'upper-first', 'space']);
    assert.deepEqual(complete('verbalizer v '), ['aggregate=', 'space=', 'multi-token=']);
    assert.deepEqual(complete('verbalizer v aggregate=sum '), ['space=', 'multi-token=']);
    assert.deepEqual(complete('verbalizer v aggregate='), ['sum', 'mean-logit', 'mean-logprob']);
    assert.deepEqual(complete('verbalizer yahoo:\n  a: b\npattern p verbalizer='), ['yahoo']);
    assert.deepEqual(complete('pattern p '), ['verbalizer=', 'shorten=', 'truncate=']);
    assert.deepEqual(complete('pattern p: {a} {b} [MASK]\npattern q shorten=a,'), ['b']);
    assert.deepEqual(complete('pattern p: {a} [MASK]\npattern q truncate='), ['tail', 'head', 'balanced', 'longest']);
  });

  test('quick fixes: a space after a glued mask, a close verbalizer name, the frameworks’ leading-space form', async () => {
    const tokenizer = await loadTokenizer('tiny-random-roberta');
    const diagnostics = [...validateStructure(doc), ...validateWithTokenizer(doc, tokenizer)];
    const titles = quickFixes(doc, diagnostics, tokenizer).map((fix) => fix.title);
    assert.ok(titles.includes('Put a space after [MASK]'), titles.join('\n'));
    assert.ok(titles.includes('Use verbalizer `topics`'), titles.join('\n'));
    // In the first verbalizer `Society` meets the mask of `typo` after a space only: fine. Make it fail:
    const glued = parse(source.replace('pattern typo verbalizer=topic: {q} It was [MASK].', 'pattern typo: {q}:[MASK].'));
    const more = [...validateStructure(glued), ...validateWithTokenizer(glued, tokenizer)];
    const multi = more.find((d) => d.code === 'label-word-multi-token');
    assert.ok(multi, more.map((d) => d.message).join('\n'));
    const fixes = quickFixes(glued, [multi], tokenizer);
    const quote = fixes.find((fix) => fix.title.startsWith('Score `Society` after a space, as the single token ĠSociety'));
    assert.ok(quote, fixes.map((f) => f.title).join('\n'));
    // The fix, applied, removes the error.
    for (const fix of [quote]) {
      let text = glued.text;
      for (const edit of [...fix.edits].sort((a, b) => b.span.start - a.span.start))
        text = text.slice(0, edit.span.start) + edit.newText + text.slice(edit.span.end);
      const fixed = parse(text);
      const errors = validateWithTokenizer(fixed, tokenizer).filter((d) => d.code === 'label-word-multi-token' && d.severity === 'error');
      assert.deepEqual(errors, [], text);
    }
  });
});

test('the outline names named verbalizers and shows their options and quoted words', () => {
  const doc = parse('pattern: {x} [MASK]\nverbalizer:\n  a: b\nverbalizer pet aggregate=mean-logit:\n  a: " b", "c"');
  const verbalizers = documentSymbols(doc).filter((s) => s.kind === 'verbalizer');
  assert.deepEqual(
    verbalizers.map((v) => [v.name, v.detail, v.children.map((c) => c.detail)]),
    [
      ['verbalizer', '1 labels', ['b']],
      ['verbalizer pet', '1 labels · aggregate=mean-logit', ['" b", "c"']],
    ],
  );
});

test('a shorten= field cut to nothing: it is empty and the check says input-too-long (transformers.js cannot decode no tokens)', async () => {
  const tokenizer = await loadTokenizer('tiny-random-bert-uncased');
  const long = Array.from({ length: 600 }, () => 'word').join(' ');
  const doc = parse(
    `pattern p shorten=question: Q: {question} A: {answer} It was [MASK].\nverbalizer:\n  a: good\nexample a:\n  question: Who won?\n  answer: ${long}\n`,
  );
  const diagnostics = validateWithTokenizer(doc, tokenizer);
  assert.deepEqual(
    diagnostics.map((d) => d.code),
    ['input-too-long'],
  );
  const fields = new Map([
    ['question', 'Who won?'],
    ['answer', long],
  ]);
  const { input, truncatedFields } = renderTruncated(doc.patterns[0], fields, tokenizer);
  assert.equal(truncatedFields, true);
  assert.ok(input.startsWith('Q:  A: word'), input.slice(0, 40));
});
