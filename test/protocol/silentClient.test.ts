import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { EvaluateResult } from '../../server/src/protocol/messages';
import { startServer, type TestClient } from '../support/lsp';
import { modelsDir, sst2Lines } from '../support/paths';

/**
 * A client that declares a capability and then never answers the server's
 * request for it (or answers late), as a buggy plugin or a busy editor does:
 * diagnostics, hovers, lenses and evaluations must not wait on it for ever.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-silent-client-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.writeFileSync(path.join(dir, 'dev.jsonl'), `${sst2Lines(0, 8).join('\n')}\n`);
const text = [
  'model: tiny-random-bert-uncased',
  'pattern: {sentence} It was [MASK] [MASK].',
  'verbalizer:',
  '  positive: great',
  '  negative: terrible',
  'data: dev.jsonl',
  '',
].join('\n');

const clients: TestClient[] = [];
after(async () => Promise.all(clients.map((c) => c.close())));

async function opened(client: TestClient, name: string, content = text): Promise<string> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  const uri = pathToFileURL(file).href;
  await client.connection.sendNotification('textDocument/didOpen', {
    textDocument: { uri, languageId: 'cloze', version: 1, text: content },
  });
  return uri;
}

describe('a client that does not answer the server', () => {
  const settings = { modelsDir: modelsDir(), allowRemoteModels: false };
  // The wait is shortened for the test; the server's default is 3 s.
  const env = { CLOZE_CONFIGURATION_WAIT_MS: '500' };

  test('workspace/configuration never answered: diagnostics, hovers and lenses come from the initialization options', async () => {
    const client = await startServer(settings, env, {
      unanswered: ['workspace/configuration'],
      initializationOptions: { cloze: settings },
    });
    clients.push(client);
    const uri = await opened(client, 'never.cloze');
    const diagnostics = await client.diagnostics(uri, (d) => d.some((x) => x.code === 'mask-multiple'), 10_000);
    assert.ok(diagnostics.length > 0);
    // The initialization options' models folder is in force: the model is found, no model-unavailable.
    assert.ok(!diagnostics.some((d) => d.code === 'model-unavailable'), JSON.stringify(diagnostics));
    const hover = await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 3, character: 13 },
    });
    assert.ok(hover !== undefined);
    const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as unknown[];
    assert.ok(Array.isArray(lenses));
  });

  test('a late answer replaces the initialization options and the document is checked again with it', async () => {
    const client = await startServer(settings, env, {
      lateConfiguration: { afterMs: 2000, settings: { ...settings, modelsDir: path.join(dir, 'no-models-here') } },
      initializationOptions: { cloze: settings },
    });
    clients.push(client);
    const uri = await opened(client, 'late.cloze');
    const first = await client.diagnostics(uri, (d) => d.some((x) => x.code === 'mask-multiple'), 10_000);
    assert.ok(!first.some((d) => d.code === 'model-unavailable'), 'before the answer: the initialization options');
    // The late answer points at a models folder without the model.
    const later = await client.diagnostics(uri, (d) => d.some((x) => x.code === 'model-unavailable'), 10_000);
    assert.match(later.find((d) => d.code === 'model-unavailable')?.message ?? '', /no-models-here/);
  });

  test('window/workDoneProgress/create never answered: cloze/evaluate still answers', async () => {
    const client = await startServer(settings, {}, { unanswered: ['window/workDoneProgress/create'] });
    clients.push(client);
    const uri = await opened(client, 'progress.cloze', text.replace(' [MASK].', '.'));
    const result = (await Promise.race([
      client.connection.sendRequest('cloze/evaluate', { uri }),
      new Promise((resolve) => setTimeout(() => resolve('no answer in 20 s'), 20_000)),
    ])) as EvaluateResult | string;
    assert.notEqual(result, 'no answer in 20 s');
    assert.ok(typeof result !== 'string' && result.ok, JSON.stringify(result));
    assert.equal(result.evaluation.evaluated, 8);
  });
});
