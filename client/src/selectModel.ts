import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { AvailableModelsRequest, type AvailableModels } from './protocol';

/**
 * "Cloze: Select Model": a quick pick of the models in the models folder and
 * Cloze's download cache, a hub id typed by the user, or a model folder;
 * then where to write it: the file's `model:` line (a workspace edit, which
 * the user can undo) or the `cloze.model` setting of the workspace or user.
 */

export type ModelTarget = 'file' | 'workspace' | 'user';

export interface SelectModelOptions {
  /** Skip the first pick: use this model id (or path). */
  readonly model?: string;
  /** Skip the second pick: write it here. */
  readonly target?: ModelTarget;
}

interface ModelItem extends vscode.QuickPickItem {
  readonly model?: string;
  readonly browse?: true;
}

/** The first pick's items for a document: what the server finds in the models folder and the cache. */
export async function modelItems(
  client: LanguageClient,
  uri: vscode.Uri,
): Promise<{ items: ModelItem[]; available: AvailableModels | null }> {
  const available = await client.sendRequest<AvailableModels | null>(AvailableModelsRequest, { uri: uri.toString() });
  const items: ModelItem[] = [];
  if (available) {
    const group = (source: 'models-dir' | 'cache', title: string): void => {
      const models = available.models.filter((m) => m.source === source);
      items.push({ label: title, kind: vscode.QuickPickItemKind.Separator });
      if (models.length === 0)
        items.push({
          label: '$(info) none found',
          description: source === 'models-dir' ? available.modelsDir || 'cloze.modelsDir is not set' : available.cacheDir,
        });
      for (const model of models) {
        items.push({
          label: `${model.id === available.current.id ? '$(check)' : '$(symbol-class)'} ${model.id}`,
          description:
            model.id === available.current.id ? `in use (${available.current.origin === 'file' ? '`model:` line' : 'setting'})` : '',
          detail: model.folder,
          model: model.id,
        });
      }
    };
    group('models-dir', `models folder${available.modelsDir ? ` · ${available.modelsDir}` : ''}`);
    group('cache', `downloaded (Cloze's download cache) · ${available.cacheDir}`);
  }
  items.push({ label: 'other', kind: vscode.QuickPickItemKind.Separator });
  items.push({
    label: '$(folder-opened) Choose a model folder…',
    detail: 'A folder with tokenizer.json and onnx/model.onnx, as exported for transformers.js',
    browse: true,
  });
  return { items, available };
}

/** Runs the command; returns the model written, or undefined when the user cancelled. */
export async function selectModel(
  client: LanguageClient | undefined,
  target: vscode.Uri | vscode.TextDocument | undefined,
  options: SelectModelOptions = {},
): Promise<string | undefined> {
  const uri = target instanceof vscode.Uri ? target : (target?.uri ?? activeClozeUri());
  if (!uri) {
    void vscode.window.showInformationMessage('Open a .cloze file to select its model.');
    return undefined;
  }
  const document = await vscode.workspace.openTextDocument(uri);
  let model = options.model;
  let available: AvailableModels | null = null;
  if (model === undefined) {
    if (!client) {
      void vscode.window.showErrorMessage('The Cloze language server is not running; run “Cloze: Restart Language Server”.');
      return undefined;
    }
    const listed = await modelItems(client, uri);
    available = listed.available;
    model = await pickModel(listed.items, available, document);
    if (model === undefined) return undefined;
  }
  const where = options.target ?? (await pickTarget(model, document));
  if (!where) return undefined;
  if (where === 'file') {
    const edit = modelLineEdit(document, model);
    if (!(await vscode.workspace.applyEdit(edit))) {
      void vscode.window.showErrorMessage(`Could not write \`model: ${model}\` into ${path.basename(uri.fsPath)}.`);
      return undefined;
    }
    await cursorAfterModel(document);
  } else {
    await vscode.workspace
      .getConfiguration('cloze', uri)
      .update('model', model, where === 'user' ? vscode.ConfigurationTarget.Global : vscode.ConfigurationTarget.Workspace);
    if (modelLine(document)) {
      void vscode.window.showInformationMessage(
        `cloze.model is now ${model}, but ${path.basename(uri.fsPath)} has its own \`model:\` line, which wins for this file.`,
      );
    }
  }
  return model;
}

function activeClozeUri(): vscode.Uri | undefined {
  const document = vscode.window.activeTextEditor?.document;
  return document?.languageId === 'cloze' ? document.uri : undefined;
}

async function pickModel(
  items: ModelItem[],
  available: AvailableModels | null,
  document: vscode.TextDocument,
): Promise<string | undefined> {
  const pick = vscode.window.createQuickPick<ModelItem>();
  pick.title = `Model for ${path.basename(document.uri.fsPath)}`;
  pick.placeholder = 'Pick a model, or type a Hugging Face id (e.g. Xenova/bert-base-uncased)';
  pick.matchOnDetail = true;
  pick.items = items;
  const typedItem = (value: string): ModelItem => ({
    label: `$(cloud-download) ${value}`,
    description: 'Hugging Face hub id, as typed',
    detail:
      available && !available.allowRemoteModels
        ? 'Downloads are off (cloze.allowRemoteModels): it must already be in the models folder or the cache.'
        : "Downloaded once into Cloze's download cache when first needed.",
    model: value,
    alwaysShow: true,
  });
  pick.onDidChangeValue((value) => {
    const typed = value.trim();
    const known = items.some((item) => item.model === typed);
    pick.items = typed !== '' && !known && /^[\w.-]+(\/[\w.-]+)?$/.test(typed) ? [typedItem(typed), ...items] : items;
  });
  const chosen = await new Promise<ModelItem | undefined>((resolve) => {
    pick.onDidAccept(() => resolve(pick.selectedItems[0]));
    pick.onDidHide(() => resolve(undefined));
    pick.show();
  });
  pick.dispose();
  if (!chosen) return undefined;
  if (chosen.browse) {
    const folders = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      openLabel: 'Use this model',
      defaultUri: vscode.Uri.file(path.dirname(document.uri.fsPath)),
    });
    if (!folders?.[0]) return undefined;
    // Relative to the file, as the `model:` line reads it.
    const relative = path.relative(path.dirname(document.uri.fsPath), folders[0].fsPath).split(path.sep).join('/');
    return relative.startsWith('.') ? relative : `./${relative}`;
  }
  return chosen.model;
}

async function pickTarget(model: string, document: vscode.TextDocument): Promise<ModelTarget | undefined> {
  const name = path.basename(document.uri.fsPath);
  const line = modelLine(document);
  const items: Array<vscode.QuickPickItem & { target: ModelTarget }> = [
    {
      label: line ? `$(edit) Change the \`model:\` line of ${name}` : `$(edit) Add \`model: ${model}\` to ${name}`,
      description: 'recommended: the file says which model it is for',
      target: 'file',
    },
    { label: '$(settings) Set cloze.model for this workspace', description: 'files without a `model:` line', target: 'workspace' },
    { label: '$(account) Set cloze.model in your user settings', description: 'files without a `model:` line', target: 'user' },
  ];
  const chosen = await vscode.window.showQuickPick(items, { title: `Where should ${model} be written?` });
  return chosen?.target;
}

/** The first `model:` line's value, if any, and whether it is `model:` alone (no value, no space after the colon). */
function modelLine(document: vscode.TextDocument): { range: vscode.Range; bare: boolean } | undefined {
  for (let line = 0; line < document.lineCount; line++) {
    const text = document.lineAt(line).text;
    const match = /^model\s*:\s*/.exec(text);
    if (match) {
      const end = Math.max(match[0].length, text.trimEnd().length);
      return { range: new vscode.Range(line, match[0].length, line, end), bare: end === match[0].length && !/\s$/.test(match[0]) };
    }
  }
  return undefined;
}

/**
 * A selection on the `model:` line the edit rewrote (the starter file's snippet selects the model id
 * to type over) was cut short by the edit: `review-bert-small` written over the placeholder left
 * `eview-bert-small` selected, and the next key replaced it. The cursor goes after the new id, out of
 * the snippet. A selection elsewhere is the user's and stays.
 */
async function cursorAfterModel(document: vscode.TextDocument): Promise<void> {
  const line = modelLine(document)?.range.start.line;
  if (line === undefined) return;
  for (const editor of vscode.window.visibleTextEditors.filter((e) => e.document === document)) {
    if (!editor.selections.some((selection) => selection.start.line <= line && line <= selection.end.line)) continue;
    if (editor === vscode.window.activeTextEditor) await vscode.commands.executeCommand('leaveSnippet');
    const end = document.lineAt(line).range.end;
    editor.selection = new vscode.Selection(end, end);
  }
}

/** Replaces the `model:` value, or adds the line after the file's leading comments. */
export function modelLineEdit(document: vscode.TextDocument, model: string): vscode.WorkspaceEdit {
  const edit = new vscode.WorkspaceEdit();
  const existing = modelLine(document);
  if (existing) {
    // `model:` alone gets a space before the id, as language/models.ts writes it for other editors; `model: x` keeps its spacing.
    edit.replace(document.uri, existing.range, existing.bare ? ` ${model}` : model);
  } else {
    // The file's own line break (a CRLF file stays CRLF), as language/models.ts's modelLineEdit writes it for other editors.
    const eol = document.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
    let line = 0;
    while (line < document.lineCount && document.lineAt(line).text.startsWith('#')) line++;
    if (line < document.lineCount) edit.insert(document.uri, new vscode.Position(line, 0), `model: ${model}${eol}`);
    else {
      // Comments only: after the last, on a line of its own (a last line without a break got it glued on).
      const last = document.lineAt(document.lineCount - 1);
      edit.insert(document.uri, last.range.end, `${last.text === '' ? '' : eol}model: ${model}${eol}`);
    }
  }
  return edit;
}
