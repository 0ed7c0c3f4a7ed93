import * as vscode from 'vscode';
import type { ModelState } from './protocol';

/**
 * The status-bar item of the active `.cloze` file's model: its name and
 * state (loading, with what and for how long; ready; unavailable, with the
 * reason in the tooltip). Clicking it selects the model. The server sends
 * the states (`cloze/modelState`); this class only keeps the latest per
 * document and shows the active one.
 */
export class ModelStatus implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private readonly states = new Map<string, ModelState & { since: number }>();
  /** Every state a document went through, oldest first (the last 20): the log and the tests read it. */
  private readonly history = new Map<string, ModelState[]>();
  private timer: NodeJS.Timeout | undefined;
  /** The document whose model the item shows. */
  private shown: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor() {
    this.item = vscode.window.createStatusBarItem('cloze.model', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Cloze Model';
    this.item.command = 'cloze.selectModel';
    this.disposables.push(
      this.item,
      vscode.window.onDidChangeActiveTextEditor(() => this.update()),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        this.states.delete(doc.uri.toString());
        if (this.shown === doc.uri.toString()) {
          this.shown = undefined;
          this.update();
        }
      }),
    );
    this.update();
  }

  /** The state of a document as last reported, for tests and commands. */
  stateOf(uri: vscode.Uri): ModelState | undefined {
    return this.states.get(uri.toString());
  }

  historyOf(uri: vscode.Uri): readonly ModelState[] {
    return this.history.get(uri.toString()) ?? [];
  }

  set(state: ModelState): void {
    this.history.set(state.uri, [...(this.history.get(state.uri) ?? []), state].slice(-20));
    const previous = this.states.get(state.uri);
    const since = previous && previous.state === state.state && previous.model === state.model ? previous.since : Date.now();
    this.states.set(state.uri, { ...state, since });
    this.update();
  }

  /** The server stopped: what it said no longer holds (`loading` while a restart brings a new one up). */
  clear(reason: string, kind: 'unavailable' | 'loading' = 'unavailable'): void {
    for (const [uri, state] of this.states) this.states.set(uri, { ...state, state: kind, detail: reason, since: Date.now() });
    this.update();
  }

  update(): void {
    const editor = vscode.window.activeTextEditor;
    // No text editor in focus (the preview panel, the output): keep showing the last .cloze file's model.
    if (!editor && this.shown) {
      this.render(this.shown);
      return;
    }
    const document = editor?.document;
    if (!document || document.languageId !== 'cloze') {
      this.shown = undefined;
      this.item.hide();
      this.stopTimer();
      return;
    }
    this.shown = document.uri.toString();
    this.render(this.shown);
  }

  private render(uri: string): void {
    const state = this.states.get(uri);
    if (!state) {
      this.item.text = '$(sync~spin) Cloze';
      this.item.tooltip = 'Cloze: waiting for the language server. Click to select the model.';
      this.item.backgroundColor = undefined;
    } else if (state.state === 'loading') {
      const seconds = Math.round((Date.now() - state.since) / 1000);
      this.item.text = `$(loading~spin) ${state.model}: loading ${state.detail}${seconds >= 2 ? ` (${seconds} s)` : ''}`;
      this.item.tooltip = `Cloze is loading the ${state.detail} of ${state.model}. Click to select another model.`;
      this.item.backgroundColor = undefined;
      this.startTimer();
    } else if (state.state === 'ready') {
      this.item.text = `$(check) ${state.model}`;
      this.item.tooltip = new vscode.MarkdownString(`**${state.model}** is ready (${state.detail}).\n\nClick to select another model.`);
      this.item.backgroundColor = undefined;
    } else {
      this.item.text = `$(error) ${state.model}: unavailable`;
      // The server's reason often names the model already ("Model x is unavailable: …").
      const reason = /^model /i.test(state.detail) ? state.detail : `${state.model} is unavailable: ${state.detail}`;
      this.item.tooltip = `${reason}\n\nClick to select a model.`;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    }
    if (state?.state !== 'loading') this.stopTimer();
    this.item.show();
  }

  /** Loading shows its elapsed seconds: a load of several seconds is visibly alive. */
  private startTimer(): void {
    this.timer ??= setInterval(() => this.update(), 1000);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.stopTimer();
    for (const d of this.disposables) d.dispose();
  }
}
