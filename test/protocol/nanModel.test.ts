import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { CodeLens } from 'vscode-languageserver-protocol';
import { fixtureFolder, fixtureModel } from '../support/fixtureGraphs';
import { settledLensTitles } from '../support/lenses';
import { startServer, type TestClient } from '../support/lsp';

/**
 * A model that gives NaN logits for some inputs only (its embedding of `great` is NaN), in the
 * editor: the example with the word is not scored and its lens says why, not a 50/50 tie marked
 * right; the other example is scored as usual.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-nan-lens-'));
const file = path.join(root, 'nan.cloze');
const text = [
  'model: nan-word',
  'pattern: {text} It was [MASK].',
  'verbalizer:',
  '  positive: good',
  '  negative: bad',
  'example positive: A great film.',
  'example negative: A dull film.',
  '',
].join('\n');

describe('a model with NaN logits for some inputs, in the editor', () => {
  let client: TestClient;
  let uri: string;
  let models: string;

  before(async () => {
    models = fixtureFolder(fixtureModel({ head: 'bert', opset: 11, int8: false, vocab: 30522, nanEmbedding: 2307 }), 'nan-word');
    fs.writeFileSync(file, text);
    client = await startServer({ modelsDir: models, allowRemoteModels: false, quantized: false });
    uri = pathToFileURL(file).href;
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
  });
  after(async () => {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(models, { recursive: true, force: true });
  });

  test('the example with the word says it was not scored and why; the other is scored', async () => {
    const titles = await settledLensTitles(client, uri, (t) => (t[5]?.includes('no numbers') ?? false) && /^[✓✗]/.test(t[6] ?? ''));
    // This client shows no codicons: the server writes ⚠ ✓ ✗ for them.
    assert.equal(titles[5], "⚠ pattern 1: no numbers, the model's logits are NaN or infinite here", client.stderr());
    assert.match(titles[6] ?? '', /^[✓✗] pattern 1: (positive|negative) \d/);
  });

  test('a pattern whose empty input gets NaN logits says it has no prior, rather than show a uniform one', async () => {
    // `great` in the pattern's text: the long example loses it to the window around the mask and is scored.
    const priorText = `model: nan-word\npattern: great. {text} It was [MASK].\nverbalizer:\n  positive: good\n  negative: bad\nexample positive: ${Array(600).fill('fine').join(' ')}\n`;
    const priorUri = pathToFileURL(path.join(root, 'prior.cloze')).href;
    fs.writeFileSync(path.join(root, 'prior.cloze'), priorText);
    await client.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: priorUri, languageId: 'cloze', version: 1, text: priorText },
    });
    let titles: string[] = [];
    for (let i = 0; i < 300 && !titles.some((t) => t.includes('no prior')); i++) {
      const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri: priorUri } })) as CodeLens[];
      const resolved = (await Promise.all(
        lenses.map((lens) => (lens.command ? lens : client.connection.sendRequest('codeLens/resolve', lens))),
      )) as CodeLens[];
      titles = resolved.filter((lens) => lens.range.start.line === 1).map((lens) => lens.command?.title ?? '');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(
      titles.includes(
        "⚠ no prior: the model gave NaN or infinite logits for the empty input; calibration leaves this pattern's numbers as they are",
      ),
      JSON.stringify(titles),
    );
  });
});
