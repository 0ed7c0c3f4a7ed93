/**
 * The logits at the mask of inputs already run, least recently used first
 * out. Caching the whole vocabulary row (not the finished scores) means a
 * change to the verbalizer or to top-k re-scores from memory: only a changed
 * input costs a model run. A row is 4 bytes per vocabulary entry (120 KB for
 * BERT), so the cache is bounded in bytes, not entries.
 */
export class LogitsCache {
  /** `null` remembers that an input has no visible mask, which is also worth not recomputing. */
  private readonly rows = new Map<string, Float32Array | null>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get size(): number {
    return this.rows.size;
  }

  get(key: string): Float32Array | null | undefined {
    const row = this.rows.get(key);
    if (row === undefined) return undefined;
    // Map keeps insertion order: re-inserting marks the row as recently used.
    this.rows.delete(key);
    this.rows.set(key, row);
    return row;
  }

  set(key: string, row: Float32Array | null): void {
    const old = this.rows.get(key);
    if (old !== undefined) {
      this.bytes -= entryBytes(key, old);
      this.rows.delete(key);
    }
    this.rows.set(key, row);
    this.bytes += entryBytes(key, row);
    for (const [oldest, evicted] of this.rows) {
      if (this.bytes <= this.maxBytes || oldest === key) break;
      this.rows.delete(oldest);
      this.bytes -= entryBytes(oldest, evicted);
    }
  }

  clear(): void {
    this.rows.clear();
    this.bytes = 0;
  }
}

/** The memory an entry holds: the row and the key (a string of token ids, two bytes a character). */
function entryBytes(key: string, row: Float32Array | null): number {
  return key.length * 2 + (row?.byteLength ?? 0);
}
