import { SingleBar } from 'cli-progress';
import type { DownloadProgress } from '../model/download';

/**
 * What the CLI says on stderr while a model downloads: a model file is hundreds of megabytes, and
 * minutes of silence read as a hung job (helper-45). On a terminal a bar (cli-progress, as `cloze
 * eval`'s rows); in a CI log, where a bar redrawn in place is noise, a line when it starts, one every
 * `everyMs` with the bytes so far, and one at the end. Nothing is said of a download that has nothing
 * to fetch (every file already in the cache).
 */
export function downloadReporter(
  id: string,
  stream: NodeJS.WriteStream = process.stderr,
  everyMs = 10_000,
): { readonly onProgress: (progress: DownloadProgress) => void; readonly done: (completed: boolean) => void } {
  const started = Date.now();
  let bar: SingleBar | undefined;
  let lastLine = 0;
  let last: DownloadProgress | undefined;
  const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
  return {
    onProgress(progress) {
      const first = last === undefined;
      last = progress;
      const total = progress.totalBytes ?? 0;
      if (stream.isTTY) {
        bar ??= new SingleBar({
          format: `cloze: downloading ${id} {file} {bar} {done}/{all} MB`,
          clearOnComplete: true,
          stream,
        });
        if (first) bar.start(Math.max(total, progress.receivedBytes), progress.receivedBytes, payload(progress));
        else {
          bar.setTotal(Math.max(total, progress.receivedBytes));
          bar.update(progress.receivedBytes, payload(progress));
        }
        return;
      }
      const now = Date.now();
      if (first) stream.write(`cloze: downloading ${id} from the hub…\n`);
      else if (now - lastLine >= everyMs)
        stream.write(
          `cloze: downloading ${id}: ${mb(progress.receivedBytes)}${total > 0 ? ` of ${mb(total)}` : ''} MB (${progress.file})\n`,
        );
      else return;
      lastLine = now;
    },
    /** `completed` false: the download failed, and its error says so; the bar only goes. */
    done(completed) {
      bar?.stop();
      if (last && completed)
        stream.write(`cloze: downloaded ${id}: ${mb(last.receivedBytes)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    },
  };

  function payload(progress: DownloadProgress): Record<string, string> {
    return { file: progress.file, done: mb(progress.receivedBytes), all: mb(progress.totalBytes ?? progress.receivedBytes) };
  }
}
