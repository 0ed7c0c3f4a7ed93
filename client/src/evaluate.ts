import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { EvaluateRequest, type EvaluateResult } from './protocol';

type Evaluation = Extract<EvaluateResult, { ok: true }>['evaluation'];
type Summary = Evaluation['ensemble'];

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
  channel.appendLine(formatEvaluation(result.evaluation));
  channel.show(true);
  return result;
}

function percent(value: number | null): string {
  return value === null ? '–' : `${(value * 100).toFixed(1)}%`;
}

/** The table `cloze eval` prints, in plain words. */
export function formatEvaluation(result: Evaluation): string {
  const lines: string[] = [];
  lines.push(
    `model ${result.model} · ${result.evaluated} labelled ${result.evaluated === 1 ? 'row' : 'rows'} from ${result.sources.map((s) => path.basename(s.path)).join(', ')}`,
  );
  const skipped = Object.entries(result.skipped).filter(([, n]) => n > 0);
  if (skipped.length > 0) lines.push(`left out: ${skipped.map(([reason, n]) => `${n} (${reason})`).join(', ')}`);
  lines.push('');
  const first = result.calibrate ? 'calibrated' : 'accuracy';
  const second = result.calibrate ? 'raw' : 'calibrated';
  lines.push(`  ${'pattern'.padEnd(14)} ${first.padStart(10)} ${second.padStart(10)} ${'right label, avg.'.padStart(18)}`);
  const row = (s: Summary): string => {
    const [a, b] = result.calibrate ? [s.calibratedAccuracy, s.accuracy] : [s.accuracy, s.calibratedAccuracy];
    const gold = result.calibrate ? s.meanGoldCalibrated : s.meanGoldProbability;
    return `  ${s.pattern.padEnd(14)} ${percent(a).padStart(10)} ${percent(b).padStart(10)} ${percent(gold).padStart(18)}`;
  };
  for (const summary of result.patterns) lines.push(row(summary));
  if (result.patterns.length > 1) lines.push(row({ ...result.ensemble, pattern: 'all together' }));
  lines.push('');
  lines.push(`what the patterns together predict (rows: the label, columns: the prediction${result.calibrate ? ', calibrated' : ''})`);
  const width = Math.max(9, ...result.labels.map((l) => l.length + 1));
  lines.push(`  ${''.padEnd(width)}${result.labels.map((l) => l.padStart(width)).join('')}`);
  for (const gold of result.labels) {
    lines.push(`  ${gold.padEnd(width)}${result.labels.map((p) => String(result.confusion[gold]?.[p] ?? 0).padStart(width)).join('')}`);
  }
  return `${lines.join('\n')}\n`;
}
