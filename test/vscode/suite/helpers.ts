import * as path from 'node:path';
import * as vscode from 'vscode';

/** This checkout (test/vscode/out/suite → the repository root). */
export const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');

export function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('The test run needs a workspace folder (the runner opens one).');
  return folder.uri.fsPath;
}

/** Polls `check` until it returns something other than undefined/false, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function codeOf(diagnostic: vscode.Diagnostic): string {
  const { code } = diagnostic;
  if (code === undefined) return '';
  return typeof code === 'object' ? String(code.value) : String(code);
}

/** Diagnostics of the Cloze server for `uri` once `accept` holds for them (diagnostics arrive in one or two publishes). */
export function diagnosticsWhen(
  uri: vscode.Uri,
  accept: (diagnostics: vscode.Diagnostic[]) => boolean,
  timeoutMs = 30_000,
): Promise<vscode.Diagnostic[]> {
  return until(
    `diagnostics of ${path.basename(uri.fsPath)}; last seen: ${JSON.stringify(vscode.languages.getDiagnostics(uri).map(codeOf))}`,
    () => {
      const diagnostics = vscode.languages.getDiagnostics(uri);
      return accept(diagnostics) ? diagnostics : undefined;
    },
    timeoutMs,
  );
}

export async function open(relativePath: string): Promise<vscode.TextDocument> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(workspaceRoot(), relativePath)));
  await vscode.window.showTextDocument(doc);
  return doc;
}

/** The position of the `occurrence`-th (0-based) `needle` on the first line containing `lineMarker`. */
export function positionOf(doc: vscode.TextDocument, needle: string, lineMarker = needle, offsetInNeedle = 0): vscode.Position {
  for (let line = 0; line < doc.lineCount; line++) {
    const text = doc.lineAt(line).text;
    if (!text.includes(lineMarker)) continue;
    const character = text.indexOf(needle);
    if (character >= 0) return new vscode.Position(line, character + offsetInNeedle);
  }
  throw new Error(`${needle} not found in ${doc.uri.fsPath}`);
}

export function hoverText(hovers: readonly vscode.Hover[]): string {
  return hovers
    .flatMap((hover) => hover.contents)
    .map((content) => (typeof content === 'string' ? content : content.value))
    .join('\n');
}
