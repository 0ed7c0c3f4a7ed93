import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { codeOf, diagnosticsWhen, until, workspaceRoot } from './helpers';

/**
 * VS Code's `http.proxy`, set as the README says, reaches the language
 * server's downloads: a hub on loopback (HF_ENDPOINT in the extension host's
 * environment, which the server inherits) that the server reaches only
 * through a forward proxy on loopback named by the setting.
 */

const id = 'hub-test/review-bert-small-xenova';

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

suite('Cloze behind a proxy', () => {
  const sockets = new Set<net.Socket>();
  const track = (server: http.Server): http.Server =>
    server.on('connection', (socket: net.Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  const folder = path.join(process.env['CLOZE_MODELS_DIR'] ?? '', 'review-bert-small-xenova');
  // The hub's URL layout, `/<id>/resolve/main/<file>`.
  const hub = track(
    http.createServer((request, response) => {
      const file = decodeURIComponent(request.url ?? '').replace(`/${id}/resolve/main/`, '');
      const full = path.join(folder, ...file.split('/'));
      if (!full.startsWith(folder) || !fs.existsSync(full) || !fs.statSync(full).isFile()) return void response.writeHead(404).end();
      response.writeHead(200, { 'content-length': String(fs.statSync(full).size) });
      fs.createReadStream(full).pipe(response);
    }),
  );
  // A forward proxy for http:// (absolute-form requests), as HTTP_PROXY is used.
  const asked: string[] = [];
  const proxy = track(
    http.createServer((request, response) => {
      asked.push(`${request.method} ${request.url}`);
      const upstream = http.request(request.url ?? '', { method: request.method, headers: request.headers }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      upstream.on('error', () => response.writeHead(502).end());
      request.pipe(upstream);
    }),
  );
  const file = path.join(workspaceRoot(), 'behind-proxy.cloze');
  // NO_PROXY of the machine running the tests (often 127.0.0.1) would send the look-up past the proxy.
  const saved: Record<string, string | undefined> = Object.fromEntries(
    ['HF_ENDPOINT', 'CLOZE_CACHE_DIR', 'NO_PROXY', 'no_proxy'].map((name) => [name, process.env[name]]),
  );

  suiteTeardown(async () => {
    await vscode.workspace.getConfiguration('http').update('proxy', undefined, vscode.ConfigurationTarget.Global);
    await vscode.workspace.getConfiguration('cloze').update('allowRemoteModels', undefined, vscode.ConfigurationTarget.Workspace);
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('cloze.restartServer');
    fs.rmSync(file, { force: true });
    for (const socket of sockets) socket.destroy();
    hub.close();
    proxy.close();
  });

  test('http.proxy set in VS Code: the model is downloaded through that proxy and the label words are checked', async () => {
    assert.ok(fs.existsSync(folder), `the served model folder ${folder} exists`);
    delete process.env['NO_PROXY'];
    delete process.env['no_proxy'];
    process.env['HF_ENDPOINT'] = await listen(hub);
    process.env['CLOZE_CACHE_DIR'] = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-vscode-proxy-'));
    const proxyUrl = await listen(proxy);
    await vscode.workspace.getConfiguration('cloze').update('allowRemoteModels', true, vscode.ConfigurationTarget.Workspace);
    await vscode.workspace.getConfiguration('http').update('proxy', proxyUrl, vscode.ConfigurationTarget.Global);
    // The server took its environment when it started: a restart (which the change offers) takes the setting.
    await vscode.commands.executeCommand('cloze.restartServer');
    fs.writeFileSync(
      file,
      `model: ${id}\npattern: {review} It was [MASK].\nverbalizer:\n  positive: great, fantastically\n  negative: terrible\n`,
    );
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    await vscode.window.showTextDocument(doc);
    // "fantastically" is no single token of the downloaded tokenizer: the check ran on it.
    await diagnosticsWhen(doc.uri, (list) => list.some((d) => codeOf(d) === 'label-word-multi-token'), 60_000);
    await until('the tokenizer fetched through the proxy', () =>
      asked.includes(`GET ${process.env['HF_ENDPOINT']}/${id}/resolve/main/tokenizer.json`),
    );
  });
});
