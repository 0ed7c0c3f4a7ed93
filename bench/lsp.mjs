// A minimal LSP client for the benchmarks: the built server as a child process
// over stdio, as an editor starts it, with the timestamps the benchmarks need
// (spawn, initialize sent and answered, every publishDiagnostics).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const protocol = require('vscode-languageserver-protocol/node');

export const repoRoot = join(import.meta.dirname, '..');
const serverMain = join(repoRoot, 'server', 'out', 'lsp', 'main.js');

export function fileUri(name) {
  return pathToFileURL(join(repoRoot, 'bench', name)).href;
}

/**
 * Starts the server and initializes it. `settings` answer workspace/configuration
 * for `cloze`. Returns the connection, the child process and the times (ms on
 * this process's clock) at which initialize was sent and answered.
 */
export async function startServer(settings, { codeLensRefresh = false } = {}) {
  const spawned = performance.now();
  // CLOZE_BENCH_SERVER_ARGS: extra Node options for the server, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const nodeArgs = (process.env.CLOZE_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, serverMain, '--stdio'], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
  const connection = protocol.createProtocolConnection(
    new protocol.StreamMessageReader(child.stdout),
    new protocol.StreamMessageWriter(child.stdin),
  );
  const waiters = [];
  const published = [];
  connection.onNotification(protocol.PublishDiagnosticsNotification.type, (params) => {
    const at = performance.now();
    published.push({ at, ...params });
    for (const waiter of [...waiters]) {
      if (waiter.uri === params.uri && waiter.accept(params.diagnostics)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve({ at, diagnostics: params.diagnostics });
      }
    }
  });
  connection.onRequest(protocol.ConfigurationRequest.type, (params) => params.items.map(() => settings));
  connection.onRequest(protocol.WorkDoneProgressCreateRequest.type, () => null);
  connection.onRequest('workspace/codeLens/refresh', () => null);
  connection.listen();
  const root = pathToFileURL(repoRoot).href;
  const initializeSent = performance.now();
  await connection.sendRequest('initialize', {
    processId: process.pid,
    rootUri: root,
    workspaceFolders: [{ uri: root, name: 'cloze' }],
    capabilities: {
      workspace: { configuration: true, codeLens: { refreshSupport: codeLensRefresh } },
      window: { workDoneProgress: true },
      textDocument: { codeLens: {}, hover: {}, completion: {} },
    },
    initializationOptions: { settings },
  });
  const initialized = performance.now();
  await connection.sendNotification('initialized', {});

  return {
    connection,
    process: child,
    times: { spawned, initializeSent, initialized },
    stderr: () => stderr,
    /** The next publish for `uri` (after this call) whose diagnostics satisfy `accept`: its time and diagnostics. */
    nextDiagnostics(uri, accept = () => true, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`No diagnostics for ${uri} within ${timeoutMs} ms.\n${stderr}`)), timeoutMs);
        waiters.push({
          uri,
          accept,
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value);
          },
        });
      });
    },
    open(uri, text, version = 1) {
      return connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version, text } });
    },
    change(uri, version, range, text) {
      return connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version },
        contentChanges: [{ range, text }],
      });
    },
    async close() {
      try {
        await Promise.race([connection.sendRequest('shutdown'), new Promise((resolve) => setTimeout(resolve, 3000))]);
        await connection.sendNotification('exit');
      } catch {
        // Already gone; the kill below makes sure.
      }
      await new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      connection.dispose();
    },
  };
}
