// Failures found by probing the server as a careless or hostile workspace would (issue 9), each
// over the real LSP: quick fixes built from stale ranges, positions past a line's end, an
// untrusted workspace, and a tokenizer whose regex backtracks catastrophically.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeAction, CodeLens, Diagnostic, Hover, TextEdit } from 'vscode-languageserver-protocol';
import { startServer, type TestClient } from '../support/lsp';
import { cliMain, modelsDir, repoRoot } from '../support/paths';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-reliability-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

const open = (client: TestClient, uri: string, text: string, version = 1) =>
  client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version, text } });

/** The text an LSP edit replaces. */
function replaced(text: string, edit: TextEdit): string {
  const lines = text.split('\n');
  const offset = (p: { line: number; character: number }) =>
    lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + Math.min(p.character, lines[p.line]?.length ?? 0);
  return text.slice(offset(edit.range.start), offset(edit.range.end));
}

describe('quick fixes and positions', () => {
  let client: TestClient;
  before(async () => {
    client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
  });
  after(async () => client.close());

  test('after typing before [CLS], the fix removes [CLS], never the typed text, whatever ranges the client sends back', async () => {
    const uri = pathToFileURL(path.join(scratch, 'cls.cloze')).href;
    const text = [
      'model: tiny-random-bert-cased',
      'pattern: [CLS] {review} It was [MASK].',
      'verbalizer:',
      '  positive: great',
      '  negative: bad',
      '',
    ].join('\n');
    const published = client.diagnostics(uri, (d) => d.some((x) => x.code === 'special-token-explicit'));
    await open(client, uri, text);
    const old = (await published).find((d) => d.code === 'special-token-explicit')!;
    assert.deepEqual(old.range, { start: { line: 1, character: 9 }, end: { line: 1, character: 14 } });

    // The user types "Hello " before [CLS]; the editor still holds the old diagnostic and sends it back.
    const at = { line: 1, character: 9 };
    await client.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [{ range: { start: at, end: at }, text: 'Hello ' }],
    });
    const now = text.replace('[CLS]', 'Hello [CLS]');
    const stale = (await client.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: old.range,
      context: { diagnostics: [old] },
    })) as CodeAction[];
    for (const action of stale) {
      for (const edit of action.edit?.changes?.[uri] ?? []) {
        assert.match(replaced(now, edit), /^ ?\[CLS\] ?$/, `"${action.title}" edits "${replaced(now, edit)}"`);
      }
    }
    const current = (await client.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: { start: { line: 1, character: 16 }, end: { line: 1, character: 16 } },
      context: { diagnostics: [old] },
    })) as CodeAction[];
    const remove = current.find((a) => a.title === 'Remove [CLS]');
    assert.ok(remove, `no "Remove [CLS]" among ${JSON.stringify(current.map((a) => a.title))}`);
    assert.deepEqual(
      remove.edit!.changes![uri].map((e) => replaced(now, e)),
      [' [CLS]'],
    );
    assert.deepEqual(remove.diagnostics?.[0]?.range, { start: { line: 1, character: 15 }, end: { line: 1, character: 20 } });
  });

  test('a position past the end of a line answers for that line, not for the next one', async () => {
    const uri = pathToFileURL(path.join(scratch, 'past-end.cloze')).href;
    const text = [
      'model: tiny-random-bert-cased',
      'pattern: {review} It was [MASK].',
      'verbalizer:',
      '  positive: great',
      '  negative: bad',
      '',
    ].join('\n');
    const published = client.diagnostics(uri);
    await open(client, uri, text);
    await published;
    // "verbalizer:" is 11 characters; 12 + 12 past its start is `great` on the next line when lines run on.
    const hover = (await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 2, character: 24 },
    })) as Hover | null;
    assert.ok(
      hover === null || hover.range?.start.line === 2,
      `hover for ${JSON.stringify(hover?.range)}: ${JSON.stringify(hover?.contents)}`,
    );
    const completions = (await client.connection.sendRequest('textDocument/completion', {
      textDocument: { uri },
      position: { line: 0, character: 1000 },
    })) as Array<{ textEdit?: TextEdit }>;
    for (const item of completions) if (item.textEdit) assert.equal(item.textEdit.range.start.line, 0);
  });
});

describe('a model that appears after the file was opened', () => {
  test('saving the file checks it again: the model-unavailable error goes without an edit', async () => {
    const models = fs.mkdtempSync(path.join(scratch, 'models-'));
    const client = await startServer({ modelsDir: models, allowRemoteModels: false });
    try {
      const file = path.join(scratch, 'late.cloze');
      const text = 'model: late-model\npattern: {x} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\n';
      fs.writeFileSync(file, text);
      const uri = pathToFileURL(file).href;
      const missing = client.diagnostics(uri, (d) => d.some((x) => x.code === 'model-unavailable'));
      await open(client, uri, text);
      await missing;
      // The model is copied into the models folder (here: linked), and the user saves.
      fs.symlinkSync(path.join(modelsDir(), 'tiny-random-bert-uncased'), path.join(models, 'late-model'));
      const found = client.diagnostics(uri, (d) => !d.some((x) => x.code === 'model-unavailable'), 30_000);
      await client.connection.sendNotification('textDocument/didSave', { textDocument: { uri } });
      assert.deepEqual(
        (await found).map((d) => d.code),
        [],
      );
    } finally {
      await client.close();
    }
  });
});

describe('a client that reuses a version number', () => {
  test('two edits sent under one version: requests answer for the newer text, not the parse of the older', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    try {
      const uri = pathToFileURL(path.join(scratch, 'same-version.cloze')).href;
      await open(client, uri, 'pattern first: {x} It was [MASK].\n');
      const symbols = async (): Promise<string[]> =>
        ((await client.connection.sendRequest('textDocument/documentSymbol', { textDocument: { uri } })) as { name: string }[]).map(
          (symbol) => symbol.name,
        );
      assert.ok((await symbols()).some((name) => name.includes('first')));
      const full = (text: string) =>
        client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 2 }, contentChanges: [{ text }] });
      await full('pattern second: {x} It was [MASK].\n');
      assert.ok((await symbols()).some((name) => name.includes('second')));
      await full('pattern third: {x} It was [MASK].\n');
      const names = await symbols();
      assert.ok(
        names.some((name) => name.includes('third')),
        JSON.stringify(names),
      );
    } finally {
      await client.close();
    }
  });
});

describe('a document without a file (untitled)', () => {
  test('reads no data file: its paths would be relative to the server’s cwd, so the data: lines say to save it first', async () => {
    // A data file that the server's cwd (repoRoot) does reach by the relative path: read before,
    // its undeclared label reported for a buffer that is not even saved.
    fs.writeFileSync(path.join(scratch, 'rows.jsonl'), '{"review": "fine", "label": "surprised"}\n');
    const reachable = path.relative(repoRoot, path.join(scratch, 'rows.jsonl'));
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    try {
      const uri = 'untitled:Untitled-1';
      const text = [
        'model: review-bert-small',
        'pattern: {review} It was [MASK].',
        'verbalizer:',
        '  positive: great',
        '  negative: bad',
        `data: ${reachable}`,
        'data: no-such.jsonl',
        '',
      ].join('\n');
      const published = client.diagnostics(uri, (d) => d.filter((x) => x.code === 'data-unreadable').length === 2, 10_000);
      await open(client, uri, text);
      const diagnostics = await published;
      const onData = diagnostics.filter((d) => d.range.start.line >= 5);
      assert.deepEqual(
        onData.map((d) => [d.code, d.range.start.line]),
        [
          ['data-unreadable', 5],
          ['data-unreadable', 6],
        ],
      );
      for (const d of onData) assert.match(d.message, /not saved.*relative to the \.cloze file\. Save it first\./);
      // The panel's evaluation: "save the file first" for this one; nothing to say for one without data: lines.
      const evaluation = (await client.connection.sendRequest('cloze/dataEvaluation', { uri })) as { reason?: string };
      assert.match(evaluation.reason ?? '', /^save the file first/);
      const plain = 'untitled:Untitled-2';
      await open(client, plain, text.split('\n').slice(0, 5).join('\n'));
      const none = (await client.connection.sendRequest('cloze/dataEvaluation', { uri: plain })) as { reason?: string; files: unknown[] };
      assert.deepEqual([none.reason, none.files], [undefined, []]);
    } finally {
      await client.close();
    }
  });
});

describe('an untrusted workspace', () => {
  test('reads no model or data file, says why, shows no previews, and checks everything once trusted', async () => {
    const cacheDir = path.join(scratch, 'untrusted-cache');
    const client = await startServer(
      { modelsDir: modelsDir(), allowRemoteModels: true },
      { CLOZE_CACHE_DIR: cacheDir },
      { initializationOptions: { settings: { modelsDir: modelsDir(), allowRemoteModels: true }, trusted: false } },
    );
    try {
      // A hub model that is nowhere: with downloads allowed, a trusted workspace would fetch it.
      const remote = pathToFileURL(path.join(scratch, 'untrusted-remote.cloze')).href;
      const remotePublished = client.diagnostics(remote);
      await open(client, remote, 'model: nobody/nothing-here\npattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n');
      assert.deepEqual(
        (await remotePublished).map((d) => d.code),
        ['workspace-untrusted'],
      );
      const remoteHover = await client.connection.sendRequest('textDocument/hover', {
        textDocument: { uri: remote },
        position: { line: 3, character: 14 },
      });
      assert.ok(remoteHover);
      assert.equal(fs.existsSync(cacheDir), false, 'nothing was downloaded or written to the cache');

      const uri = pathToFileURL(path.join(scratch, 'untrusted.cloze')).href;
      const text = [
        'model: tiny-random-bert-cased',
        'pattern: {review} It was [MASK].',
        'verbalizer:',
        '  positive: great',
        '  negative: Terrible',
        'data: missing.jsonl',
        'example positive: I liked it.',
        '',
      ].join('\n');
      const published = client.diagnostics(uri);
      await open(client, uri, text);
      const first = await published;
      assert.deepEqual(
        first.map((d) => [d.code, d.severity, d.range.start.line]),
        [['workspace-untrusted', 3, 0]],
      );
      assert.match(first[0].message, /not trusted.*previews are off/);
      const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
      assert.deepEqual(lenses, []);
      const hover = (await client.connection.sendRequest('textDocument/hover', {
        textDocument: { uri },
        position: { line: 3, character: 14 },
      })) as Hover;
      assert.match((hover.contents as { value: string }).value, /not loaded/);

      const trusted = client.diagnostics(uri, (d) => d.some((x) => x.code === 'label-word-multi-token'));
      await client.connection.sendNotification('cloze/trust', { trusted: true });
      const codes = (await trusted).map((d: Diagnostic) => d.code).sort();
      assert.deepEqual(codes, ['data-unreadable', 'label-word-multi-token']);
    } finally {
      await client.close();
    }
  });
});

describe('a tokenizer whose regex backtracks catastrophically', () => {
  // tiny-random-bert-cased with a Split pre-tokenizer `(a+)+$` before its own: harmless on most
  // text, exponential on a run of a's that does not end the text.
  const models = path.join(scratch, 'models');
  const folder = path.join(models, 'backtracking-bert');
  const source = path.join(modelsDir(), 'tiny-random-bert-cased');
  fs.mkdirSync(folder, { recursive: true });
  for (const file of fs.readdirSync(source)) {
    if (file !== 'tokenizer.json') fs.symlinkSync(path.join(source, file), path.join(folder, file));
  }
  const tokenizer = JSON.parse(fs.readFileSync(path.join(source, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  tokenizer['pre_tokenizer'] = {
    type: 'Sequence',
    pretokenizers: [{ type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false }, tokenizer['pre_tokenizer']],
  };
  fs.writeFileSync(path.join(folder, 'tokenizer.json'), JSON.stringify(tokenizer));
  const text = [
    'model: backtracking-bert',
    'pattern: {review} It was [MASK].',
    'verbalizer:',
    '  positive: great',
    '  negative: bad',
    `example positive: ${'a'.repeat(40)}! and more`,
    '',
  ].join('\n');

  test('the server stops it, reports it on the model line, and keeps answering hovers', async () => {
    const client = await startServer({ modelsDir: models, allowRemoteModels: false });
    try {
      const uri = pathToFileURL(path.join(scratch, 'backtracking.cloze')).href;
      const published = client.diagnostics(uri, (d) => d.some((x) => x.code === 'model-unavailable'), 30_000);
      await open(client, uri, text);
      const diagnostics = await published;
      const unavailable = diagnostics.find((d) => d.code === 'model-unavailable')!;
      assert.equal(unavailable.range.start.line, 0);
      assert.match(unavailable.message, /tokenizer ran for more than \d+ ms on the text "a{40}/);
      for (let i = 0; i < 3; i++) {
        const hover = (await client.connection.sendRequest('textDocument/hover', {
          textDocument: { uri },
          position: { line: 3, character: 14 },
        })) as Hover;
        assert.ok(hover, 'no hover');
      }
    } finally {
      await client.close();
    }
  });

  test('`cloze check` ends with the same diagnostic', async () => {
    const file = path.join(scratch, 'backtracking.cloze');
    fs.writeFileSync(file, text);
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [cliMain, 'check', file, '--models-dir', models, '--offline'],
        { cwd: repoRoot, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /1:8 error model-unavailable .*tokenizer ran for more than/);
  });
});
