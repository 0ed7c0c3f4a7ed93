import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';
import { startServer, type TestClient } from '../support/lsp';
import { modelsDir, repoRoot } from '../support/paths';

/**
 * A client that never asks for code lenses (eglot 1.9, which has none): previews
 * were started only by lens requests and the VS Code panel, so its `[MASK]` and
 * label-word hovers never showed the model's numbers. The hover now starts the
 * preview; the next hover (or this one, when the model is quick) has the numbers.
 */

const sentiment = path.join(repoRoot, 'examples', 'sentiment.cloze');

describe('hovers in a client without code lenses', () => {
  let client: TestClient;
  const uri = pathToFileURL(sentiment).href;
  const text = fs.readFileSync(sentiment, 'utf8');

  before(async () => {
    const settings = { modelsDir: modelsDir(), allowRemoteModels: false };
    client = await startServer(
      settings,
      {},
      {
        capabilities: { workspace: { configuration: true }, textDocument: { hover: { contentFormat: ['markdown'] } } },
        initializationOptions: { cloze: settings },
      },
    );
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
    await client.diagnostics(uri);
  });
  after(async () => client?.close());

  test('a hover on [MASK] starts the preview and, soon after, shows the top tokens at the mask', async () => {
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.startsWith('pattern') && l.includes('[MASK]'));
    const character = lines[line].indexOf('[MASK]') + 2;
    const hover = async (): Promise<string> =>
      (
        (await client.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line, character } })) as {
          contents: { value: string };
        }
      ).contents.value;
    const first = await hover();
    assert.match(first, /\*\*\[MASK\]\*\*/);
    let value = first;
    for (let i = 0; i < 120 && !/\*\*At the mask of/.test(value); i++) {
      assert.match(value, /being computed; hover again/);
      await new Promise((resolve) => setTimeout(resolve, 250));
      value = await hover();
    }
    assert.match(value, /\*\*At the mask of `\w+`\*\* \(review-bert-small\)/);
    assert.match(value, /\| example \| prediction \| label words \(rank\) \| top tokens \|/);
    assert.doesNotMatch(value, /being computed/);
  });
});
