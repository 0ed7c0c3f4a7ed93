// Editor features of the language core on small documents: hover, completion, quick fixes and the
// outline. `$$` marks the cursor. Quick fixes are checked by applying their edits and checking the
// document again with the model's real tokenizer: the diagnostic they fix must be gone.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  completeAt,
  documentSymbols,
  hoverAt,
  parse,
  quickFixes,
  validateStructure,
  validateWithTokenizer,
  type DataSetSummary,
  type Diagnostic,
  type DiagnosticCode,
  type TokenizerView,
} from '../../server/src/language';
import { applyEdits, withCursor } from '../support/cursor';
import { fixturesDir } from '../support/paths';
import { families, loadTokenizer, serviceFor } from '../support/service';

function hover(
  source: string,
  tokenizer: TokenizerView | undefined,
  dataSets?: ReadonlyMap<string, DataSetSummary>,
): { markdown: string; hovered: string } {
  const { text, offset } = withCursor(source);
  const result = hoverAt(parse(text), offset, tokenizer, dataSets);
  assert.ok(result, 'no hover');
  return { markdown: result.markdown, hovered: text.slice(result.span.start, result.span.end) };
}

function check(text: string, tokenizer: TokenizerView): Diagnostic[] {
  const doc = parse(text);
  return [...validateStructure(doc), ...validateWithTokenizer(doc, tokenizer)];
}

function codes(diagnostics: readonly Diagnostic[]): DiagnosticCode[] {
  return diagnostics.map((d) => d.code).sort();
}

describe('hover', () => {
  test('a label word shows its tokens and ids in the model', async () => {
    const roberta = await loadTokenizer('tiny-random-roberta');
    const spaced = hover('pattern: {review} It was [MASK].\nverbalizer:\n  positive: gr$$eat\n  negative: bad', roberta);
    assert.equal(spaced.hovered, 'great');
    assert.match(spaced.markdown, /label word of `positive`/);
    assert.match(spaced.markdown, /In tiny-random-roberta: `Ġgreat` \(372\) — one token/);

    const cased = await loadTokenizer('tiny-random-bert-cased');
    assert.match(
      hover('pattern: {review} It was [MASK].\nverbalizer:\n  positive: Grea$$t', cased).markdown,
      /`Great` \(2038\) — one token/,
    );
    assert.match(
      hover('pattern: {review} It was [MASK].\nverbalizer:\n  positive: $$Terrible', cased).markdown,
      /`Te` \(12008\) `##rrible` \(27788\) — 2 tokens: `Te ##rrible`/,
    );

    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    assert.match(
      hover('pattern: {review} It was [MASK].\nverbalizer:\n  positive: Great$$', uncased).markdown,
      /`great` \(2307\) — one token/,
    );
    // A word the vocabulary does not have is one piece, the unknown token: not "1 tokens".
    assert.match(
      hover('pattern: {review} It was [MASK].\nverbalizer:\n  positive: 👍$$', uncased).markdown,
      /`\[UNK\]` \(100\) — not in the vocabulary \(the unknown token\)/,
    );

    const chinese = await loadTokenizer('tiny-random-bert-chinese');
    assert.match(
      hover('pattern: {评论}这家餐厅太[MASK]了!\nverbalizer:\n  正面: 很$$好', chinese).markdown,
      /`很` \(2523\) `好` \(1962\) — 2 tokens: `很 好`/,
    );
  });

  test('a label word in two mask contexts shows both forms', async () => {
    const roberta = await loadTokenizer('tiny-random-roberta');
    const { markdown } = hover('pattern a: {x} It was [MASK].\npattern b: {x}:[MASK]\nverbalizer:\n  p: Soc$$iety', roberta);
    assert.match(markdown, /where the mask follows a space: `ĠSociety` \(3930\) — one token/);
    assert.match(markdown, /where the mask follows no space: `Soc` \(29971\) `iety` \(25717\) — 2 tokens/);
  });

  test('before the tokenizer has loaded, a label word hover says so', () => {
    assert.match(hover('pattern: {x} [MASK]\nverbalizer:\n  p: go$$od', undefined).markdown, /not loaded yet/);
  });

  test("[MASK] is the model's own mask token", async () => {
    const source = 'pattern: {x} It was [MA$$SK].';
    const roberta = hover(source, await loadTokenizer('tiny-random-roberta'));
    assert.equal(roberta.hovered, '[MASK]');
    assert.match(roberta.markdown, /the token `<mask>` \(id 50264\)/);
    assert.match(hover(source, await loadTokenizer('tiny-random-bert-cased')).markdown, /the token `\[MASK\]` \(id 103\)/);
    assert.match(
      hover('pattern: {x} It was <ma$$sk>.', await loadTokenizer('tiny-random-bert-chinese')).markdown,
      /the token `\[MASK\]` \(id 103\)/,
    );
  });

  test('a placeholder lists the examples that fill it', () => {
    const doc = [
      'pattern p: {re$$view} It was [MASK].',
      'pattern q: {premise} [MASK]',
      'verbalizer:',
      '  positive: great',
      'example positive: I like the Disney films very much.',
      'example:',
      '  review: The soundtrack had its moments.',
      'data: reviews.jsonl',
    ].join('\n');
    const { markdown, hovered } = hover(doc, undefined);
    assert.equal(hovered, '{review}');
    assert.match(markdown, /\*\*\{review\}\*\* — input field of pattern `p`/);
    // A one-line example fills the field only when the patterns use one field; here they use two.
    assert.match(markdown, /Filled by 1 example:\n- _unlabelled_: The soundtrack had its moments\\\./);
    assert.doesNotMatch(markdown, /Disney/);
    const single = hover('pattern p: {re$$view} It was [MASK].\nexample positive: I like it.\nexample negative: Dull.', undefined);
    assert.match(single.markdown, /Filled by 2 examples:\n- `positive`: I like it\\\.\n- `negative`: Dull\\\./);
    assert.doesNotMatch(single.markdown, /rows of/);
    // Without the data files' summaries, nothing is said of them.
    assert.doesNotMatch(markdown, /rows of/);
    const unfilled = hover(
      doc.replace('{re$$view}', () => '{review}').replace('{premise}', () => '{prem$$ise}'),
      undefined,
    );
    assert.match(unfilled.markdown, /No example of this file fills it yet/);
  });

  test('a placeholder names only the data files whose rows have its column', () => {
    const doc = [
      'pattern p: {re$$view} It was [MASK].',
      'pattern q: {premise} [MASK]',
      'verbalizer:',
      '  positive: great',
      'data: reviews.jsonl',
      'data: premises.jsonl',
      'data: missing.jsonl',
      'data: unread.jsonl',
    ].join('\n');
    const summary = (columns: string[]): DataSetSummary => ({ ok: true, columns, labels: ['positive'], rowCount: 3 });
    const dataSets = new Map<string, DataSetSummary>([
      ['reviews.jsonl', summary(['review', 'premise', 'label'])],
      ['premises.jsonl', summary(['premise', 'label'])],
      ['missing.jsonl', { ok: false, reason: 'Cannot read missing.jsonl: the file does not exist.' }],
    ]);
    const { markdown } = hover(doc, undefined, dataSets);
    assert.match(markdown, /and by the rows of `reviews\.jsonl`$/);
    // One text column fills the one field the patterns use, as the `data:` line's check says.
    const single = hover(
      'pattern p: {re$$view} It was [MASK].\ndata: texts.jsonl',
      undefined,
      new Map([['texts.jsonl', summary(['text', 'label'])]]),
    );
    assert.match(single.markdown, /rows of `texts\.jsonl`/);
  });

  test('a label shows its words and how many examples it has', () => {
    const { markdown } = hover(
      'pattern: {x} [MASK]\nverbalizer:\n  pos$$itive: great, good\nexample positive: a\nexample positive: b',
      undefined,
    );
    assert.match(markdown, /label with the words `great`, `good`; 2 examples/);
  });

  test('nothing to say elsewhere', () => {
    const { text, offset } = withCursor('# a comm$$ent\npattern: {x} [MASK]');
    assert.equal(hoverAt(parse(text), offset, undefined), undefined);
  });
});

describe('completion', () => {
  function complete(source: string): Array<{ label: string; insertText: string | undefined; replaced: string }> {
    const { text, offset } = withCursor(source);
    return completeAt(parse(text), offset).map((p) => ({
      label: p.label,
      insertText: p.insertText,
      replaced: text.slice(p.replace.start, p.replace.end),
    }));
  }

  test('keywords at the start of a line', () => {
    assert.deepEqual(
      complete('model: m\n$$').map((p) => p.label),
      ['model', 'models', 'pattern', 'verbalizer', 'example', 'data'],
    );
    assert.deepEqual(complete('model: m\npat$$'), [{ label: 'pattern', insertText: 'pattern ', replaced: 'pat' }]);
    assert.deepEqual(complete('  pat$$'), []);
  });

  test('fields inside `{` of a pattern: those used elsewhere in the file', () => {
    const doc = 'pattern a: {premise}? [MASK], {hypothesis}\npattern b: {$$\nexample:\n  extra: x\n';
    assert.deepEqual(
      complete(doc).map((p) => [p.label, p.insertText]),
      [
        ['premise', 'premise}'],
        ['hypothesis', 'hypothesis}'],
        ['extra', 'extra}'],
      ],
    );
    // With the closing brace already there, it is not inserted again; a typed prefix is replaced.
    assert.deepEqual(complete('pattern a: {premise} [MASK]\npattern b: {pre$$}')[0], {
      label: 'premise',
      insertText: 'premise',
      replaced: 'pre',
    });
    // Not in an example's text.
    assert.deepEqual(complete('pattern a: {premise} [MASK]\nexample: {$$'), []);
  });

  test('labels after `example `', () => {
    const doc = 'pattern: {x} [MASK]\nverbalizer:\n  positive: great\n  negative: bad\nexample $$';
    assert.deepEqual(
      complete(doc).map((p) => [p.label, p.insertText]),
      [
        ['positive', 'positive: '],
        ['negative', 'negative: '],
        ['?', '?: '],
      ],
    );
    assert.deepEqual(
      complete(doc.replace('$$', () => 'neg$$')).find((p) => p.label === 'negative'),
      { label: 'negative', insertText: 'negative: ', replaced: 'neg' },
    );
  });

  test('field names on the indented lines of a multi-field example', () => {
    const doc = 'pattern: {premise}? [MASK], {hypothesis}\nexample:\n  premise: A man.\n  hy$$';
    assert.deepEqual(
      complete(doc).map((p) => [p.label, p.insertText, p.replaced]),
      [
        ['premise', 'premise: ', 'hy'],
        ['hypothesis', 'hypothesis: ', 'hy'],
      ],
    );
    assert.deepEqual(complete('pattern: {x} [MASK]\nverbalizer:\n  $$'), []);
  });
});

describe('quick fixes', () => {
  /** The fixes of the diagnostics with `code`, and the diagnostics after applying the fix titled `title`. */
  function fixAndRecheck(
    text: string,
    tokenizer: TokenizerView,
    code: DiagnosticCode,
    title: RegExp,
  ): { fixed: string; after: Diagnostic[]; titles: string[] } {
    const doc = parse(text);
    const before = check(text, tokenizer).filter((d) => d.code === code);
    assert.equal(before.length, 1, `expected one ${code} before the fix`);
    const fixes = quickFixes(doc, before, tokenizer);
    const fix = fixes.find((f) => title.test(f.title));
    assert.ok(fix, `no fix ${title} among ${JSON.stringify(fixes.map((f) => f.title))}`);
    const fixed = applyEdits(text, fix.edits);
    return { fixed, after: check(fixed, tokenizer), titles: fixes.map((f) => f.title) };
  }

  test('remove an extra [MASK]', async () => {
    const bert = await loadTokenizer('tiny-random-bert-uncased');
    const { fixed, after } = fixAndRecheck(
      'pattern: {x} It was [MASK] and [MASK].\nverbalizer:\n  a: good\n  b: bad',
      bert,
      'mask-multiple',
      /Remove this extra \[MASK\]/,
    );
    assert.equal(fixed.split('\n')[0], 'pattern: {x} It was [MASK] and.');
    assert.deepEqual(codes(after), []);
  });

  test('append [MASK] to a pattern without one', async () => {
    const bert = await loadTokenizer('tiny-random-bert-uncased');
    const { fixed, after } = fixAndRecheck(
      'pattern: {x} It was great.\nverbalizer:\n  a: good\n  b: bad',
      bert,
      'mask-missing',
      /Append \[MASK\]/,
    );
    assert.equal(fixed.split('\n')[0], 'pattern: {x} It was great. [MASK]');
    assert.deepEqual(codes(after), []);
    // An empty pattern gets a blank after its colon.
    const empty = fixAndRecheck('pattern short:\nverbalizer:\n  a: good\n  b: bad', bert, 'mask-missing', /Append \[MASK\]/);
    assert.equal(empty.fixed.split('\n')[0], 'pattern short: [MASK]');
    assert.deepEqual(codes(empty.after), ['placeholder-none']);
  });

  test('remove an explicit [CLS]; remove a repeated label word', async () => {
    const bert = await loadTokenizer('tiny-random-bert-uncased');
    const cls = fixAndRecheck(
      'pattern: [CLS] {x} It was [MASK].\nverbalizer:\n  a: good\n  b: bad',
      bert,
      'special-token-explicit',
      /Remove \[CLS\]/,
    );
    assert.equal(cls.fixed.split('\n')[0], 'pattern: {x} It was [MASK].');
    assert.deepEqual(codes(cls.after), []);
    const repeated = fixAndRecheck(
      'pattern: {x} It was [MASK].\nverbalizer:\n  a: good, great, good\n  b: bad',
      bert,
      'label-word-repeated',
      /Remove the repeated/,
    );
    assert.equal(repeated.fixed.split('\n')[2], '  a: good, great');
    assert.deepEqual(codes(repeated.after), []);
  });

  test('cased `Terrible` → a real single-token spelling, `terrible`', async () => {
    const cased = await loadTokenizer('tiny-random-bert-cased');
    const { fixed, after, titles } = fixAndRecheck(
      'pattern: {x} It was [MASK].\nverbalizer:\n  a: great\n  b: Terrible',
      cased,
      'label-word-multi-token',
      /`terrible`/,
    );
    // The casing comes first and is preferred; words spelt like it follow (test/unit/fixes.test.ts).
    assert.equal(titles[0], 'Replace with `terrible` (the single token terrible, id 6434)');
    assert.ok(
      titles.slice(1).every((t) => /spelt like it/.test(t)),
      titles.join('\n'),
    );
    assert.equal(fixed.split('\n')[3], '  b: terrible');
    assert.deepEqual(codes(after), []);
  });

  test('RoBERTa `Society` glued to the mask: put a space before [MASK]', async () => {
    const roberta = await loadTokenizer('tiny-random-roberta');
    const { fixed, after, titles } = fixAndRecheck(
      'pattern glued: {x}:[MASK]\nverbalizer:\n  a: Society\n  b: great',
      roberta,
      'label-word-multi-token',
      /space before \[MASK\]/,
    );
    assert.match(titles.join('\n'), /Put a space before \[MASK\] in pattern `glued`, where `Society` is the single token ĠSociety/);
    assert.equal(fixed.split('\n')[0], 'pattern glued: {x}: [MASK]');
    assert.deepEqual(codes(after), []);
  });

  test('no space fix where a space cannot help: a mask at the start of the input', async () => {
    const roberta = await loadTokenizer('tiny-random-roberta');
    const text = 'pattern glued: {x}:[MASK]\npattern lead: [MASK]! {x}\nverbalizer:\n  a: Society\n  b: great';
    const doc = parse(text);
    const diagnostics = check(text, roberta);
    assert.deepEqual(codes(diagnostics), ['label-word-multi-token']);
    // Only the language's leading-space form of the word (v2) helps there, as PET, LM-BFF and OpenPrompt score it.
    assert.deepEqual(
      quickFixes(doc, diagnostics, roberta).map((f) => f.title),
      ['Score `Society` after a space, as the single token ĠSociety (write `" Society"`)'],
    );
  });

  test('no fix is offered when there is no single-token spelling', async () => {
    const chinese = await loadTokenizer('tiny-random-bert-chinese');
    const text = 'pattern: {评论}这家餐厅太[MASK]了!\nverbalizer:\n  正面: 很好\n  负面: 差';
    const doc = parse(text);
    // No casing exists for 很好; its characters are offered by spelling (test/unit/fixes.test.ts).
    assert.ok(quickFixes(doc, check(text, chinese), chinese).every((f) => /spelt like it/.test(f.title)));
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    const emoji = 'pattern: {x} [MASK]\nverbalizer:\n  a: 😀\n  b: bad';
    assert.deepEqual(quickFixes(parse(emoji), check(emoji, uncased), uncased), []);
  });

  // Every fix offered for any diagnostic of any fixture, applied alone, removes its diagnostic and
  // adds none: a quick fix never trades one problem for another.
  for (const family of families) {
    test(`every fix offered in the ${family} fixtures removes its diagnostic and adds none`, async () => {
      const dir = path.join(fixturesDir, 'diagnostics', family);
      let applied = 0;
      for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.cloze'))) {
        const file = path.join(dir, name);
        const text = fs.readFileSync(file, 'utf8');
        const doc = parse(text);
        const service = serviceFor(family);
        const choice = service.modelChoice(doc, file);
        const loaded = await service.tokenizer(choice);
        if (!loaded.ok) continue;
        const tokenizer = loaded.tokenizer;
        const dataSets = await service.dataSets(doc, file);
        const recheck = (t: string): Diagnostic[] => {
          const d = parse(t);
          return [...validateStructure(d, dataSets), ...validateWithTokenizer(d, tokenizer)];
        };
        const before = recheck(text);
        for (const fix of quickFixes(doc, before, tokenizer)) {
          if (fix.command && fix.edits.length === 0) continue; // the model picker: nothing to apply here
          const after = recheck(applyEdits(text, fix.edits));
          const count = (list: readonly Diagnostic[]): Map<string, number> => {
            const counts = new Map<string, number>();
            for (const d of list) counts.set(d.code, (counts.get(d.code) ?? 0) + 1);
            return counts;
          };
          const [was, now] = [count(before), count(after)];
          const where = `${family}/${name}: "${fix.title}" for ${fix.diagnostic.code} at ${fix.diagnostic.span.start}`;
          assert.ok((now.get(fix.diagnostic.code) ?? 0) < (was.get(fix.diagnostic.code) ?? 0), `${where} left the diagnostic`);
          for (const [code, n] of now) assert.ok(n <= (was.get(code) ?? 0), `${where} added ${code}`);
          applied += 1;
        }
      }
      assert.ok(applied > 0, 'no fix was tried');
    });
  }
});

describe('document symbols', () => {
  test('model, patterns, the verbalizer with its labels, examples and data', () => {
    const text = [
      'model: tiny-random-roberta',
      '# comments are not symbols',
      'pattern short: {review} It was [MASK].',
      'pattern: Just [MASK]! {review}',
      'verbalizer:',
      '  positive: great, good',
      '  negative: terrible',
      'example positive: I like the Disney films very much, and I would watch them all again tomorrow.',
      'example:',
      '  review: Fine.',
      'data: reviews.jsonl',
    ].join('\n');
    const symbols = documentSymbols(parse(text));
    const slice = (s: { start: number; end: number }): string => text.slice(s.start, s.end);
    assert.deepEqual(
      symbols.map((s) => [s.kind, s.name, s.detail, slice(s.selectionSpan)]),
      [
        ['model', 'tiny-random-roberta', 'model', 'tiny-random-roberta'],
        ['pattern', 'short', '{review} It was [MASK].', 'short'],
        ['pattern', 'pattern 2', 'Just [MASK]! {review}', 'pattern'],
        ['verbalizer', 'verbalizer', '2 labels', 'verbalizer:'],
        ['example', 'example positive', 'I like the Disney films very much, and I would wa…', 'positive'],
        ['example', 'example ?', 'Fine.', 'example'],
        ['data', 'reviews.jsonl', 'data', 'reviews.jsonl'],
      ],
    );
    assert.deepEqual(
      symbols[3].children.map((c) => [c.kind, c.name, c.detail, slice(c.span), slice(c.selectionSpan)]),
      [
        ['label', 'positive', 'great, good', 'positive: great, good', 'positive'],
        ['label', 'negative', 'terrible', 'negative: terrible', 'negative'],
      ],
    );
    // Every range holds its selection range, as LSP requires.
    const all = symbols.flatMap((s) => [s, ...s.children]);
    for (const s of all) assert.ok(s.span.start <= s.selectionSpan.start && s.selectionSpan.end <= s.span.end, s.name);
    assert.equal(slice(symbols[5].span), 'example:\n  review: Fine.');
  });
});

describe('model limits', () => {
  test('review-bert-small reads 128 tokens: its position table, not the 512 its tokenizer declares', async () => {
    assert.equal((await loadTokenizer('review-bert-small')).maxLength, 128);
  });

  test('the other models read 512 (RoBERTa: 514 positions less its padding offset of 2)', async () => {
    for (const model of ['tiny-random-bert-uncased', 'tiny-random-bert-cased', 'tiny-random-roberta', 'tiny-random-bert-chinese']) {
      assert.equal((await loadTokenizer(model)).maxLength, 512, model);
    }
  });
});
