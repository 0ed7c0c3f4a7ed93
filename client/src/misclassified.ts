import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { MisclassifiedRow } from '../../server/src/service/evaluate';
import { misclassifiedRows, progressText, rowText } from './panel/renderEvaluation';
import { DataEvaluationRequest, type DataEvaluationData } from './protocol';

/**
 * "Cloze: Show Misclassified Rows": the rows of the file's `data:` files that
 * the patterns together get wrong, worst (lowest P(gold)) first, in a quick
 * pick; choosing one opens its data file at the line the row starts on. The
 * figures are the evaluation lens's (`cloze/dataEvaluation`); while they are
 * computed the command waits with a cancellable progress notification.
 */

/** Opens a data file at a row's line (1-based) beside nothing else: in the first editor group. */
export async function openDataRow(file: string, line: number): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  const at = Math.max(0, Math.min(line - 1, document.lineCount - 1));
  const range = new vscode.Range(at, 0, at, document.lineAt(at).text.length);
  const editor = await vscode.window.showTextDocument(document, {
    viewColumn: vscode.ViewColumn.One,
    selection: new vscode.Range(range.start, range.start),
  });
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  return editor;
}

function percent(p: number): string {
  return `${(p * 100).toFixed(1)}%`;
}

export interface MisclassifiedItem extends vscode.QuickPickItem {
  readonly row: MisclassifiedRow;
}

export function misclassifiedItems(data: DataEvaluationData): MisclassifiedItem[] {
  return misclassifiedRows(data).map((row) => ({
    label: `$(error) ${row.label} → ${row.predicted}`,
    description: `P(gold) ${percent(row.goldProbability)} · ${path.basename(row.file)}:${row.line}`,
    detail: rowText(row, 120),
    row,
  }));
}

/** Asks until every file's figures are for the current version (or the user cancels). */
async function finishedEvaluation(client: LanguageClient, uri: string, name: string): Promise<DataEvaluationData | null | undefined> {
  const first = await client.sendRequest<DataEvaluationData | null>(DataEvaluationRequest, { uri });
  if (!first || first.files.every((f) => f.current)) return first;
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Cloze: evaluating ${name}`, cancellable: true },
    async (progress, token) => {
      let data: DataEvaluationData | null = first;
      while (data && !data.files.every((f) => f.current) && !token.isCancellationRequested) {
        const running = data.files.map(progressText).find((t) => t !== undefined);
        if (running) progress.report({ message: running });
        await new Promise((resolve) => setTimeout(resolve, 500));
        data = await client.sendRequest<DataEvaluationData | null>(DataEvaluationRequest, { uri });
      }
      return token.isCancellationRequested ? undefined : data;
    },
  );
}

export async function showMisclassifiedCommand(
  client: LanguageClient | undefined,
  target: vscode.Uri | string | undefined,
): Promise<MisclassifiedItem | undefined> {
  const uri = typeof target === 'string' ? vscode.Uri.parse(target) : target;
  const document = uri ? await vscode.workspace.openTextDocument(uri) : vscode.window.activeTextEditor?.document;
  if (!document || document.languageId !== 'cloze') {
    void vscode.window.showInformationMessage('Open a .cloze file with a `data:` line to list the rows its patterns get wrong.');
    return undefined;
  }
  if (!client) {
    void vscode.window.showErrorMessage('The Cloze language server is not running; run “Cloze: Restart Language Server”.');
    return undefined;
  }
  const name = path.basename(document.uri.fsPath);
  const data = await finishedEvaluation(client, document.uri.toString(), name);
  if (data === undefined) return undefined;
  if (!data || data.files.length === 0) {
    void vscode.window.showInformationMessage(
      `Cloze: ${name} has nothing evaluated${data?.reason ? `: ${data.reason}` : ': add a `data:` line naming a labelled JSONL, CSV or TSV file'}.`,
    );
    return undefined;
  }
  const failed = data.files.flatMap((f) => (f.outcomes?.[0] && !f.outcomes[0].ok ? [`${f.path}: ${f.outcomes[0].reason}`] : []));
  const items = misclassifiedItems(data);
  if (items.length === 0) {
    void vscode.window.showInformationMessage(
      failed.length > 0
        ? `Cloze cannot evaluate ${failed.join('; ')}`
        : `Cloze: the patterns of ${name} together get every labelled row right.`,
    );
    return undefined;
  }
  const total = data.files.reduce((sum, f) => {
    const first = f.outcomes?.[0];
    return (
      sum + (first?.ok ? (data.calibrate ? first.evaluation.misclassifiedCount.calibrated : first.evaluation.misclassifiedCount.raw) : 0)
    );
  }, 0);
  const picked = await vscode.window.showQuickPick(items, {
    title: `Misclassified rows of ${name}: ${total}${total > items.length ? ` (the ${items.length} worst listed)` : ''}, worst first${data.calibrate ? ' (calibrated)' : ''}`,
    placeHolder: 'Pick a row to open it in its data file',
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (picked) await openDataRow(picked.row.file, picked.row.line);
  return picked;
}
