import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  cacheState,
  DownloadError,
  downloadModel,
  hubOptionsFromEnv,
  onnxFile,
  partFilePrefix,
  TOKENIZER_FILES,
  type DownloadProgress,
  type HubOptions,
} from '../../server/src/model/download';
import { resolveModel } from '../../server/src/model/resolve';
import { TokenizerCache } from '../../server/src/model/tokenizers';
import { startHub, startTarpit, type FakeHub } from '../support/hub';
import { startProxy } from '../support/proxy';
import { modelsDir } from '../support/paths';

/**
 * Cloze's downloader against a hub on loopback serving the real models of
 * ../shared/models at the hub's URL layout (and a tarpit that never answers):
 * what lands in the cache, what never does, and what a failure says.
 */

const id = 'hub-test/review-bert-small-xenova';
const source = () => path.join(modelsDir(), 'review-bert-small-xenova');

function hubOptions(endpoint: string, readTimeoutMs = 5000): HubOptions {
  return { endpoint, token: undefined, connectTimeoutMs: 2000, readTimeoutMs };
}

function freshCache(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-download-'));
}

/** Every file under a folder, relative, sorted. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

async function failure(promise: Promise<unknown>): Promise<DownloadError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DownloadError, `expected a DownloadError, got ${String(error)}`);
    return error;
  }
  assert.fail('the download succeeded');
}

describe('downloading a model from a hub on loopback', () => {
  let hub: FakeHub;
  before(async () => (hub = await startHub({ models: { [id]: source() }, gated: ['hub-test/gated'] })));
  after(async () => hub.close());

  test('fetches the tokenizer files and only the int8 ONNX file, byte for byte, with progress', async () => {
    const cacheDir = freshCache();
    const progress: DownloadProgress[] = [];
    hub.requests.length = 0;
    await downloadModel({
      id,
      cacheDir,
      files: [...TOKENIZER_FILES, onnxFile(true)],
      hub: hubOptions(hub.url),
      onProgress: (p) => progress.push(p),
    });
    const folder = path.join(cacheDir, id);
    assert.deepEqual(filesUnder(folder), [
      '.cloze-download.json',
      'config.json',
      'onnx/model_quantized.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    for (const file of [...TOKENIZER_FILES, onnxFile(true)]) {
      assert.ok(
        fs.readFileSync(path.join(folder, file)).equals(fs.readFileSync(path.join(source(), file))),
        `${file} differs from the served file`,
      );
    }
    assert.ok(!hub.requests.some((p) => p.endsWith('onnx/model.onnx')), `the fp32 file was asked for: ${hub.requests.join(', ')}`);
    assert.deepEqual(filesUnder(path.join(cacheDir, '.partial')), []);
    const last = progress.at(-1)!;
    const expected = [...TOKENIZER_FILES, onnxFile(true)].reduce((sum, file) => sum + fs.statSync(path.join(source(), file)).size, 0);
    assert.equal(last.receivedBytes, expected);
    assert.equal(last.totalBytes, expected);
    assert.ok(progress.length > 10, `only ${progress.length} progress reports`);
    // The real loading code reads it from the cache, and resolution finds it there.
    const location = resolveModel(id, undefined, { modelsDir: '', allowRemoteModels: false, cacheDir });
    assert.equal(location.ok && location.source, 'cache');
    const tokenizer = await new TokenizerCache(cacheDir).get(location as Extract<typeof location, { ok: true }>);
    assert.ok(tokenizer.ok && tokenizer.tokenizer.tokenize('great').length === 1);
    // A second call fetches nothing.
    const before = hub.requests.length;
    await downloadModel({ id, cacheDir, files: [...TOKENIZER_FILES, onnxFile(true)], hub: hubOptions(hub.url) });
    assert.equal(hub.requests.length, before);
  });

  test('a damaged cache entry is recognised and fetched again, and only its damaged file', async () => {
    const cacheDir = freshCache();
    await downloadModel({ id, cacheDir, files: TOKENIZER_FILES, hub: hubOptions(hub.url) });
    const tokenizerJson = path.join(cacheDir, id, 'tokenizer.json');
    fs.truncateSync(tokenizerJson, 1000);
    const offline = resolveModel(id, undefined, { modelsDir: '', allowRemoteModels: false, cacheDir });
    assert.ok(!offline.ok && /damaged \(tokenizer\.json/.test(offline.reason), JSON.stringify(offline));
    const online = resolveModel(id, undefined, { modelsDir: '', allowRemoteModels: true, cacheDir });
    assert.equal(online.ok && online.source, 'remote');
    hub.requests.length = 0;
    await downloadModel({ id, cacheDir, files: TOKENIZER_FILES, hub: hubOptions(hub.url) });
    assert.deepEqual(hub.requests, [`/${id}/resolve/main/tokenizer.json`]);
    assert.equal(fs.statSync(tokenizerJson).size, fs.statSync(path.join(source(), 'tokenizer.json')).size);
    const fixed = resolveModel(id, undefined, { modelsDir: '', allowRemoteModels: false, cacheDir });
    assert.equal(fixed.ok && fixed.source, 'cache');
  });

  test('404: no such model, or no ONNX export', async () => {
    const cacheDir = freshCache();
    const missing = await failure(downloadModel({ id: 'hub-test/nope', cacheDir, files: TOKENIZER_FILES, hub: hubOptions(hub.url) }));
    assert.equal(missing.kind, 'not-found');
    assert.match(missing.message, /the hub has no model hub-test\/nope \(404\)\. Check the id/);
    const noOnnx = await failure(downloadModel({ id, cacheDir, files: ['onnx/model_fp16.onnx'], hub: hubOptions(hub.url) }));
    assert.match(noOnnx.message, /has no onnx\/model_fp16\.onnx on the hub \(404\): it is not exported for transformers\.js/);
    assert.deepEqual(filesUnder(cacheDir), []);
  });

  test('a bare 404, as a filtering network answers every request: not "the hub has no model", and the id is not blamed', async () => {
    // What this very machine's network does for any address it does not let through: 404, no body, no hub headers.
    const server = createServer((_request, response) => response.writeHead(404, { server: 'filter' }).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const cacheDir = freshCache();
      const error = await failure(downloadModel({ id, cacheDir, files: TOKENIZER_FILES, hub: hubOptions(`http://127.0.0.1:${port}`) }));
      assert.equal(error.kind, 'not-found');
      assert.match(
        error.message,
        /^127\.0\.0\.1:\d+ answered 404 for config\.json of hub-test\/review-bert-small-xenova without the hub's error headers/,
      );
      assert.match(error.message, /a proxy or web filter on the way may have answered in its place/);
      assert.doesNotMatch(error.message, /the hub has no model|Check the id:/);
      assert.deepEqual(filesUnder(cacheDir), []);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('401: gated or private, and what to do', async () => {
    const cacheDir = freshCache();
    const gated = await failure(downloadModel({ id: 'hub-test/gated', cacheDir, files: TOKENIZER_FILES, hub: hubOptions(hub.url) }));
    assert.equal(gated.kind, 'unauthorized');
    assert.match(gated.message, /\(401\): hub-test\/gated is gated or private.*set HF_TOKEN/);
  });

  test('a refused connection says the hub cannot be reached', async () => {
    const closed = await startTarpit();
    const url = closed.url;
    await closed.close();
    const error = await failure(downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(url) }));
    assert.equal(error.kind, 'offline');
    assert.match(error.message, /cannot be reached \(ECONNREFUSED\)/);
  });

  test('a mirror at an http:// address that cannot be reached: the advice names HTTP_PROXY, the variable that would reach it', async () => {
    // `.invalid` never resolves (RFC 6761): ENOTFOUND, or EAI_AGAIN where no name server answers.
    const error = await failure(
      downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions('http://cloze-mirror.invalid') }),
    );
    assert.equal(error.kind, 'offline');
    assert.match(error.message, /^offline: cloze-mirror\.invalid cannot be reached \((ENOTFOUND|EAI_AGAIN)\)/);
    assert.match(error.message, /behind a proxy: set HTTP_PROXY/);
    assert.doesNotMatch(error.message, /HTTPS_PROXY/);
  });
});

describe('downloads that do not finish', () => {
  test('a tarpit that never answers: one connection, a timeout after the read timeout, nothing in the cache', async () => {
    const tarpit = await startTarpit();
    const cacheDir = freshCache();
    const started = performance.now();
    const error = await failure(downloadModel({ id, cacheDir, files: TOKENIZER_FILES, hub: hubOptions(tarpit.url, 700) }));
    const elapsed = performance.now() - started;
    assert.equal(error.kind, 'timeout');
    assert.match(error.message, /accepted the connection but sent no answer within 0\.7 s/);
    assert.ok(elapsed >= 650 && elapsed < 5000, `took ${elapsed} ms`);
    assert.equal(tarpit.connections(), 1);
    assert.deepEqual(filesUnder(path.join(cacheDir, id)), []);
    await tarpit.close();
  });

  test('a timeout names the settings in the editor and the flags in the CLI', async () => {
    const tarpit = await startTarpit();
    const request = { id, files: TOKENIZER_FILES, hub: hubOptions(tarpit.url, 300) };
    const editor = await failure(downloadModel({ ...request, cacheDir: freshCache() }));
    assert.match(editor.message, /models folder \(cloze\.modelsDir\)\. Edit the id or save the file to try again\./);
    const cli = await failure(downloadModel({ ...request, cacheDir: freshCache(), userInterface: 'cli' }));
    assert.match(cli.message, /models folder \(--models-dir or CLOZE_MODELS_DIR\)\. Run the command again to retry\./);
    assert.doesNotMatch(cli.message, /cloze\.|save the file/);
    await tarpit.close();
  });

  test('a connection broken off mid-file leaves nothing half-written', async () => {
    const hub = await startHub({ models: { [id]: source() }, breakAfterBytes: 2_000_000 });
    const cacheDir = freshCache();
    const error = await failure(downloadModel({ id, cacheDir, files: [...TOKENIZER_FILES, onnxFile(true)], hub: hubOptions(hub.url) }));
    assert.match(error.message, /broke off|cannot be reached/);
    assert.deepEqual(filesUnder(path.join(cacheDir, id)), [
      '.cloze-download.json',
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    assert.deepEqual(filesUnder(path.join(cacheDir, '.partial')), []);
    await hub.close();
  });

  test('a cancelled download stops at once and leaves nothing half-written', async () => {
    const hub = await startHub({ models: { [id]: source() }, bytesPerSecond: 2_000_000 });
    const cacheDir = freshCache();
    const controller = new AbortController();
    let cancelledAt = 0;
    const download = downloadModel({
      id,
      cacheDir,
      files: [...TOKENIZER_FILES, onnxFile(true)],
      hub: hubOptions(hub.url),
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.file.startsWith('onnx/') && progress.receivedBytes > 1_500_000 && !cancelledAt) {
          cancelledAt = performance.now();
          controller.abort();
        }
      },
    });
    const error = await failure(download);
    assert.equal(error.kind, 'cancelled');
    assert.ok(performance.now() - cancelledAt < 500, 'the download did not stop at once');
    assert.ok(!fs.existsSync(path.join(cacheDir, id, 'onnx')), 'a part of the ONNX file is in the model folder');
    assert.deepEqual(filesUnder(path.join(cacheDir, '.partial')), []);
    await hub.close();
  });
});

/** Sets proxy variables for one test and restores the environment after it (this file's tests run one at a time). */
async function withEnvironment<T>(variables: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const saved = new Map(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  try {
    return await run();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe('downloading through a proxy (HTTP_PROXY, NO_PROXY) on loopback', () => {
  let hub: FakeHub;
  before(async () => (hub = await startHub({ models: { [id]: source() } })));
  after(async () => hub.close());

  test('every request goes through the proxy the environment names, and the files arrive byte for byte', async () => {
    const proxy = await startProxy();
    const cacheDir = freshCache();
    await withEnvironment({ HTTP_PROXY: proxy.url }, () =>
      downloadModel({ id, cacheDir, files: [...TOKENIZER_FILES, onnxFile(true)], hub: hubOptions(hub.url) }),
    );
    // The ONNX file comes through the hub's redirect to its CDN path: that request goes through the proxy too.
    assert.deepEqual(proxy.requests, [
      ...TOKENIZER_FILES.map((file) => `GET ${hub.url}/${id}/resolve/main/${file}`),
      `GET ${hub.url}/${id}/resolve/main/${onnxFile(true)}`,
      `GET ${hub.url}/cdn/${id}/resolve/main/${onnxFile(true)}`,
    ]);
    for (const file of [...TOKENIZER_FILES, onnxFile(true)]) {
      assert.ok(fs.readFileSync(path.join(cacheDir, id, file)).equals(fs.readFileSync(path.join(source(), file))), file);
    }
    await proxy.close();
  });

  test('NO_PROXY keeps a host off the proxy', async () => {
    const proxy = await startProxy();
    const cacheDir = freshCache();
    await withEnvironment({ HTTP_PROXY: proxy.url, NO_PROXY: 'example.com,127.0.0.1' }, () =>
      downloadModel({ id, cacheDir, files: TOKENIZER_FILES, hub: hubOptions(hub.url) }),
    );
    assert.deepEqual(proxy.requests, []);
    assert.deepEqual(filesUnder(path.join(cacheDir, id)).length, 4);
    await proxy.close();
  });

  test('a proxy that wants credentials: 407 says where they go, and credentials in the URL are sent', async () => {
    const proxy = await startProxy({ credentials: 'ada:p@ss w' });
    const denied = await withEnvironment({ HTTP_PROXY: proxy.url }, () =>
      failure(downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(hub.url), userInterface: 'cli' })),
    );
    assert.equal(denied.kind, 'unauthorized');
    assert.match(
      denied.message,
      /^the proxy http:\/\/127\.0\.0\.1:\d+ asks for credentials \(407\): put them in its URL, http:\/\/user:password@host:port/,
    );
    const withCredentials = proxy.url.replace('http://', 'http://ada:p%40ss%20w@');
    const cacheDir = freshCache();
    await withEnvironment({ HTTP_PROXY: withCredentials }, () =>
      downloadModel({ id, cacheDir, files: TOKENIZER_FILES, hub: hubOptions(hub.url) }),
    );
    assert.equal(filesUnder(path.join(cacheDir, id)).length, 4);
    await proxy.close();
  });

  test('a proxy that is not there, or not a URL, is named in the message; its password never is', async () => {
    const closed = await startProxy();
    await closed.close();
    const refused = await withEnvironment({ HTTP_PROXY: closed.url.replace('http://', 'http://ada:secret@') }, () =>
      failure(downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(hub.url) })),
    );
    assert.equal(refused.kind, 'offline');
    assert.match(
      refused.message,
      /^the proxy http:\/\/127\.0\.0\.1:\d+ cannot be reached \(ECONNREFUSED\)\. Check VS Code's http\.proxy setting or HTTP_PROXY \(and NO_PROXY\)/,
    );
    const socks = await withEnvironment({ HTTP_PROXY: 'socks5://ada:secret@proxy.example.com:1080' }, () =>
      failure(downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(hub.url), userInterface: 'cli' })),
    );
    assert.match(
      socks.message,
      /^HTTP_PROXY is "socks5:\/\/…@proxy\.example\.com:1080": it is not an http:\/\/ or https:\/\/ URL\. Check HTTP_PROXY \(and NO_PROXY\)/,
    );
    // A password with / or @ in it: nothing before the last @ is shown.
    const slashed = await withEnvironment({ HTTP_PROXY: 'socks5://ada:se/cr@t@proxy.example.com:1080' }, () =>
      failure(downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(hub.url) })),
    );
    assert.match(slashed.message, /^HTTP_PROXY is "socks5:\/\/…@proxy\.example\.com:1080"/);
    for (const error of [refused, socks, slashed]) assert.doesNotMatch(error.message, /secret|se\/cr|ada/);
  });

  test("an http:// proxy that answers 5xx in the hub's place is named, not the hub", async () => {
    const proxy = await startProxy({ refuse: 502 });
    const error = await withEnvironment({ HTTP_PROXY: proxy.url }, () =>
      failure(downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(hub.url), userInterface: 'cli' })),
    );
    assert.equal(error.kind, 'http');
    assert.match(error.message, /^the proxy http:\/\/127\.0\.0\.1:\d+ answered 502 for config\.json of 127\.0\.0\.1:\d+\. Try again later/);
    await proxy.close();
  });
});

const PORTAL = '<!DOCTYPE html><html><head><title>Hotel WiFi</title></head><body><h1>Please log in</h1></body></html>\n';
const LFS_POINTER = 'version https://git-lfs.github.com/spec/v1\noid sha256:' + '0'.repeat(64) + '\nsize 1333392\n';

/** Hubs closed after the file's tests whatever they asserted: an open one would keep the test process alive. */
const openHubs: FakeHub[] = [];
after(async () => Promise.all(openHubs.map((hub) => hub.close())));

/** A hub whose answers `answer` replaces where it returns true (a captive portal, a mirror that misbehaves). */
async function misbehavingHub(answer: (response: http.ServerResponse, file: string, cdn: boolean) => boolean): Promise<FakeHub> {
  const hub = await startHub({
    models: { [id]: source() },
    intercept: (_request, response, target) => answer(response, target.file, target.cdn),
  });
  openHubs.push(hub);
  return hub;
}

describe('answers that are not the file are never saved', () => {
  test('a captive portal answering every URL with a web page: said as such, and nothing lands in the cache', async () => {
    const hub = await misbehavingHub((response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PORTAL);
      return true;
    });
    const cacheDir = freshCache();
    const error = await failure(downloadModel({ id, cacheDir, files: [...TOKENIZER_FILES, onnxFile(true)], hub: hubOptions(hub.url) }));
    assert.match(
      error.message,
      /^127\.0\.0\.1:\d+ answered config\.json with a web page \(text\/html\), not the file: a login page or captive portal/,
    );
    assert.deepEqual(filesUnder(path.join(cacheDir, id)), []);
  });

  test('a web page sent as a binary file in place of the ONNX file is refused too', async () => {
    const hub = await misbehavingHub((response, _file, cdn) => {
      if (!cdn) return false;
      response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(PORTAL);
      return true;
    });
    const cacheDir = freshCache();
    const error = await failure(downloadModel({ id, cacheDir, files: [...TOKENIZER_FILES, onnxFile(true)], hub: hubOptions(hub.url) }));
    assert.match(error.message, /answered onnx\/model_quantized\.onnx with a web page/);
    assert.ok(!fs.existsSync(path.join(cacheDir, id, onnxFile(true))));
    assert.deepEqual(filesUnder(path.join(cacheDir, '.partial')), []);
  });

  test('a git-lfs pointer from a mirror cloned without git-lfs is refused, naming the cause', async () => {
    const hub = await misbehavingHub((response, file) => {
      if (!file.endsWith('.onnx')) return false;
      response
        .writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(LFS_POINTER.length) })
        .end(LFS_POINTER);
      return true;
    });
    const cacheDir = freshCache();
    const error = await failure(
      downloadModel({ id, cacheDir, files: [...TOKENIZER_FILES, onnxFile(true)], hub: hubOptions(hub.url), userInterface: 'cli' }),
    );
    assert.equal(error.kind, 'damaged');
    assert.match(
      error.message,
      /^127\.0\.0\.1:\d+ sent a git-lfs pointer in place of onnx\/model_quantized\.onnx of hub-test\/review-bert-small-xenova: .*git lfs pull/,
    );
    assert.ok(!fs.existsSync(path.join(cacheDir, id, onnxFile(true))));
  });

  test('bytes that cannot start an ONNX model are refused', async () => {
    const junk = Buffer.from('PK\x03\x04 not a model at all, a zip file maybe');
    const hub = await misbehavingHub((response, file) => {
      if (!file.endsWith('.onnx')) return false;
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(junk.length) }).end(junk);
      return true;
    });
    const cacheDir = freshCache();
    const error = await failure(downloadModel({ id, cacheDir, files: [onnxFile(true)], hub: hubOptions(hub.url) }));
    assert.match(
      error.message,
      /^onnx\/model_quantized\.onnx of hub-test\/review-bert-small-xenova from 127\.0\.0\.1:\d+ is not an ONNX model/,
    );
    assert.ok(!fs.existsSync(path.join(cacheDir, id, onnxFile(true))));
  });

  test('asks for the files as they are (Accept-Encoding: identity), and refuses a compressed answer', async () => {
    const zlib = await import('node:zlib');
    const plain = await startHub({ models: { [id]: source() } });
    openHubs.push(plain);
    await downloadModel({ id, cacheDir: freshCache(), files: [...TOKENIZER_FILES, onnxFile(true)], hub: hubOptions(plain.url) });
    assert.equal(plain.requestHeaders.length, 5);
    for (const headers of plain.requestHeaders) assert.equal(headers['accept-encoding'], 'identity');
    // A mirror that gzips anyway: not saved (it would not parse, and the hub's SHA-256 is of the plain bytes).
    const gzipping = await misbehavingHub((response, file) => {
      const body = zlib.gzipSync(fs.readFileSync(path.join(source(), file)));
      response
        .writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(body.length) })
        .end(body);
      return true;
    });
    const cacheDir = freshCache();
    const error = await failure(downloadModel({ id, cacheDir, files: TOKENIZER_FILES, hub: hubOptions(gzipping.url) }));
    assert.match(
      error.message,
      /^127\.0\.0\.1:\d+ sent config\.json compressed \(Content-Encoding: gzip\) although Cloze asks for it as it is/,
    );
    assert.deepEqual(filesUnder(path.join(cacheDir, id)), []);
  });

  test('a cache that an older version filled with a web page or a pointer is fetched again', async () => {
    const hub = await startHub({ models: { [id]: source() } });
    openHubs.push(hub);
    const cacheDir = freshCache();
    const files = [...TOKENIZER_FILES, onnxFile(true)];
    await downloadModel({ id, cacheDir, files, hub: hubOptions(hub.url) });
    // What an older version saved and recorded: the pointer's bytes, with their size and hash in the manifest.
    const onnx = path.join(cacheDir, id, onnxFile(true));
    fs.writeFileSync(onnx, LFS_POINTER);
    const manifestFile = path.join(cacheDir, id, '.cloze-download.json');
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { files: Record<string, { size: number; sha256: string }> };
    manifest.files[onnxFile(true)] = { size: LFS_POINTER.length, sha256: crypto.createHash('sha256').update(LFS_POINTER).digest('hex') };
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    assert.deepEqual(cacheState(cacheDir, id, files), { missing: [], damaged: [onnxFile(true)] });
    hub.requests.length = 0;
    await downloadModel({ id, cacheDir, files, hub: hubOptions(hub.url) });
    assert.deepEqual(hub.requests, [`/${id}/resolve/main/${onnxFile(true)}`, `/cdn/${id}/resolve/main/${onnxFile(true)}`]);
    assert.ok(fs.readFileSync(onnx).equals(fs.readFileSync(path.join(source(), onnxFile(true)))));
    assert.deepEqual(cacheState(cacheDir, id, files), { missing: [], damaged: [] });
  });
});

describe('redirects Cloze does not follow', () => {
  test("a Location that is not http:// or https:// is the server's error, said as a redirect, not a disk problem", async () => {
    const hub = await misbehavingHub((response, file) => {
      if (!file.endsWith('.onnx')) return false;
      response.writeHead(302, { location: 'file:///etc/passwd' }).end();
      return true;
    });
    const cacheDir = freshCache();
    const error = await failure(downloadModel({ id, cacheDir, files: [onnxFile(true)], hub: hubOptions(hub.url), userInterface: 'cli' }));
    assert.equal(error.kind, 'http');
    assert.match(
      error.message,
      /^127\.0\.0\.1:\d+ redirected onnx\/model_quantized\.onnx to a file:\/\/ URL: Cloze follows redirects to http:\/\/ and https:\/\/ only\. Check HF_ENDPOINT/,
    );
    assert.doesNotMatch(error.message, /could not be saved/);
    assert.deepEqual(filesUnder(path.join(cacheDir, id)), []);
  });
});

describe('refusals that are not the hub saying the model is gated', () => {
  test('a 403 from the CDN the hub redirects to names that host, and says nothing of a gated model', async () => {
    const cdn = await misbehavingHub((response) => {
      response.writeHead(403, { 'content-type': 'text/plain' }).end('Request has expired');
      return true;
    });
    const hub = await misbehavingHub((response, file) => {
      if (!file.endsWith('.onnx')) return false;
      response.writeHead(302, { location: `${cdn.url}/cdn/${id}/resolve/main/${file}` }).end();
      return true;
    });
    const error = await failure(
      downloadModel({ id, cacheDir: freshCache(), files: [onnxFile(true)], hub: { ...hubOptions(hub.url), token: 'hf_token' } }),
    );
    const cdnHost = new URL(cdn.url).host;
    assert.ok(
      error.message.startsWith(`${cdnHost}, where the hub sent the download of onnx/model_quantized.onnx, refused it (403)`),
      error.message,
    );
    assert.match(error.message, /a firewall or proxy blocks that host, or the signed download link expired/);
    assert.doesNotMatch(error.message, /gated|HF_TOKEN/);
  });

  test("a 403 from the hub's address without the hub's error headers is a firewall's, not a gated model", async () => {
    const hub = await misbehavingHub((response) => {
      response.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden by policy');
      return true;
    });
    const error = await failure(
      downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(hub.url), userInterface: 'cli' }),
    );
    assert.match(
      error.message,
      /^127\.0\.0\.1:\d+ refused config\.json \(403\) without the hub's error headers: a firewall, proxy or web filter/,
    );
    assert.doesNotMatch(error.message, /gated|HF_TOKEN/);
  });

  test('429 says when to try again, and suggests HF_TOKEN for the hub’s anonymous limit', async () => {
    const hub = await misbehavingHub((response) => {
      response.writeHead(429, { 'retry-after': '30', 'x-error-message': 'rate limited' }).end();
      return true;
    });
    const error = await failure(
      downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(hub.url), userInterface: 'cli' }),
    );
    assert.match(
      error.message,
      /^127\.0\.0\.1:\d+ answered 429 \(too many requests\) for config\.json: try again in 30 s\. The hub limits anonymous downloads more: set HF_TOKEN/,
    );
  });
});

describe('settings and failures that are not the network', () => {
  test('an HF_ENDPOINT without a scheme, or not http(s), is said naming the variable before anything is sent', async () => {
    for (const value of ['huggingface.co', 'ftp://mirror.example.com']) {
      const error = await failure(
        downloadModel({
          id,
          cacheDir: freshCache(),
          files: TOKENIZER_FILES,
          hub: hubOptionsFromEnv({ HF_ENDPOINT: value }),
          userInterface: 'cli',
        }),
      );
      assert.equal(error.kind, 'settings');
      assert.ok(
        error.message.startsWith(`HF_ENDPOINT is "${value}": it is not an http:// or https:// URL. Set it in the environment`),
        error.message,
      );
    }
  });

  test('an HF_TOKEN with a trailing line break is trimmed; one with a control character inside is refused without showing it', async () => {
    const hub = await misbehavingHub(() => false);
    const cacheDir = freshCache();
    await downloadModel({
      id,
      cacheDir,
      files: TOKENIZER_FILES,
      hub: { ...hubOptionsFromEnv({ HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_abc \r\n' }), connectTimeoutMs: 2000 },
    });
    assert.deepEqual(
      hub.requestHeaders.map((headers) => headers.authorization),
      TOKENIZER_FILES.map(() => 'Bearer hf_abc'),
    );
    const error = await failure(
      downloadModel({
        id,
        cacheDir: freshCache(),
        files: TOKENIZER_FILES,
        hub: hubOptionsFromEnv({ HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_se\u0001cret' }),
      }),
    );
    assert.equal(error.kind, 'settings');
    assert.match(
      error.message,
      /^HF_TOKEN holds a control character or a character that is not ASCII, so it cannot be sent\. Set it in the editor's environment/,
    );
    assert.doesNotMatch(error.message, /se.?cret/);
  });

  test('"could not be saved" is kept for the file system: a cache where a file blocks the model folder', async () => {
    const hub = await misbehavingHub(() => false);
    const cacheDir = freshCache();
    fs.writeFileSync(path.join(cacheDir, 'hub-test'), 'a file where the folder goes');
    const error = await failure(downloadModel({ id, cacheDir, files: TOKENIZER_FILES, hub: hubOptions(hub.url) }));
    assert.equal(error.kind, 'disk');
    assert.match(
      error.message,
      /^config\.json of hub-test\/review-bert-small-xenova could not be saved in .*hub-test.review-bert-small-xenova: ENOTDIR/,
    );
  });
});

/** A hub whose ONNX file (on its CDN path) is answered by `send`, with the real bytes and their length. */
async function onnxBodyHub(send: (request: http.IncomingMessage, response: http.ServerResponse, data: Buffer) => void): Promise<FakeHub> {
  const data = fs.readFileSync(path.join(source(), onnxFile(true)));
  const hub = await startHub({
    models: { [id]: source() },
    intercept: (request, response, target) => {
      // Redirected without hashing the file first, so that no read timeout of these tests waits on the hub's hashing.
      if (!target.cdn) response.writeHead(302, { location: `/cdn/${id}/resolve/main/${target.file}` }).end();
      else send(request, response, data);
      return true;
    },
  });
  openHubs.push(hub);
  return hub;
}

describe('a body that begins and does not end right says how far it came, from where', () => {
  test('a stall after half the file: "stalled after N of M bytes", not "sent no answer"', async () => {
    let half = 0;
    const hub = await onnxBodyHub((_request, response, data) => {
      half = Math.floor(data.length / 2);
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length) });
      response.write(data.subarray(0, half)); // and nothing more, the connection kept open
    });
    const error = await failure(downloadModel({ id, cacheDir: freshCache(), files: [onnxFile(true)], hub: hubOptions(hub.url, 300) }));
    const total = fs.statSync(path.join(source(), onnxFile(true))).size;
    assert.equal(error.kind, 'timeout');
    assert.match(
      error.message,
      new RegExp(
        `^the download of onnx/model_quantized\\.onnx from 127\\.0\\.0\\.1:\\d+ stalled after ${half} of ${total} bytes: nothing came for 0\\.3 s\\.`,
      ),
    );
    assert.doesNotMatch(error.message, /sent no answer|captive portal/);
  });

  test('a stall through an http:// proxy names the proxy', async () => {
    const hub = await onnxBodyHub((_request, response, data) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length) });
      response.write(data.subarray(0, 1000));
    });
    const proxy = await startProxy();
    try {
      const error = await withEnvironment({ HTTP_PROXY: proxy.url }, () =>
        failure(downloadModel({ id, cacheDir: freshCache(), files: [onnxFile(true)], hub: hubOptions(hub.url, 300) })),
      );
      assert.match(
        error.message,
        /^the download of onnx\/model_quantized\.onnx from 127\.0\.0\.1:\d+ through the proxy http:\/\/127\.0\.0\.1:\d+ stalled after 1000 of \d+ bytes/,
      );
    } finally {
      await proxy.close();
    }
  });

  test('a connection reset mid-file: "broke off after N of M bytes", not "cannot be reached"', async () => {
    const hub = await onnxBodyHub((request, response, data) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length) });
      response.write(data.subarray(0, Math.floor(data.length / 2)), () => request.socket.destroy());
    });
    const error = await failure(downloadModel({ id, cacheDir: freshCache(), files: [onnxFile(true)], hub: hubOptions(hub.url) }));
    assert.match(error.message, /^the download of onnx\/model_quantized\.onnx from 127\.0\.0\.1:\d+ broke off after \d+ of \d+ bytes/);
    assert.doesNotMatch(error.message, /cannot be reached|Check the network/);
  });

  test('a body shorter than its Content-Length, then the end: "broke off after N of M bytes"', async () => {
    const hub = await onnxBodyHub((request, response, data) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length + 1000) });
      response.end(data, () => request.socket.end());
    });
    const error = await failure(downloadModel({ id, cacheDir: freshCache(), files: [onnxFile(true)], hub: hubOptions(hub.url) }));
    const total = fs.statSync(path.join(source(), onnxFile(true))).size;
    assert.match(
      error.message,
      new RegExp(`^the download of onnx/model_quantized\\.onnx from 127\\.0\\.0\\.1:\\d+ broke off after \\d+ of ${total + 1000} bytes`),
    );
  });

  test('a body longer than its Content-Length: "sent more than the N bytes it announced"', async () => {
    const hub = await misbehavingHub((response, file) => {
      const data = fs.readFileSync(path.join(source(), file));
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(data.length - 100) });
      response.end(data);
      return true;
    });
    const length = fs.statSync(path.join(source(), 'config.json')).size - 100;
    const error = await failure(downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(hub.url) }));
    assert.match(
      error.message,
      new RegExp(`^127\\.0\\.0\\.1:\\d+ sent more than the ${length} bytes it announced for config\\.json, so it was not saved`),
    );
  });

  test('a wrong SHA-256 and JSON that does not parse name the file and the host', async () => {
    const badSha = await startHub({
      models: { [id]: source() },
      intercept: (_request, response, target) => {
        if (target.cdn || !target.file.endsWith('.onnx')) return false;
        response.writeHead(302, { location: `/cdn/${id}/resolve/main/${target.file}`, 'x-linked-etag': `"${'0'.repeat(64)}"` }).end();
        return true;
      },
    });
    openHubs.push(badSha);
    const sha = await failure(downloadModel({ id, cacheDir: freshCache(), files: [onnxFile(true)], hub: hubOptions(badSha.url) }));
    assert.match(
      sha.message,
      /^onnx\/model_quantized\.onnx of hub-test\/review-bert-small-xenova arrived damaged from 127\.0\.0\.1:\d+: its SHA-256 is not the one the hub gave/,
    );
    const notJson = await misbehavingHub((response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"cut": ');
      return true;
    });
    const json = await failure(downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(notJson.url) }));
    assert.match(
      json.message,
      /^config\.json of hub-test\/review-bert-small-xenova arrived damaged from 127\.0\.0\.1:\d+ \(not valid JSON\)/,
    );
  });

  test('a redirect loop says "too many redirects"', async () => {
    const hub = await misbehavingHub((response, file) => {
      response.writeHead(302, { location: `/${id}/resolve/main/${file}` }).end();
      return true;
    });
    const error = await failure(downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(hub.url) }));
    assert.match(error.message, /^127\.0\.0\.1:\d+ answered config\.json with too many redirects/);
    assert.doesNotMatch(error.message, /cannot be reached|REDIRECTS/);
  });
});

describe('proxy failures name the variable that set the proxy, and what went wrong with it', () => {
  test("a forward proxy that accepts and never answers is said as the proxy's silence, naming HTTP_PROXY", async () => {
    const hub = await misbehavingHub(() => false);
    const proxy = await startProxy({ silent: true });
    try {
      const error = await withEnvironment({ HTTP_PROXY: proxy.url }, () =>
        failure(downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(hub.url, 300), userInterface: 'cli' })),
      );
      assert.equal(error.kind, 'timeout');
      assert.match(
        error.message,
        /^the proxy http:\/\/127\.0\.0\.1:\d+ accepted the request for config\.json of 127\.0\.0\.1:\d+ but sent no answer within 0\.3 s, neither its own nor the host's\. Check HTTP_PROXY \(and NO_PROXY\) in the environment/,
      );
    } finally {
      await proxy.close();
    }
  });

  test('credentials in the proxy URL that the proxy rejects (407) are said to be rejected, never shown', async () => {
    const hub = await misbehavingHub(() => false);
    const proxy = await startProxy({ credentials: 'ada:right' });
    try {
      const error = await withEnvironment({ HTTP_PROXY: proxy.url.replace('http://', 'http://ada:wrong@') }, () =>
        failure(downloadModel({ id, cacheDir: freshCache(), files: TOKENIZER_FILES, hub: hubOptions(hub.url), userInterface: 'cli' })),
      );
      assert.equal(error.kind, 'unauthorized');
      assert.match(
        error.message,
        /^the proxy http:\/\/127\.0\.0\.1:\d+ rejected the credentials in HTTP_PROXY \(407\): check the user name and password/,
      );
      assert.doesNotMatch(error.message, /wrong|ada/);
    } finally {
      await proxy.close();
    }
  });
});

describe('part files left by a process that was stopped', () => {
  test("a finished download removes the stale parts of the same file, and no one else's", async () => {
    const hub = await misbehavingHub(() => false);
    const cacheDir = freshCache();
    const partial = path.join(cacheDir, '.partial');
    fs.mkdirSync(partial, { recursive: true });
    // An hour old (the general sweep waits a day): a killed download of tokenizer.json, and one of another model.
    const stale = path.join(partial, `${partFilePrefix(id, 'tokenizer.json')}killed.part`);
    const other = path.join(partial, `${partFilePrefix('hub-test/other', 'tokenizer.json')}killed.part`);
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    for (const part of [stale, other]) {
      fs.writeFileSync(part, 'half a file');
      fs.utimesSync(part, hourAgo, hourAgo);
    }
    // A part being written now (another process) is left alone too.
    const live = path.join(partial, `${partFilePrefix(id, 'tokenizer.json')}live.part`);
    fs.writeFileSync(live, 'being written');
    await downloadModel({ id, cacheDir, files: TOKENIZER_FILES, hub: hubOptions(hub.url) });
    assert.deepEqual(filesUnder(partial), [path.basename(live), path.basename(other)].sort());
  });
});
