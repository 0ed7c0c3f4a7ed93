/**
 * When a document is validated. Typing makes an edit every few tens of
 * milliseconds, and a full check of a large document costs more than that,
 * so checking on every edit falls behind and starves hovers and completions.
 * A document is checked when it opens, then once its edits pause for
 * `delayMs` (a trailing debounce per document). A check that finds its
 * version outdated when it finishes publishes nothing (the server checks).
 */
export class ValidationScheduler {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly opened = new Set<string>();

  constructor(
    private readonly run: (uri: string) => Promise<void>,
    readonly delayMs = 200,
  ) {}

  /** The document's content changed: its first content is checked at once, later edits after a pause. */
  changed(uri: string): void {
    if (!this.opened.has(uri)) {
      this.opened.add(uri);
      this.schedule(uri, 0);
    } else {
      this.schedule(uri, this.delayMs);
    }
  }

  /** Checks the document on the next turn of the event loop (settings or trust changed). */
  now(uri: string): void {
    this.schedule(uri, 0);
  }

  /** The document closed: nothing more is checked for it. */
  forget(uri: string): void {
    const timer = this.timers.get(uri);
    if (timer) clearTimeout(timer);
    this.timers.delete(uri);
    this.opened.delete(uri);
  }

  private schedule(uri: string, delayMs: number): void {
    const pending = this.timers.get(uri);
    if (pending) clearTimeout(pending);
    this.timers.set(
      uri,
      setTimeout(() => {
        this.timers.delete(uri);
        void this.run(uri);
      }, delayMs),
    );
  }
}
