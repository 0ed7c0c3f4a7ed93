import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { CodeLens, Diagnostic } from 'vscode-languageserver-protocol';
import { startHub, startTarpit, type FakeHub, type Tarpit } from '../support/hub';
import { startServer, type TestClient } from '../support/lsp';
import { eventually as until } from '../support/eventually';
import { modelsDir } from '../support/paths';
import { startProxy } from '../support/proxy';
import { serverEnvironment } from '../../client/src/serverEnvironment';

/**
 * Models on a real network, over the real protocol: the language server
 * against a hub on loopback (serving ../shared/models at the hub's URL layout)
 * and a tarpit that accepts connections and never answers. The real hub is
 * never reached: HF_ENDPOINT points at loopback, and CLOZE_CACHE_DIR at a
 * fresh folder.
 */

const hubId = 'hub-test/review-bert-small-xenova';
const body = `pattern: {review} It was [MASK].
verbalizer:
  positive: great, fantastically
  negative: terrible
example positive: I like it very much.
example negative: The plot was dull.
`;
const textFor = (id: string): string => `model: ${id}\n${body}`;

let counter = 0;
function freshUri(): string {
  return pathToFileURL(path.join(os.tmpdir(), `cloze-remote-${process.pid}-${++counter}.cloze`)).href;
}
function freshCache(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-remote-cache-'));
}
const codes = (diagnostics: Diagnostic[]): string[] => diagnostics.map((d) => String(d.code));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function lensTitles(client: TestClient, uri: string): Promise<string[]> {
  const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
  const resolved = await Promise.all(
    lenses.map((lens) => (lens.command ? lens : (client.connection.sendRequest('codeLens/resolve', lens) as Promise<CodeLens>))),
  );
  return resolved.map((lens) => lens.command?.title ?? '');
}

async function lensesWithNumbers(client: TestClient, uri: string, timeoutMs = 60_000): Promise<string[]> {
  return until(
    'lenses with probabilities',
    async () => {
      const titles = await lensTitles(client, uri);
      return titles.some((title) => /\d%/.test(title)) ? titles : undefined;
    },
    timeoutMs,
  );
}

function open(client: TestClient, uri: string, text: string): Promise<void> {
  return client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
}

interface ProgressValue {
  kind: 'begin' | 'report' | 'end';
  title?: string;
  message?: string;
  cancellable?: boolean;
  percentage?: number;
}

describe('a remote model id typed character by character', () => {
  let hub: FakeHub;
  let client: TestClient;
  before(async () => {
    hub = await startHub({ models: { [hubId]: path.join(modelsDir(), 'review-bert-small-xenova') } });
    client = await startServer(
      { modelsDir: modelsDir(), allowRemoteModels: true },
      { HF_ENDPOINT: hub.url, CLOZE_CACHE_DIR: freshCache() },
    );
  });
  after(async () => {
    await client.close();
    await hub.close();
  });

  test('makes exactly one network look-up, for the final id, and then checks and previews with it', async () => {
    const uri = freshUri();
    await open(client, uri, textFor(''));
    let version = 1;
    // A quick typist: 120 ms a character, well under the 1 s the id must stay unchanged.
    for (let i = 0; i < hubId.length; i++) {
      await client.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: ++version },
        contentChanges: [{ range: { start: { line: 0, character: 7 + i }, end: { line: 0, character: 7 + i } }, text: hubId[i] }],
      });
      await sleep(120);
    }
    const typed = performance.now();
    const diagnostics = await client.diagnostics(uri, (d) => codes(d).includes('label-word-multi-token'), 30_000);
    const checked = performance.now();
    assert.ok(!codes(diagnostics).includes('model-unavailable'), JSON.stringify(diagnostics));
    const titles = await lensesWithNumbers(client, uri);
    const previewed = performance.now();
    assert.deepEqual(hub.modelsAsked(), [hubId], `look-ups: ${hub.requests.join(', ')}`);
    assert.deepEqual(await client.connection.sendRequest('cloze/downloads'), [hubId]);
    assert.ok(!hub.requests.some((p) => p.endsWith('/onnx/model.onnx')), 'the fp32 ONNX file was fetched too');
    // No diagnostic about a prefix was ever published while typing.
    for (const published of client.published.get(uri) ?? []) {
      assert.ok(!codes(published).includes('model-unavailable'), `a prefix was reported: ${JSON.stringify(published)}`);
    }
    console.log(
      `# timing (typing ${hubId}, ${hubId.length} characters at 120 ms): tokenizer diagnostics ${Math.round(checked - typed)} ms and lenses with numbers ${Math.round(previewed - typed)} ms after the last keystroke; ${hub.requests.length} HTTP requests, all for the final id; lenses: ${titles.slice(0, 2).join(' | ')}`,
    );
  });
});

describe('a local model typed while a remote look-up hangs', () => {
  let tarpit: Tarpit;
  let client: TestClient;
  before(async () => {
    tarpit = await startTarpit();
    client = await startServer(
      { modelsDir: modelsDir(), allowRemoteModels: true },
      { HF_ENDPOINT: tarpit.url, CLOZE_CACHE_DIR: freshCache(), CLOZE_HUB_READ_TIMEOUT_MS: '60000' },
    );
  });
  after(async () => {
    await client.close();
    await tarpit.close();
  });

  test('gets its diagnostics and lenses as if offline, and the hanging look-up is cancelled', async () => {
    // Reference: the same document with a local model on a server with downloads off.
    const reference = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false }, { CLOZE_CACHE_DIR: freshCache() });
    const referenceUri = freshUri();
    const referenceStart = performance.now();
    await open(reference, referenceUri, textFor('review-bert-small-xenova'));
    await reference.diagnostics(referenceUri, (d) => codes(d).includes('label-word-multi-token'), 30_000);
    const offlineDiagnostics = performance.now() - referenceStart;
    await lensesWithNumbers(reference, referenceUri);
    const offlineLenses = performance.now() - referenceStart;
    await reference.close();

    const uri = freshUri();
    await open(client, uri, textFor('hub-test/hangs'));
    await until('the look-up of hub-test/hangs to reach the tarpit', () => tarpit.connections() === 1, 10_000);
    const switched = performance.now();
    await client.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [{ text: textFor('review-bert-small-xenova') }],
    });
    const diagnostics = await client.diagnostics(uri, (d) => codes(d).includes('label-word-multi-token'), 30_000);
    const checked = performance.now() - switched;
    assert.ok(!codes(diagnostics).includes('model-unavailable'), JSON.stringify(diagnostics));
    const titles = await lensesWithNumbers(client, uri);
    const previewed = performance.now() - switched;
    for (const title of titles) assert.doesNotMatch(title, /hangs/);
    await until('the hanging look-up to be cancelled (its connection closed)', () => tarpit.open() === 0, 5000);
    assert.equal(tarpit.connections(), 1);
    console.log(
      `# timing (tarpit): after switching to a local model while the look-up hung, tokenizer diagnostics in ${Math.round(checked)} ms and lenses with numbers in ${Math.round(previewed)} ms; the same document offline on a fresh server: ${Math.round(offlineDiagnostics)} ms and ${Math.round(offlineLenses)} ms`,
    );
  });
});

describe('network failures become one diagnostic', () => {
  test('a look-up without an answer: one model-unavailable saying so, on the model line, not retried in a loop', async () => {
    const tarpit = await startTarpit();
    const client = await startServer(
      { modelsDir: modelsDir(), allowRemoteModels: true },
      { HF_ENDPOINT: tarpit.url, CLOZE_CACHE_DIR: freshCache(), CLOZE_HUB_READ_TIMEOUT_MS: '800' },
    );
    try {
      const uri = freshUri();
      const opened = performance.now();
      await open(client, uri, textFor('hub-test/silent'));
      const diagnostics = await client.diagnostics(uri, (d) => codes(d).includes('model-unavailable'), 10_000);
      const failedAfter = performance.now() - opened;
      const unavailable = diagnostics.filter((d) => d.code === 'model-unavailable');
      assert.equal(unavailable.length, 1);
      assert.match(
        unavailable[0]!.message,
        /^Model hub-test\/silent is unavailable: (\S+ does not exist, and the download failed: )?127\.0\.0\.1:\d+ accepted the connection but sent no answer within 0\.8 s/,
      );
      assert.deepEqual(unavailable[0]!.range.start, { line: 0, character: 7 });
      // An edit elsewhere does not try again; only a change of the id or a save does.
      await client.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [{ text: textFor('hub-test/silent') + 'example positive: Again.\n' }],
      });
      await sleep(2500);
      assert.equal(tarpit.connections(), 1, 'the look-up was retried by itself');
      await client.connection.sendNotification('textDocument/didSave', { textDocument: { uri } });
      await until('a second look-up after saving', () => tarpit.connections() === 2, 5000);
      console.log(
        `# timing (tarpit, read timeout 0.8 s): model-unavailable ${Math.round(failedAfter)} ms after opening (1 s settle + 0.8 s)`,
      );
    } finally {
      await client.close();
      await tarpit.close();
    }
  });

  test('404 and 401 say what happened and what to do', async () => {
    const hub = await startHub({ models: {}, gated: ['hub-test/gated'] });
    const client = await startServer(
      { modelsDir: modelsDir(), allowRemoteModels: true },
      { HF_ENDPOINT: hub.url, CLOZE_CACHE_DIR: freshCache() },
    );
    try {
      const missing = freshUri();
      const gated = freshUri();
      await open(client, missing, textFor('hub-test/nope'));
      await open(client, gated, textFor('hub-test/gated'));
      const [a, b] = await Promise.all([
        client.diagnostics(missing, (d) => codes(d).includes('model-unavailable')),
        client.diagnostics(gated, (d) => codes(d).includes('model-unavailable')),
      ]);
      assert.match(a.find((d) => d.code === 'model-unavailable')!.message, /the hub has no model hub-test\/nope \(404\)\. Check the id/);
      assert.match(b.find((d) => d.code === 'model-unavailable')!.message, /\(401\): hub-test\/gated is gated or private.*HF_TOKEN/);
    } finally {
      await client.close();
      await hub.close();
    }
  });
});

describe('the ONNX file fails to download after the tokenizer arrived', () => {
  test('one model-unavailable beside the label-word checks, and the model state says unavailable, not ready', async () => {
    // A hub repository with the tokenizer's files and no ONNX file: its download fails after the tokenizer's
    // files are in the cache, the case where the server used to publish no diagnostic and say "ready".
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-no-onnx-'));
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
      fs.copyFileSync(path.join(modelsDir(), 'review-bert-small-xenova', file), path.join(folder, file));
    const hub = await startHub({ models: { 'hub-test/no-onnx': folder } });
    const client = await startServer(
      { modelsDir: modelsDir(), allowRemoteModels: true },
      { HF_ENDPOINT: hub.url, CLOZE_CACHE_DIR: freshCache() },
    );
    const states: Array<{ uri: string; state: string; detail?: string }> = [];
    client.connection.onNotification('cloze/modelState', (state: { uri: string; state: string; detail?: string }) => states.push(state));
    try {
      const uri = freshUri();
      await open(client, uri, textFor('hub-test/no-onnx'));
      const diagnostics = await client.diagnostics(uri, (d) => codes(d).includes('model-unavailable'), 30_000);
      const unavailable = diagnostics.filter((d) => d.code === 'model-unavailable');
      assert.equal(unavailable.length, 1, JSON.stringify(diagnostics));
      assert.match(unavailable[0]!.message, /onnx\/model_quantized\.onnx/);
      // The tokenizer is there: the label words are still checked (`fantastically` is not one token).
      assert.ok(codes(diagnostics).includes('label-word-multi-token'), JSON.stringify(codes(diagnostics)));
      await until('the model state said', () => states.some((s) => s.uri === uri && s.state === 'unavailable'), 5000);
      assert.notEqual(states.filter((s) => s.uri === uri).at(-1)?.state, 'ready', JSON.stringify(states));
    } finally {
      await client.close();
      await hub.close();
    }
  });
});

describe("VS Code's http.proxy reaches the server's downloads", () => {
  test('the environment the client gives the server sends the look-up through the proxy, and a refusal names it', async () => {
    const hub = await startHub({ models: { [hubId]: path.join(modelsDir(), 'review-bert-small-xenova') } });
    const forwarding = await startProxy();
    const refusing = await startProxy({ refuse: 403 });
    // What client/src/extension.ts starts the server with when the user has set http.proxy (and the environment names none).
    const start = (proxy: string) =>
      startServer(
        { modelsDir: modelsDir(), allowRemoteModels: true },
        serverEnvironment({ HF_ENDPOINT: hub.url, CLOZE_CACHE_DIR: freshCache() }, proxy, undefined),
      );
    const through = await start(forwarding.url);
    const refused = await start(refusing.url);
    try {
      const uri = freshUri();
      await open(through, uri, textFor(hubId));
      // fantastically is no single token of the downloaded tokenizer: the check ran on it.
      await through.diagnostics(uri, (d) => codes(d).includes('label-word-multi-token'), 30_000);
      assert.ok(
        forwarding.requests.some((r) => r === `GET ${hub.url}/${hubId}/resolve/main/tokenizer.json`),
        forwarding.requests.join(', '),
      );
      const blocked = freshUri();
      await open(refused, blocked, textFor(hubId));
      const diagnostics = await refused.diagnostics(blocked, (d) => codes(d).includes('model-unavailable'), 10_000);
      const message = diagnostics.find((d) => d.code === 'model-unavailable')!.message;
      // Over http:// the proxy answers in the hub's place: a 403 without the hub's error headers is the proxy's.
      assert.match(
        message,
        /^Model hub-test\/review-bert-small-xenova is unavailable: (\S+ does not exist, and the download failed: )?the proxy http:\/\/127\.0\.0\.1:\d+ refused to connect to 127\.0\.0\.1:\d+ \(403 Forbidden\)/,
      );
      assert.doesNotMatch(message, /gated|HF_TOKEN/);
      assert.ok(refusing.requests.length > 0, 'the refusing proxy was asked');
    } finally {
      await through.close();
      await refused.close();
      await Promise.all([hub.close(), forwarding.close(), refusing.close()]);
    }
  });
});

describe('the other models of `models:` while the default is remote', () => {
  // Two servers start and load a tokenizer each beside the other test files (two at a time):
  // on a loaded 2-core machine that took longer than 10 s once, so the waits allow 30 s.
  test('are checked while it downloads and after its download failed', async () => {
    const tarpit = await startTarpit();
    const hub = await startHub({ models: {} });
    const client = await startServer(
      { modelsDir: modelsDir(), allowRemoteModels: true },
      { HF_ENDPOINT: hub.url, CLOZE_CACHE_DIR: freshCache(), CLOZE_RESOLVE_DELAY_MS: '100' },
    );
    const slow = await startServer(
      { modelsDir: modelsDir(), allowRemoteModels: true },
      { HF_ENDPOINT: tarpit.url, CLOZE_CACHE_DIR: freshCache(), CLOZE_RESOLVE_DELAY_MS: '100', CLOZE_HUB_READ_TIMEOUT_MS: '60000' },
    );
    const text = `models: hub-test/nope, ./no-such-model, review-bert-small-xenova\n${body}`;
    const otherProblems = (d: Diagnostic[]) => d.filter((x) => x.code === 'model-unavailable' && /no-such-model/.test(x.message));
    try {
      // Failed: the default's failure and the other entry's own diagnostic, side by side.
      const failedUri = freshUri();
      await open(client, failedUri, text);
      const failed = await client.diagnostics(
        failedUri,
        (d) => d.some((x) => /hub-test\/nope \(404\)/.test(x.message)) && otherProblems(d).length > 0,
        30_000,
      );
      assert.equal(otherProblems(failed).length, 1, JSON.stringify(failed));
      // Downloading (the tarpit never answers): the other entry is checked all the same.
      const downloadingUri = freshUri();
      await open(slow, downloadingUri, text);
      await until('a connection to the tarpit', () => tarpit.connections() >= 1, 30_000);
      const downloading = await slow.diagnostics(downloadingUri, (d) => otherProblems(d).length > 0, 30_000);
      assert.equal(otherProblems(downloading).length, 1, JSON.stringify(downloading));
    } finally {
      await client.close();
      await slow.close();
      await hub.close();
      await tarpit.close();
    }
  });
});

describe('a download with progress and cancel', () => {
  test('reports bytes in a cancellable progress and in the lenses; the tokenizer checks do not wait for the ONNX file; Cancel leaves nothing half-written', async () => {
    const hub = await startHub({ models: { [hubId]: path.join(modelsDir(), 'review-bert-small-xenova') }, bytesPerSecond: 2_000_000 });
    const cacheDir = freshCache();
    const client = await startServer(
      { modelsDir: modelsDir(), allowRemoteModels: true },
      { HF_ENDPOINT: hub.url, CLOZE_CACHE_DIR: cacheDir },
    );
    const progress: Array<{ token: unknown; value: ProgressValue }> = [];
    client.connection.onNotification('$/progress', (params: { token: unknown; value: ProgressValue }) => progress.push(params));
    try {
      const uri = freshUri();
      await open(client, uri, textFor(hubId));
      // The tokenizer's files come first: its checks run while the 19 MB model file still downloads.
      await client.diagnostics(uri, (d) => codes(d).includes('label-word-multi-token'), 20_000);
      const begin = progress.find((p) => p.value.kind === 'begin');
      assert.ok(begin, 'no progress began');
      assert.equal(begin.value.title, `Downloading ${hubId}`);
      assert.equal(begin.value.cancellable, true);
      const report = await until('a progress report with bytes', () =>
        progress.find((p) => p.value.kind === 'report' && / of \d+(\.\d)? MB$/.test(p.value.message ?? '')),
      );
      // The download's progress once, on the first lens (the pattern's line); the others a short spinner.
      const titles = await lensTitles(client, uri);
      assert.ok(titles.length > 1, titles.join(' | '));
      assert.match(titles[0], new RegExp(`^loading ${hubId}… [\\d.]+ of [\\d.]+ MB$`));
      for (const title of titles.slice(1)) assert.match(title, /^(\$\(loading~spin\)|…)$/, titles.join(' | '));
      await client.connection.sendNotification('window/workDoneProgress/cancel', { token: report.token });
      await until('the progress to end', () => progress.some((p) => p.value.kind === 'end'), 5000);
      const after = await until('a lens saying the download was cancelled', async () => {
        const list = await lensTitles(client, uri);
        return list.some((title) => /is unavailable: the download was cancelled/.test(title)) ? list : undefined;
      });
      assert.match(after[0], /is unavailable: the download was cancelled/);
      for (const title of after.slice(1)) assert.match(title, /no preview \(why: the lens on line 2\)$/, after.join(' | '));
      assert.ok(!fs.existsSync(path.join(cacheDir, hubId, 'onnx')), 'a part of the ONNX file is in the model folder');
      assert.deepEqual(fs.readdirSync(path.join(cacheDir, '.partial')), []);
      // Not restarted by itself; saving asks again.
      const onnxRequests = () => hub.requests.filter((p) => p.endsWith('model_quantized.onnx')).length;
      const before = onnxRequests();
      await sleep(1500);
      assert.equal(onnxRequests(), before);
      await client.connection.sendNotification('textDocument/didSave', { textDocument: { uri } });
      await until('the download to start again after saving', () => onnxRequests() > before, 5000);
    } finally {
      await client.close();
      await hub.close();
    }
  });
});

describe('a download shown as a VS Code notification', () => {
  test('cloze/download reports bytes and cloze/cancelDownload stops it', async () => {
    const hub = await startHub({ models: { [hubId]: path.join(modelsDir(), 'review-bert-small-xenova') }, bytesPerSecond: 2_000_000 });
    const cacheDir = freshCache();
    const settings = { modelsDir: modelsDir(), allowRemoteModels: true };
    const client = await startServer(
      settings,
      { HF_ENDPOINT: hub.url, CLOZE_CACHE_DIR: cacheDir },
      { initializationOptions: { settings, downloadNotifications: true } },
    );
    const events: Array<{ id: string; kind: string; message?: string; percentage?: number }> = [];
    const progress: unknown[] = [];
    client.connection.onNotification('cloze/download', (event: (typeof events)[number]) => events.push(event));
    client.connection.onNotification('$/progress', (params: unknown) => progress.push(params));
    try {
      const uri = freshUri();
      await open(client, uri, textFor(hubId));
      const report = await until('a cloze/download report with bytes', () =>
        events.find((e) => e.kind === 'report' && e.id === hubId && / of \d+(\.\d)? MB$/.test(e.message ?? '') && (e.percentage ?? 0) > 0),
      );
      assert.ok(report.percentage! < 100);
      assert.equal(events[0]!.kind, 'begin');
      await client.connection.sendNotification('cloze/cancelDownload', { id: hubId });
      await until('the download to end', () => events.some((e) => e.kind === 'end'), 5000);
      await until('a lens saying the download was cancelled', async () =>
        (await lensTitles(client, uri)).some((title) => /is unavailable: the download was cancelled/.test(title)),
      );
      assert.ok(!fs.existsSync(path.join(cacheDir, hubId, 'onnx')));
      assert.deepEqual(progress, [], 'LSP progress was shown too');
    } finally {
      await client.close();
      await hub.close();
    }
  });
});

describe('a quiet start', () => {
  test('an empty file with default settings shows no model error and starts no download until it has a pattern', async () => {
    const hub = await startHub({ models: {} });
    // Default settings: cloze.model Xenova/bert-base-uncased, downloads allowed, no models folder.
    const client = await startServer(
      {},
      { HF_ENDPOINT: hub.url, CLOZE_CACHE_DIR: freshCache(), CLOZE_MODELS_DIR: '' },
      { initializationOptions: {} },
    );
    try {
      const uri = freshUri();
      await open(client, uri, '');
      await client.diagnostics(uri);
      await sleep(2000);
      for (const published of client.published.get(uri) ?? [])
        assert.ok(!codes(published).includes('model-unavailable'), JSON.stringify(published));
      assert.deepEqual(hub.requests, []);
      await client.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [{ text: '# my task\n\npattern: {review} It was [MASK].\n' }],
      });
      const diagnostics = await client.diagnostics(uri, (d) => codes(d).includes('model-unavailable'), 10_000);
      const unavailable = diagnostics.find((d) => d.code === 'model-unavailable')!;
      assert.match(
        unavailable.message,
        /Xenova\/bert-base-uncased is unavailable \(the file has no `model:` line, so the cloze.model setting chose it\): the hub has no model/,
      );
      // A file-level problem without a line of its own goes on line 1.
      assert.equal(unavailable.range.start.line, 0);
      assert.deepEqual(hub.modelsAsked(), ['Xenova/bert-base-uncased']);
    } finally {
      await client.close();
      await hub.close();
    }
  });

  test('a file-level problem is not placed under a model: line that is fine', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false }, { CLOZE_CACHE_DIR: freshCache() });
    try {
      const uri = freshUri();
      await open(client, uri, 'model: tiny-random-bert-uncased\n\npattern: {text} It was [MASK].\n');
      const diagnostics = await client.diagnostics(uri, (d) => codes(d).includes('verbalizer-missing'));
      assert.ok(!codes(diagnostics).includes('model-unavailable'));
      assert.equal(diagnostics.find((d) => d.code === 'verbalizer-missing')!.range.start.line, 2);
    } finally {
      await client.close();
    }
  });
});

describe('settings from every client', () => {
  const wantTokenizerDiagnostics = async (client: TestClient): Promise<void> => {
    const uri = freshUri();
    await open(client, uri, textFor('review-bert-small-xenova'));
    const diagnostics = await client.diagnostics(
      uri,
      (d) => codes(d).includes('label-word-multi-token') || codes(d).includes('model-unavailable'),
    );
    assert.deepEqual(
      codes(diagnostics).filter((c) => c === 'label-word-multi-token' || c === 'model-unavailable'),
      ['label-word-multi-token'],
      JSON.stringify(diagnostics),
    );
  };
  const env = () => ({ CLOZE_CACHE_DIR: freshCache(), CLOZE_MODELS_DIR: '', HF_ENDPOINT: 'http://127.0.0.1:9' });

  test('from initializationOptions, for a client that neither pulls nor pushes (no dynamic registration asked)', async () => {
    const client = await startServer({}, env(), {
      capabilities: { textDocument: { codeLens: {} } },
      initializationOptions: { cloze: { modelsDir: modelsDir(), allowRemoteModels: false } },
    });
    try {
      await wantTokenizerDiagnostics(client);
      assert.deepEqual(client.requests, []);
    } finally {
      await client.close();
    }
  });

  test('from a didChangeConfiguration push when the pull answers nothing (eglot without a cloze section)', async () => {
    const client = await startServer(null as unknown as Record<string, unknown>, env(), {
      capabilities: { workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false } } },
      initializationOptions: null,
    });
    try {
      await client.connection.sendNotification('workspace/didChangeConfiguration', {
        settings: { cloze: { modelsDir: modelsDir(), allowRemoteModels: false } },
      });
      await wantTokenizerDiagnostics(client);
      assert.deepEqual(client.requests, [], 'the server registered dynamically with a client that cannot take it');
    } finally {
      await client.close();
    }
  });

  test('from workspace/configuration pulls, with dynamic registration where the client supports it', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false }, env(), {
      capabilities: { workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } } },
      initializationOptions: null,
    });
    try {
      await wantTokenizerDiagnostics(client);
      assert.deepEqual(
        client.requests.map((r) => r.method),
        ['client/registerCapability'],
      );
    } finally {
      await client.close();
    }
  });
});

describe('a models folder that is wrong, in the editor', () => {
  test('the folder leads the message when the download fails too, and `~/` in cloze.modelsDir is the home folder', async () => {
    // A home of the test's own, so `~/` points somewhere known without touching the real one.
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-home-'));
    fs.mkdirSync(path.join(home, 'models'));
    fs.symlinkSync(path.join(modelsDir(), 'tiny-random-bert-uncased'), path.join(home, 'models', 'tiny-random-bert-uncased'));
    // Nothing listens on port 9: the download fails at once, as offline.
    const env = { HOME: home, CLOZE_CACHE_DIR: freshCache(), CLOZE_MODELS_DIR: '', HF_ENDPOINT: 'http://127.0.0.1:9' };
    for (const [dir, expect] of [
      [
        '~/no-such-models',
        new RegExp(
          `the models folder ${path.join(home, 'no-such-models').replace(/[/.]/g, '\\$&')} does not exist, and the download failed`,
        ),
      ],
      ['~/models', undefined],
    ] as const) {
      const client = await startServer({ modelsDir: dir, allowRemoteModels: true }, env);
      try {
        const uri = freshUri();
        await open(client, uri, 'model: tiny-random-bert-uncased\npattern: {text} It was [MASK].\nverbalizer:\n  a: great\n  b: bad\n');
        const settled = (d: Diagnostic[]): boolean =>
          codes(d).includes('model-unavailable') || client.published.get(uri)?.length === 2 || (expect === undefined && d.length === 0);
        const diagnostics = await client.diagnostics(uri, settled, 30_000);
        if (expect) assert.match(diagnostics.find((d) => d.code === 'model-unavailable')?.message ?? JSON.stringify(diagnostics), expect);
        else assert.deepEqual(codes(diagnostics), [], `~/models holds the model: ${JSON.stringify(diagnostics)}`);
      } finally {
        await client.close();
      }
    }
    fs.rmSync(home, { recursive: true, force: true });
  });
});
