import * as http from 'node:http';
import * as net from 'node:net';
import { trackConnections } from './hub';

/**
 * A forward proxy on loopback, as a company network puts between its users and
 * the hub: it tunnels `CONNECT host:port` (how https:// goes through a proxy)
 * and forwards absolute-form GETs (how http:// does). It can ask for
 * credentials (407), refuse every destination (a filtering proxy's 403), or
 * accept connections and never answer.
 */
export interface FakeProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** What each client asked for, in order: `CONNECT host:port` or `GET http://…`. */
  readonly requests: string[];
  close(): Promise<void>;
}

export interface FakeProxyOptions {
  /** `user:password` the client must send in Proxy-Authorization (Basic), else 407. */
  readonly credentials?: string;
  /** Answer every request and CONNECT with this status instead of forwarding it. */
  readonly refuse?: number;
  /** Accept connections and read requests, but never answer. */
  readonly silent?: boolean;
}

export async function startProxy(options: FakeProxyOptions = {}): Promise<FakeProxy> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const authorised = (header: string | undefined): boolean =>
    options.credentials === undefined || header === `Basic ${Buffer.from(options.credentials).toString('base64')}`;
  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (options.silent) return;
    if (!authorised(request.headers['proxy-authorization'])) {
      return void response.writeHead(407, { 'proxy-authenticate': 'Basic realm="proxy"' }).end();
    }
    if (options.refuse !== undefined) return void response.writeHead(options.refuse).end('Blocked by policy');
    const target = new URL(request.url ?? '/');
    const headers = { ...request.headers };
    delete headers['proxy-authorization'];
    const upstream = http.request(target, { method: request.method, headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', () => response.writeHead(502).end());
    request.pipe(upstream);
  });
  server.on('connect', (request: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    requests.push(`CONNECT ${request.url}`);
    client.on('error', () => undefined);
    if (options.silent) return;
    if (!authorised(request.headers['proxy-authorization'])) {
      return void client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy"\r\n\r\n');
    }
    if (options.refuse !== undefined) return void client.end(`HTTP/1.1 ${options.refuse} Forbidden\r\n\r\n`);
    const [host, port] = (request.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
  });
  trackConnections(server, sockets);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
