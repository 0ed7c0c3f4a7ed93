import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { settledLensTitles } from '../support/lenses';
import { startServer } from '../support/lsp';
import { modelsDir } from '../support/paths';

/**
 * An example whose text holds the model's mask token (`fun [MASK]`) is a second mask: the model
 * would be read at the text's mask, not the pattern's. Its lens says it was not scored, and why,
 * instead of a tick; the other example is scored as usual.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-mask-in-text-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('an example that holds the mask token, in the editor', () => {
  test('its lens says it is not scored and why; the other example is scored', async () => {
    const text = [
      'model: tiny-random-bert-uncased',
      'pattern: {text} It was [MASK].',
      'verbalizer:',
      '  positive: great',
      '  negative: bad',
      'example positive: fun [MASK] film',
      'example negative: A dull film.',
      '',
    ].join('\n');
    const file = path.join(root, 'mask-in-text.cloze');
    fs.writeFileSync(file, text);
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    try {
      const uri = pathToFileURL(file).href;
      await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
      const titles = await settledLensTitles(client, uri, (t) => /^[✓✗⚠]/.test(t[5] ?? '') && /^[✓✗]/.test(t[6] ?? ''));
      assert.equal(titles[5], "⚠ pattern 1: not scored, the example's text holds the mask token ([MASK])", client.stderr());
      assert.match(titles[6] ?? '', /^[✓✗] pattern 1: (positive|negative) \d/);
    } finally {
      await client.close();
    }
  });
});
