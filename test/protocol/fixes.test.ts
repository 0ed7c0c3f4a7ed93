import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { CodeAction, CodeLens, CompletionItem, Diagnostic, Hover } from 'vscode-languageserver-protocol';
import { startServer, type TestClient } from '../support/lsp';
import { modelsDir, repoRoot } from '../support/paths';

/**
 * Issue 11 over the protocol, as an editor sees it: code actions that run the client's
 * select-model command, fixes for typos and indentation, completion of the model ids of the
 * models folder, and a huge verbalizer published as one diagnostic with related information.
 */

const file = (name: string): string => pathToFileURL(path.join(repoRoot, 'test', 'fixtures', name)).href;

describe('issue 11 fixes and completion over stdio', () => {
  let client: TestClient;

  before(async () => {
    client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
  });

  after(async () => client.close());

  async function open(uri: string, text: string, accept: (d: Diagnostic[]) => boolean): Promise<Diagnostic[]> {
    const published = client.diagnostics(uri, accept);
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
    return published;
  }

  async function actions(uri: string, diagnostic: Diagnostic): Promise<CodeAction[]> {
    return (await client.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: diagnostic.range,
      context: { diagnostics: [diagnostic] },
    })) as CodeAction[];
  }

  test('an unavailable model: a code action that runs cloze.selectModel for this file, and the local id spelt like it', async () => {
    const uri = file('protocol-model-typo.cloze');
    const text = 'model: tiny-random-bert-uncasd\npattern: {x} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\n';
    const diagnostics = await open(uri, text, (d) => d.some((x) => x.code === 'model-unavailable'));
    const unavailable = diagnostics.find((d) => d.code === 'model-unavailable')!;
    const offered = await actions(uri, unavailable);
    assert.deepEqual(offered[0].command, { title: 'Select a model…', command: 'cloze.selectModel', arguments: [uri] });
    assert.equal(offered[0].edit, undefined);
    assert.equal(offered[0].kind, 'quickfix');
    assert.deepEqual(offered[0].diagnostics, [unavailable]);
    const use = offered.find((a) => a.title === 'Use `tiny-random-bert-uncased`, found on this machine');
    assert.deepEqual(use?.edit?.changes?.[uri], [{ range: unavailable.range, newText: 'tiny-random-bert-uncased' }]);
  });

  test('a keyword typo and unindented verbalizer entries get their fixes', async () => {
    const uri = file('protocol-typos.cloze');
    const text =
      'model: tiny-random-bert-cased\npattern: {x} It was [MASK].\nverbalizer:\npositive: great\nnegative: bad\nexmaple: I like it.\n';
    const diagnostics = await open(uri, text, (d) => d.filter((x) => x.code === 'syntax').length >= 3);
    const typo = diagnostics.find((d) => /Did you mean `example`/.test(d.message))!;
    const [change] = await actions(uri, typo);
    assert.equal(change.title, 'Change `exmaple` to `example`');
    assert.equal(change.isPreferred, true);
    assert.deepEqual(change.edit?.changes?.[uri], [
      { range: { start: { line: 5, character: 0 }, end: { line: 5, character: 7 } }, newText: 'example' },
    ]);
    const entry = diagnostics.find((d) => d.range.start.line === 3)!;
    assert.match(entry.message, /indent it/);
    const [indent] = await actions(uri, entry);
    assert.equal(indent.title, 'Indent these 2 lines as entries of the `verbalizer:` above');
    assert.deepEqual(
      indent.edit?.changes?.[uri]?.map((e) => [e.range.start.line, e.newText]),
      [
        [3, '  '],
        [4, '  '],
      ],
    );
  });

  test('completion after `model:` lists the models folder', async () => {
    const uri = file('protocol-complete.cloze');
    await open(uri, 'model: tiny\npattern: {x} It was [MASK].\n', () => true);
    const items = (await client.connection.sendRequest('textDocument/completion', {
      textDocument: { uri },
      position: { line: 0, character: 11 },
    })) as CompletionItem[];
    const labels = items.map((i) => i.label);
    for (const id of ['tiny-random-bert-uncased', 'tiny-random-roberta', 'review-bert-small-xenova']) assert.ok(labels.includes(id), id);
    const roberta = items.find((i) => i.label === 'tiny-random-roberta')!;
    assert.match(roberta.detail ?? '', /^models folder: /);
    assert.deepEqual(roberta.textEdit, {
      range: { start: { line: 0, character: 7 }, end: { line: 0, character: 11 } },
      newText: 'tiny-random-roberta',
    });
    // `tiny` is no local id: it is offered first, as typed.
    assert.equal(items.find((i) => i.sortText === '0')?.label, 'tiny');
  });

  test('with a preview computed (review-bert-small), a multi-token word is offered what the model predicts; the [MASK] hover reads well', async () => {
    const uri = file('protocol-predicted.cloze');
    const text = [
      'model: review-bert-small',
      'pattern short: {review} It was [MASK].',
      'verbalizer:',
      '  positive: fantasticly, good',
      '  negative: terrible',
      'example positive: A charming and often affecting journey.',
      'example positive: I like the Disney films very much.',
      'example negative: The plot was dull and the acting was worse.',
      '',
    ].join('\n');
    const diagnostics = await open(uri, text, (d) => d.some((x) => x.code === 'label-word-multi-token'));
    // The lenses start the preview in the worker; resolving them waits for it.
    const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
    await Promise.all(lenses.map((lens) => (lens.command ? lens : client.connection.sendRequest('codeLens/resolve', lens))));
    const multi = diagnostics.find((d) => d.code === 'label-word-multi-token')!;
    const titles = (await actions(uri, multi)).map((a) => a.title);
    assert.ok(
      titles.some((t) => /^Replace with `\w+`, which the model predicts at the mask for `positive`/.test(t)),
      titles.join('\n'),
    );
    const hover = (await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 1, character: 33 },
    })) as Hover;
    const value = (hover.contents as { value: string }).value;
    assert.match(value, /\*\*At the mask of `short`\*\* \(review-bert-small\), 3 examples: \d of 3 labelled examples right:/);
    assert.match(value, /\| I like the Disney films very… \(positive\) \| [✓✗] positive \d+\.\d\u00a0% \|/);
    assert.doesNotMatch(value, /\de-\d/);
  });

  test('a huge verbalizer is published as one diagnostic with each word as related information', async () => {
    const uri = file('protocol-kbv.cloze');
    const bad = Array.from({ length: 40 }, (_, i) => `zzq${i}xv`);
    const text = `model: tiny-random-bert-uncased\npattern: {x} It was [MASK].\nverbalizer:\n  positive: great, ${bad.join(', ')}\n  negative: bad\n`;
    const diagnostics = await open(uri, text, (d) => d.some((x) => x.code === 'label-word-summary'));
    assert.equal(diagnostics.length, 1);
    const [summary] = diagnostics;
    assert.match(summary.message, /^40 of 41 words of `positive` are not single tokens/);
    assert.equal(summary.relatedInformation?.length, 40);
    assert.equal(summary.relatedInformation?.[0].location.uri, uri);
    assert.deepEqual(summary.relatedInformation?.[0].location.range, {
      start: { line: 3, character: 19 },
      end: { line: 3, character: 25 },
    });
    const [remove] = await actions(uri, summary);
    assert.equal(remove.title, 'Remove the 40 label words of `positive` that cannot be scored as they are');
    assert.deepEqual(remove.edit?.changes?.[uri]?.[0]?.newText, 'great');
  });
});
