import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { DataSetSummary } from '../language/validate';

/**
 * Reading the labelled rows a `data:` line points at (JSONL, CSV or TSV).
 * CSV quoting is subtle (quoted separators, doubled quotes, line breaks in
 * cells), so it is left to csv-parse rather than a hand-written splitter.
 */

export type Row = Readonly<Record<string, string>>;

export type DataSet =
  | { readonly ok: true; readonly rows: readonly Row[]; readonly columns: readonly string[] }
  | { readonly ok: false; readonly reason: string };

const cache = new Map<string, { mtimeMs: number; size: number; data: DataSet }>();

/** Where a data file's path came from, for the message when it does not exist. */
export type DataPathOrigin = 'data-line' | 'command-line';

/** Reads a data file, reusing the last read while the file is unchanged. */
export function readDataSet(file: string, origin: DataPathOrigin = 'data-line'): DataSet {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    const note =
      origin === 'data-line'
        ? 'The path is relative to the .cloze file.'
        : `Paths given with --data are relative to the current folder (${process.cwd()}).`;
    return { ok: false, reason: `Cannot read ${file}: the file does not exist. ${note}` };
  }
  const cached = cache.get(file);
  if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.data;
  const data = readUncached(file);
  cache.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, data });
  return data;
}

function readUncached(file: string): DataSet {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    return { ok: false, reason: `Cannot read ${file}: ${error instanceof Error ? error.message : String(error)}` };
  }
  const extension = path.extname(file).toLowerCase();
  try {
    if (extension === '.jsonl' || extension === '.ndjson') return fromJsonLines(text, file);
    if (extension === '.csv' || extension === '.tsv') {
      // The header names the columns even when no row follows it.
      let header: string[] = [];
      const records = parseCsv(text, {
        columns: (names: string[]) => (header = names),
        delimiter: extension === '.tsv' ? '\t' : ',',
        skip_empty_lines: true,
        bom: true,
        relax_quotes: extension === '.tsv',
      }) as Array<Record<string, string>>;
      return { ok: true, rows: records, columns: header };
    }
    return { ok: false, reason: `${path.basename(file)}: unknown data format. Use .jsonl, .csv or .tsv.` };
  } catch (error) {
    return { ok: false, reason: `Cannot read ${path.basename(file)}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function fromJsonLines(text: string, file: string): DataSet {
  const rows: Row[] = [];
  const columns: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return { ok: false, reason: `${path.basename(file)} line ${i + 1} is not valid JSON.` };
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      return { ok: false, reason: `${path.basename(file)} line ${i + 1} is not a JSON object with the fields and \`label\`.` };
    }
    const row: Record<string, string> = {};
    for (const [key, field] of Object.entries(value)) {
      row[key] = typeof field === 'string' ? field : JSON.stringify(field);
      if (!columns.includes(key)) columns.push(key);
    }
    rows.push(row);
  }
  return { ok: true, rows, columns };
}

export function summarize(data: DataSet): DataSetSummary {
  if (!data.ok) return data;
  const labels = new Set<string>();
  for (const row of data.rows) if (row['label'] !== undefined) labels.add(row['label']);
  return { ok: true, columns: data.columns, labels: [...labels], rowCount: data.rows.length };
}
