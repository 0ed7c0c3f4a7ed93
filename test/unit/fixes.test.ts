// Issue 11, the language side: a quick fix for each common mistake, completion of model ids and
// special tokens, one summary diagnostic for a huge verbalizer, hovers that read well with many
// examples. Every fix is applied to the text and the result checked again with the model's real
// tokenizer (loaded from ../shared/models through the real loading code): it must remove its
// diagnostic and leave no other.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  completeAt,
  hoverAt,
  parse,
  quickFixes,
  SELECT_MODEL_COMMAND,
  validateStructure,
  validateWithTokenizer,
  type Diagnostic,
  type DiagnosticCode,
  type FixContext,
  type QuickFix,
  type TokenizerView,
} from '../../server/src/language';
import { firstWords, formatPercent } from '../../server/src/language/format';
import { LABEL_SUMMARY_THRESHOLD } from '../../server/src/language/validateTokens';
import { topTokensFromPreview } from '../../server/src/lsp/fixHints';
import { HOVER_ROWS, labelWordHover, maskHover } from '../../server/src/lsp/previewHover';
import { listLocalModels } from '../../server/src/model/localModels';
import { computePreview } from '../../server/src/service/preview';
import { applyEdits, withCursor } from '../support/cursor';
import { engineFor } from '../support/directOnnx';
import { cliMain, fixturesDir, modelsDir, sst2Rows } from '../support/paths';
import { loadTokenizer, serviceFor } from '../support/service';

function check(text: string, tokenizer: TokenizerView | undefined): Diagnostic[] {
  const doc = parse(text);
  return [...validateStructure(doc), ...(tokenizer ? validateWithTokenizer(doc, tokenizer) : [])];
}

function codes(diagnostics: readonly Diagnostic[]): DiagnosticCode[] {
  return diagnostics.map((d) => d.code).sort();
}

/** The fixes for the diagnostics with `code` (there must be some), each applied and checked again. */
function fixesFor(
  text: string,
  tokenizer: TokenizerView | undefined,
  code: DiagnosticCode,
  context: FixContext = {},
): Array<{ fix: QuickFix; fixed: string; after: Diagnostic[] }> {
  const before = check(text, tokenizer).filter((d) => d.code === code);
  assert.ok(before.length > 0, `expected a ${code} in ${JSON.stringify(text)}; got ${JSON.stringify(check(text, tokenizer))}`);
  return quickFixes(parse(text), before, tokenizer, context).map((fix) => {
    const fixed = applyEdits(text, fix.edits);
    return { fix, fixed, after: check(fixed, tokenizer) };
  });
}

/** The one fix titled like `title`; its result must be a document without any diagnostic. */
function cleanFix(text: string, tokenizer: TokenizerView | undefined, code: DiagnosticCode, title: RegExp, context: FixContext = {}) {
  const all = fixesFor(text, tokenizer, code, context);
  const found = all.find((f) => title.test(f.fix.title));
  assert.ok(found, `no fix ${title} for ${code}; offered: ${JSON.stringify(all.map((f) => f.fix.title))}`);
  assert.deepEqual(codes(found.after), [], `after "${found.fix.title}": ${JSON.stringify(found.after.map((d) => d.message))}`);
  return { ...found, titles: all.map((f) => f.fix.title) };
}

const sentiment = (words: string, pattern = '{x} It was [MASK].'): string =>
  `pattern: ${pattern}\nverbalizer:\n  positive: ${words}\n  negative: bad\nexample positive: I like it.`;

describe('a multi-token label word → single tokens a user would mean', () => {
  // One word per family whose nearest single token is known from the vocabulary; every family of
  // ../shared/models, the Xenova exports included (ALBERT's SentencePiece `▁` vocabulary too).
  const cases: Array<[string, string, string]> = [
    ['tiny-random-bert-uncased', 'fantastically', 'fantastic'],
    ['tiny-random-bert-uncased', 'unbelievably', 'unbelievable'],
    ['tiny-random-bert-cased', 'fantastically', 'fantastic'],
    ['tiny-random-roberta', 'greatt', 'great'],
    ['tiny-random-bert-chinese', '很好', '好'],
    ['review-bert-small', 'wonderfull', 'wonderful'],
    ['review-bert-small-xenova', 'fantastically', 'fantastic'],
    ['tiny-random-distilbert-xenova', 'fantastically', 'fantastic'],
    ['tiny-random-albert-xenova', 'fantastically', 'fantastic'],
  ];
  for (const [model, word, meant] of cases) {
    test(`${model}: \`${word}\` → \`${meant}\`, by spelling`, async () => {
      const tokenizer = await loadTokenizer(model);
      const pattern = model.includes('chinese') ? '{x}这家餐厅太[MASK]了!' : '{x} It was [MASK].';
      const { fix, fixed, titles } = cleanFix(
        sentiment(word, pattern),
        tokenizer,
        'label-word-multi-token',
        new RegExp(`\`${meant}\`, a single token spelt like it`),
      );
      assert.match(fixed, new RegExp(`positive: ${meant}\n`));
      assert.equal(fix.isPreferred, false, 'a guess by spelling is never applied without a look');
      assert.ok(titles.length <= 8, `too many fixes: ${titles.join(' | ')}`);
    });
  }

  test('the other casing comes first and is preferred (cased BERT `Terrible`, uncased never needs one)', async () => {
    const cased = await loadTokenizer('tiny-random-bert-cased');
    const all = fixesFor(sentiment('Terrible'), cased, 'label-word-multi-token');
    assert.equal(all[0].fix.title, 'Replace with `terrible` (the single token terrible, id 6434)');
    assert.equal(all[0].fix.isPreferred, true);
    assert.equal(all.filter((f) => f.fix.isPreferred).length, 1);
  });

  test('the leading-space form: a word copied with its `Ġ`/`▁`/`##` marker loses it', async () => {
    const roberta = await loadTokenizer('tiny-random-roberta');
    cleanFix(sentiment('Ġgreat'), roberta, 'label-word-multi-token', /^Replace with `great` \(the single token Ġgreat, id 372\)/);
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    cleanFix(sentiment('##great'), uncased, 'label-word-multi-token', /^Replace with `great`/);
    // ALBERT's SentencePiece reads `▁` as the space it stands for: `▁great` is the token ▁great already.
    const albert = await loadTokenizer('tiny-random-albert-xenova');
    assert.deepEqual(codes(check(sentiment('▁great'), albert)), []);
  });

  test('RoBERTa: a word that is one token only after a space gets the space before [MASK]', async () => {
    const roberta = await loadTokenizer('tiny-random-roberta');
    const { fixed } = cleanFix(sentiment('Society', '{x}:[MASK]'), roberta, 'label-word-multi-token', /Put a space before \[MASK\]/);
    assert.match(fixed, /^pattern: \{x\}: \[MASK\]/);
  });

  test('a word another label already has is never offered (it would be label-word-ambiguous)', async () => {
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    const text = 'pattern: {x} It was [MASK].\nverbalizer:\n  positive: fantastically\n  negative: fantastic';
    const titles = fixesFor(text, uncased, 'label-word-multi-token').map((f) => f.fix.title);
    assert.ok(!titles.some((t) => /`fantastic`/.test(t)), titles.join(' | '));
  });

  test('nothing is offered for a word with no single token near it', async () => {
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    assert.deepEqual(
      fixesFor(sentiment('😀'), uncased, 'label-word-unknown').map((f) => f.fix.title),
      [],
    );
  });
});

describe("the model's own top tokens at the mask (review-bert-small, a real preview)", () => {
  test('a multi-token word of `positive` is offered what the model predicts for positive examples', async () => {
    const model = 'review-bert-small';
    const tokenizer = await loadTokenizer(model);
    const text = [
      'pattern: {review} It was [MASK].',
      'verbalizer:',
      '  positive: great, good, wonderful, fantasticly',
      '  negative: terrible',
      // The examples of examples/sentiment.cloze, where the model puts `horrible` at the mask for a positive one too.
      'example positive: I like the Disney films very much.',
      'example negative: The plot was dull and the acting was worse.',
      'example positive: A quiet, patient film that rewards attention.',
      "example negative: it 's slow -- very , very slow .",
    ].join('\n');
    const doc = parse(text);
    const preview = await computePreview(doc, tokenizer, (inputs, ids, k) => engineFor(model).then((e) => e.score(inputs, ids, k)), {
      topK: 10,
      calibrate: false,
    });
    const hints = topTokensFromPreview(doc, preview);
    const predicted = hints.topTokensByLabel.get('positive') ?? [];
    assert.ok(predicted.length >= 3, `the preview gives top tokens that separate positive examples: ${predicted.join(', ')}`);
    const all = fixesFor(text, tokenizer, 'label-word-multi-token', hints);
    const byModel = all.filter((f) => /which the model predicts at the mask for `positive`/.test(f.fix.title));
    assert.ok(byModel.length > 0, JSON.stringify(all.map((f) => f.fix.title)));
    for (const { fix, after } of byModel) {
      const word = /`([^`]+)`/.exec(fix.title)?.[1] ?? '';
      assert.ok(predicted.includes(word), `${word} is one of the model's top tokens`);
      assert.deepEqual(codes(after), [], fix.title);
    }
    // `terrible` stands for negative already: never offered for positive, even when predicted.
    assert.ok(!all.some((f) => /`terrible`/.test(f.fix.title)));
    // Nor a word the model puts there as much or more for the negative example (`horrible`, `bad`, `awful`).
    const tops = (label: string) => preview.examples.filter((e) => e.label === label).map((e) => e.results[0]!.top);
    const p = (top: ReadonlyArray<{ token: string; p: number }>, word: string): number => top.find((t) => t.token === word)?.p ?? 0;
    const mean = (label: string, word: string): number => tops(label).reduce((sum, top) => sum + p(top, word), 0) / tops(label).length;
    for (const { fix } of byModel) {
      const word = /`([^`]+)`/.exec(fix.title)?.[1] ?? '';
      assert.ok(
        mean('positive', word) > mean('negative', word),
        `${word}: ${mean('positive', word)} for positive, ${mean('negative', word)} for negative`,
      );
    }
    assert.ok(!byModel.some((f) => /`(horrible|awful|bad)`/.test(f.fix.title)), byModel.map((f) => f.fix.title).join('\n'));
  });
});

describe('an undeclared example label', () => {
  const doc = (label: string): string =>
    `pattern: {x} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\nexample ${label}: It was fine.\nexample positive: Good.`;

  test('→ the declared label it differs from in case, preferred', async () => {
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    const { fix, fixed } = cleanFix(doc('Positive'), uncased, 'label-undeclared', /^Change to `positive`$/);
    assert.equal(fix.isPreferred, true);
    assert.match(fixed, /example positive: It was fine\./);
  });

  test('→ a declared label spelt like it, or one it abbreviates', async () => {
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    cleanFix(doc('postive'), uncased, 'label-undeclared', /^Change to `positive`$/);
    cleanFix(doc('neg'), uncased, 'label-undeclared', /^Change to `negative`$/);
    // Nothing like `neutral` is declared: no change is offered, only the declaration.
    const titles = fixesFor(doc('neutral'), uncased, 'label-undeclared').map((f) => f.fix.title);
    assert.deepEqual(titles, ['Declare `neutral` in the verbalizer, with the label word `neutral`']);
  });

  test('→ declared in the verbalizer, with a label word that is one token, in the file’s own line breaks', async () => {
    for (const model of ['tiny-random-bert-cased', 'tiny-random-roberta', 'review-bert-small-xenova']) {
      const tokenizer = await loadTokenizer(model);
      const crlf = doc('neutral').replace(/\n/g, '\r\n');
      const { fixed } = cleanFix(crlf, tokenizer, 'label-undeclared', /^Declare `neutral`/);
      assert.match(fixed, /\r\n {2}negative: bad\r\n {2}neutral: neutral\r\nexample neutral/, model);
    }
  });

  test("a data file's undeclared labels → declared all at once, each with itself as its word", async () => {
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    const file = path.join(fixturesDir, 'diagnostics', 'x.cloze');
    const text = 'pattern: {review} It was [MASK].\nverbalizer:\n  good: great\ndata: ../data/reviews.jsonl';
    const doc = parse(text);
    const dataSets = await serviceFor('tiny-random-bert-uncased').dataSets(doc, file);
    const diagnostics = [...validateStructure(doc, dataSets), ...validateWithTokenizer(doc, uncased)];
    const undeclared = diagnostics.filter((d) => d.code === 'label-undeclared');
    assert.equal(undeclared.length, 1);
    const fixes = quickFixes(doc, undeclared, uncased, { dataSets });
    assert.deepEqual(
      fixes.map((f) => f.title),
      ['Declare `positive`, `negative` in the verbalizer, each with itself as its label word'],
    );
    const fixed = parse(applyEdits(text, fixes[0].edits));
    assert.match(fixed.text, /\n {2}good: great\n {2}positive: positive\n {2}negative: negative\ndata:/);
    assert.deepEqual([...validateStructure(fixed, dataSets), ...validateWithTokenizer(fixed, uncased)], []);
  });

  test('no declaration when no single-token word is known for it (bert-chinese has no `neutral`)', async () => {
    const chinese = await loadTokenizer('tiny-random-bert-chinese');
    const text = 'pattern: {x}这家餐厅太[MASK]了!\nverbalizer:\n  正面: 好\n  负面: 差\nexample 中性: 还行';
    assert.deepEqual(
      fixesFor(text, chinese, 'label-undeclared').map((f) => f.fix.title),
      [],
    );
  });
});

describe('a keyword typo', () => {
  for (const [typo, line] of [
    ['exmaple', 'exmaple positive: I like it.'],
    ['Example', 'Example positive: I like it.'],
    ['patern', 'patern two: {x} Just [MASK]!'],
    ['dta', 'dta: reviews.jsonl'],
  ] as const) {
    test(`\`${typo}\` → the keyword`, async () => {
      const uncased = await loadTokenizer('tiny-random-bert-uncased');
      const text = `pattern: {x} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\n${line}`;
      const diagnostic = check(text, uncased).find((d) => d.code === 'syntax');
      assert.match(diagnostic?.message ?? '', /Did you mean `[a-z]+`\?/);
      const all = fixesFor(text, uncased, 'syntax');
      assert.equal(all.length, 1, JSON.stringify(all.map((f) => f.fix.title)));
      assert.match(all[0].fix.title, new RegExp(`^Change \`${typo}\` to \`[a-z]+\`$`));
      // `data:` names a file the test has none of; the rest must be clean.
      assert.deepEqual(
        codes(all[0].after).filter((c) => c !== 'data-unreadable'),
        [],
      );
    });
  }

  test('not offered when the corrected line would be another error (a second verbalizer)', async () => {
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    const text = 'pattern: {x} It was [MASK].\nverbalizer:\n  positive: great\nverbalizr:\n  negative: bad';
    assert.match(check(text, uncased)[0].message, /Did you mean `verbalizer`\?/);
    assert.deepEqual(
      quickFixes(parse(text), check(text, uncased), uncased).filter((f) => /Change `verbalizr`/.test(f.title)),
      [],
    );
  });
});

describe('indentation mistakes', () => {
  test('verbalizer entries at column 1: the message says to indent; the fix indents the whole run', async () => {
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    const text = 'pattern: {x} It was [MASK].\nverbalizer:\npositive: great\n# a comment\nnegative: bad\nexample positive: Good.';
    const syntax = check(text, uncased).filter((d) => d.code === 'syntax');
    for (const d of syntax) assert.match(d.message, /indent/, d.message);
    const messages = syntax.map((d) => d.message).join('\n');
    assert.match(messages, /If it is an entry of the `verbalizer:` above, indent it/);
    const { fixed, fix } = cleanFix(text, uncased, 'syntax', /^Indent these 2 lines as entries of the `verbalizer:` above$/);
    assert.equal(fix.isPreferred, true);
    assert.match(fixed, /verbalizer:\n {2}positive: great\n# a comment\n {2}negative: bad\n/);
  });

  test('example fields at column 1 are indented like the others', async () => {
    const roberta = await loadTokenizer('tiny-random-roberta');
    const text =
      'pattern: {premise}? [MASK], {hypothesis}\nverbalizer:\n  yes: Yes\n  no: No\nexample yes:\n\tpremise: A man plays.\nhypothesis: Music.';
    const notStatement = check(text, roberta).find((d) => d.message.startsWith('This line is not a statement.'));
    assert.match(notStatement?.message ?? '', /If it is a field of the `example` above, indent it/);
    const { fixed } = cleanFix(text, roberta, 'syntax', /^Indent this line as a field of the example above$/);
    assert.match(fixed, /\n\thypothesis: Music\.$/);
  });

  test('an indented statement: the message says it is indented; the fix removes the indentation', async () => {
    const cased = await loadTokenizer('tiny-random-bert-cased');
    // Inside the verbalizer, `example positive: …` reads as a bad entry name.
    const inBlock = 'pattern: {x} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\n  example positive: I like it.';
    assert.match(check(inBlock, cased)[0].message, /The line is indented, so it is read as part of the block above/);
    const { fixed } = cleanFix(inBlock, cased, 'syntax', /^Remove the indentation/);
    assert.match(fixed, /\nexample positive: I like it\.$/);
    // With no block open, it is an unexpected indented line.
    const alone =
      'pattern: {x} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\nexample positive: Good.\n   pattern two: {x} [MASK]!';
    assert.match(check(alone, cased)[0].message, /Unexpected indented line/);
    cleanFix(alone, cased, 'syntax', /^Remove the indentation/);
  });

  for (const family of ['tiny-random-bert-uncased', 'tiny-random-roberta']) {
    test(`${family}/indentation.cloze: applying the offered fixes one by one leaves a clean file`, async () => {
      const tokenizer = await loadTokenizer(family);
      let text = fs.readFileSync(path.join(fixturesDir, 'diagnostics', family, 'indentation.cloze'), 'utf8');
      const applied: string[] = [];
      for (let round = 0; round < 10; round++) {
        const fix = quickFixes(parse(text), check(text, tokenizer), tokenizer)[0];
        if (!fix) break;
        applied.push(fix.title);
        text = applyEdits(text, fix.edits);
      }
      assert.deepEqual(check(text, tokenizer), [], `after ${applied.join(' / ')}:\n${text}`);
      assert.ok(applied.length >= 4, applied.join(' / '));
    });
  }

  test('no fix when neither indenting nor removing the indentation makes the document valid', async () => {
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    const text = 'pattern: {x} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\nexample positive: Good.\n  stray text';
    assert.deepEqual(quickFixes(parse(text), check(text, uncased), uncased), []);
  });
});

describe('a missing or unavailable model', () => {
  test('→ the client’s select-model command, and local ids spelt like the one written', () => {
    const local = listLocalModels(modelsDir(), '');
    assert.ok(local.some((m) => m.id === 'tiny-random-bert-uncased' && m.source === 'models-dir'));
    const text = 'model: tiny-random-bert-uncasd\npattern: {x} It was [MASK].\nverbalizer:\n  positive: great';
    const doc = parse(text);
    const diagnostic: Diagnostic = {
      code: 'model-unavailable',
      severity: 'error',
      message: 'Model … is unavailable',
      span: doc.models[0].idSpan,
    };
    const fixes = quickFixes(doc, [diagnostic], undefined, { localModels: local.map((m) => m.id) });
    assert.deepEqual(fixes[0].command, { title: 'Select a model…', command: SELECT_MODEL_COMMAND });
    assert.equal(SELECT_MODEL_COMMAND, 'cloze.selectModel');
    assert.deepEqual(fixes[0].edits, []);
    assert.equal(fixes[0].isPreferred, true);
    assert.equal(fixes[1].title, 'Use `tiny-random-bert-uncased`, found on this machine');
    assert.match(applyEdits(text, fixes[1].edits), /^model: tiny-random-bert-uncased\n/);
    // From the setting (the diagnostic on line 1, no `model:` line): only the command.
    const fromSettings = parse('pattern: {x} [MASK]');
    const onLine1: Diagnostic = { ...diagnostic, span: { start: 0, end: 19 } };
    assert.deepEqual(
      quickFixes(fromSettings, [onLine1], undefined, { localModels: ['tiny-random-bert-uncased'] }).map((f) => f.title),
      ['Select a model…'],
    );
  });

  test('`model:` with no value: the select-model command', () => {
    const text = 'model:\npattern: {x} It was [MASK].\nverbalizer:\n  positive: great';
    const diagnostics = check(text, undefined).filter((d) => d.code === 'syntax');
    assert.match(diagnostics[0]?.message ?? '', /^The model is missing/);
    const fixes = quickFixes(parse(text), diagnostics, undefined);
    assert.deepEqual(
      fixes.map((f) => [f.title, f.command?.command, f.edits.length]),
      [['Select a model…', 'cloze.selectModel', 0]],
    );
  });

  test('local models: ids in the models folder and `org/name` folders of the cache; a missing folder holds none', () => {
    const cache = path.join(modelsDir(), '..', 'models');
    assert.deepEqual(listLocalModels('', path.join(modelsDir(), 'no-such-folder')), []);
    const ids = listLocalModels(modelsDir(), cache).map((m) => m.id);
    for (const name of fs.readdirSync(modelsDir())) {
      if (fs.existsSync(path.join(modelsDir(), name, 'tokenizer.json'))) assert.ok(ids.includes(name), name);
    }
    assert.ok(!ids.includes('SOURCES.md'));
  });
});

describe('a huge verbalizer: one summary per label', () => {
  /** Words of review-bert-small's vocabulary that are single tokens, and some that are not. */
  function kbv(tokenizer: TokenizerView, good: number, bad: number): { text: string; words: string[] } {
    const single = tokenizer
      .vocabulary()
      .filter((t) => /^[a-z]{4,}$/.test(t))
      .slice(0, good);
    const multi = Array.from({ length: bad }, (_, i) => `${single[i % single.length]}ishly${'x'.repeat(i % 3)}`);
    const words = [...single.slice(0, good / 2), ...multi, ...single.slice(good / 2)];
    return { text: `pattern: {x} It was [MASK].\nverbalizer:\n  positive: ${words.join(', ')}\n  negative: bad`, words };
  }

  test(`more than ${LABEL_SUMMARY_THRESHOLD} problem words: one diagnostic on the label, each word as related information`, async () => {
    const tokenizer = await loadTokenizer('review-bert-small');
    const { text } = kbv(tokenizer, 2000, 37);
    const diagnostics = check(text, tokenizer);
    assert.deepEqual(codes(diagnostics), ['label-word-summary']);
    const [summary] = diagnostics;
    assert.match(
      summary.message,
      /^37 of 2037 words of `positive` are not single tokens in review-bert-small \(37 split into several tokens\)/,
    );
    assert.equal(text.slice(summary.span.start, summary.span.end), 'positive');
    assert.equal(summary.related?.length, 37);
    for (const r of summary.related ?? []) assert.match(text.slice(r.span.start, r.span.end), /ishly/);
    // The fix removes exactly those words; the label keeps the rest.
    const { fixed } = cleanFix(text, tokenizer, 'label-word-summary', /^Remove the 37 label words of `positive`/);
    assert.equal(parse(fixed).verbalizers[0].entries[0].words.length, 2000);
    // The label's hover names a few of its words and counts the rest.
    const hover = hoverAt(parse(text), summary.span.start + 1, tokenizer);
    assert.match(hover?.markdown ?? '', /and 2025 more \(2037 in all\); 0 examples in this file\.$/);
  });

  test('`cloze check` prints the words under the summary, and gives them as `related` in JSON', () => {
    const file = path.join(fixturesDir, 'diagnostics', 'tiny-random-bert-uncased', 'summary.cloze');
    const run = (format: string) =>
      spawnSync(process.execPath, [cliMain, 'check', '--models-dir', modelsDir(), '--offline', '--format', format, file], {
        encoding: 'utf8',
      });
    const text = run('text');
    assert.equal(text.status, 1, text.stderr);
    const lines = text.stdout.trim().split('\n');
    assert.match(lines[0], /summary\.cloze:8:3 error label-word-summary 12 of 13 words of `positive`/);
    assert.equal(lines.length, 13);
    assert.match(lines[1], /^ {2}\S+summary\.cloze:8:19 `fantastically` is not one token/);
    const json = JSON.parse(run('json').stdout) as Array<{
      diagnostics: Array<{ code: string; related?: Array<{ range: unknown; message: string }> }>;
    }>;
    const [summary] = json[0].diagnostics;
    assert.equal(summary.code, 'label-word-summary');
    assert.equal(summary.related?.length, 12);
    assert.deepEqual(summary.related?.[0].range, { start: { line: 7, character: 18 }, end: { line: 7, character: 31 } });
  });

  test(`${LABEL_SUMMARY_THRESHOLD} or fewer: one diagnostic per word, as before`, async () => {
    const tokenizer = await loadTokenizer('tiny-random-bert-uncased');
    const { text } = kbv(tokenizer, 20, LABEL_SUMMARY_THRESHOLD);
    assert.deepEqual(codes(check(text, tokenizer)), Array(LABEL_SUMMARY_THRESHOLD).fill('label-word-multi-token'));
  });
});

describe('completion', () => {
  function complete(source: string, models: string[] = []) {
    const { text, offset } = withCursor(source);
    return completeAt(parse(text), offset, { models: models.map((id) => ({ id, detail: 'models folder' })) }).map((p) => ({
      label: p.label,
      newText: p.insertText ?? p.label,
      replaced: text.slice(p.replace.start, p.replace.end),
      detail: p.detail,
    }));
  }

  test('model ids after `model:` from the models folder and cache (listed by the service layer)', () => {
    const local = listLocalModels(modelsDir(), '').map((m) => m.id);
    const proposals = complete('model: $$\npattern: {x} [MASK]', local);
    assert.deepEqual(
      proposals.map((p) => p.label),
      local,
    );
    assert.ok(local.includes('review-bert-small-xenova'));
    // The value typed so far is replaced, `/` and all.
    const typed = complete('model: Xenova/tiny-random-be$$', local);
    assert.equal(typed.find((p) => p.label === 'tiny-random-bert-cased')?.replaced, 'Xenova/tiny-random-be');
  });

  test('a hub id typed by the user is kept as typed, first', () => {
    const proposals = complete('model: Xenova/bert-base-unc$$', ['tiny-random-bert-uncased']);
    assert.deepEqual(proposals[0], {
      label: 'Xenova/bert-base-unc',
      newText: 'Xenova/bert-base-unc',
      replaced: 'Xenova/bert-base-unc',
      detail: 'as typed: a Hugging Face hub id or a folder path',
    });
    assert.equal(proposals.length, 2);
    // A local id typed in full is not repeated as "typed".
    assert.deepEqual(
      complete('model: tiny-random-bert-uncased$$', ['tiny-random-bert-uncased']).map((p) => p.label),
      ['tiny-random-bert-uncased'],
    );
  });

  test('`[MASK]` and `[SEP]` after `[` in a pattern; `[MASK]` only while the pattern has none', () => {
    assert.deepEqual(
      complete('pattern: {premise} [$$').map((p) => [p.label, p.replaced]),
      [
        ['[MASK]', '['],
        ['[SEP]', '['],
      ],
    );
    // An editor that closed the bracket: the `]` is not inserted again; a typed prefix is replaced.
    assert.deepEqual(complete('pattern: {x} It was [MA$$].')[0], {
      label: '[MASK]',
      newText: '[MASK',
      replaced: '[MA',
      detail: 'the position the model fills in (one per pattern)',
    });
    assert.deepEqual(
      complete('pattern: {premise} [MASK] [$$ {hypothesis}').map((p) => p.label),
      ['[SEP]'],
    );
    assert.deepEqual(complete('example: I typed [$$'), []);
  });

  test('`{` in a pattern offers the fields the examples use, and the columns of the data files', async () => {
    assert.deepEqual(
      complete('pattern: {$$\nexample:\n  premise: a\n  hypothesis: b').map((p) => p.label),
      ['premise', 'hypothesis'],
    );
    // The summary of a real data file, as the service layer reads it.
    const file = path.join(fixturesDir, 'data', 'pairs.csv');
    const text = 'pattern: {\ndata: pairs.csv';
    const summaries = await serviceFor('tiny-random-bert-uncased').dataSets(parse(text), path.join(fixturesDir, 'data', 'x.cloze'));
    const summary = summaries.get('pairs.csv');
    assert.ok(summary?.ok, file);
    const proposals = completeAt(parse(text), 10, { dataColumns: summary.columns });
    assert.deepEqual(
      proposals.map((p) => p.label),
      ['premise', 'hypothesis'],
    );
  });
});

describe('preview hovers with many examples (review-bert-small, 25 SST-2 sentences)', () => {
  test('examples by their first words, one percent format, at most 10 rows and "and K more"', async () => {
    const model = 'review-bert-small';
    const rows = sst2Rows(25);
    const text = [
      'pattern short: {review} It was [MASK].',
      'pattern lead: Just [MASK]! {review}',
      'verbalizer:',
      '  positive: great, good',
      '  negative: terrible, bad',
      ...rows.map((r) => `example ${r.label}: ${r.text}`),
    ].join('\n');
    const doc = parse(text);
    const preview = await computePreview(
      doc,
      await loadTokenizer(model),
      (inputs, ids, k) => engineFor(model).then((e) => e.score(inputs, ids, k)),
      {
        topK: 5,
        calibrate: false,
      },
    );
    const mask = maskHover(preview, 'short');
    const tableRows = mask.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| example'));
    assert.equal(tableRows.length, HOVER_ROWS);
    assert.match(mask, /_… and 15 more examples; the preview panel and `cloze preview` list all\._/);
    const wrong = preview.examples.filter((e) => e.results.find((r) => r.pattern === 'short')?.correct === false).length;
    const right = 25 - wrong;
    assert.match(mask, new RegExp(`25 examples: ${right} of 25 labelled examples right`));
    // Wrong predictions first, marked.
    if (wrong > 0) assert.match(tableRows[0], /\| ✗ /);
    // Named by first words, not line numbers: `it 's a charming and often…`.
    assert.match(mask, /\| it 's a charming and often… \(positive\) \|/);
    assert.doesNotMatch(mask, /\| line \d+/);
    // One number format: every probability is `d.d %` or `<0.1 %`; no exponent anywhere.
    assert.doesNotMatch(mask, /\de-\d/);
    const numbers = mask.match(/[<>]?\d+(\.\d)?\u00a0%/g) ?? [];
    assert.ok(numbers.length > 50, `${numbers.length} percentages`);
    assert.doesNotMatch(mask.replace(/[<>]?\d+(\.\d)?\u00a0%/g, ''), /%/);

    const word = labelWordHover(preview, 'negative', 'terrible');
    assert.equal(word.split('\n').filter((l) => l.startsWith('| ') && !/^\| (example|_mean)/.test(l)).length, HOVER_ROWS);
    assert.match(word, /\| _mean of 25_ \| \*\*\d+\.\d\u00a0%\*\* \| \*\*\d+\.\d\u00a0%\*\* \|/);
    assert.match(word, /and 15 more examples/);
    // The numbers say whose they are (the hover may hold a matrix of several models' tokens above them).
    assert.match(word, new RegExp(`^\\*\\*p\\(terrible \\| x\\)\\*\\* under \`${preview.model}\` and rank in its vocabulary`, 'm'));
    // A word the preview did not score (not a label word here, as a multi-token one is not): no table of dashes.
    assert.equal(labelWordHover(preview, 'negative', 'fantastically'), '');
  });

  test('an example with an error is not in the [MASK] hover or its tally, and the hover says so', async () => {
    const model = 'review-bert-small';
    const text = [
      'pattern a: {text} It was [MASK].',
      'pattern b: {text} {other} was [MASK].',
      'verbalizer:',
      '  positive: great',
      '  negative: terrible',
      'example positive: I loved this wonderful film.',
      'example negative:',
      '  text: The plot was dull and awful.',
      '  other: It',
      'example neutral:',
      '  text: Fine.',
      '  other: It',
    ].join('\n');
    const scorer: Parameters<typeof computePreview>[2] = (inputs, ids, k) => engineFor(model).then((e) => e.score(inputs, ids, k));
    const preview = await computePreview(parse(text), await loadTokenizer(model), scorer, { topK: 3, calibrate: false });
    // Line 6 lacks {other} (before, it was scored with the field left empty, at the prior's numbers); line 10's label is undeclared.
    assert.deepEqual(
      preview.excludedExamples.map((e) => [e.line, e.label]),
      [
        [6, 'positive'],
        [10, 'neutral'],
      ],
    );
    assert.deepEqual(
      preview.examples.map((e) => e.line),
      [7],
    );
    // Named by its text as written, though a one-line example fills none of two fields: the panel showed `(empty)`.
    assert.deepEqual(preview.excludedExamples[0].fields, { text: 'I loved this wonderful film.' });
    const hover = maskHover(preview, 'a');
    assert.match(hover, /1 example: 1 of 1 labelled examples right/);
    assert.doesNotMatch(hover, /I loved this|Fine\./);
    assert.match(hover, /_Not scored, for an error in them: the examples on lines 6, 10\._/);
    // Nothing left to score: the hover says why instead of nothing.
    const none = await computePreview(parse(text.split('\nexample negative:')[0]), await loadTokenizer(model), scorer, {
      topK: 3,
      calibrate: false,
    });
    assert.equal(maskHover(none, 'a'), '_Not scored, for an error in it: the example on line 6._');
  });

  test('a row of a verbalizer with many words lists the most probable ones and a count', async () => {
    const model = 'review-bert-small';
    const text =
      'pattern: {review} It was [MASK].\nverbalizer:\n  positive: great, good, excellent, wonderful, fine, nice, superb, lovely\n  negative: bad\nexample positive: A charming film.';
    const preview = await computePreview(
      parse(text),
      await loadTokenizer(model),
      (inputs, ids, k) => engineFor(model).then((e) => e.score(inputs, ids, k)),
      {
        topK: 3,
        calibrate: false,
      },
    );
    const row = maskHover(preview, 'pattern 1')
      .split('\n')
      .find((l) => l.includes('A charming film'));
    assert.ok(row, 'a row for the example');
    const cells = row.split(' | ');
    const listed = cells[2].split(', ');
    assert.equal(listed.length, 6);
    assert.equal(listed[5], '+4 more');
    // The five listed are the most probable of the nine words, best first.
    const best = [...preview.examples[0].results[0].labelWords].sort((a, b) => b.p - a.p)[0];
    assert.equal(listed[0], `${best.word} ${formatPercent(best.p)} (#${best.rank})`);
  });

  test('the percent format', () => {
    assert.deepEqual([0.1756, 0.0333, 0.00033, 0.0005, 0, 1, 0.99999, 0.5].map(formatPercent), [
      '17.6\u00a0%',
      '3.3\u00a0%',
      '<0.1\u00a0%',
      '0.1\u00a0%',
      '0\u00a0%',
      '100\u00a0%',
      '>99.9\u00a0%',
      '50.0\u00a0%',
    ]);
    assert.equal(firstWords('I like the Disney films very much, and I would watch them all again.'), 'I like the Disney films very…');
    assert.equal(firstWords('带女朋友去了一家餐厅,她吃的很开心,服务员态度也很好,下次还会再来这家店的', 12), '带女朋友去了一家餐厅,…');
  });
});

describe('a fix never trades its problem for another (found by fuzzing the examples)', () => {
  test('an empty label word on an entry is not fixed by ending the verbalizer (no "Remove the indentation")', async () => {
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    const text = 'pattern: {review} It was [MASK].\nverbalizer:\n  positive: great, good\n  negative: bad,, worse,';
    const fixes = quickFixes(parse(text), check(text, uncased), uncased);
    assert.deepEqual(
      fixes.map((f) => f.title),
      [],
    );
  });

  test('a syntax error is not fixed by another syntax error: fields indented into a repeated field are not offered', async () => {
    const roberta = await loadTokenizer('tiny-random-roberta');
    const text =
      'pattern: {premise}? [MASK], {hypothesis}\nverbalizer:\n  yes: Yes\n  no: No\nexample yes:\n  premise: A man plays.\nhypothesis: Someone plays.\nhypothesis: Someone makes music.';
    for (const { fix, after } of fixesFor(text, roberta, 'syntax')) {
      const before = check(text, roberta).map((d) => d.message);
      assert.ok(
        after.every((d) => before.includes(d.message)),
        `"${fix.title}" adds ${JSON.stringify(after.filter((d) => !before.includes(d.message)).map((d) => d.message))}`,
      );
    }
  });

  test('a `name: value` line after a verbalizer that is also a keyword typo: both fixes, neither preferred', async () => {
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    const text = 'pattern: {q} [MASK].\nverbalizer:\n  loc: where\ndate: day';
    const [syntax] = check(text, uncased).filter((d) => d.code === 'syntax');
    assert.match(syntax.message, /Did you mean `data`\? If it is an entry of the `verbalizer:` above, indent it/);
    const fixes = quickFixes(parse(text), [syntax], uncased);
    assert.deepEqual(fixes.map((f) => [f.title, f.isPreferred]).sort(), [
      ['Change `date` to `data`', false],
      ['Indent this line as an entry of the `verbalizer:` above', false],
    ]);
  });

  for (const [pattern, header] of [
    ['pattern: {x} It was [MASK].', 'verbalizer space=before:'],
    ['pattern verbalizer=v2: {x} It was [MASK].', 'verbalizer v2:'],
  ]) {
    test(`entries at column 1 under \`${header}\` are told to indent, and the fix does`, async () => {
      const uncased = await loadTokenizer('tiny-random-bert-uncased');
      const text = `${pattern}\n${header}\n  pos: great\nneg: bad`;
      const syntax = check(text, uncased).filter((d) => d.code === 'syntax');
      assert.match(syntax[0]?.message ?? '', /If it is an entry of the `verbalizer:` above, indent it/);
      const { fixed } = cleanFix(text, uncased, 'syntax', /^Indent this line as an entry/);
      assert.match(fixed, /\n {2}neg: bad$/);
    });
  }

  test('RoBERTa: a mask at the start of segment B follows no space, and no fix "spaces" it', async () => {
    const roberta = await loadTokenizer('tiny-random-roberta');
    const text = 'pattern: {h}? [SEP+][MASK], {p}\nverbalizer:\n  pos: Society\n  neg: Science';
    assert.ok(check(text, roberta).some((d) => d.code === 'label-word-multi-token' && /Society/.test(d.message)));
    // With the space the mask still starts the second text: the same verdict, and no fix offers it.
    const spaced = text.replace('[SEP+][MASK]', '[SEP+] [MASK]');
    assert.ok(check(spaced, roberta).some((d) => d.code === 'label-word-multi-token' && /Society/.test(d.message)));
    const titles = quickFixes(parse(text), check(text, roberta), roberta).map((f) => f.title);
    assert.ok(!titles.some((t) => /Put a space before \[MASK\]/.test(t)), titles.join(' | '));
  });

  test("with two verbalizers, a word's fixes and hover use the masks of the patterns that choose its verbalizer", async () => {
    const roberta = await loadTokenizer('tiny-random-roberta');
    const text =
      'pattern a: {x}:[MASK]\npattern b verbalizer=v: {x}:[MASK]\nverbalizer:\n  pos: great\n  neg: bad\nverbalizer v:\n  pos: Society\n  neg: bad';
    const { fixed, fix } = cleanFix(text, roberta, 'label-word-multi-token', /Put a space before \[MASK\]/);
    assert.match(fix.title, /pattern `b`/);
    assert.doesNotMatch(fix.title, /pattern `a`/);
    assert.match(fixed, /^pattern a: \{x\}:\[MASK\]\npattern b verbalizer=v: \{x\}: \[MASK\]/);
    // Hover on `Society` in a's verbalizer: only pattern a's mask (after a space) is described.
    const spacedA =
      'pattern a: {x} It was [MASK].\npattern b verbalizer=v: {x}:[MASK]\nverbalizer:\n  pos: Society\n  neg: bad\nverbalizer v:\n  pos: great\n  neg: bad';
    const hover = hoverAt(parse(spacedA), spacedA.indexOf('Society'), roberta);
    assert.ok(hover);
    assert.doesNotMatch(hover.markdown, /follows no space/);
    assert.match(hover.markdown, /one token/);
  });
});

describe('label words, carelessly written', () => {
  test('`neg: ,` is one empty-word error and a label with no words', () => {
    const text = 'pattern: {x} It was [MASK].\nverbalizer:\n  pos: great\n  neg: ,';
    const messages = check(text, undefined).map((d) => d.message);
    assert.equal(messages.filter((m) => m === 'Empty label word: remove the extra comma.').length, 1, messages.join('\n'));
    assert.ok(
      messages.some((m) => /^Label `neg` has no label words/.test(m)),
      messages.join('\n'),
    );
  });

  test('quotes hold a word with at most one space (U+0020) before it, not a tab or a no-break space', () => {
    for (const word of ['"\tgreat"', '"\u00a0great"', '"  great"', '"great\t"']) {
      const text = `pattern: {x} It was [MASK].\nverbalizer:\n  pos: ${word}\n  neg: bad`;
      assert.ok(
        check(text, undefined).some((d) => d.code === 'syntax' && /A quoted label word is written/.test(d.message)),
        word,
      );
    }
    const good = 'pattern: {x} It was [MASK].\nverbalizer:\n  pos: " great", "great"\n  neg: bad';
    assert.deepEqual(check(good, undefined), []);
  });

  test('RoBERTa: `"great"` and `" great"` are two tokens and both count, so neither is a repeat', async () => {
    const roberta = await loadTokenizer('tiny-random-roberta');
    const text = 'pattern: {x} It was [MASK].\nverbalizer:\n  pos: "great", " great"\n  neg: bad';
    assert.deepEqual(codes(check(text, roberta)), []);
    const repeated = 'pattern: {x} It was [MASK].\nverbalizer:\n  pos: " great", " great"\n  neg: bad';
    assert.deepEqual(codes(check(repeated, roberta)), ['label-word-repeated']);
    // A word without quotes is scored in the form its masks give (here after a space: Ġgreat), or `space=` fixes.
    const unquoted = (header: string, words: string): string => `pattern: {x} It was [MASK].\n${header}\n  pos: ${words}\n  neg: bad`;
    assert.deepEqual(codes(check(unquoted('verbalizer:', '"great", great'), roberta)), []);
    assert.deepEqual(codes(check(unquoted('verbalizer space=before:', '"great", great'), roberta)), []);
    assert.deepEqual(codes(check(unquoted('verbalizer:', '" great", great'), roberta)), ['label-word-repeated']);
    assert.deepEqual(codes(check(unquoted('verbalizer space=none:', '"great", great'), roberta)), ['label-word-repeated']);
  });
});

describe('completion, carelessly placed', () => {
  test('a colon already after the cursor is not written again (example labels, field names)', () => {
    const label = withCursor('pattern: {x} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\nexample pos$$: I liked it');
    const proposal = completeAt(parse(label.text), label.offset).find((p) => p.label === 'positive');
    assert.equal(proposal?.insertText, 'positive');
    const field = withCursor(
      'pattern: {premise} [MASK] {hypothesis}\nverbalizer:\n  yes: yes\n  no: no\nexample yes:\n  prem$$: A man\n  hypothesis: x',
    );
    const fieldProposal = completeAt(parse(field.text), field.offset).find((p) => p.label === 'premise');
    assert.equal(fieldProposal?.insertText, 'premise');
    // Without a colon after it, the colon and space are written as before.
    const bare = withCursor('pattern: {x} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\nexample pos$$');
    assert.equal(completeAt(parse(bare.text), bare.offset).find((p) => p.label === 'positive')?.insertText, 'positive: ');
  });

  test('an escaped `\\[` or `\\{` is literal text: no [MASK] or field is proposed there', () => {
    for (const typed of ['pattern: {x} It was \\[$$', 'pattern: {x} [MASK] \\{$$']) {
      const { text, offset } = withCursor(typed);
      assert.deepEqual(completeAt(parse(text), offset), [], typed);
    }
    // An escaped backslash before it leaves the bracket a bracket.
    const { text, offset } = withCursor('pattern: {x} It was \\\\[$$');
    assert.ok(completeAt(parse(text), offset).some((p) => p.label === '[MASK]'));
  });
});
