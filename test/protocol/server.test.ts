import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { CodeAction, CompletionItem, Diagnostic, DocumentSymbol, Hover } from 'vscode-languageserver-protocol';
import { startServer, type TestClient } from '../support/lsp';
import { modelsDir, repoRoot } from '../support/paths';

/**
 * The real server over stdio, as an editor drives it: diagnostics arrive in
 * two steps (structure at once, tokenizer checks once the tokenizer has
 * loaded), follow edits, and the requests answer.
 */

const uri = pathToFileURL(path.join(repoRoot, 'test', 'fixtures', 'protocol-virtual.cloze')).href;
const text = [
  'model: tiny-random-bert-cased',
  'pattern short: {review} It was [MASK] [MASK].',
  'pattern lead: Just [MASK]! {review}',
  'verbalizer:',
  '  positive: great',
  '  negative: Terrible',
  'example positive: I like the Disney films very much.',
  '',
].join('\n');

const codes = (diagnostics: Diagnostic[]): string[] => diagnostics.map((d) => String(d.code)).sort();

describe('language server over stdio', () => {
  let client: TestClient;
  let first: Diagnostic[];
  let full: Diagnostic[];

  before(async () => {
    client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    const firstPublish = client.diagnostics(uri);
    const fullPublish = client.diagnostics(uri, (d) => d.some((x) => x.code === 'label-word-multi-token'));
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
    first = await firstPublish;
    full = await fullPublish;
  });

  after(async () => client.close());

  test('structural diagnostics come first, without waiting for the tokenizer', () => {
    assert.deepEqual(codes(first), ['mask-multiple']);
    assert.deepEqual(first[0].range, { start: { line: 1, character: 38 }, end: { line: 1, character: 44 } });
  });

  test('tokenizer diagnostics follow once the real tokenizer is loaded', () => {
    assert.deepEqual(codes(full), ['label-word-multi-token', 'mask-multiple']);
    const multi = full.find((d) => d.code === 'label-word-multi-token')!;
    assert.deepEqual(multi.range, { start: { line: 5, character: 12 }, end: { line: 5, character: 20 } });
    assert.match(multi.message, /Terrible → Te ##rrible/);
  });

  test('hover on a label word shows its tokens and ids in the model', async () => {
    const hover = (await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 4, character: 14 },
    })) as Hover;
    const value = (hover.contents as { value: string }).value;
    assert.match(value, /`great` \(1632\)/);
  });

  test('hover on [MASK] names the model mask token', async () => {
    const hover = (await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 2, character: 21 },
    })) as Hover;
    assert.match((hover.contents as { value: string }).value, /`\[MASK\]` \(id 103\)/);
  });

  test('completion inside { offers the fields used in the file', async () => {
    const items = (await client.connection.sendRequest('textDocument/completion', {
      textDocument: { uri },
      position: { line: 2, character: 28 },
    })) as CompletionItem[];
    assert.deepEqual(
      items.map((i) => i.label),
      ['review'],
    );
  });

  test('completion after `example ` offers the labels', async () => {
    const items = (await client.connection.sendRequest('textDocument/completion', {
      textDocument: { uri },
      position: { line: 6, character: 8 },
    })) as CompletionItem[];
    assert.deepEqual(
      items.map((i) => i.label),
      ['positive', 'negative', '?'],
    );
  });

  test('the quick fix for a multi-token label word offers only real single tokens', async () => {
    const multi = full.find((d) => d.code === 'label-word-multi-token')!;
    const actions = (await client.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: multi.range,
      context: { diagnostics: [multi] },
    })) as CodeAction[];
    const edits = actions.map((a) => a.edit?.changes?.[uri]?.[0]?.newText);
    // The other casing first; then single tokens spelt like it (test/unit/fixes.test.ts).
    assert.deepEqual(edits, ['terrible', 'terribly']);
  });

  test('document symbols list patterns, labels and examples', async () => {
    const symbols = (await client.connection.sendRequest('textDocument/documentSymbol', { textDocument: { uri } })) as DocumentSymbol[];
    assert.deepEqual(
      symbols.map((s) => s.name),
      ['tiny-random-bert-cased', 'short', 'lead', 'verbalizer', 'example positive'],
    );
    assert.deepEqual(
      symbols[3].children?.map((s) => s.name),
      ['positive', 'negative'],
    );
  });

  test('an edit updates the diagnostics (tokenizer checks included)', async () => {
    const updated = client.diagnostics(uri, () => true);
    await client.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [
        { range: { start: { line: 5, character: 12 }, end: { line: 5, character: 20 } }, text: 'terrible' },
        { range: { start: { line: 1, character: 37 }, end: { line: 1, character: 44 } }, text: '' },
      ],
    });
    assert.deepEqual(await updated, []);
  });

  test('a model that cannot be found gives model-unavailable on its line, and the server stays up', async () => {
    const missing = pathToFileURL(path.join(repoRoot, 'test', 'fixtures', 'protocol-missing.cloze')).href;
    const published = client.diagnostics(missing, (d) => d.some((x) => x.code === 'model-unavailable'));
    await client.connection.sendNotification('textDocument/didOpen', {
      textDocument: {
        uri: missing,
        languageId: 'cloze',
        version: 1,
        text: 'model: no-such-model\npattern: {x} [MASK]\nverbalizer:\n  a: yes\n',
      },
    });
    const diagnostics = await published;
    const unavailable = diagnostics.find((d) => d.code === 'model-unavailable')!;
    assert.equal(unavailable.range.start.line, 0);
    assert.equal(unavailable.range.start.character, 7);
    assert.match(unavailable.message, /no-such-model/);
    assert.match(unavailable.message, /downloads are off/);
    const hover = await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 4, character: 14 },
    });
    assert.ok(hover, 'the server still answers');
  });
});
