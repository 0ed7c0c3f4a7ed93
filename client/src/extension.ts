import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { showDownloads } from './downloads';

/**
 * The VS Code side is deliberately thin: it starts the Cloze language server
 * and lets the Language Server Protocol carry everything else, so Neovim and
 * other editors get the same features from the same server.
 */

let client: LanguageClient | undefined;

/**
 * The bundled server beside the bundled client (dist/ of a packaged extension),
 * else the tsc output of a checkout. Looking beside this file rather than in the
 * extension's dist/ keeps a checkout that has run `npm run package` on its
 * freshly compiled server instead of the last bundle.
 */
function serverModule(context: vscode.ExtensionContext): string {
  const bundled = path.join(__dirname, 'server.js');
  return fs.existsSync(bundled) ? bundled : context.asAbsolutePath('server/out/lsp/main.js');
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const module = serverModule(context);
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6010'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'cloze' },
      { scheme: 'untitled', language: 'cloze' },
    ],
    // The server pulls `cloze.*` per document; this makes changes reach it.
    synchronize: { configurationSection: 'cloze' },
    // In an untrusted workspace the server reads no model or data file the workspace names (see ARCHITECTURE.md).
    // downloadNotifications: model downloads as notifications with a Cancel button (downloads.ts).
    initializationOptions: {
      settings: vscode.workspace.getConfiguration('cloze'),
      trusted: vscode.workspace.isTrusted,
      downloadNotifications: true,
    },
  };
  client = new LanguageClient('cloze', 'Cloze Language Server', serverOptions, clientOptions);
  context.subscriptions.push(showDownloads(client));
  await client.start();
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => void client?.sendNotification('cloze/trust', { trusted: true })),
  );
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
