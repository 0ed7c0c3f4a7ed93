import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  PublishDiagnosticsNotification,
  ConfigurationRequest,
  WorkDoneProgressCreateRequest,
  type Diagnostic,
  type InitializeResult,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import { repoRoot, serverMain } from './paths';

/**
 * A minimal LSP client for protocol tests: starts the built server as a child
 * process over stdio and speaks real JSON-RPC to it, as an editor would.
 */
export interface TestClient {
  readonly connection: ProtocolConnection;
  readonly process: ChildProcess;
  /** Resolves with the first diagnostics for `uri` published after the call that satisfy `accept`. */
  diagnostics(uri: string, accept?: (diagnostics: Diagnostic[]) => boolean, timeoutMs?: number): Promise<Diagnostic[]>;
  /** Every publish received so far, in order, per URI. */
  readonly published: Map<string, Diagnostic[][]>;
  /** Registrations and lens refreshes the server asked for (answered with null), in order. */
  readonly requests: Array<{ method: string; params: unknown }>;
  /** Server stderr, for failure messages. */
  stderr(): string;
  /** What the server answered to `initialize` (its capabilities). */
  readonly initializeResult: InitializeResult;
  close(): Promise<void>;
}

/** What the client says of itself in `initialize`, when a test plays an editor other than the default one. */
export interface ClientSetup {
  readonly capabilities?: Record<string, unknown>;
  readonly initializationOptions?: unknown;
  /** Server-to-client requests this client never answers, as a buggy or busy editor does (`workspace/configuration`, …). */
  readonly unanswered?: readonly string[];
  /** Answer workspace/configuration only after this many milliseconds, with these settings (default: `settings`). */
  readonly lateConfiguration?: { readonly afterMs: number; readonly settings: Record<string, unknown> };
}

export async function startServer(
  settings: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
  setup: ClientSetup = {},
): Promise<TestClient> {
  const child = spawn(process.execPath, [serverMain, '--stdio'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  const published = new Map<string, Diagnostic[][]>();
  const waiters: Array<{ uri: string; accept: (d: Diagnostic[]) => boolean; resolve: (d: Diagnostic[]) => void }> = [];
  connection.onNotification(PublishDiagnosticsNotification.type, (params) => {
    published.set(params.uri, [...(published.get(params.uri) ?? []), params.diagnostics]);
    for (const waiter of [...waiters]) {
      if (waiter.uri === params.uri && waiter.accept(params.diagnostics)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(params.diagnostics);
      }
    }
  });
  const never = (method: string): boolean => setup.unanswered?.includes(method) ?? false;
  const late = setup.lateConfiguration;
  connection.onRequest(ConfigurationRequest.type, (params) =>
    never(ConfigurationRequest.method)
      ? new Promise<never>(() => undefined)
      : late
        ? new Promise((resolve) => setTimeout(() => resolve(params.items.map(() => late.settings)), late.afterMs))
        : params.items.map(() => settings),
  );
  connection.onRequest(WorkDoneProgressCreateRequest.type, () =>
    never(WorkDoneProgressCreateRequest.method) ? new Promise<never>(() => undefined) : null,
  );
  const requests: Array<{ method: string; params: unknown }> = [];
  for (const method of ['client/registerCapability', 'client/unregisterCapability', 'workspace/codeLens/refresh']) {
    connection.onRequest(method, (params: unknown) => {
      requests.push({ method, params });
      return null;
    });
  }
  connection.listen();
  const initializeResult: InitializeResult = await connection.sendRequest('initialize', {
    processId: process.pid,
    rootUri: pathToFileURL(repoRoot).href,
    workspaceFolders: [{ uri: pathToFileURL(repoRoot).href, name: 'cloze' }],
    capabilities: setup.capabilities ?? {
      workspace: { configuration: true },
      window: { workDoneProgress: true },
      textDocument: { codeLens: {} },
    },
    initializationOptions: setup.initializationOptions ?? { settings },
  });
  await connection.sendNotification('initialized', {});
  return {
    connection,
    process: child,
    published,
    requests,
    stderr: () => stderr,
    initializeResult,
    diagnostics(uri, accept = () => true, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `No matching diagnostics for ${uri} within ${timeoutMs} ms. Received: ${JSON.stringify(published.get(uri))}\nServer stderr:\n${stderr}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          uri,
          accept,
          resolve: (d) => {
            clearTimeout(timer);
            resolve(d);
          },
        });
      });
    },
    async close() {
      // The server may already be gone, or shut down by the test (a second shutdown errs): the exit is sent
      // anyway, and the kill below makes sure.
      await connection.sendRequest('shutdown').catch(() => undefined);
      await connection.sendNotification('exit').catch(() => undefined);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        if (child.exitCode !== null) resolve();
      });
      connection.dispose();
    },
  };
}
