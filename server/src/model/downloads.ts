import { downloadModel, DownloadError, type DownloadProgress, type HubOptions, TOKENIZER_FILES } from './download';

/**
 * The downloads of a long-running process (the language server): at most one
 * per model id, each cancellable, and a failure remembered instead of retried
 * in a loop. The server decides when a download may start (once the user has
 * stopped typing the id) and which ids are still wanted; this class only runs
 * and remembers.
 */

export type DownloadState =
  | { readonly state: 'running'; readonly files: readonly string[]; readonly progress: DownloadProgress | undefined }
  | { readonly state: 'failed'; readonly error: DownloadError };

export interface DownloadEvents {
  /** A download started: `cancel` stops it as the user's choice (remembered like a failure). */
  readonly onStart?: (id: string, cancel: () => void) => void;
  readonly onProgress?: (id: string, progress: DownloadProgress) => void;
  /** The tokenizer's files are in the cache: the tokenizer checks can run. */
  readonly onTokenizerReady?: (id: string) => void;
  /** Finished, failed or cancelled. */
  readonly onEnd?: (id: string, error: DownloadError | undefined) => void;
}

interface Job {
  readonly controller: AbortController;
  readonly files: readonly string[];
  progress: DownloadProgress | undefined;
  /** Cancelled because the user asked (a failure to remember), not because the id went away. */
  byUser: boolean;
}

export class ModelDownloads {
  private readonly jobs = new Map<string, Job>();
  private readonly failures = new Map<string, DownloadError>();
  /** Every download started, in order (ids): what went to the network, for tests and logs. */
  readonly started: string[] = [];

  constructor(
    private readonly cacheDir: string,
    private readonly hub: HubOptions,
    private readonly events: DownloadEvents = {},
  ) {}

  state(id: string): DownloadState | undefined {
    const job = this.jobs.get(id);
    if (job) return { state: 'running', files: job.files, progress: job.progress };
    const error = this.failures.get(id);
    return error ? { state: 'failed', error } : undefined;
  }

  /** Starts fetching `files` of `id` unless a download of it runs or its last one failed. */
  start(id: string, files: readonly string[]): void {
    if (this.jobs.has(id) || this.failures.has(id) || files.length === 0) return;
    const job: Job = { controller: new AbortController(), files, progress: undefined, byUser: false };
    this.jobs.set(id, job);
    this.started.push(id);
    this.events.onStart?.(id, () => this.cancel(id, true));
    const lastTokenizerFile = TOKENIZER_FILES[TOKENIZER_FILES.length - 1];
    void downloadModel({
      id,
      cacheDir: this.cacheDir,
      files,
      hub: this.hub,
      signal: job.controller.signal,
      onProgress: (progress) => {
        job.progress = progress;
        this.events.onProgress?.(id, progress);
      },
      onFile: (file) => {
        if (file === lastTokenizerFile) this.events.onTokenizerReady?.(id);
      },
    }).then(
      () => this.end(id, job, undefined),
      (error: unknown) =>
        this.end(
          id,
          job,
          error instanceof DownloadError ? error : new DownloadError('disk', error instanceof Error ? error.message : String(error)),
        ),
    );
  }

  /** Forgets a failure, so the next `start` tries again (the id changed, or the user saved). */
  forgetFailure(id: string): void {
    this.failures.delete(id);
  }

  /** Stops the download of `id`; `byUser`: remembered as a failure so that it does not start again by itself. */
  cancel(id: string, byUser = false): void {
    const job = this.jobs.get(id);
    if (!job) return;
    job.byUser = byUser;
    job.controller.abort();
  }

  /** Stops every download whose id is not in `wanted` (no open document names it any more). */
  cancelExcept(wanted: ReadonlySet<string>): void {
    for (const id of this.jobs.keys()) if (!wanted.has(id)) this.cancel(id);
  }

  dispose(): void {
    for (const id of [...this.jobs.keys()]) this.cancel(id);
  }

  private end(id: string, job: Job, error: DownloadError | undefined): void {
    if (this.jobs.get(id) !== job) return;
    this.jobs.delete(id);
    if (error && (error.kind !== 'cancelled' || job.byUser)) {
      this.failures.set(
        id,
        error.kind === 'cancelled'
          ? new DownloadError('cancelled', 'the download was cancelled. Save the file or edit the id to try again.')
          : error,
      );
    }
    this.events.onEnd?.(id, error);
  }
}
