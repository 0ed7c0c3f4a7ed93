import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { parse as parseCsv, type CastingContext } from 'csv-parse';
import type { DataSetSummary } from '../language/validate';
import { fileErrorInWords, fileErrorText } from './fileErrors';
import { firstInvalidUtf8Line, notUtf8Message } from './textEncoding';

/**
 * Reading the labelled rows a `data:` line points at (JSONL, CSV or TSV).
 * CSV quoting is subtle (quoted separators, doubled quotes, line breaks in
 * cells), so it is left to csv-parse rather than a hand-written splitter.
 *
 * A `data:` line is written by whoever wrote the workspace, so a read is
 * bounded: only regular files are opened (a FIFO would block for ever, a
 * device such as /dev/zero never ends), the bytes are read asynchronously in
 * chunks that yield to the event loop, and reading stops at a row and a byte
 * limit (`cloze.data.maxRows`, `cloze.data.maxFileSizeMB`; `--data-max-rows`, `--data-max-mb` in the CLI).
 */

export type Row = Readonly<Record<string, string>>;

export interface DataLimits {
  /** Rows read at most; the rest of the file is not read. */
  readonly maxRows: number;
  /** Bytes read at most; reading stops at the last line break before the limit. */
  readonly maxBytes: number;
  /** How the user sets the two limits where they are (settings in the editor, flags in the CLI), for the message when one stops a read. */
  readonly names?: { readonly rows: string; readonly bytes: string };
}

export const editorLimitNames = { rows: 'the setting cloze.data.maxRows', bytes: 'the setting cloze.data.maxFileSizeMB' } as const;

export const defaultDataLimits: DataLimits = { maxRows: 100_000, maxBytes: 100 * 1024 * 1024 };

export type DataSet =
  | {
      readonly ok: true;
      readonly rows: readonly Row[];
      readonly columns: readonly string[];
      /** The 1-based line of the file each row starts on (a CSV record may span lines), for links to a row. */
      readonly lines: readonly number[];
      /** Set when a limit stopped the read: what was read is the start of the file. */
      readonly limited?: string;
    }
  | { readonly ok: false; readonly reason: string };

const CHUNK_BYTES = 64 * 1024;

/** Where a data file's path came from, for the message when it does not exist. */
export type DataPathOrigin = 'data-line' | 'command-line';

/**
 * Why a data path that cannot be opened cannot be, when the path itself says it: a NUL byte (Node
 * refuses it with ERR_INVALID_ARG_VALUE), or a URL, which resolving against the .cloze file's folder
 * turned into `…/https:/host/x.jsonl` (Cloze reads local files only).
 */
function pathProblem(file: string): string | undefined {
  if (file.includes('\0')) return `the path has a NUL character; write the file's path without it.`;
  const url = /(?:^|[\\/])((?:https?|ftp|file|s3|gs|hf):)[\\/]/i.exec(file);
  if (url) return `that is a URL (${url[1]}//…); Cloze reads local files only: download the file and name its path.`;
  return undefined;
}

function missingFileNote(origin: DataPathOrigin): string {
  return origin === 'data-line'
    ? 'The path is relative to the .cloze file.'
    : `Paths given with --data are relative to the current folder (${process.cwd()}).`;
}

/** Reads a data file within `limits`, without blocking the event loop. */
export async function readDataSet(
  file: string,
  limits: DataLimits = defaultDataLimits,
  origin: DataPathOrigin = 'data-line',
): Promise<DataSet> {
  const extension = path.extname(file).toLowerCase();
  const format =
    extension === '.jsonl' || extension === '.ndjson' ? 'jsonl' : extension === '.csv' || extension === '.tsv' ? extension : undefined;
  let handle: fs.promises.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one. The type is
    // checked on the open descriptor, so a file swapped for a FIFO after a stat is still refused.
    handle = await fs.promises.open(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = pathProblem(file);
    if (problem) return { ok: false, reason: `Cannot read ${file.replace(/\0/g, '\\0')}: ${problem}` };
    if (code === 'ENOENT') return { ok: false, reason: `Cannot read ${file}: the file does not exist. ${missingFileNote(origin)}` };
    return {
      ok: false,
      reason: `Cannot read ${file}: ${fileErrorText(error)}`,
    };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      return {
        ok: false,
        reason: `${file} is not a regular file (${kindOf(stat)}); ${origin === 'command-line' ? '--data' : 'a `data:` line'} must name a JSONL, CSV or TSV file.`,
      };
    }
    if (!format) return { ok: false, reason: `${path.basename(file)}: unknown data format. Use .jsonl, .csv or .tsv.` };
    // Whole bytes: a fractional count reaches Node's read() as a non-integer length, which aborts the process (a native assertion, no exception).
    const chunks = new ChunkReader(handle, Math.max(0, Math.floor(limits.maxBytes)), path.basename(file));
    const result =
      format === 'jsonl'
        ? await fromJsonLines(chunks, file, limits.maxRows)
        : await fromCsv(chunks, format, file, limits.maxRows, () => chunks.truncated);
    if (!result.ok) return result;
    const names = limits.names ?? editorLimitNames;
    const limited = result.rowLimited
      ? `only its first ${limits.maxRows.toLocaleString('en-US')} rows were read (raise ${names.rows}, or point at a sample)`
      : chunks.truncated
        ? `it is ${megabytes(stat.size)}, so only its first ${megabytes(limits.maxBytes)} were read (raise ${names.bytes}, or point at a sample)`
        : undefined;
    return { ok: true, rows: result.rows, columns: result.columns, lines: result.lines, ...(limited ? { limited } : {}) };
  } catch (error) {
    if (error instanceof NotUtf8Error) return { ok: false, reason: error.message };
    return { ok: false, reason: `Cannot read ${path.basename(file)}: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a file';
}

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

/**
 * The file's text in chunks of whole lines, at most `maxBytes` of it. Each
 * chunk is an `await`, so the event loop serves requests between chunks. A
 * line is yielded only once its line break has been read (or the file has
 * ended): when the byte limit stops the read, the line it falls in is left
 * out whole, wherever the chunks happened to split it.
 */
class ChunkReader {
  truncated = false;
  /** Fatal: a byte that is not UTF-8 stops the read (see textEncoding.ts); `lineBreaks` counts the line breaks before the chunk, to name its line. */
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private lineBreaks = 0;
  /** The last byte read was a CR: an LF first in the next chunk completes a CRLF (one line break). */
  private afterCr = false;

  constructor(
    private readonly handle: fs.promises.FileHandle,
    private readonly maxBytes: number,
    /** The file's name, for the refusal of one that is not UTF-8. */
    private readonly file: string,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    const buffer = Buffer.alloc(CHUNK_BYTES);
    let position = 0;
    // The text after the last line break read so far: the start of a line still being read.
    let partial = '';
    let first = true;
    const lines = (text: string): string => {
      const whole = first ? stripBom(text) : text;
      first = false;
      return whole;
    };
    for (;;) {
      // One byte past the limit tells whether the file goes on.
      const wanted = Math.min(CHUNK_BYTES, this.maxBytes + 1 - position);
      const { bytesRead } = await this.handle.read(buffer, 0, wanted, position);
      if (bytesRead === 0) {
        const rest = partial + this.decode(new Uint8Array(0), false);
        if (rest) yield lines(rest);
        return;
      }
      position += bytesRead;
      const over = Math.max(0, position - this.maxBytes);
      if (over > 0) this.truncated = true;
      const text = this.decode(buffer.subarray(0, bytesRead - over), true);
      // A line ends at LF, CRLF or a lone CR (old Mac "CSV (Macintosh)" files have only CRs). Only the new text is
      // searched, so a long line is not scanned again with every chunk (the parts are joined once, when it ends).
      const end = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r')) + 1;
      if (end > 0) {
        yield lines(partial + text.slice(0, end));
        partial = text.slice(end);
      } else {
        partial += text;
      }
      // Over the limit: the line in progress is cut, so it is dropped.
      if (over > 0) return;
    }
  }

  private decode(bytes: Uint8Array, more: boolean): string {
    try {
      const text = this.decoder.decode(bytes, { stream: more });
      // Lines end at LF, CRLF or a lone CR; a CRLF may fall across two chunks.
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] === 0x0d || (bytes[i] === 0x0a && !(i === 0 ? this.afterCr : bytes[i - 1] === 0x0d))) this.lineBreaks++;
      }
      if (bytes.length > 0) this.afterCr = bytes[bytes.length - 1] === 0x0d;
      return text;
    } catch {
      // The chunk's own bytes name the line; a character cut across chunks counts as its chunk's first line.
      throw new NotUtf8Error(notUtf8Message(this.file, this.lineBreaks + (firstInvalidUtf8Line(bytes, more, this.afterCr) ?? 1)));
    }
  }
}

/** Thrown when a data file has a byte that is not UTF-8; its message is the whole refusal. */
class NotUtf8Error extends Error {}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

type Parsed =
  | { readonly ok: true; readonly rows: Row[]; readonly columns: string[]; readonly lines: number[]; readonly rowLimited: boolean }
  | { readonly ok: false; readonly reason: string };

async function fromJsonLines(chunks: AsyncIterable<string>, file: string, maxRows: number): Promise<Parsed> {
  const rows: Row[] = [];
  const rowLines: number[] = [];
  const columns = new Set<string>();
  let lineNumber = 0;
  let pending = '';
  const take = (raw: string): Parsed | undefined => {
    lineNumber++;
    const line = raw.trim();
    if (line === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return { ok: false, reason: `${path.basename(file)} line ${lineNumber} is not valid JSON.` };
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      return {
        ok: false,
        reason: `${path.basename(file)} line ${lineNumber} is not a JSON object: each line is one row, an object of its fields and its \`label\`.`,
      };
    }
    const row: Record<string, string> = {};
    for (const [key, field] of Object.entries(value)) {
      columns.add(key);
      // null is no value: the row lacks the field (it must not be scored as the text "null").
      if (field === null) continue;
      if (typeof field === 'string') {
        row[key] = field;
        continue;
      }
      try {
        row[key] = JSON.stringify(field);
      } catch {
        // JSON.stringify recurses: a value nested thousands deep overflows the stack JSON.parse did not.
        return {
          ok: false,
          reason: `${path.basename(file)} line ${lineNumber}: the value of \`${key}\` is nested too deeply to be a field.`,
        };
      }
    }
    rows.push(row);
    rowLines.push(lineNumber);
    return undefined;
  };
  for await (const chunk of chunks) {
    // Lines end at LF, CRLF or a lone CR, as the reader cuts them (a CR-only file was one line, parsed again and
    // again with every chunk). A CR at the end of a chunk may be the first half of a CRLF: it waits for the next.
    let text = pending + chunk;
    const heldCr = text.endsWith('\r') ? '\r' : '';
    if (heldCr) text = text.slice(0, -1);
    const lines = text.split(/\r\n|\r|\n/);
    pending = (lines.pop() ?? '') + heldCr;
    for (const line of lines) {
      if (rows.length >= maxRows && line.trim() !== '') return { ok: true, rows, columns: [...columns], lines: rowLines, rowLimited: true };
      const failed = take(line);
      if (failed) return failed;
    }
    // A line that never ends (a file of one huge line) is bounded by the byte limit of the reader.
  }
  if (pending.trim() !== '') {
    if (rows.length >= maxRows) return { ok: true, rows, columns: [...columns], lines: rowLines, rowLimited: true };
    const failed = take(pending);
    if (failed) return failed;
  }
  return { ok: true, rows, columns: [...columns], lines: rowLines, rowLimited: false };
}

async function fromCsv(
  chunks: AsyncIterable<string>,
  extension: '.csv' | '.tsv',
  file: string,
  maxRows: number,
  truncated: () => boolean = () => false,
): Promise<Parsed> {
  // Where each record starts: csv-parse says where it ends (`bytes`, past its delimiter), so a record
  // starts on the first non-empty line after the previous one ends. Taken in `on_record`, as each
  // record is parsed: the loop below reads them later (the parser runs ahead by a chunk), and a line
  // taken there named an earlier record's (line 2 for a bad row on line 7). (csv-parse's own `lines`
  // counts a CRLF as two lines.)
  const index = new LineIndex();
  let recordStart = 0;
  const csv = parseCsv({
    delimiter: extension === '.tsv' ? '\t' : ',',
    skip_empty_lines: true,
    relax_quotes: extension === '.tsv',
    // Counted here, against the header, with the record's line (csv-parse's error named the wrong one).
    relax_column_count: true,
    on_record: (cells: string[], context: CastingContext) => {
      const line = index.firstContentLine(recordStart);
      // The record's info (`__infoRecord`), which has `bytes`; the typings name only the casting fields.
      recordStart = (context as unknown as { bytes: number }).bytes;
      // A line of blanks is a blank line, as in a JSONL file (docs/language.md §9), not a row of one cell.
      if (cells.length === 1 && (cells[0] ?? '').trim() === '') return null;
      return { cells, line };
    },
  });
  // pipeline, not pipe: an error of the reader reaches the parser (and this loop), and leaving the
  // loop early destroys both streams, so nothing is left reading or unhandled.
  const parser = pipeline(Readable.from(index.follow(chunks)), csv, () => undefined);
  // The header names the columns even when no row follows it.
  let header: string[] | undefined;
  const rows: Row[] = [];
  const lines: number[] = [];
  const cannot = (problem: string): Parsed => ({ ok: false, reason: `Cannot read ${path.basename(file)}: ${problem}` });
  // Empty names (a spreadsheet's blank trailing columns, `text,label,,`) name no column and may repeat.
  const columns = (): string[] => (header ?? []).filter((name) => name !== '');
  try {
    for await (const { cells, line } of parser as AsyncIterable<{ cells: string[]; line: number }>) {
      if (header === undefined) {
        // csv-parse kept the last of two same-named columns without a word; which one fills the field would be a guess.
        const twice = cells.find((name, i) => name !== '' && cells.indexOf(name) !== i);
        if (twice !== undefined) return cannot(`its header names the column \`${twice}\` twice; rename one of them.`);
        header = cells;
        continue;
      }
      if (cells.length !== header.length)
        return cannot(
          `line ${line} has ${cells.length} ${cells.length === 1 ? 'cell' : 'cells'} where the header has ${header.length}; a cell with a separator in it is written in quotes.`,
        );
      if (rows.length >= maxRows) return { ok: true, rows, columns: columns(), lines, rowLimited: true };
      const row: Record<string, string> = {};
      header.forEach((name, i) => {
        if (name !== '') row[name] = cells[i] ?? '';
      });
      rows.push(row);
      lines.push(line);
    }
  } catch (error) {
    // A quoted cell may hold line breaks, so the byte limit can cut a record inside its quotes: the records
    // before it are whole and are what was read.
    if (truncated() && (error as { code?: string }).code === 'CSV_QUOTE_NOT_CLOSED')
      return { ok: true, rows, columns: columns(), lines, rowLimited: false };
    // The reader's refusal passes through the parser as it was thrown: it is the whole sentence.
    if (error instanceof NotUtf8Error) return { ok: false, reason: error.message };
    return cannot(csvProblem(error, index.firstContentLine(recordStart)));
  } finally {
    parser.destroy();
  }
  return { ok: true, rows, columns: columns(), lines, rowLimited: false };
}

/**
 * csv-parse's errors in words, at the line the failing record starts on: the two quoting mistakes a
 * hand-edited or exported file most often has (a row with too many or too few cells is counted in
 * `fromCsv`); others as it says them.
 */
function csvProblem(error: unknown, line: number): string {
  const { code } = error as { code?: string };
  switch (code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return `the quote that opens a cell on line ${line} is never closed.`;
    case 'CSV_INVALID_CLOSING_QUOTE':
      return `line ${line} has a quote in the middle of a quoted cell; a quote inside one is written twice ("").`;
    case 'INVALID_OPENING_QUOTE':
      return `line ${line} has a quote inside a cell that does not start with one; quote the whole cell ("…") and write the quote twice ("").`;
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Where the lines of a text read in chunks start, in UTF-8 bytes (csv-parse's unit), and which
 * are empty: enough to turn a byte offset into the line a record starts on without keeping
 * the text. A line ends at LF, CRLF or a lone CR, as editors count them.
 */
class LineIndex {
  private readonly starts: number[] = [0];
  private readonly empty = new Set<number>();
  private bytes = 0;
  private afterCr = false;
  private hasContent = false;

  async *follow(chunks: AsyncIterable<string>): AsyncGenerator<string> {
    for await (const chunk of chunks) {
      this.feed(chunk);
      yield chunk;
    }
  }

  private feed(chunk: string): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === 0x0a && this.afterCr) {
        // The LF of a CRLF: the line began after the CR; it begins after the LF.
        this.bytes += 1;
        this.starts[this.starts.length - 1] = this.bytes;
        this.afterCr = false;
        continue;
      }
      this.afterCr = c === 0x0d;
      if (c === 0x0a || c === 0x0d) {
        if (!this.hasContent) this.empty.add(this.starts.length - 1);
        this.hasContent = false;
        this.bytes += 1;
        this.starts.push(this.bytes);
        continue;
      }
      this.hasContent = true;
      // UTF-8 length: a surrogate pair is 4 bytes, counted at its first half.
      this.bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xdc00 && c < 0xe000 ? 0 : c >= 0xd800 && c < 0xdc00 ? 4 : 3;
    }
  }

  /** The 1-based line of the first non-empty line at or after byte `offset` (where a record after it starts). */
  firstContentLine(offset: number): number {
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.starts[middle] <= offset) low = middle;
      else high = middle - 1;
    }
    while (this.empty.has(low) && low < this.starts.length - 1) low++;
    return low + 1;
  }
}

export function summarize(data: DataSet): DataSetSummary {
  if (!data.ok) return data;
  const labels = new Set<string>();
  for (const row of data.rows) if (row['label'] !== undefined) labels.add(row['label']);
  // A JSONL row may lack a column other rows have (CSV rows cannot): counted per column, with the first such row's line.
  // One pass over the keys the rows have: a JSONL file can have as many columns as rows (a key of its own in each),
  // and columns × rows took minutes on the server's thread for 40,000 such rows.
  const present = new Map<string, number>();
  for (const row of data.rows) for (const key of Object.keys(row)) present.set(key, (present.get(key) ?? 0) + 1);
  const lineOf = (index: number): number => data.lines[index] ?? index + 1;
  const first = data.rows[0];
  const incomplete: { column: string; rows: number; firstLine: number }[] = [];
  for (const column of data.columns) {
    const rows = data.rows.length - (present.get(column) ?? 0);
    if (rows === 0) continue;
    // A column the first row lacks is first missing there; one it has (at most that row's width of them) is looked for.
    const firstLine = first?.[column] === undefined ? lineOf(0) : lineOf(data.rows.findIndex((row) => row[column] === undefined));
    incomplete.push({ column, rows, firstLine });
  }
  return {
    ok: true,
    columns: data.columns,
    labels: [...labels],
    rowCount: data.rows.length,
    ...(incomplete.length > 0 ? { incomplete } : {}),
    ...(data.limited ? { limited: data.limited } : {}),
  };
}

/**
 * Summaries of data files, remembered while a file is unchanged. Only the
 * summary (columns, labels, row count) is kept, never the rows, and only for
 * a bounded number of files. Concurrent asks for the same file share one read.
 */
export class DataSetSummaries {
  private readonly entries = new Map<string, { key: string; summary: Promise<DataSetSummary> }>();

  constructor(private readonly capacity = 64) {}

  async get(file: string, limits: DataLimits): Promise<DataSetSummary> {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(file);
    } catch (error) {
      const problem = pathProblem(file);
      if (problem) return { ok: false, reason: `Cannot read ${file.replace(/\0/g, '\\0')}: ${problem}` };
      // Only a missing file is "does not exist": a link loop or a folder without access is something else to fix.
      const reason = fileErrorInWords(error);
      if (reason) return { ok: false, reason: `Cannot read ${file}: ${reason}` };
      return { ok: false, reason: `Cannot read ${file}: the file does not exist. The path is relative to the .cloze file.` };
    }
    const key = JSON.stringify([stat.mtimeMs, stat.size, stat.ino, limits.maxRows, limits.maxBytes]);
    const cached = this.entries.get(file);
    if (cached && cached.key === key) {
      this.entries.delete(file);
      this.entries.set(file, cached);
      return cached.summary;
    }
    const summary = readDataSet(file, limits).then(summarize);
    this.entries.delete(file);
    this.entries.set(file, { key, summary });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return summary;
  }

  clear(): void {
    this.entries.clear();
  }
}
