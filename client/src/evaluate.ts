import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { EvaluateRequest, type EvaluateResult } from './protocol';

/**
 * "Cloze: Evaluate on the File's Data": `cloze eval` in the editor. The
 * server scores every labelled row of the file's `data:` files with the
 * same code as the CLI (progress shows in a notification); the result is
 * written to the "Cloze Evaluation" output as the CLI prints it.
 */
export async function evaluateCommand(
  client: LanguageClient | undefined,
  channel: vscode.OutputChannel,
  target: vscode.Uri | undefined,
): Promise<EvaluateResult | undefined> {
  const document = target ? await vscode.workspace.openTextDocument(target) : vscode.window.activeTextEditor?.document;
  if (!document || document.languageId !== 'cloze') {
    void vscode.window.showInformationMessage('Open a .cloze file with a `data:` line to evaluate it.');
    return undefined;
  }
  if (!client) {
    void vscode.window.showErrorMessage('The Cloze language server is not running; run “Cloze: Restart Language Server”.');
    return undefined;
  }
  const name = path.basename(document.uri.fsPath);
  const result = await client.sendRequest<EvaluateResult>(EvaluateRequest, { uri: document.uri.toString() });
  if (!result.ok) {
    void vscode.window.showWarningMessage(`Cloze cannot evaluate ${name}: ${result.reason}`);
    return result;
  }
  channel.appendLine(`── ${name} · ${new Date().toLocaleString()} ──`);
  for (const problem of result.problems) channel.appendLine(`problem: ${problem}`);
  // The text `cloze eval` prints, made by the same code in the server.
  channel.appendLine(result.report);
  channel.show(true);
  return result;
}
