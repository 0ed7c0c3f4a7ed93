import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource, type CodeLens, type Diagnostic } from 'vscode-languageserver-protocol';
import { brokenModelFolder, fixModelFolder } from '../support/brokenModels';
import { startServer, type TestClient } from '../support/lsp';
import { modelsDir, sst2Lines, sst2Rows } from '../support/paths';
import { alive } from '../support/processes';

/**
 * Issue 9 over the real protocol: stopping the server mid-preview, killing
 * the inference process again and again, closing every document, a model
 * folder that is broken and then fixed, and a document closed and reopened.
 */

interface Stats {
  pid: number | null;
  engines: unknown[];
  computedPairs: number;
  previews?: number;
}

function reviews(count: number): Array<{ text: string; label: string }> {
  return sst2Rows(count);
}

function documentText(model: string, examples: number): string {
  return [
    `model: ${model}`,
    'pattern a: {review} It was [MASK].',
    'pattern b: {review} All in all, it was [MASK].',
    'verbalizer:',
    '  positive: great, good',
    '  negative: terrible, bad',
    ...reviews(examples).map((r) => `example ${r.label}: ${r.text}`),
    '',
  ].join('\n');
}

async function resolvedLenses(client: TestClient, uri: string): Promise<CodeLens[]> {
  const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
  return Promise.all(
    lenses.map((lens) => (lens.command ? lens : (client.connection.sendRequest('codeLens/resolve', lens) as Promise<CodeLens>))),
  );
}

/** Asks for the lenses and resolves the first example's, as an editor showing the top of the file does: the whole preview runs. */
async function firstExampleLens(client: TestClient, uri: string): Promise<CodeLens> {
  const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
  const lens = lenses.find((l) => (l.data as { anchor?: { kind?: string } } | undefined)?.anchor?.kind === 'example') ?? lenses[0];
  return lens.command ? lens : ((await client.connection.sendRequest('codeLens/resolve', lens)) as CodeLens);
}

async function stats(client: TestClient): Promise<Stats> {
  return (await client.connection.sendRequest('cloze/stats')) as Stats;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function open(client: TestClient, uri: string, text: string, version = 1): Promise<void> {
  return client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version, text } });
}

function replaceAll(client: TestClient, uri: string, version: number, text: string): Promise<void> {
  return client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
}

const numbers = /\d+%/;

/** The diagnostics last published for `uri` if they satisfy `accept`, else the next publish that does. */
async function latestDiagnostics(client: TestClient, uri: string, accept: (d: Diagnostic[]) => boolean): Promise<Diagnostic[]> {
  const last = client.published.get(uri)?.at(-1);
  return last && accept(last) ? last : client.diagnostics(uri, accept);
}

describe('stopping the server while a preview runs', () => {
  test('shutdown is answered and the server exits cleanly, the inference process with it', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    const errors: string[] = [];
    client.connection.onNotification('window/logMessage', (params: { type: number; message: string }) => {
      if (params.type === 1) errors.push(params.message);
    });
    const uri = pathToFileURL(path.join(modelsDir(), '..', 'shutdown.cloze')).href;
    const sst2 = path.join(modelsDir(), '..', 'data', 'sst2-dev.jsonl');
    // The SST-2 rows give the evaluation below work that outlasts the shutdown.
    await open(client, uri, `${documentText('review-bert-small', 400)}data: ${sst2}\n`);
    void resolvedLenses(client, uri).catch(() => undefined);
    const evaluation = client.connection.sendRequest('cloze/evaluate', { uri }).then(
      (answer) => ({ answer }),
      (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
    );
    // The model is loaded and the preview's batches are running.
    const running = await until('the preview to run', async () => {
      const s = await stats(client);
      return s && s.engines.length > 0 && s.computedPairs > 0 ? s : undefined;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      client.process.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const answer = await Promise.race([
      client.connection.sendRequest('shutdown').then(() => 'answered'),
      new Promise((resolve) => setTimeout(() => resolve('no answer within 10 s'), 10_000)),
    ]);
    assert.equal(answer, 'answered', client.stderr());
    const evaluated = await evaluation;
    await client.connection.sendNotification('exit');
    const { code, signal } = await exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, `server stderr:\n${client.stderr()}`);
    assert.doesNotMatch(client.stderr(), /terminate called|Napi::Error/);
    // The evaluation cut short by the shutdown is answered as such, not logged as a failure with its stack.
    assert.deepEqual(evaluated, { error: 'The Cloze server is shut down: it answers no more requests.' });
    assert.deepEqual(
      errors.filter((e) => /Request failed/.test(e)),
      [],
    );
    if (running.pid) await until('the inference process to exit', async () => (alive(running.pid!) ? undefined : true), 5000);
    client.connection.dispose();
  });
});

describe('a lens the client no longer wants', () => {
  test('codeLens/resolve cancelled while the preview runs is answered RequestCancelled, and the preview still completes', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    try {
      const uri = pathToFileURL(path.join(modelsDir(), '..', 'cancelled-lens.cloze')).href;
      await open(client, uri, documentText('review-bert-small', 300));
      const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
      const lens = lenses.find((l) => (l.data as { anchor?: { kind?: string } } | undefined)?.anchor?.kind === 'example');
      assert.ok(lens && !lens.command, 'an example lens to resolve');
      const source = new CancellationTokenSource();
      const answer = client.connection.sendRequest('codeLens/resolve', lens, source.token).then(
        (resolved) => ({ resolved }),
        (error: unknown) => ({ code: (error as { code?: number }).code }),
      );
      await until('the preview to run', async () => ((await stats(client)).computedPairs > 0 ? true : undefined));
      source.cancel();
      // Before, the client got the whole lens when the preview was done, whatever it had said since.
      assert.deepEqual(await answer, { code: -32800 });
      // The preview was not stopped: the same lens, asked again, gets its numbers.
      const again = (await client.connection.sendRequest('codeLens/resolve', lens)) as CodeLens;
      assert.match(again.command?.title ?? '', /\d+%/);
    } finally {
      await client.close();
    }
  });
});

describe('the server is killed while a preview runs', () => {
  test('the inference process exits with it', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    const uri = pathToFileURL(path.join(modelsDir(), '..', 'killed.cloze')).href;
    await open(client, uri, documentText('review-bert-small', 400));
    void firstExampleLens(client, uri).catch(() => undefined);
    const running = await until('the preview to run', async () => {
      const s = await stats(client);
      return s?.pid && s.computedPairs > 0 ? s : undefined;
    });
    client.process.kill('SIGKILL');
    await until('the orphaned inference process to exit', async () => (alive(running.pid!) ? undefined : true), 10_000);
    client.connection.dispose();
  });
});

describe('the inference process dies again and again', () => {
  let client: TestClient;
  before(async () => (client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false })));
  after(async () => client.close());

  test('killed 5 times while previews run: the server lives, and previews work again', async () => {
    const uri = pathToFileURL(path.join(modelsDir(), '..', 'restarts.cloze')).href;
    const base = documentText('tiny-random-bert-uncased', 150);
    await open(client, uri, base);
    const killed = new Set<number>();
    for (let round = 1; round <= 5; round++) {
      // A new version (an edited example) so the preview has new pairs to compute.
      await replaceAll(client, uri, round + 1, `${base}example positive: Round ${round} of the restarts, fine.\n`);
      const lenses = firstExampleLens(client, uri);
      const pid = await until('a running inference process', async () => {
        const s = await stats(client);
        return s?.pid && !killed.has(s.pid) ? s.pid : undefined;
      });
      process.kill(pid, 'SIGKILL');
      killed.add(pid);
      await lenses; // answered (numbers, or the reason), never hanging
      assert.equal(client.process.exitCode, null, `the server is alive after kill ${round}`);
    }
    await replaceAll(client, uri, 100, `${base}example negative: After the restarts, bad.\n`);
    const titles = (await resolvedLenses(client, uri)).map((lens) => lens.command?.title ?? '');
    assert.ok(titles.filter((title) => numbers.test(title)).length > 150, titles.slice(0, 5).join('\n'));
    assert.equal(killed.size, 5);
  });
});

describe('several documents want previews', () => {
  let client: TestClient;
  before(async () => (client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false })));
  after(async () => client.close());

  test('the document asked for last is previewed first, while a large one waits between its slices', async () => {
    const big = pathToFileURL(path.join(modelsDir(), '..', 'order-big.cloze')).href;
    const small = pathToFileURL(path.join(modelsDir(), '..', 'order-small.cloze')).href;
    const many = reviews(800);
    // 800 examples (×2 patterns) of a tiny model: seconds of scoring, in 13 slices.
    const bigText = [documentText('tiny-random-bert-uncased', 0).trimEnd()];
    for (const r of many) bigText.push(`example ${r.label}: ${r.text}`);
    await open(client, big, `${bigText.join('\n')}\n`);
    await open(client, small, documentText('tiny-random-bert-uncased', 3));
    const finished: string[] = [];
    const bigDone = firstExampleLens(client, big).then(() => finished.push('big'));
    // The big preview is running when the user turns to the small document.
    await until('the big preview to run', async () => ((await stats(client))?.computedPairs > 0 ? true : undefined));
    const smallDone = firstExampleLens(client, small).then(() => finished.push('small'));
    await Promise.all([bigDone, smallDone]);
    assert.deepEqual(finished, ['small', 'big']);
  });
});

describe('closing every document', () => {
  let client: TestClient;
  before(async () => (client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false })));
  after(async () => client.close());

  test('drops the previews and stops the inference process; reopening previews again', async () => {
    const uris = ['a', 'b'].map((name) => pathToFileURL(path.join(modelsDir(), '..', `close-${name}.cloze`)).href);
    for (const uri of uris) {
      await open(client, uri, documentText('tiny-random-roberta', 20));
      assert.ok((await resolvedLenses(client, uri)).some((lens) => numbers.test(lens.command?.title ?? '')));
    }
    const during = await stats(client);
    assert.equal(during.previews, 2);
    assert.ok(during.pid && alive(during.pid));
    await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri: uris[0] } });
    assert.equal((await stats(client)).pid, during.pid, 'one document still uses the model');
    await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri: uris[1] } });
    const closed = await until('the inference process to be released', async () => {
      const s = await stats(client);
      return s.pid === null ? s : undefined;
    });
    assert.equal(closed.previews, 0);
    await until('the old process to exit', async () => (alive(during.pid!) ? undefined : true), 5000);
    await open(client, uris[0], documentText('tiny-random-roberta', 5));
    assert.ok((await resolvedLenses(client, uris[0])).some((lens) => numbers.test(lens.command?.title ?? '')));
  });
});

describe('Evaluate with a model whose ONNX file is broken', () => {
  test("answers with the model's failure in words, not a request failure logged with its stack", async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    const logs: string[] = [];
    client.connection.onNotification('window/logMessage', (params: { message: string }) => logs.push(params.message));
    try {
      const { root } = brokenModelFolder('m', 'truncated');
      fs.writeFileSync(path.join(root, 'rows.jsonl'), sst2Lines(0, 20).join('\n'));
      const uri = pathToFileURL(path.join(root, 'doc.cloze')).href;
      await open(client, uri, `${documentText('./m', 2)}data: rows.jsonl\n`);
      const result = (await client.connection.sendRequest('cloze/evaluate', { uri })) as { ok: boolean; reason?: string };
      assert.equal(result.ok, false);
      assert.match(result.reason ?? '', /^\.\/m cannot be scored: .*not a complete ONNX model/);
      assert.ok(!logs.some((line) => /Request failed/.test(line)), logs.join('\n'));
    } finally {
      await client.close();
    }
  });
});

describe('a model folder that is broken, then fixed', () => {
  let client: TestClient;
  before(async () => (client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false })));
  after(async () => client.close());

  for (const breakage of ['truncated', 'random', 'narrow-output'] as const) {
    test(`${breakage}: one diagnostic on the model line, short lens titles, and fixing the folder recovers (${breakage === 'narrow-output' ? 'next edit' : 'no edit'})`, async () => {
      const { root, folder } = brokenModelFolder('m', breakage);
      const uri = pathToFileURL(path.join(root, 'doc.cloze')).href;
      const text = documentText('./m', 3);
      await open(client, uri, text);
      const lenses = await resolvedLenses(client, uri);
      // The reason once, on the first lens; the others point at it or say nothing (label and prior lenses).
      assert.match(lenses[0]?.command?.title ?? '', /^(?:\S+ )?no preview: /);
      for (const lens of lenses) {
        const title = lens.command?.title ?? '';
        if (title === '') continue;
        // A client without codicons gets a plain symbol before the words.
        assert.match(title, /^(?:\S+ )?no preview\b/);
        assert.ok(title.length <= 90, `a short title: ${title}`);
        assert.doesNotMatch(title, /onnxruntime|ONNXRuntimeError|protobuf/i);
      }
      const problems = await latestDiagnostics(client, uri, (d) => d.some((x) => x.code === 'model-unavailable'));
      const unavailable = problems.filter((d: Diagnostic) => d.code === 'model-unavailable');
      assert.equal(unavailable.length, 1, JSON.stringify(problems));
      assert.deepEqual(unavailable[0].range, { start: { line: 0, character: 7 }, end: { line: 0, character: 10 } });
      assert.match(
        unavailable[0].message,
        breakage === 'narrow-output'
          ? /not one score per vocabulary token/
          : /not a complete ONNX model \(truncated, still being copied, or not ONNX at all\)/,
      );

      const cleared = client.diagnostics(uri, (d) => !d.some((x) => x.code === 'model-unavailable'));
      fixModelFolder(folder);
      if (breakage === 'narrow-output') {
        // Retried on the next edit, without a restart.
        await replaceAll(client, uri, 2, `${text}example positive: Fixed now.\n`);
      }
      // Otherwise with no edit at all: the server watches the failed model's folder and tries again.
      await cleared;
      const fixed = await resolvedLenses(client, uri);
      assert.ok(
        fixed.some((lens) => numbers.test(lens.command?.title ?? '')),
        fixed.map((l) => l.command?.title).join('\n'),
      );
      const last = client.published.get(uri)!.at(-1)!;
      assert.ok(!last.some((d) => d.code === 'model-unavailable'), JSON.stringify(last));
    });
  }
});

describe('a document closed and opened again', () => {
  let client: TestClient;
  before(async () => (client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false })));
  after(async () => client.close());

  test("the old text's diagnostics are never published for the new one", async () => {
    for (let round = 0; round < 3; round++) {
      // A model whose tokenizer this server has not loaded yet, so the old text's checks are still running when it closes.
      const model = ['tiny-random-bert-cased', 'tiny-random-albert-xenova', 'tiny-random-distilbert-xenova'][round];
      const uri = pathToFileURL(path.join(modelsDir(), '..', `reopen-${round}.cloze`)).href;
      // Errors of both kinds: one found from the text alone, one only with the tokenizer.
      const oldText = `model: ${model}\npattern: {text} It was [MASK].\npattern b: no mask in the old text\nverbalizer:\n  positive: great\n  negative: terriblenessfulness\nexample positive: Old text.\n`;
      const newText =
        'model: tiny-random-bert-uncased\npattern: {text} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\nexample positive: Fine.\n';
      await open(client, uri, oldText);
      await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
      await open(client, uri, newText);
      // The new text is clean: wait until its checks are done, then some more for any late publish of the old text.
      await latestDiagnostics(client, uri, (d) => d.length === 0);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const publishes = client.published.get(uri) ?? [];
      // The old text always has errors, the new one none: from the close's empty publish on, every publish must be empty.
      const closedAt = publishes.findIndex((d) => d.length === 0);
      const stale = publishes.slice(closedAt).filter((d) => d.length > 0);
      assert.deepEqual(
        stale.map((d) => d.map((x) => x.message)),
        [],
        `round ${round}: published after the reopen: ${JSON.stringify(publishes.map((d) => d.map((x) => x.message)))}`,
      );
    }
  });
});
