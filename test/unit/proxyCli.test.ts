import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHub, trackConnections, type FakeHub } from '../support/hub';
import { cliMain, modelsDir, repoRoot } from '../support/paths';
import { eventually } from '../support/eventually';
import { scratchCache, type Run } from '../support/previewCli';
import { startProxy, type FakeProxy, type FakeProxyOptions } from '../support/proxy';

/**
 * `cloze check` with a hub model behind a company network, as a user runs it:
 * the built CLI in its own process, the hub on https:// on loopback (a
 * self-signed certificate, test/fixtures/tls), reached only through a CONNECT
 * proxy named by HTTPS_PROXY, the certificate trusted through
 * NODE_EXTRA_CA_CERTS as a TLS-inspecting proxy's is. The environment is the
 * only thing that differs between the runs.
 */

const id = 'hub-test/review-bert-small-xenova';
const tls = path.join(repoRoot, 'test', 'fixtures', 'tls');
const certificate = path.join(tls, 'localhost.crt');

function check(file: string, env: Record<string, string>): Promise<Run & { readonly ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliMain, 'check', file, '--model', id],
      { cwd: repoRoot, env: { ...process.env, CLOZE_MODELS_DIR: '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr, ms: performance.now() - started }),
    );
  });
}

describe('cloze check downloads a hub model through an HTTPS_PROXY', () => {
  let hub: FakeHub;
  let file: string;
  // Closed after the tests whatever they asserted: an open proxy would keep the test process alive.
  const proxies: FakeProxy[] = [];
  const proxyFor = async (options?: FakeProxyOptions): Promise<FakeProxy> => {
    const proxy = await startProxy(options);
    proxies.push(proxy);
    return proxy;
  };
  before(async () => {
    hub = await startHub({
      models: { [id]: path.join(modelsDir(), 'review-bert-small-xenova') },
      tls: { key: fs.readFileSync(path.join(tls, 'localhost.key')), cert: fs.readFileSync(certificate) },
    });
    file = path.join(scratchCache('cloze-proxy-file-'), 'reviews.cloze');
    fs.writeFileSync(file, 'pattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terriblest\n');
  });
  after(async () => {
    await hub.close();
    await Promise.all(proxies.map((proxy) => proxy.close()));
  });

  test('through a CONNECT tunnel, trusting the certificate in NODE_EXTRA_CA_CERTS: the label words are checked', async () => {
    const proxy = await proxyFor();
    const cacheDir = scratchCache('cloze-proxy-cache-');
    const run = await check(file, {
      HF_ENDPOINT: hub.url,
      HTTPS_PROXY: proxy.url,
      NODE_EXTRA_CA_CERTS: certificate,
      CLOZE_CACHE_DIR: cacheDir,
    });
    // "terriblest" is not one token of the model's vocabulary: the check ran on the downloaded tokenizer.
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /reviews\.cloze:4:\d+ error [\w-]+ .*terriblest/);
    assert.ok(
      proxy.requests.length > 0 && proxy.requests.every((r) => r === `CONNECT ${new URL(hub.url).host}`),
      proxy.requests.join(', '),
    );
    assert.ok(fs.existsSync(path.join(cacheDir, id, 'tokenizer.json')));
  });

  test('without NODE_EXTRA_CA_CERTS the untrusted certificate is said, with what to do', async () => {
    const proxy = await proxyFor();
    const run = await check(file, { HF_ENDPOINT: hub.url, HTTPS_PROXY: proxy.url, CLOZE_CACHE_DIR: scratchCache('cloze-proxy-cache-') });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /the certificate 127\.0\.0\.1:\d+ presented is not trusted \([A-Z_]+\)\. Behind a proxy that inspects TLS, point NODE_EXTRA_CA_CERTS in the environment at/,
    );
    assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at /, 'no stack trace');
  });

  test('a filtering proxy that refuses the hub is named, and is not mistaken for a gated model', async () => {
    const proxy = await proxyFor({ refuse: 403 });
    const run = await check(file, {
      HF_ENDPOINT: hub.url,
      HTTPS_PROXY: proxy.url,
      NODE_EXTRA_CA_CERTS: certificate,
      CLOZE_CACHE_DIR: scratchCache('cloze-proxy-cache-'),
    });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /the proxy http:\/\/127\.0\.0\.1:\d+ refused to connect to 127\.0\.0\.1:\d+ \(403 Forbidden\)/);
    assert.doesNotMatch(run.stdout, /gated|HF_TOKEN/);
  });

  test('a proxy that accepts and never answers CONNECT costs the connect timeout, and the CLI exits', async () => {
    const proxy = await proxyFor({ silent: true });
    const run = await check(file, {
      HF_ENDPOINT: hub.url,
      HTTPS_PROXY: proxy.url,
      NODE_EXTRA_CA_CERTS: certificate,
      CLOZE_CACHE_DIR: scratchCache('cloze-proxy-cache-'),
      CLOZE_HUB_CONNECT_TIMEOUT_MS: '800',
    });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /no connection to 127\.0\.0\.1:\d+ through the proxy http:\/\/127\.0\.0\.1:\d+ within 0\.8 s\. Check HTTPS_PROXY \(and NO_PROXY\) in the environment/,
    );
    // Not held open by the proxy's socket: it exits within seconds of the timeout, well before the test's 60 s.
    assert.ok(run.ms < 20_000, `took ${Math.round(run.ms)} ms`);
    assert.deepEqual(proxy.requests, [`CONNECT ${new URL(hub.url).host}`]);
  });
});

/**
 * One port speaking TLS and plain HTTP, as a TLS-terminating mirror that writes
 * http:// Location headers: its https:// side redirects every request to the
 * same path over http:// on the same host and port; the plain side records the
 * Authorization header it gets.
 */
async function startDowngradingMirror(): Promise<{ url: string; plainRequests: string[]; close(): Promise<void> }> {
  const plainRequests: string[] = [];
  let port = 0;
  const secure = https.createServer(
    { key: fs.readFileSync(path.join(tls, 'localhost.key')), cert: fs.readFileSync(certificate) },
    (request, response) => void response.writeHead(302, { location: `http://127.0.0.1:${port}${request.url}` }).end(),
  );
  const plain = http.createServer((request, response) => {
    plainRequests.push(`${request.url} authorization=${request.headers.authorization ?? '-'}`);
    response.writeHead(404).end();
  });
  const sockets = new Set<net.Socket>();
  trackConnections(secure, sockets);
  trackConnections(plain, sockets);
  await Promise.all([secure, plain].map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  const portOf = (server: net.Server): number => (server.address() as net.AddressInfo).port;
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // A TLS ClientHello starts with 0x16; anything else is plain HTTP. Each goes on to its server.
    socket.once('data', (first: Buffer) => {
      const upstream = net.connect(portOf(first[0] === 0x16 ? secure : plain), '127.0.0.1', () => {
        upstream.write(first);
        socket.pipe(upstream);
        upstream.pipe(socket);
      });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => socket.destroy());
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  port = (front.address() as net.AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    plainRequests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        secure.close();
        plain.close();
        front.close(() => resolve());
      }),
  };
}

describe('cloze check and a mirror that redirects https:// to http://', () => {
  test('the redirect is refused and said, and HF_TOKEN never travels over plain http://', async () => {
    const mirror = await startDowngradingMirror();
    try {
      const file = path.join(scratchCache('cloze-downgrade-file-'), 'reviews.cloze');
      fs.writeFileSync(file, 'pattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\n');
      const run = await check(file, {
        HF_ENDPOINT: mirror.url,
        HF_TOKEN: 'hf_secret_token',
        NODE_EXTRA_CA_CERTS: certificate,
        CLOZE_CACHE_DIR: scratchCache('cloze-downgrade-cache-'),
      });
      // Nothing reached the plain side: neither the request nor the token.
      assert.deepEqual(mirror.plainRequests, []);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(
        run.stdout,
        /127\.0\.0\.1:\d+ redirected config\.json from https:\/\/ to http:\/\/127\.0\.0\.1:\d+, plain http:\/\/: Cloze does not follow a redirect that drops TLS/,
      );
      assert.doesNotMatch(run.stdout + run.stderr, /hf_secret_token/);
    } finally {
      await mirror.close();
    }
  });
});

describe('cloze stopped by Ctrl-C while it downloads', () => {
  test('removes the part file of the download under way, and ends by the signal', async () => {
    // Slow: 300 KB/s, so the ONNX file is still coming when the signal is sent.
    const hub = await startHub({ models: { [id]: path.join(modelsDir(), 'review-bert-small-xenova') }, bytesPerSecond: 300_000 });
    try {
      const file = path.join(scratchCache('cloze-sigint-file-'), 'reviews.cloze');
      fs.writeFileSync(file, 'pattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\n');
      const cacheDir = scratchCache('cloze-sigint-cache-');
      const partial = path.join(cacheDir, '.partial');
      const child = spawn(process.execPath, [cliMain, 'preview', file, '--model', id], {
        cwd: repoRoot,
        env: { ...process.env, CLOZE_MODELS_DIR: '', HF_ENDPOINT: hub.url, CLOZE_CACHE_DIR: cacheDir },
        stdio: 'ignore',
      });
      const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal })),
      );
      // The ONNX file's part has bytes in it: the download is under way.
      await eventually(
        'a part file with bytes in it',
        () =>
          fs.existsSync(partial) &&
          fs.readdirSync(partial).some((name) => (fs.statSync(path.join(partial, name), { throwIfNoEntry: false })?.size ?? 0) > 100_000),
        60_000,
      );
      child.kill('SIGINT');
      const { code, signal } = await ended;
      assert.ok(signal === 'SIGINT' || code === 130, `ended with code ${code}, signal ${signal}`);
      assert.deepEqual(fs.readdirSync(partial), []);
    } finally {
      await hub.close();
    }
  });
});

describe('cloze preview while a model downloads', () => {
  test('says on stderr that it downloads, how far it came and when it is done; nothing once the model is in the cache', async () => {
    const hub = await startHub({ models: { [id]: path.join(modelsDir(), 'review-bert-small-xenova') } });
    try {
      const cacheDir = scratchCache('cloze-download-progress-');
      const file = path.join(scratchCache('cloze-download-progress-file-'), 'p.cloze');
      fs.writeFileSync(
        file,
        `model: ${id}\npattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\nexample positive: Fine.\n`,
      );
      const preview = (): Promise<Run> =>
        new Promise((resolve) =>
          execFile(
            process.execPath,
            [cliMain, 'preview', file],
            {
              cwd: repoRoot,
              env: { ...process.env, CLOZE_MODELS_DIR: '', HF_ENDPOINT: hub.url, CLOZE_CACHE_DIR: cacheDir },
              timeout: 120_000,
            },
            (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
          ),
        );
      // stderr is a pipe here, as in a CI log: lines, not a bar.
      const first = await preview();
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, new RegExp(`^cloze: downloading ${id} from the hub…$`, 'm'));
      assert.match(first.stderr, new RegExp(`^cloze: downloaded ${id}: \\d+\\.\\d MB in \\d+\\.\\d s$`, 'm'));
      const again = await preview();
      assert.equal(again.code, 0, again.stderr);
      assert.doesNotMatch(again.stderr, /download/);
    } finally {
      await hub.close();
    }
  });
});
