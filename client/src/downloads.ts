import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';

/**
 * Model downloads as VS Code notifications with the bytes received and a Cancel
 * button. The language client shows the server's LSP progress in the status
 * bar, where nothing can be cancelled; for downloads (hundreds of MB on a slow
 * network) the server sends `cloze/download` instead, to clients that ask
 * for it in initializationOptions (`downloadNotifications`).
 */

export const DownloadNotification = 'cloze/download';
export const CancelDownloadNotification = 'cloze/cancelDownload';

export interface DownloadEvent {
  readonly id: string;
  readonly kind: 'begin' | 'report' | 'end';
  /** "12.3 of 438 MB" */
  readonly message?: string;
  readonly percentage?: number;
}

export function showDownloads(client: LanguageClient): vscode.Disposable {
  const shown = new Map<string, { report(event: DownloadEvent): void; end(): void }>();
  return client.onNotification(DownloadNotification, (event: DownloadEvent) => {
    if (event.kind === 'begin' && !shown.has(event.id)) {
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Downloading ${event.id}`, cancellable: true },
        (progress, token) =>
          new Promise<void>((resolve) => {
            let percentage = 0;
            token.onCancellationRequested(() => void client.sendNotification(CancelDownloadNotification, { id: event.id }));
            shown.set(event.id, {
              report: (next) => {
                const increment = next.percentage !== undefined ? Math.max(0, next.percentage - percentage) : undefined;
                percentage = next.percentage ?? percentage;
                progress.report({ message: next.message, increment });
              },
              end: resolve,
            });
          }),
      );
    } else if (event.kind === 'report') {
      shown.get(event.id)?.report(event);
    } else if (event.kind === 'end') {
      shown.get(event.id)?.end();
      shown.delete(event.id);
    }
  });
}
