/**
 * The logits at the mask of inputs already run, least recently used first
 * out. Caching the whole vocabulary row (not the finished scores) means a
 * change to the verbalizer or to top-k re-scores from memory: only a changed
 * input costs a model run. A row is 4 bytes per vocabulary entry (120 KB for
 * BERT), so the cache is bounded in bytes, not entries.
 *
 * Rows may be views into one buffer (the mask-only graph returns a batch's
 * rows together, and copying each out cost more than the statistics of the
 * row). Memory is counted by buffer: a buffer counts in full while any of its
 * rows is kept, so the bound holds for the memory really held.
 */
export class LogitsCache {
  /** `null` remembers that an input has no visible mask, which is also worth not recomputing. */
  private readonly rows = new Map<string, Float32Array | null>();
  /** How many kept rows each buffer backs. */
  private readonly buffers = new Map<ArrayBufferLike, number>();
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
    if (this.rows.has(key)) this.remove(key);
    this.rows.set(key, row);
    this.bytes += key.length * 2;
    if (row) {
      const users = this.buffers.get(row.buffer) ?? 0;
      if (users === 0) this.bytes += row.buffer.byteLength;
      this.buffers.set(row.buffer, users + 1);
    }
    for (const oldest of this.rows.keys()) {
      if (this.bytes <= this.maxBytes || oldest === key) break;
      this.remove(oldest);
    }
  }

  clear(): void {
    this.rows.clear();
    this.buffers.clear();
    this.bytes = 0;
  }

  private remove(key: string): void {
    const row = this.rows.get(key);
    this.rows.delete(key);
    this.bytes -= key.length * 2;
    if (!row) return;
    const users = (this.buffers.get(row.buffer) ?? 1) - 1;
    if (users > 0) {
      this.buffers.set(row.buffer, users);
    } else {
      this.buffers.delete(row.buffer);
      this.bytes -= row.buffer.byteLength;
    }
  }
}
