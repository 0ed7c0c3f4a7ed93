import * as path from 'node:path';
import * as vscode from 'vscode';
import { WorkDoneProgress, type LanguageClient } from 'vscode-languageclient/node';
import { EvaluateRequest, type EvaluateResult } from './protocol';

/**
 * "Cloze: Evaluate on the File's Data": `cloze eval` in the editor. The
 * server scores every labelled row of the file's `data:` files with the
 * same code as the CLI (progress shows in a notification with a Cancel button); the result is
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
  const result = await evaluateWithProgress(client, document.uri, name);
  if (!result) {
    void vscode.window.showInformationMessage(`Cloze: the evaluation of ${name} was cancelled.`);
    return undefined;
  }
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

/**
 * The request with the client's own progress token, shown in a cancellable notification: progress the
 * server creates is shown by vscode-languageclient in the status bar, which has no Cancel. Cancelling
 * cancels the request, which stops the scoring at its next batch. Undefined when cancelled.
 */
async function evaluateWithProgress(client: LanguageClient, uri: vscode.Uri, name: string): Promise<EvaluateResult | undefined> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Cloze: evaluating ${name}`, cancellable: true },
    async (progress, cancellation) => {
      const workDoneToken = `cloze-evaluate-${Date.now()}-${Math.random().toString(36).slice(2)}`;
      let shown = 0;
      const listener = client.onProgress(WorkDoneProgress.type, workDoneToken, (value) => {
        if (value.kind === 'end') return;
        // The notification adds increments; the server reports how far it is.
        const percentage = value.percentage ?? shown;
        progress.report({ message: value.message, increment: percentage - shown });
        shown = percentage;
      });
      try {
        const result = await client.sendRequest<EvaluateResult>(EvaluateRequest, { uri: uri.toString(), workDoneToken }, cancellation);
        return cancellation.isCancellationRequested ? undefined : result;
      } catch (error) {
        if (cancellation.isCancellationRequested) return undefined;
        throw error;
      } finally {
        listener.dispose();
      }
    },
  );
}
