import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';

/**
 * A stand-in for the Hugging Face hub on loopback: it serves model folders at
 * the hub's URL layout (`/<id>/resolve/main/<file>`), sends ONNX files through a
 * redirect with the LFS SHA-256 in `X-Linked-Etag` as the hub does, answers 404
 * for unknown models and files and 401 for "gated" ones, and can send slowly
 * or break off. Tests point `HF_ENDPOINT` at it: the real hub is never reached.
 */
export interface FakeHub {
  readonly url: string;
  /** Every request path, in order. */
  readonly requests: string[];
  /** The headers of every request, in the order of `requests`. */
  readonly requestHeaders: http.IncomingHttpHeaders[];
  /** The model ids asked for (the first path segments before /resolve/). */
  modelsAsked(): string[];
  close(): Promise<void>;
}

export interface FakeHubOptions {
  /** Hub id → folder served for it. */
  readonly models: Readonly<Record<string, string>>;
  /** Ids answered 401 (gated or private). */
  readonly gated?: readonly string[];
  /** Bytes per second for files over 1 MB (0: as fast as possible). */
  readonly bytesPerSecond?: number;
  /** Break the connection off after this many bytes of files over 1 MB. */
  readonly breakAfterBytes?: number;
  /** Serve https:// with this key and certificate (test/fixtures/tls), at `https://127.0.0.1:<port>` (the certificate names that address). */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /**
   * Answers a request in the hub's place (a captive portal, a mirror that misbehaves): called first with the
   * request's model id and file (`cdn`: the path the hub redirects large files to); returns true when it answered.
   */
  readonly intercept?: (
    request: http.IncomingMessage,
    response: http.ServerResponse,
    target: { readonly id: string; readonly file: string; readonly cdn: boolean },
  ) => boolean;
}

export async function startHub(options: FakeHubOptions): Promise<FakeHub> {
  const requests: string[] = [];
  const requestHeaders: http.IncomingHttpHeaders[] = [];
  const sockets = new Set<net.Socket>();
  const hashes = new Map<string, string>();
  const handler = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    requests.push(url.pathname);
    requestHeaders.push(request.headers);
    const cdn = url.pathname.startsWith('/cdn/');
    const match = /^\/(?:cdn\/)?(.+?)\/resolve\/main\/(.+)$/.exec(url.pathname);
    if (!match) return void response.writeHead(404).end('Not found');
    const id = decodeURIComponent(match[1]!);
    const file = match[2]!;
    if (options.intercept?.(request, response, { id, file, cdn })) return;
    if (options.gated?.includes(id)) return void response.writeHead(401, { 'x-error-code': 'GatedRepo' }).end('Access restricted');
    const folder = options.models[id];
    const full = folder ? path.join(folder, ...file.split('/')) : undefined;
    if (!folder || !full || !full.startsWith(folder) || !fs.existsSync(full)) {
      return void response.writeHead(404, { 'x-error-code': folder ? 'EntryNotFound' : 'RepositoryNotFound' }).end('Not found');
    }
    const size = fs.statSync(full).size;
    const large = size > 1_000_000;
    if (large && !cdn) {
      let sha = hashes.get(full);
      if (!sha) hashes.set(full, (sha = crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex')));
      return void response
        .writeHead(302, { location: `/cdn${url.pathname}`, 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(size) })
        .end();
    }
    response.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
    if (!large || (!options.bytesPerSecond && options.breakAfterBytes === undefined)) return void fs.createReadStream(full).pipe(response);
    // Slowly, in 64 KB steps, or broken off after `breakAfterBytes`.
    const data = fs.readFileSync(full);
    const step = 64 * 1024;
    let sent = 0;
    const interval = options.bytesPerSecond ? Math.max(1, Math.round((1000 * step) / options.bytesPerSecond)) : 1;
    const timer = setInterval(() => {
      if (response.destroyed) return clearInterval(timer);
      if (options.breakAfterBytes !== undefined && sent >= options.breakAfterBytes) {
        clearInterval(timer);
        return void request.socket.destroy();
      }
      const end = Math.min(data.length, sent + step);
      response.write(data.subarray(sent, end));
      sent = end;
      if (sent >= data.length) {
        clearInterval(timer);
        response.end();
      }
    }, interval);
    response.on('close', () => clearInterval(timer));
  };
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  trackConnections(server, sockets);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    requestHeaders,
    modelsAsked: () =>
      requests
        .map((p) => decodeURIComponent(/^\/(?:cdn\/)?(.+?)\/resolve\//.exec(p)?.[1] ?? p))
        .filter((id, i, all) => all.indexOf(id) === i),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A server that accepts connections and never answers (a filtering proxy, a captive portal). */
export interface Tarpit {
  readonly url: string;
  /** Connections accepted so far. */
  connections(): number;
  /** Connections still open (a cancelled look-up closes its own). */
  open(): number;
  close(): Promise<void>;
}

export async function startTarpit(): Promise<Tarpit> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.resume(); // read the request, answer nothing
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Keeps `sockets` the open connections of `server`, so that `close` can end them (a server closes only when none is left). */
export function trackConnections(server: net.Server, sockets: Set<net.Socket>): void {
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
}
