// The inference process keeps the engines an open document uses: its default model and the other
// models of its `models:` line, which the panel compares side by side. The other models were dropped
// at every new preview and loaded again at the next use (seven loads in four minutes of editing,
// found in the installed extension); this test counts the loads the server logs.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PreviewData } from '../../server/src/protocol/messages';
import { startServer } from '../support/lsp';
import { modelsDir } from '../support/paths';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-retention-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('engines kept while a document is open', () => {
  test('the models: line’s other model is loaded once across edits and panel requests', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    const logged: string[] = [];
    client.connection.onNotification('window/logMessage', (params: { message: string }) => logged.push(params.message));
    try {
      const file = path.join(dir, 'two-models.cloze');
      const lines = [
        'model: tiny-random-bert-uncased',
        'models: tiny-random-roberta',
        'pattern: {text} It was [MASK].',
        'verbalizer:',
        '  positive: great',
        '  negative: bad',
        'example positive: A fine film.',
      ];
      fs.writeFileSync(file, `${lines.join('\n')}\n`);
      const uri = pathToFileURL(file).href;
      await client.connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri, languageId: 'cloze', version: 1, text: `${lines.join('\n')}\n` },
      });
      for (let version = 2; version <= 4; version++) {
        const data = (await client.connection.sendRequest('cloze/previewData', { uri })) as PreviewData;
        assert.ok(data?.ok, JSON.stringify(data));
        // An edit: a new preview of the default model, which used to drop the other model.
        const text = `${[...lines, `example negative: A dull film number ${version}.`].join('\n')}\n`;
        await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
        await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } });
      }
      const data = (await client.connection.sendRequest('cloze/previewData', { uri })) as PreviewData;
      assert.ok(data?.ok);
      const loads = (id: string): number => logged.filter((line) => line.startsWith(`Loaded ${id} for previews`)).length;
      assert.equal(loads('tiny-random-bert-uncased'), 1, logged.join('\n'));
      assert.equal(loads('tiny-random-roberta'), 1, logged.join('\n'));
    } finally {
      await client.close();
    }
  });
});

describe('documents closed while their lenses are asked for', () => {
  test('keep no preview and no inference process (an editor flicking through files)', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    try {
      const text =
        'model: tiny-random-bert-uncased\npattern: {x} It was [MASK].\nverbalizer:\n  pos: great\n  neg: bad\nexample pos: fun\n';
      const asked: Array<Promise<unknown>> = [];
      for (let i = 0; i < 20; i++) {
        const uri = pathToFileURL(path.join(dir, `flick-${i}.cloze`)).href;
        await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
        // The lenses are asked for and the document closed before they are answered, as an editor does.
        asked.push(client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } }));
        await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
      }
      await Promise.all(asked);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const stats = (await client.connection.sendRequest('cloze/stats')) as { previews: number } | null;
      // null: no inference process was started at all; else it holds no preview of a closed document.
      assert.ok(stats === null || stats.previews === 0, JSON.stringify(stats));
    } finally {
      await client.close();
    }
  });
});
