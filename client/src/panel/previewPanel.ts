import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { openDataRow } from '../misclassified';
import { DataEvaluationRequest, DataFileGlob, PreviewDataRequest, type DataEvaluationData, type PreviewData } from '../protocol';
import { escapeHtml, exampleAtLine, panelCss, renderPanel } from './render';
import { evaluationCss, evaluationSection } from './renderEvaluation';

/**
 * The preview panel: a webview beside the editor with the charts of the
 * example under the cursor, the example × pattern grid and each pattern's
 * prior. It follows the active `.cloze` editor, its cursor and its edits; the
 * numbers come from the server's `cloze/previewData`, the preview that
 * `cloze preview --format json` prints.
 *
 * The webview runs one small script (nonce in a strict CSP, no remote
 * resources): it puts the HTML the extension renders into the page and
 * reports clicks. Nothing in it fetches anything, so it works offline.
 */
export class PreviewPanel implements vscode.Disposable {
  static readonly viewType = 'cloze.preview';
  private panel: vscode.WebviewPanel | undefined;
  private document: vscode.TextDocument | undefined;
  private data: PreviewData | undefined;
  /** The evaluation of the document's `data:` files (the lens's figures), asked again while it runs. */
  private evaluation: DataEvaluationData | undefined;
  private evaluationTimer: NodeJS.Timeout | undefined;
  private evaluationSeq = 0;
  /** The example shown in detail: 1-based line of its `example` keyword. */
  private selectedLine: number | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private requestSeq = 0;
  private readonly disposables: vscode.Disposable[] = [];
  /** Resolves when the webview has rendered the current data (tests wait for it). */
  private lastRendered: { uri: string; version: number; line: number | undefined } | undefined;
  /** The evaluation the webview shows now, for tests. */
  private renderedEvaluation: DataEvaluationData | undefined;
  private returnedFocus = 0;

  constructor(private readonly client: () => LanguageClient | undefined) {
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (this.panel && editor?.document.languageId === 'cloze' && editor.document !== this.document) {
          this.document = editor.document;
          this.selectedLine = undefined;
          this.followCursor(editor);
          void this.refresh();
        }
      }),
      vscode.window.onDidChangeTextEditorSelection((event) => {
        if (this.panel && event.textEditor.document === this.document) this.followCursor(event.textEditor);
      }),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (this.panel && event.document === this.document && event.contentChanges.length > 0) this.scheduleRefresh();
      }),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (this.panel && event.affectsConfiguration('cloze')) this.scheduleRefresh();
      }),
      // A data file fixed in another tab or rewritten on disk: the server evaluates it again (it keys its evaluations
      // by the file's mtime and size), and the panel asks for the new figures.
      ...this.watchDataFiles(),
      // A save is when the server looks for a model again (one that was missing may be there now).
      vscode.workspace.onDidSaveTextDocument((document) => {
        if (this.panel && document === this.document) this.scheduleRefresh();
      }),
    );
  }

  /** The model state of a document changed (loaded, failed, found again): the panel of that document shows it. */
  modelStateChanged(uri: string): void {
    if (this.panel && this.document?.uri.toString() === uri) this.scheduleRefresh();
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** What the panel shows now, for tests: the document, version and selected example. */
  get state(): { uri: string; version: number; line: number | undefined } | undefined {
    return this.lastRendered;
  }

  /** How many times the panel gave the focus back to a data file opened from it (`keepFocusOn`), for tests. */
  get focusReturns(): number {
    return this.returnedFocus;
  }

  /** The evaluation of the data files the panel shows now (tests compare it with `cloze eval`). */
  get evaluationState(): DataEvaluationData | undefined {
    return this.renderedEvaluation;
  }

  /** Opens (or reveals) the panel for `document`, at the example on `line` (0-based) if given. */
  async open(document: vscode.TextDocument, line?: number): Promise<void> {
    this.document = document;
    if (line !== undefined) this.selectedLine = line + 1;
    else {
      const editor = vscode.window.visibleTextEditors.find((e) => e.document === document);
      this.selectedLine = editor ? editor.selection.active.line + 1 : undefined;
    }
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(
        PreviewPanel.viewType,
        'Cloze Preview',
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        // No local resources either: everything is in the HTML and the messages.
        { enableScripts: true, localResourceRoots: [] },
      );
      this.panel.webview.html = shell(this.panel.webview.cspSource);
      this.panel.onDidDispose(() => {
        this.panel = undefined;
        this.lastRendered = undefined;
        this.renderedEvaluation = undefined;
        if (this.evaluationTimer) clearTimeout(this.evaluationTimer);
      });
      this.panel.webview.onDidReceiveMessage((message: PanelMessage) => this.onMessage(message));
      this.panel.onDidChangeViewState(() => this.post());
    } else {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
    }
    await this.refresh();
  }

  private onMessage(message: PanelMessage): void {
    if (message.type === 'ready') this.post();
    if (message.type === 'openRow') void this.openRow(message.file, message.row);
    if (message.type === 'showMisclassified') void vscode.commands.executeCommand('cloze.showMisclassified', this.document?.uri);
    if (message.type === 'toggleCalibration') void vscode.commands.executeCommand('cloze.toggleCalibration');
    if (message.type === 'selectModel') void vscode.commands.executeCommand('cloze.selectModel', this.document);
    if (message.type === 'select' && typeof message.line === 'number' && this.document) {
      this.selectedLine = message.line;
      this.post();
      // Show the example in its editor too, without taking the focus from the panel.
      const position = new vscode.Position(message.line - 1, 0);
      void vscode.window
        .showTextDocument(this.document, {
          viewColumn: vscode.window.visibleTextEditors.find((e) => e.document === this.document)?.viewColumn ?? vscode.ViewColumn.One,
          selection: new vscode.Range(position, position),
          preserveFocus: true,
        })
        .then(undefined, () => undefined);
    }
  }

  /**
   * A click on a misclassified row: its data file at its line, with the keyboard focus; only files of the evaluation
   * shown are opened. Public for the tests, which cannot click inside the webview.
   */
  async openRow(file: unknown, row: unknown): Promise<void> {
    if (typeof file !== 'string' || typeof row !== 'number' || !Number.isInteger(row) || row < 1) return;
    if (!this.evaluation?.files.some((f) => f.file === file)) return;
    try {
      const editor = await openDataRow(file, row);
      this.keepFocusOn(editor);
    } catch (error) {
      void vscode.window.showWarningMessage(
        `Cloze cannot open ${path.basename(file)}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /**
   * VS Code's webview host reports the webview's focus by polling (`trackFocus` in its webview/browser/pre/index.html,
   * every 250 ms), so the click's own focus can reach the workbench after the data file has opened, and the panel then
   * takes the focus back: the file is at the row, but the keys go to the panel and the status bar shows no position
   * (seen once in CI). The click was for the data file: if the panel becomes active within two seconds of opening it,
   * the file gets the focus again, once.
   */
  private keepFocusOn(editor: vscode.TextEditor): void {
    const panel = this.panel;
    if (!panel) return;
    const listener = panel.onDidChangeViewState(({ webviewPanel }) => {
      if (!webviewPanel.active) return;
      done();
      void vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn, selection: editor.selection }).then(
        () => void this.returnedFocus++,
        () => undefined,
      );
    });
    const timer = setTimeout(() => done(), 2000);
    const done = (): void => {
      clearTimeout(timer);
      listener.dispose();
    };
  }

  private followCursor(editor: vscode.TextEditor): void {
    const line = editor.selection.active.line;
    // Only this document's preview knows its examples: just after a switch the panel still holds the
    // last document's, whose example above this line number is some other line here (the new preview
    // then snapped the selection to the wrong example).
    if (this.data?.ok && this.data.uri === editor.document.uri.toString()) {
      const example = exampleAtLine(this.data.preview, line);
      if (example && example.line !== this.selectedLine) {
        this.selectedLine = example.line;
        this.post();
      }
    } else {
      this.selectedLine = line + 1;
    }
  }

  private watchDataFiles(): vscode.Disposable[] {
    const watcher = vscode.workspace.createFileSystemWatcher(DataFileGlob);
    const changed = (): void => {
      if (this.panel) this.scheduleRefresh();
    };
    return [watcher, watcher.onDidChange(changed), watcher.onDidCreate(changed), watcher.onDidDelete(changed)];
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    // The server recomputes only what an edit changed; this only spares it a request per keystroke.
    this.refreshTimer = setTimeout(() => void this.refresh(), 250);
  }

  /**
   * Asks the server for the evaluation of the document's data files and shows it; asks again
   * every second while a file is being scored, so the panel shows the progress and then the figures.
   */
  async refreshEvaluation(): Promise<void> {
    if (this.evaluationTimer) clearTimeout(this.evaluationTimer);
    this.evaluationTimer = undefined;
    const document = this.document;
    const client = this.client();
    if (!this.panel || !document || !client) return;
    const seq = ++this.evaluationSeq;
    let evaluation: DataEvaluationData | null;
    try {
      evaluation = await client.sendRequest<DataEvaluationData | null>(DataEvaluationRequest, { uri: document.uri.toString() });
    } catch {
      evaluation = null;
    }
    if (seq !== this.evaluationSeq || document !== this.document || !this.panel) return;
    this.evaluation = evaluation ?? undefined;
    this.post();
    const running = evaluation !== null && (evaluation.files.some((f) => !f.current) || evaluation.version !== document.version);
    if (running) this.evaluationTimer = setTimeout(() => void this.refreshEvaluation(), 1000);
  }

  /** Asks the server for the preview of the document's current version and shows it. */
  async refresh(): Promise<void> {
    const document = this.document;
    const client = this.client();
    if (!this.panel || !document) return;
    if (this.evaluation && this.evaluation.uri !== document.uri.toString()) this.evaluation = undefined;
    void this.refreshEvaluation();
    if (!client) {
      this.showState('The Cloze language server is not running. Run “Cloze: Restart Language Server”.');
      return;
    }
    const seq = ++this.requestSeq;
    if (!this.data || this.data.uri !== document.uri.toString())
      this.showState(`Computing the preview of ${path.basename(document.uri.fsPath)}…`);
    let data: PreviewData | null;
    try {
      data = await client.sendRequest<PreviewData | null>(PreviewDataRequest, { uri: document.uri.toString() });
    } catch (error) {
      if (seq === this.requestSeq) this.showState(`The preview failed: ${error instanceof Error ? error.message : String(error)}`, true);
      return;
    }
    // A later request (a later edit) wins; an answer for an older version is followed by a newer one.
    if (seq !== this.requestSeq || !data) return;
    this.data = data;
    // The evaluation was asked for with the preview; if it could not start then (the model was still
    // loading), it can now that the preview, which waited for the model, is here.
    if (this.evaluation?.reason !== undefined && data.ok) void this.refreshEvaluation();
    // The selection (from a lens, a click or the cursor) snaps to the example it is in; the cursor moves it only when it moves.
    if (data.ok && this.selectedLine !== undefined) {
      const example = exampleAtLine(data.preview, this.selectedLine - 1);
      if (example) this.selectedLine = example.line;
    }
    this.post();
    if (data.version !== document.version) this.scheduleRefresh();
  }

  private showState(text: string, error = false): void {
    void this.panel?.webview.postMessage({
      type: 'render',
      html: `<p class="state${error ? ' unavailable' : ''}">${escapeHtml(text)}</p>`,
    });
  }

  private post(): void {
    const data = this.data;
    // Another document's numbers are never shown under this one's name (refresh says it is computing).
    if (!this.panel || !data || !this.document || data.uri !== this.document.uri.toString()) return;
    const fileName = path.basename(this.document.uri.fsPath);
    const evaluation = this.evaluation?.uri === data.uri ? this.evaluation : undefined;
    const html = data.ok
      ? renderPanel(data, this.selectedLine, fileName, evaluationSection(evaluation))
      : `<h1>${escapeHtml(fileName)}</h1><p class="state unavailable">No preview: ${escapeHtml(data.reason)}</p>` +
        `<p><button data-action="selectModel">Select a model…</button></p>` +
        evaluationSection(evaluation);
    void this.panel.webview.postMessage({ type: 'render', html }).then((delivered) => {
      if (!delivered) return;
      this.lastRendered = { uri: data.uri, version: data.version, line: data.ok ? this.selectedLine : undefined };
      this.renderedEvaluation = evaluation;
    });
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.evaluationTimer) clearTimeout(this.evaluationTimer);
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** What the page's script sends: a click on an action (with a data row's file and line) or on an example. */
interface PanelMessage {
  readonly type: string;
  readonly line?: number;
  readonly file?: unknown;
  readonly row?: unknown;
}

/**
 * The page: the style sheet and the one script, both allowed by nonce;
 * nothing else may load (default-src 'none'), not even images.
 */
function shell(cspSource: string): string {
  const nonce = randomBytes(16).toString('base64');
  void cspSource;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Cloze Preview</title>
<style nonce="${nonce}">${panelCss}${evaluationCss}</style>
</head>
<body>
<main id="root"><p class="state">Computing the preview…</p></main>
<script nonce="${nonce}">
(function () {
  const vscode = acquireVsCodeApi();
  const root = document.getElementById('root');
  window.addEventListener('message', (event) => {
    const message = event.data;
    if (message && message.type === 'render') root.innerHTML = message.html;
  });
  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const action = target && target.closest('[data-action]');
    if (action) {
      const row = Number(action.getAttribute('data-row'));
      vscode.postMessage({ type: action.getAttribute('data-action'), file: action.getAttribute('data-file'), row: row });
      return;
    }
    const row = target && target.closest('[data-line]');
    if (row) vscode.postMessage({ type: 'select', line: Number(row.getAttribute('data-line')) });
  });
  vscode.postMessage({ type: 'ready' });
})();
</script>
</body>
</html>`;
}
