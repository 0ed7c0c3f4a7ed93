import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  LanguageClient,
  State,
  TransportKind,
  type ForkOptions,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { showDownloads } from './downloads';
import { evaluateCommand } from './evaluate';
import { showMisclassifiedCommand } from './misclassified';
import { ModelStatus } from './modelStatus';
import { PreviewPanel } from './panel/previewPanel';
import { ModelStateNotification, type ModelState } from './protocol';
import { modelItems, selectModel, type SelectModelOptions } from './selectModel';
import { serverEnvironment } from './serverEnvironment';

/**
 * The VS Code side: starts the Cloze language server, and adds what only an
 * editor UI can have: commands, the model in the status bar, the preview
 * panel, the log. Everything about the language stays in the server, so
 * Neovim and other editors get the same diagnostics, lenses and hovers.
 */

let client: LanguageClient | undefined;

/** What `activate` returns: the extension-host tests reach the status item and the panel through it. */
export interface ClozeExtensionApi {
  client(): LanguageClient | undefined;
  readonly modelStatus: ModelStatus;
  readonly panel: PreviewPanel;
  readonly log: vscode.OutputChannel;
  readonly evaluationOutput: vscode.OutputChannel;
  modelItems(uri: vscode.Uri): Promise<Array<{ label: string; model?: string }>>;
}

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

/**
 * vscode-languageclient 9 logs every exit of the server process as an error, even the exit with code 0
 * that ends a clean shutdown (`shutdown`, then `exit`): each “Cloze: Restart Language Server” and each
 * window close wrote “[Error - …] Server process exited with code 0.” to the Cloze output. Version 10
 * logs that exit as info (microsoft/vscode-languageserver-node#1403); so does this. The server exits with
 * code 0 only after a `shutdown` request; any other code, or a signal, is still an error.
 */
class ClozeLanguageClient extends LanguageClient {
  constructor(
    id: string,
    name: string,
    serverOptions: ServerOptions,
    clientOptions: LanguageClientOptions,
    /** Sets the server's environment from the settings, before each start. */
    private readonly beforeStart: () => void,
  ) {
    super(id, name, serverOptions, clientOptions);
  }

  override start(): Promise<void> {
    this.beforeStart();
    return super.start();
  }

  override error(message: string, data?: unknown, showNotification?: boolean | 'force'): void {
    if (message === 'Server process exited with code 0.') this.info('Server process exited successfully', data, false);
    else super.error(message, data, showNotification);
  }
}

/** While “Cloze: Restart Language Server” runs: the server's stop is expected. */
let restarting = false;

function createClient(
  context: vscode.ExtensionContext,
  log: vscode.OutputChannel,
  status: ModelStatus,
  onState: (state: ModelState) => void,
): LanguageClient {
  const module = serverModule(context);
  // Their `env` is filled in anew before each start (ClozeLanguageClient.start): a restart takes a changed http.proxy.
  const run: ForkOptions = {};
  const debug: ForkOptions = { execArgv: ['--nolazy', '--inspect=6010'] };
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc, options: run },
    debug: { module, transport: TransportKind.ipc, options: debug },
  };
  const environment = (): void => {
    const http = vscode.workspace.getConfiguration('http');
    run.env = debug.env = serverEnvironment(process.env, http.get<string>('proxy'), http.get<string[]>('noProxy'));
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
    // codicons: lens titles may use $(pass), $(error), … (other clients get ✓, ✗).
    initializationOptions: {
      settings: vscode.workspace.getConfiguration('cloze'),
      trusted: vscode.workspace.isTrusted,
      downloadNotifications: true,
      codicons: true,
      // completionNotes: "scoring…" and other completion items that insert nothing are shown as notes.
      completionNotes: true,
      // clientCommands: this extension runs the lenses' cloze.* commands (panel, pickers), not the server.
      clientCommands: true,
    },
    // The server's log (its console and stderr) goes to the "Cloze" output.
    outputChannel: log,
  };
  const created = new ClozeLanguageClient('cloze', 'Cloze Language Server', serverOptions, clientOptions, environment);
  context.subscriptions.push(showDownloads(created));
  created.onNotification(ModelStateNotification, (state: ModelState) => {
    status.set(state);
    onState(state);
    log.appendLine(
      `[model] ${vscode.workspace.asRelativePath(vscode.Uri.parse(state.uri))}: ${state.model} ${state.state} (${state.detail})`,
    );
  });
  created.onDidChangeState((event) => {
    // A restart the user asked for is no failure: the item does not tell them to run the command they just ran.
    if (event.newState === State.Stopped)
      if (restarting) status.clear('restarting the language server…', 'loading');
      else status.clear('the language server stopped; run “Cloze: Restart Language Server”');
  });
  return created;
}

export async function activate(context: vscode.ExtensionContext): Promise<ClozeExtensionApi> {
  const log = vscode.window.createOutputChannel('Cloze');
  const evaluationOutput = vscode.window.createOutputChannel('Cloze Evaluation');
  const modelStatus = new ModelStatus();
  const panel = new PreviewPanel(() => client);
  context.subscriptions.push(log, evaluationOutput, modelStatus, panel);

  const uriOf = (target: unknown): vscode.Uri | undefined =>
    target instanceof vscode.Uri ? target : typeof target === 'string' ? vscode.Uri.parse(target) : undefined;
  const activeCloze = (): vscode.TextDocument | undefined => {
    const document = vscode.window.activeTextEditor?.document;
    return document?.languageId === 'cloze' ? document : undefined;
  };

  context.subscriptions.push(
    vscode.commands.registerCommand('cloze.selectModel', (target?: unknown, options?: SelectModelOptions) =>
      selectModel(client, uriOf(target) ?? (target as vscode.TextDocument | undefined)?.uri, options),
    ),
    // From a lens: (uri, 0-based line of the example). From the palette or the editor title: the active file.
    vscode.commands.registerCommand('cloze.openPreview', async (target?: unknown, line?: unknown) => {
      const uri = uriOf(target);
      const document = uri ? await vscode.workspace.openTextDocument(uri) : activeCloze();
      if (!document) {
        void vscode.window.showInformationMessage('Open a .cloze file to preview it.');
        return;
      }
      await panel.open(document, typeof line === 'number' ? line : undefined);
    }),
    vscode.commands.registerCommand('cloze.toggleCalibration', async () => {
      const configuration = vscode.workspace.getConfiguration('cloze', activeCloze()?.uri);
      const inspected = configuration.inspect<boolean>('preview.calibrate');
      const next = !configuration.get<boolean>('preview.calibrate', false);
      // Written where it is set now, so a workspace value is not shadowed by a user value.
      const target =
        inspected?.workspaceFolderValue !== undefined
          ? vscode.ConfigurationTarget.WorkspaceFolder
          : inspected?.workspaceValue !== undefined
            ? vscode.ConfigurationTarget.Workspace
            : vscode.ConfigurationTarget.Global;
      await configuration.update('preview.calibrate', next, target);
      vscode.window.setStatusBarMessage(`Cloze: ${next ? 'calibrated' : 'raw'} probabilities`, 3000);
      return next;
    }),
    vscode.commands.registerCommand('cloze.evaluate', (target?: unknown) => evaluateCommand(client, evaluationOutput, uriOf(target))),
    // From the panel or the palette: a QuickPick of the rows the patterns get wrong; a pick opens the row in its data file.
    vscode.commands.registerCommand('cloze.showMisclassified', (target?: unknown) => showMisclassifiedCommand(client, uriOf(target))),
    vscode.commands.registerCommand('cloze.restartServer', async () => {
      log.appendLine('[client] restarting the language server');
      restarting = true;
      try {
        if (client) {
          // A server that is already gone (or dies while stopping) rejects the stop; start a new one all the same.
          await client.stop().catch((error: unknown) => log.appendLine(`[client] the server did not stop cleanly: ${String(error)}`));
        } else {
          client = createClient(context, log, modelStatus, (state) => panel.modelStateChanged(state.uri));
        }
        await client.start();
      } finally {
        restarting = false;
      }
      modelStatus.update();
      void panel.refresh();
    }),
    vscode.commands.registerCommand('cloze.showLog', () => log.show(true)),
    vscode.commands.registerCommand('cloze.newFile', async () => {
      // Named: an unnamed untitled file is offered its first line ("# A sentiment task as a cloze question") as a file name.
      const document = await vscode.workspace.openTextDocument(untitledClozeUri());
      const editor = await vscode.window.showTextDocument(document);
      await editor.insertSnippet(new vscode.SnippetString(starterSnippet(vscode.workspace.getConfiguration('cloze').get<string>('model'))));
      return document;
    }),
  );

  client = createClient(context, log, modelStatus, (state) => panel.modelStateChanged(state.uri));
  await client.start();
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => void client?.sendNotification('cloze/trust', { trusted: true })),
    // The server took the proxy into its environment when it started (serverEnvironment.ts); a new one needs a restart.
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration('http.proxy') && !event.affectsConfiguration('http.noProxy')) return;
      const restart = 'Restart';
      const choice = await vscode.window.showInformationMessage(
        'Cloze downloads models through the proxy its language server started with. Restart it to use the new http.proxy?',
        restart,
      );
      if (choice === restart) await vscode.commands.executeCommand('cloze.restartServer');
    }),
  );
  return {
    client: () => client,
    modelStatus,
    panel,
    log,
    evaluationOutput,
    modelItems: async (uri) => (client ? (await modelItems(client, uri)).items : []),
  };
}

/** An untitled `sentiment.cloze` (or `sentiment-2.cloze`, …) in the first workspace folder, named after no file there. */
function untitledClozeUri(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath ?? os.homedir();
  const open = new Set(vscode.workspace.textDocuments.map((d) => d.uri.fsPath));
  for (let n = 1; ; n++) {
    const file = path.join(folder, n === 1 ? 'sentiment.cloze' : `sentiment-${n}.cloze`);
    if (!fs.existsSync(file) && !open.has(file)) return vscode.Uri.file(file).with({ scheme: 'untitled' });
  }
}

/** A first file: the sentiment task of the snippets, with the model the settings name. */
function starterSnippet(model: string | undefined): string {
  return [
    '# A sentiment task as a cloze question. Hover [MASK] or a label word; the lenses show what the model predicts.',
    `model: \${1:${(model ?? 'Xenova/bert-base-uncased').replace(/[$}\\]/g, '\\$&')}}`,
    '',
    'pattern short: {review} It was [MASK].',
    '',
    'verbalizer:',
    '  positive: ${2:great, good}',
    '  negative: ${3:terrible, bad}',
    '',
    'example positive: ${4:I loved every minute of it.}',
    'example negative: The plot was dull and the acting was worse.',
    '$0',
  ].join('\n');
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
