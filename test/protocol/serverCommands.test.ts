import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { CodeLens } from 'vscode-languageserver-protocol';
import { startServer, type TestClient } from '../support/lsp';
import { cliMain, modelsDir, sst2Lines } from '../support/paths';

/**
 * The lenses' and quick fixes' commands (`cloze.openPreview`, `cloze.evaluate`,
 * `cloze.selectModel`) in a client without the VS Code extension (Neovim, Emacs):
 * the server runs them. The preview and the report come as messages with the
 * text `cloze preview` and `cloze eval --errors 10` print; the model is picked
 * from a message's buttons and written through an edit the client applies.
 * The VS Code extension, which runs them itself, is offered none.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-commands-'));
const file = path.join(dir, 'commands.cloze');
const text = [
  '# Reviews.',
  'model: review-bert-small',
  'pattern short: {sentence} It was [MASK].',
  'verbalizer:',
  '  positive: great',
  '  negative: terrible',
  'data: dev.jsonl',
  'example positive: A wonderful film.',
  'example negative: Dull and long.',
  '',
].join('\n');

describe('commands the server runs for editors other than VS Code', () => {
  let client: TestClient;
  const messages: Array<{ type: number; message: string }> = [];
  const asked: Array<{ message: string; actions: Array<{ title: string }> }> = [];
  const edits: unknown[] = [];
  const uri = pathToFileURL(file).href;
  // What the client answers to the model buttons: the button of tiny-random-bert-uncased unless a test says otherwise.
  let answer = (params: { actions: Array<{ title: string }> }): unknown =>
    params.actions.find((a) => a.title === 'tiny-random-bert-uncased') ?? null;

  before(async () => {
    fs.writeFileSync(path.join(dir, 'dev.jsonl'), `${sst2Lines(0, 30).join('\n')}\n`);
    fs.writeFileSync(file, text);
    client = await startServer(
      { modelsDir: modelsDir(), allowRemoteModels: false },
      {},
      {
        capabilities: { workspace: { configuration: true, applyEdit: true }, textDocument: { codeLens: {} } },
        initializationOptions: { cloze: { modelsDir: modelsDir(), allowRemoteModels: false } },
      },
    );
    client.connection.onNotification('window/showMessage', (params: { type: number; message: string }) => messages.push(params));
    client.connection.onRequest('window/showMessageRequest', (params: { message: string; actions: Array<{ title: string }> }) => {
      asked.push(params);
      return answer(params);
    });
    client.connection.onRequest('workspace/applyEdit', (params: unknown) => {
      edits.push(params);
      return { applied: true };
    });
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
    await client.diagnostics(uri);
  });
  after(async () => {
    await client?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]): string =>
    execFileSync(process.execPath, [cliMain, ...args, '--models-dir', modelsDir(), '--offline'], { encoding: 'utf8' });
  const lastMessage = async (count: number): Promise<string> => {
    for (let i = 0; i < 600 && messages.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(messages.length, count, JSON.stringify(messages));
    return messages[count - 1].message;
  };

  test('the lenses carry commands the server offers, and running the preview lens shows what cloze preview prints', async () => {
    const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
    const resolved = await Promise.all(
      lenses.map((l) => (l.command ? l : (client.connection.sendRequest('codeLens/resolve', l) as Promise<CodeLens>))),
    );
    const preview = resolved.find((l) => l.command?.command === 'cloze.openPreview');
    assert.ok(preview?.command);
    await client.connection.sendRequest('workspace/executeCommand', {
      command: preview.command.command,
      arguments: preview.command.arguments,
    });
    const shown = await lastMessage(1);
    assert.equal(shown, cli('preview', file).replace('(--calibrate for calibrated)', '(set cloze.preview.calibrate for calibrated)'));
  });

  test("the evaluation lens's command shows the report of cloze eval --errors 10", async () => {
    await client.connection.sendRequest('workspace/executeCommand', { command: 'cloze.evaluate', arguments: [uri] });
    assert.equal(await lastMessage(2), cli('eval', file, '--errors', '10'));
  });

  test('Select a model… offers the local models and writes the one picked into the model: line', async () => {
    await client.connection.sendRequest('workspace/executeCommand', { command: 'cloze.selectModel', arguments: [uri] });
    assert.equal(asked.length, 1);
    assert.ok(
      asked[0].actions.some((a) => a.title === 'review-bert-small'),
      JSON.stringify(asked[0].actions),
    );
    assert.deepEqual(edits, [
      {
        label: 'model: tiny-random-bert-uncased',
        edit: {
          changes: {
            [uri]: [{ range: { start: { line: 1, character: 7 }, end: { line: 1, character: 24 } }, newText: 'tiny-random-bert-uncased' }],
          },
        },
      },
    ]);
  });

  test('an answer that is not one of the buttons offered writes nothing into the file', async () => {
    edits.length = 0;
    for (const reply of [{ title: 'not-offered/model' }, { title: 42 }, { title: 'review-bert-small\npattern: {x} [MASK]' }, 'x', {}]) {
      answer = () => reply;
      await client.connection.sendRequest('workspace/executeCommand', { command: 'cloze.selectModel', arguments: [uri] });
    }
    assert.deepEqual(edits, []);
  });

  test('a command the server does not offer errs with its name and the commands there are', async () => {
    await assert.rejects(
      client.connection.sendRequest('workspace/executeCommand', { command: 'cloze.openPreveiw', arguments: [uri] }),
      (error: { code?: number; message?: string }) => {
        assert.equal(error.code, -32602);
        assert.equal(
          error.message,
          'Cloze runs no command "cloze.openPreveiw"; its commands are cloze.openPreview, cloze.evaluate, cloze.selectModel.',
        );
        return true;
      },
    );
  });
});

describe('the VS Code extension runs the commands itself', () => {
  test('a client that says clientCommands is offered none (vscode-languageclient would register them twice)', async () => {
    const withCommands = await startServer({}, {}, { initializationOptions: { cloze: {}, clientCommands: true } });
    const without = await startServer({});
    try {
      assert.equal(withCommands.initializeResult.capabilities.executeCommandProvider, undefined);
      assert.deepEqual(without.initializeResult?.capabilities.executeCommandProvider?.commands, [
        'cloze.openPreview',
        'cloze.evaluate',
        'cloze.selectModel',
      ]);
    } finally {
      await withCommands.close();
      await without.close();
    }
  });
});
