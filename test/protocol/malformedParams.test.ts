import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { DataEvaluationData, EvaluateResult } from '../../server/src/protocol/messages';
import type { Diagnostic } from '../../server/src/language/ast';
import { parse } from '../../server/src/language/parse';
import { MAX_RELATED } from '../../server/src/lsp/convert';
import { MAX_PUBLISHED_DIAGNOSTICS, publishedDiagnostics } from '../../server/src/lsp/server';
import { settledLensTitles } from '../support/lenses';
import { startServer, type TestClient } from '../support/lsp';
import { modelsDir, sst2Lines } from '../support/paths';

/**
 * Requests with malformed params, as a buggy client or plugin sends them: no
 * `textDocument`, a number for a uri, `null` params, a `limit` that is not a
 * count. Each gets an empty or explained answer; none puts a stack trace in
 * the log, changes trust, or evaluates rows it was not asked for. And a
 * hostile file's thousands of problems reach the editor capped.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-malformed-'));
const file = path.join(dir, 'eval.cloze');
const text = [
  'model: tiny-random-bert-uncased',
  'pattern: {sentence} It was [MASK].',
  'verbalizer:',
  '  positive: great',
  '  negative: terrible',
  'data: dev.jsonl',
  'example positive: fine',
  '',
].join('\n');

describe('malformed request params', () => {
  let client: TestClient;
  let uri: string;
  const logs: string[] = [];

  before(async () => {
    fs.writeFileSync(path.join(dir, 'dev.jsonl'), `${sst2Lines(0, 12).join('\n')}\n`);
    fs.writeFileSync(file, text);
    client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    client.connection.onNotification('window/logMessage', (params: { message: string }) => logs.push(params.message));
    uri = pathToFileURL(file).href;
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
    await client.diagnostics(uri);
  });
  after(async () => {
    await client?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('standard requests without a document or position get the empty answer, and no stack trace is logged', async () => {
    const send = (method: string, params: unknown): Promise<unknown> => client.connection.sendRequest(method, params);
    assert.equal(await send('textDocument/hover', {}), null);
    assert.equal(await send('textDocument/hover', { textDocument: { uri: 7 }, position: { line: 0, character: 0 } }), null);
    assert.equal(await send('textDocument/hover', { textDocument: { uri } }), null);
    assert.deepEqual(await send('textDocument/completion', { textDocument: { uri } }), []);
    assert.deepEqual(await send('textDocument/codeAction', { textDocument: { uri }, range: null, context: { diagnostics: [] } }), []);
    assert.deepEqual(await send('textDocument/codeLens', {}), []);
    assert.deepEqual(await send('textDocument/documentSymbol', { textDocument: null }), []);
    for (const method of ['cloze/previewData', 'cloze/availableModels', 'cloze/dataEvaluation'])
      assert.equal(await send(method, null), null);
    const evaluate = (await send('cloze/evaluate', null)) as EvaluateResult;
    assert.equal(evaluate.ok, false);
    await client.connection.sendNotification('workspace/didChangeConfiguration', null);
    // Still answering: a real hover on the pattern's mask.
    const hover = (await send('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 29 } })) as {
      contents: { value: string };
    } | null;
    assert.match(hover?.contents.value ?? '', /\[MASK\]/);
    assert.deepEqual(
      logs.filter((line) => /Request failed|handler failed|\n\s+at /.test(line)),
      [],
    );
  });

  test('a didChange with a position that is not a whole number, a null range or no text is not applied, and said once', async () => {
    const other = pathToFileURL(path.join(dir, 'changes.cloze')).href;
    const start = 'pattern: {x} It was [MASK].\nverbalizer:\n  a: great\n  b: bad\n';
    await client.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: other, languageId: 'cloze', version: 1, text: start },
    });
    const symbols = async (): Promise<number> =>
      ((await client.connection.sendRequest('textDocument/documentSymbol', { textDocument: { uri: other } })) as unknown[]).length;
    const before = await symbols();
    const malformed = [
      { range: { start: { line: 0.5, character: 0 }, end: { line: 0.5, character: 0 } }, text: 'pattern: {x} [MASK]\n' },
      { range: { start: { line: 'x', character: 0 }, end: { line: 0, character: 0 } }, text: 'pattern: {x} [MASK]\n' },
      { range: null, text: 'pattern: {x} [MASK]\n' },
      { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } },
    ];
    for (const [i, change] of malformed.entries()) {
      await client.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri: other, version: i + 2 },
        contentChanges: [change],
      });
    }
    // A valid edit after them applies to the text as it was: one pattern added, not the text doubled 15 times.
    await client.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri: other, version: 9 },
      contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'pattern: {x} Or [MASK].\n' }],
    });
    assert.equal(await symbols(), before + 1);
    const ignored = logs.filter((line) => line.startsWith(`Ignored a textDocument/didChange for ${other}`));
    assert.equal(ignored.length, malformed.length, logs.join('\n'));
    assert.deepEqual(
      logs.filter((line) => /handler failed|\n\s+at /.test(line)),
      [],
    );
  });

  test('a didChange whose version does not increase is applied as the newest, said once, and previews still run', async () => {
    const other = pathToFileURL(path.join(dir, 'versions.cloze')).href;
    await client.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: other, languageId: 'cloze', version: 5, text },
    });
    // The example's preview at version 5 is computed first: the inference process has seen that version.
    const example = text.split('\n').length - 2;
    await settledLensTitles(client, other, (t) => /^[✓✗]/.test(t[example] ?? ''));
    // Versions 3 and 3 again (a client that restarted its count), then none: each adds an example.
    const add = async (version: unknown, line: number, added: string): Promise<void> =>
      client.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri: other, version },
        contentChanges: [{ range: { start: { line, character: 0 }, end: { line, character: 0 } }, text: `${added}\n` }],
      });
    const lines = [example + 1, example + 2, example + 3];
    await add(3, lines[0], 'example negative: dull');
    await add(3, lines[1], 'example positive: lovely');
    await add(undefined, lines[2], 'example negative: boring');
    const titles = await settledLensTitles(client, other, (t) => lines.every((line) => /^[✓✗]/.test(t[line] ?? '')));
    // Each added example is previewed (not cancelled as older than version 5).
    for (const line of lines) assert.match(titles[line] ?? '', /^[✓✗] pattern 1: (positive|negative) \d/, JSON.stringify(titles));
    const said = logs.filter((line) => line.startsWith(`A textDocument/didChange for ${other}`));
    assert.equal(said.length, 1, logs.join('\n'));
    assert.match(said[0], /version 3 after 5/);
    assert.deepEqual(
      logs.filter((line) => /handler failed|\n\s+at /.test(line)),
      [],
    );
  });

  test('a didChange with no changes at the version already sent (Neovim 0.7) is ignored quietly', async () => {
    const other = pathToFileURL(path.join(dir, 'empty-change.cloze')).href;
    await client.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: other, languageId: 'cloze', version: 1, text: 'pattern: {x} It was [MASK].\n' },
    });
    const change = (version: number, contentChanges: unknown[]): Promise<void> =>
      client.connection.sendNotification('textDocument/didChange', { textDocument: { uri: other, version }, contentChanges });
    await change(2, [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: 'verbalizer:\n' }]);
    await change(2, []);
    await change(3, [{ range: { start: { line: 2, character: 0 }, end: { line: 2, character: 0 } }, text: '  a: good\n' }]);
    // The last version is applied (the verbalizer is no longer missing), and the empty change was not counted:
    // counted, it made version 3 the server's own and the real version 3 'a version that does not increase'.
    await client.diagnostics(other, (d) => !d.some((x) => x.code === 'verbalizer-missing' || x.code === 'verbalizer-labels'));
    assert.deepEqual(
      logs.filter((line) => line.includes(other)),
      [],
    );
  });

  test('cloze/trust without a yes or no changes nothing', async () => {
    await client.connection.sendNotification('cloze/trust', {});
    await client.connection.sendNotification('cloze/trust', null);
    const data = (await client.connection.sendRequest('cloze/previewData', { uri })) as { ok: boolean } | null;
    assert.ok(data, 'the workspace became untrusted');
  });

  test('cloze/evaluate: a limit that is not a count of 1 or more is refused, not taken from the end or as 0 rows', async () => {
    for (const limit of [-5, 0, 0.5, 'abc']) {
      const result = (await client.connection.sendRequest('cloze/evaluate', { uri, limit })) as EvaluateResult;
      assert.equal(result.ok, false, `limit ${String(limit)}: ${JSON.stringify(result).slice(0, 200)}`);
      assert.match(result.ok ? '' : result.reason, /`limit` must be a whole number of rows, 1 or more/);
    }
    const five = (await client.connection.sendRequest('cloze/evaluate', { uri, limit: 5 })) as EvaluateResult;
    assert.ok(five.ok, JSON.stringify(five).slice(0, 300));
    assert.equal(five.evaluation.evaluated, 5);
  });

  test('cloze/dataEvaluation of a document that is not open says so', async () => {
    const data = (await client.connection.sendRequest('cloze/dataEvaluation', { uri: `${uri}.not-open` })) as DataEvaluationData;
    assert.equal(data.reason, 'the document is not open');
  });

  test('past 1,000 problems the editor gets the errors first and a note of how many are not shown', async () => {
    const hostile = pathToFileURL(path.join(dir, 'braces.cloze')).href;
    const braces = `pattern: ${'{'.repeat(1500)} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\n`;
    await client.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: hostile, languageId: 'cloze', version: 1, text: braces },
    });
    const published = await client.diagnostics(hostile, (d) => d.length > 1000);
    assert.equal(published.length, 1001);
    assert.ok(
      published.slice(0, 1000).every((d) => d.severity === 1),
      'errors first',
    );
    const note = published[1000];
    assert.equal(note.severity, 3);
    assert.match(note.message, /^Only 1,000 of the file's 1,50\d problems are shown, errors first; `cloze check` lists them all\.$/);
  });
});

describe('after shutdown', () => {
  test('requests err with InvalidRequest, as the LSP says', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    try {
      const uri = pathToFileURL(file).href;
      await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
      await client.diagnostics(uri);
      await client.connection.sendRequest('shutdown');
      const requests: [string, unknown][] = [
        ['textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 29 } }],
        ['textDocument/codeLens', { textDocument: { uri } }],
        ['workspace/executeCommand', { command: 'cloze.evaluate', arguments: [uri] }],
        ['cloze/downloads', null],
        ['cloze/previewData', { uri }],
      ];
      for (const [method, params] of requests) {
        await assert.rejects(client.connection.sendRequest(method, params), (error: { code?: number; message?: string }) => {
          assert.equal(error.code, -32600, `${method}: ${error.message}`);
          assert.match(error.message ?? '', /shut down/);
          return true;
        });
      }
    } finally {
      await client.close();
    }
  });
});

describe('publishedDiagnostics', () => {
  test('past the cap: errors before warnings whatever their order, each in document order, then the note', () => {
    const doc = parse('pattern: x\n'.repeat(10));
    const at = (start: number, severity: 'error' | 'warning'): Diagnostic => ({
      code: 'syntax',
      severity,
      message: `${severity} at ${start}`,
      span: { start, end: start + 1 },
    });
    const warnings = Array.from({ length: MAX_PUBLISHED_DIAGNOSTICS + 200 }, (_, i) => at(i % 100, 'warning'));
    const errors = [at(50, 'error'), at(3, 'error')];
    const shown = publishedDiagnostics(doc, [...warnings, ...errors], 'file:///x.cloze');
    assert.equal(shown.length, MAX_PUBLISHED_DIAGNOSTICS + 1);
    assert.deepEqual(
      shown.slice(0, 2).map((d) => d.message),
      ['error at 3', 'error at 50'],
    );
    assert.ok(shown.slice(2, MAX_PUBLISHED_DIAGNOSTICS).every((d) => d.severity === 2));
    assert.match(shown[MAX_PUBLISHED_DIAGNOSTICS].message, /^Only 1,000 of the file's 1,202 problems are shown/);
    // Under the cap, all of them, in the order given.
    assert.equal(publishedDiagnostics(doc, errors, 'file:///x.cloze')[0].message, 'error at 50');
  });

  test("a diagnostic's related places are capped too, with how many more there are", () => {
    const doc = parse('pattern: x\n'.repeat(10));
    const related = Array.from({ length: MAX_RELATED + 5000 }, (_, i) => ({
      span: { start: i % 100, end: (i % 100) + 1 },
      message: `word ${i}`,
    }));
    const [sent] = publishedDiagnostics(
      doc,
      [{ code: 'label-word-summary', severity: 'warning', message: 'many', span: { start: 0, end: 1 }, related }],
      'file:///x.cloze',
    );
    assert.equal(sent.relatedInformation?.length, MAX_RELATED + 1);
    assert.equal(sent.relatedInformation?.[MAX_RELATED - 1].message, `word ${MAX_RELATED - 1}`);
    assert.equal(sent.relatedInformation?.[MAX_RELATED].message, 'and 5,000 more (`cloze check` lists them all)');
  });
});
