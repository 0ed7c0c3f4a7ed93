// Several models at once (issue 13, item 4): the `models:` line, its structural checks, the label
// words checked against each model's real tokenizer (three tokenizer families: WordPiece, byte-level
// BPE, SentencePiece), the default model, the model × token hover, completion and the outline.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  completeAt,
  documentSymbols,
  labelWordMatrix,
  parse,
  validateStructure,
  type ClozeDocument,
  type Diagnostic,
} from '../../server/src/language';
import { nodeAt } from '../../server/src/language/find';
import { modelHover } from '../../server/src/language/models';
import { withCursor } from '../support/cursor';
import { cliMain, modelsDir } from '../support/paths';
import { loadTokenizer, serviceFor } from '../support/service';

const THREE = 'tiny-random-bert-uncased, tiny-random-roberta, tiny-random-albert-xenova';

function slice(doc: ClozeDocument, d: { span: { start: number; end: number } }): string {
  return doc.text.slice(d.span.start, d.span.end);
}

describe('the models: line', () => {
  test('is parsed into its ids with their exact spans; a file without one has none', () => {
    const doc = parse('models:  a/b ,./mine,  c\npattern: {x} [MASK].\n');
    assert.deepEqual(
      doc.modelLists[0].entries.map((e) => [e.id, slice(doc, { span: e.idSpan })]),
      [
        ['a/b', 'a/b'],
        ['./mine', './mine'],
        ['c', 'c'],
      ],
    );
    assert.equal(doc.syntaxErrors.length, 0);
    assert.equal(parse('model: a\npattern: {x} [MASK].').modelLists.length, 0);
  });

  test('an empty id, a missing list, a missing colon are syntax errors on what is wrong', () => {
    const doc = parse('models: a, , b,\n');
    assert.deepEqual(
      doc.syntaxErrors.map((d) => [d.message, slice(doc, d)]),
      [
        ['Empty model id: remove the extra comma.', ','],
        ['Empty model id: remove the extra comma.', ','],
      ],
    );
    assert.deepEqual(
      doc.modelLists[0].entries.map((e) => e.id),
      ['a', 'b'],
    );
    assert.match(parse('models:\n').syntaxErrors[0].message, /The models are missing/);
    assert.match(parse('models a, b\n').syntaxErrors[0].message, /Expected `models: <model id>, <model id>, …`/);
    // `Models:` is not a keyword; the parser suggests one.
    assert.match(parse('Models: a\n').syntaxErrors[0].message, /Did you mean `model/);
  });

  test('a model listed twice is a warning on the repeat; a second models: line an error', () => {
    const doc = parse('models: a, b, a\nmodels: c\npattern: {x} It was [MASK].\nverbalizer:\n  p: great\n');
    const duplicates = validateStructure(doc).filter((d) => d.code === 'model-duplicate');
    assert.deepEqual(
      duplicates.map((d) => [d.severity, slice(doc, d)]),
      [
        ['error', 'models: c'],
        ['warning', 'a'],
      ].sort(),
    );
    assert.equal(duplicates.find((d) => d.severity === 'warning')!.span.start, doc.text.indexOf('a', 12));
  });

  test('the outline lists each model; completion offers the keyword and local ids not listed yet', () => {
    const doc = parse(`models: ${THREE}\n`);
    assert.deepEqual(
      documentSymbols(doc).map((s) => [s.name, s.kind]),
      THREE.split(', ').map((id) => [id, 'model']),
    );
    const keyword = withCursor('mo$$');
    assert.ok(completeAt(parse(keyword.text), keyword.offset).some((p) => p.label === 'models' && p.insertText === 'models: '));
    const { text, offset } = withCursor('models: tiny-random-roberta, tiny$$');
    const local = ['tiny-random-roberta', 'tiny-random-bert-uncased', 'review-bert-small'].map((id) => ({ id, detail: 'models folder' }));
    const proposals = completeAt(parse(text), offset, { models: local });
    assert.deepEqual(
      proposals.filter((p) => p.detail === 'models folder').map((p) => p.label),
      ['tiny-random-bert-uncased', 'review-bert-small'],
    );
    // Each replaces the item being typed, not the whole list.
    for (const p of proposals) assert.equal(text.slice(p.replace.start, p.replace.end), 'tiny');
    // Nor the default model of the `model:` line: it is checked and scored already.
    const withDefault = withCursor('model: review-bert-small\nmodels: tiny-random-roberta, $$');
    assert.deepEqual(
      completeAt(parse(withDefault.text), withDefault.offset, { models: local })
        .filter((p) => p.detail === 'models folder')
        .map((p) => p.label),
      ['tiny-random-bert-uncased'],
    );
  });
});

describe('label words checked against every model (real tokenizers)', () => {
  const text = [
    'model: tiny-random-bert-uncased',
    `models: ${THREE}`,
    'pattern: {review} It was [MASK].',
    'verbalizer:',
    '  positive: great, unbelievable, Great',
    '  negative: terrible, 😀',
    '',
  ].join('\n');

  async function check(
    source: string,
    defaultModel = 'tiny-random-bert-cased',
  ): Promise<{ doc: ClozeDocument; diagnostics: Diagnostic[] }> {
    const doc = parse(source);
    return { doc, diagnostics: await serviceFor(defaultModel).check(doc, undefined) };
  }

  test('each diagnostic names the model it is about; a word fine in one family fails in another', async () => {
    const { doc, diagnostics } = await check(text);
    const about = (word: string): string[] =>
      diagnostics
        .filter((d) => slice(doc, d) === word && d.code.startsWith('label-word'))
        .map((d) => `${d.code} ${/ (?:in|of) (tiny-random-[\w-]+)/.exec(d.message)?.[1]}`)
        .sort();
    // SentencePiece (ALBERT) splits it; WordPiece and byte-level BPE have it as one token.
    assert.deepEqual(about('unbelievable'), ['label-word-multi-token tiny-random-albert-xenova']);
    // The uncased models lower-case `Great` into `great`; the cased BPE keeps `ĠGreat` apart.
    assert.deepEqual(about('Great'), ['label-word-repeated tiny-random-albert-xenova', 'label-word-repeated tiny-random-bert-uncased']);
    // Unknown in WordPiece, split into byte pieces in BPE, `▁ <unk>` in SentencePiece.
    assert.deepEqual(about('😀'), [
      'label-word-multi-token tiny-random-albert-xenova',
      'label-word-multi-token tiny-random-roberta',
      'label-word-unknown tiny-random-bert-uncased',
    ]);
    assert.deepEqual(about('great'), []);
    // The other models' checks say whose they are (quick fixes answer only the default model's).
    assert.deepEqual([...new Set(diagnostics.filter((d) => d.code.startsWith('label-word')).map((d) => d.model ?? 'default'))].sort(), [
      'default',
      'tiny-random-albert-xenova',
      'tiny-random-roberta',
    ]);
    assert.match(diagnostics.find((d) => slice(doc, d) === 'unbelievable')!.message, /▁un be liev able/);
  });

  test('without models: the file is checked against its one model, as before', async () => {
    const { diagnostics } = await check(text.replace(/^models:.*\n/m, ''));
    assert.ok(diagnostics.length > 0);
    assert.ok(
      diagnostics.every((d) => !/roberta|albert/.test(d.message)),
      diagnostics.map((d) => d.message).join('\n'),
    );
  });

  test('without model: the first listed model is the default; the setting is not used', async () => {
    const doc = parse(text.replace(/^model:.*\n/m, ''));
    const service = serviceFor('tiny-random-bert-cased');
    const choice = service.modelChoice(doc, undefined);
    assert.equal(choice.id, 'tiny-random-bert-uncased');
    assert.equal(slice(doc, choice), 'tiny-random-bert-uncased');
    assert.deepEqual(
      service.otherModelChoices(doc, undefined, choice).map((c) => c.id),
      ['tiny-random-roberta', 'tiny-random-albert-xenova'],
    );
    const diagnostics = await service.check(doc, undefined);
    assert.ok(!diagnostics.some((d) => d.message.includes('tiny-random-bert-cased')));
  });

  test('the cloze.models setting adds models to a file without a models: line, and names itself when one is missing', async () => {
    const doc = parse('model: tiny-random-bert-uncased\npattern: {review} It was [MASK].\nverbalizer:\n  p: unbelievable\n  n: bad\n');
    const service = serviceFor('tiny-random-bert-uncased');
    const choice = service.modelChoice(doc, undefined);
    const others = service.otherModelChoices(doc, undefined, choice, [
      'tiny-random-albert-xenova',
      'no-such-model',
      'tiny-random-bert-uncased',
    ]);
    assert.deepEqual(
      others.map((c) => c.id),
      ['tiny-random-albert-xenova', 'no-such-model'],
    );
    const diagnostics = await service.otherChecks(doc, others);
    assert.ok(diagnostics.some((d) => d.code === 'label-word-multi-token' && d.message.includes('tiny-random-albert-xenova')));
    const missing = diagnostics.find((d) => d.code === 'model-unavailable')!;
    assert.match(missing.message, /^Model no-such-model is unavailable \(the cloze\.models setting lists it\)/);
    // A models: line replaces the setting.
    const listed = parse('models: tiny-random-roberta\n' + doc.text);
    assert.deepEqual(
      service.otherModelChoices(listed, undefined, service.modelChoice(listed, undefined), ['tiny-random-albert-xenova']).map((c) => c.id),
      ['tiny-random-roberta'],
    );
  });

  test('a listed model that is not found is model-unavailable on its own id, naming it', async () => {
    const { doc, diagnostics } = await check(
      `model: tiny-random-bert-uncased\nmodels: tiny-random-roberta, nosuch/model\n${text.split('\n').slice(2).join('\n')}`,
    );
    const unavailable = diagnostics.filter((d) => d.code === 'model-unavailable');
    assert.equal(unavailable.length, 1);
    assert.equal(slice(doc, unavailable[0]), 'nosuch/model');
    assert.match(unavailable[0].message, /^Model nosuch\/model is unavailable: /);
  });

  test('the label-word hover is a model × token matrix', async () => {
    const tokenizers = await Promise.all(THREE.split(', ').map(loadTokenizer));
    const hover = (source: string): string => {
      const { text: t, offset } = withCursor(source);
      const doc = parse(t);
      const node = nodeAt(doc, offset);
      assert.equal(node?.kind, 'label-word');
      if (node?.kind !== 'label-word') throw new Error('unreachable');
      return labelWordMatrix(doc, node.word, node.entry, tokenizers);
    };
    const spaced = hover('pattern: {r} It was [MASK].\nverbalizer:\n  positive: unbeliev$$able\n');
    assert.match(spaced, /one token in 2 of 3 models/);
    assert.match(spaced, /\| tiny-random-bert-uncased \| `unbelievable` \(\d+\) ✓ \|/);
    assert.match(spaced, /\| tiny-random-roberta \| `Ġunbelievable` \(\d+\) ✓ \|/);
    assert.match(spaced, /\| tiny-random-albert-xenova \| `▁un be liev able` ✗ 4 tokens \|/);
    // Both mask contexts: a column each; RoBERTa's glued form differs.
    const both = hover('pattern a: {r} It was [MASK].\npattern b: {r}[MASK].\nverbalizer:\n  positive: gr$$eat\n');
    assert.match(both, /\| model \| after a space \| no space \|/);
    assert.match(both, /\| tiny-random-roberta \| `Ġgreat` \(372\) ✓ \| `great` \(12338\) ✓ \|/);
  });
});

describe('the model id hover', () => {
  test("keeps the reason's code spans as code and shows the rest as written", () => {
    const doc = parse('model: no_such-model\n');
    const where = 'Not found: `no_such-model` is neither in /tmp/my_models nor in the download cache';
    const markdown = modelHover(doc.models[0], { role: 'default', where });
    assert.ok(markdown.includes('`no_such-model` is neither in /tmp/my\\_models'), markdown);
    assert.ok(!markdown.includes('\\`'), markdown);
  });
});

describe('one model folder named twice, under two spellings', () => {
  test('is a model-duplicate warning on the second, and is checked and previewed once', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-same-model-'));
    const file = path.join(dir, 'same.cloze');
    const roberta = path.relative(dir, path.join(modelsDir(), 'tiny-random-roberta'));
    fs.writeFileSync(
      file,
      [
        'model: review-bert-small',
        `models: ${path.join(modelsDir(), 'review-bert-small')}/, tiny-random-roberta, ${roberta}`,
        'pattern a: {text} It was [MASK].',
        'verbalizer:',
        '  positive: great',
        '  negative: terrible',
        'example positive: A fine film.',
        '',
      ].join('\n'),
    );
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [cliMain, ...args, file, '--models-dir', modelsDir(), '--offline'], { encoding: 'utf8' });
    const check = run('check');
    const warnings = check.stdout.split('\n').filter((line) => line.includes('model-duplicate'));
    assert.equal(warnings.length, 2, check.stdout);
    assert.match(warnings[0], /is the model folder of `review-bert-small`/);
    assert.match(warnings[1], /is the model folder of `tiny-random-roberta`/);
    const preview = JSON.parse(run('preview', '--format', 'json').stdout) as { models: string[] };
    assert.deepEqual(preview.models, ['review-bert-small', 'tiny-random-roberta']);
  });
});
