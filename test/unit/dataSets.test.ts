// Data files named by `data:` lines are written by whoever wrote the workspace: a read must be
// bounded. Only regular files are read (/dev/zero never ends, a FIFO blocks for ever), the read
// yields to the event loop, and it stops at cloze.data.maxRows / maxFileSizeMB with a warning on
// the `data:` line. Checked in the service, in `cloze check`, and over the real LSP.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Diagnostic } from 'vscode-languageserver-protocol';
import { parse } from '../../server/src/language';
import { readSourceFile } from '../../server/src/cli/sourceFile';
import { defaultDataLimits as defaultLimits, readDataSet, summarize } from '../../server/src/service/dataSets';
import { startServer } from '../support/lsp';
import { cliMain, modelsDir, repoRoot } from '../support/paths';
import { serviceFor } from '../support/service';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-data-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const fifo = path.join(dir, 'pipe.jsonl');
execFileSync('mkfifo', [fifo]);
const zeroLink = path.join(dir, 'zero.jsonl');
fs.symlinkSync('/dev/zero', zeroLink);

function jsonl(name: string, rows: number): string {
  const file = path.join(dir, name);
  const lines: string[] = [];
  for (let i = 0; i < rows; i++)
    lines.push(JSON.stringify({ review: `review number ${i} was fine`, label: i % 2 ? 'positive' : 'negative' }));
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const header = ['model: tiny-random-bert-cased', 'pattern: {review} It was [MASK].', 'verbalizer:', '  positive: great', '  negative: bad'];

describe('reading data files', () => {
  test('a device (/dev/zero, through a symlink) is refused without being read', async () => {
    const data = await readDataSet(zeroLink);
    assert.equal(data.ok, false);
    assert.match(!data.ok ? data.reason : '', /not a regular file \(a device\)/);
  });

  test('a FIFO is refused without waiting for a writer', async () => {
    const data = await readDataSet(fifo);
    assert.equal(data.ok, false);
    assert.match(!data.ok ? data.reason : '', /not a regular file \(a FIFO\)/);
  });

  test('a URL or a path with a NUL byte is said to be one (not a missing file, not ERR_INVALID_ARG_VALUE)', async () => {
    // A data: line's path is resolved against the .cloze file's folder, so a URL arrives as …/https:/host/x.jsonl.
    const url = await readDataSet(path.resolve(dir, 'https://example.com/x.jsonl'));
    assert.match(!url.ok ? url.reason : '', /that is a URL \(https:\/\/…\); Cloze reads local files only/);
    const nul = await readDataSet(path.join(dir, 'a\0b.jsonl'));
    assert.match(!nul.ok ? nul.reason : '', /a\\0b\.jsonl: the path has a NUL character/);
  });

  test('a folder is refused', async () => {
    const data = await readDataSet(dir + path.sep + '.');
    assert.equal(data.ok, false);
  });

  test('reading yields to the event loop: a timer set before a large read fires before it ends', async () => {
    const file = jsonl('large.jsonl', 60_000);
    let fired = false;
    setTimeout(() => (fired = true), 0);
    const data = await readDataSet(file);
    assert.ok(data.ok);
    assert.equal(data.rows.length, 60_000);
    assert.ok(fired, 'the read ran to its end without letting the event loop turn');
  });

  test('the row limit stops the read and says so; the rows read are the first ones', async () => {
    const file = jsonl('rows.jsonl', 1000);
    const data = await readDataSet(file, { maxRows: 10, maxBytes: 1 << 30 });
    assert.ok(data.ok);
    assert.equal(data.rows.length, 10);
    assert.equal(data.rows[0]['review'], 'review number 0 was fine');
    assert.match(data.limited ?? '', /first 10 rows.*the setting cloze\.data\.maxRows/);
    // Where the limits are flags, the message names the flags.
    const cli = await readDataSet(file, { maxRows: 10, maxBytes: 1 << 30, names: { rows: '--data-max-rows', bytes: '--data-max-mb' } });
    assert.match(cli.ok ? (cli.limited ?? '') : '', /\(raise --data-max-rows, or point at a sample\)$/);
  });

  test('the byte limit stops the read at a line break, so no row is cut; CSV too', async () => {
    const file = jsonl('bytes.jsonl', 1000);
    const data = await readDataSet(file, { maxRows: 1 << 30, maxBytes: 1000 });
    assert.ok(data.ok, !data.ok ? data.reason : '');
    assert.ok(data.rows.length > 5 && data.rows.length < 30, `${data.rows.length} rows`);
    assert.match(data.limited ?? '', /cloze\.data\.maxFileSizeMB/);
    const csv = path.join(dir, 'bytes.csv');
    fs.writeFileSync(
      csv,
      'review,label\n' + Array.from({ length: 500 }, (_, i) => `"a, ""quoted"" review ${i}",positive`).join('\n') + '\n',
    );
    const rows = await readDataSet(csv, { maxRows: 1 << 30, maxBytes: 1000 });
    assert.ok(rows.ok, !rows.ok ? rows.reason : '');
    assert.deepEqual(rows.columns, ['review', 'label']);
    assert.equal(rows.rows.at(-1)?.['label'], 'positive');
    const limitedRows = await readDataSet(csv, { maxRows: 3, maxBytes: 1 << 30 });
    assert.ok(limitedRows.ok && limitedRows.rows.length === 3 && limitedRows.limited);
  });

  test('a byte limit that falls on a chunk boundary still drops the cut row whole (1 MiB, rows across 64 KiB chunks)', async () => {
    const file = path.join(dir, 'chunked.jsonl');
    const rows = Array.from({ length: 30_000 }, (_, i) => JSON.stringify({ review: `x `.repeat(40) + i, label: 'positive' }));
    fs.writeFileSync(file, rows.join('\n') + '\n');
    // 104857.6: a setting of 0.1 MB, a fractional length that made Node abort the process in read().
    for (const maxBytes of [1024 * 1024, 64 * 1024, 64 * 1024 + 1, 64 * 1024 - 1, 0.1 * 1024 * 1024]) {
      const data = await readDataSet(file, { maxRows: 1 << 30, maxBytes });
      assert.ok(data.ok, `${maxBytes}: ${!data.ok ? data.reason : ''}`);
      // Exactly the rows whose line break lies within the limit.
      const whole = Buffer.from(rows.join('\n') + '\n').subarray(0, Math.floor(maxBytes));
      assert.equal(data.rows.length, whole.toString('utf8').split('\n').length - 1, `${maxBytes} bytes`);
      assert.equal(data.rows.at(-1)?.['review'], JSON.parse(rows[data.rows.length - 1])['review']);
      assert.match(data.limited ?? '', /cloze\.data\.maxFileSizeMB/);
    }
  });

  test('CR-only line ends (old Mac CSV) are lines too: read in chunks, and cut at a line under a byte limit', async () => {
    const file = path.join(dir, 'mac.csv');
    const rows = Array.from({ length: 20_000 }, (_, i) => `row ${i} of an old spreadsheet,${i % 2 ? 'positive' : 'negative'}`);
    fs.writeFileSync(file, `text,label\r${rows.join('\r')}\r`);
    const whole = await readDataSet(file);
    assert.ok(whole.ok && whole.rows.length === 20_000, !whole.ok ? whole.reason : `${whole.rows.length}`);
    const cut = await readDataSet(file, { maxRows: 1 << 30, maxBytes: 100_000 });
    assert.ok(cut.ok, !cut.ok ? cut.reason : '');
    assert.ok(cut.rows.length > 1000 && cut.rows.length < 20_000 && cut.limited, `${cut.rows.length}`);
    assert.equal(cut.rows.at(-1)?.['text'], `row ${cut.rows.length - 1} of an old spreadsheet`);
  });

  test('JSONL with CR-only or CRLF line ends: every row, at its line, also when a CRLF falls across two 64 KiB chunks', async () => {
    const rows = Array.from({ length: 5_000 }, (_, i) => JSON.stringify({ text: `row ${i} of a CR-only file`, label: i % 2 ? 'a' : 'b' }));
    const mac = path.join(dir, 'mac.jsonl');
    fs.writeFileSync(mac, `${rows.join('\r')}\r`);
    const whole = await readDataSet(mac);
    assert.ok(whole.ok && whole.rows.length === 5_000, !whole.ok ? whole.reason : `${whole.rows.length}`);
    assert.equal(whole.lines[4_999], 5_000);
    assert.equal(whole.rows[4_999]?.['text'], 'row 4999 of a CR-only file');
    const cut = await readDataSet(mac, { maxRows: 1 << 30, maxBytes: 100_000 });
    assert.ok(cut.ok && cut.limited && cut.rows.length > 1000 && cut.rows.length < 5_000, !cut.ok ? cut.reason : `${cut.rows.length}`);
    // A CRLF whose CR ends the first chunk (65,536 bytes) and whose LF starts the next is one line end, not two.
    const first = JSON.stringify({ text: 'x'.repeat(65_536 - 1 - 23), label: 'a' });
    assert.equal(first.length + 1, 65_536);
    const split = path.join(dir, 'split-crlf.jsonl');
    fs.writeFileSync(split, `${first}\r\n{"text":"second","label":"b"}\r\nnot json\r\n`);
    const broken = await readDataSet(split);
    assert.ok(!broken.ok && /split-crlf\.jsonl line 3 is not valid JSON/.test(broken.reason), JSON.stringify(broken));
  });

  test('a JSONL file with a key of its own in every row: the missing-column counts are right, and a message lists 20 columns', async () => {
    const file = path.join(dir, 'wide.jsonl');
    const lines = Array.from({ length: 30 }, (_, i) =>
      JSON.stringify({ text: `t${i}`, label: 'a', [`k${i}`]: 'v', ...(i === 5 ? {} : { common: 'c' }) }),
    );
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const data = await readDataSet(file);
    const summary = summarize(data);
    assert.ok(summary.ok);
    const gaps = new Map((summary.incomplete ?? []).map((gap) => [gap.column, gap]));
    // `common` is in row 1 and missing from row 6 alone; `k0` is in row 1 alone; `k3` is missing from rows 1–3 and 5–30.
    assert.deepEqual(gaps.get('common'), { column: 'common', rows: 1, firstLine: 6 });
    assert.deepEqual(gaps.get('k0'), { column: 'k0', rows: 29, firstLine: 2 });
    assert.deepEqual(gaps.get('k3'), { column: 'k3', rows: 29, firstLine: 1 });
    assert.equal(gaps.has('text'), false);
    const doc = parse(`pattern: {review} It was [MASK].\nverbalizer:\n  a: great\n  b: bad\ndata: ${file}\n`);
    const diagnostics = await serviceFor('tiny-random-bert-cased').checkStructure(doc, path.join(dir, 'wide.cloze'));
    const unknown = diagnostics.find((d) => d.code === 'placeholder-unknown');
    assert.match(unknown?.message ?? '', /\(they have `text`, `label`, `k0`, [^)]* and 13 more\)\.$/);
  });

  test('a byte limit inside a quoted multi-line CSV cell keeps the records before it', async () => {
    const file = path.join(dir, 'multiline.csv');
    const records = Array.from({ length: 5000 }, (_, i) => `"line one of ${i}\nline two of ${i}",positive`);
    fs.writeFileSync(file, `text,label\n${records.join('\n')}\n`);
    for (const maxBytes of [20_000, 20_011, 65_536]) {
      const data = await readDataSet(file, { maxRows: 1 << 30, maxBytes });
      assert.ok(data.ok, `${maxBytes}: ${!data.ok ? data.reason : ''}`);
      assert.ok(data.limited && data.rows.length > 100, `${maxBytes}: ${data.rows.length}`);
      assert.equal(data.rows.at(-1)?.['text'], `line one of ${data.rows.length - 1}\nline two of ${data.rows.length - 1}`);
    }
  });

  test('a malformed CSV is said in words at the line of its record (CRLF lines counted once)', async () => {
    const cases: [string, RegExp][] = [
      ['text,label\r\na,b\r\nc,d,e\r\n', /cells\.csv: line 3 has 3 cells where the header has 2/],
      ['text,label\na,b\n"open,b\n', /cells\.csv: the quote that opens a cell on line 3 is never closed/],
      ['text,label\n"ab"c,d\n', /cells\.csv: line 2 has a quote in the middle of a quoted cell/],
      // csv-parse said `Invalid Opening Quote: a quote is found on field 0 at line 3`, its field counted from 0.
      ['text,label\n"good",b\nan "open quote,d\n', /cells\.csv: line 3 has a quote inside a cell that does not start with one/],
    ];
    for (const [text, said] of cases) {
      const file = path.join(dir, 'cells.csv');
      fs.writeFileSync(file, text);
      const data = await readDataSet(file);
      assert.match(!data.ok ? data.reason : 'read', said);
    }
  });

  test('a bad CSV row is said at its own line, past rows the parser had read ahead (line 7 of 10, line 5001 of 10,001)', async () => {
    const rows = (n: number): string[] => Array.from({ length: n }, (_, i) => `row ${i},positive`);
    const cases: [string, string, RegExp][] = [
      ['short.csv', ['text,label', ...rows(5), 'lonely cell', ...rows(3)].join('\n'), /line 7 has 1 cell where the header has 2/],
      ['long.csv', ['text,label', ...rows(4999), 'lonely cell', ...rows(5001)].join('\n'), /line 5001 has 1 cell where/],
      ['quote.csv', ['text,label', ...rows(5), '"awful" film,negative', ...rows(3)].join('\n'), /line 7 has a quote/],
    ];
    for (const [name, text, said] of cases) {
      fs.writeFileSync(path.join(dir, name), `${text}\n`);
      const data = await readDataSet(path.join(dir, name));
      assert.match(!data.ok ? data.reason : 'read', said, name);
    }
  });

  test('a CSV line of blanks is a blank line; a blank trailing column names none, so one text column fills the field', async () => {
    fs.writeFileSync(path.join(dir, 'blanks.csv'), 'text,label\ngreat film,positive\n   \nawful film,negative\n');
    const blanks = await readDataSet(path.join(dir, 'blanks.csv'));
    assert.ok(blanks.ok, !blanks.ok ? blanks.reason : '');
    assert.deepEqual(
      blanks.rows.map((r) => r['text']),
      ['great film', 'awful film'],
    );
    assert.deepEqual(blanks.lines, [2, 4]);
    fs.writeFileSync(path.join(dir, 'trailing.csv'), 'text,label,\ngreat film,positive,\nawful film,negative,\n');
    const trailing = await readDataSet(path.join(dir, 'trailing.csv'));
    assert.ok(trailing.ok, !trailing.ok ? trailing.reason : '');
    assert.deepEqual(trailing.columns, ['text', 'label']);
    // The one text column fills `{review}`, as without the trailing comma.
    const doc = parse([...header, 'data: trailing.csv', ''].join('\n'));
    const diagnostics = await serviceFor('tiny-random-bert-cased').checkStructure(doc, path.join(dir, 'doc.cloze'), defaultLimits);
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      [],
    );
  });

  test('a byte that is not UTF-8 in a CR-only (old Mac) CSV is said at its line', async () => {
    fs.writeFileSync(path.join(dir, 'mac.csv'), Buffer.from('text,label\rgood,positive\rbad,negative\rcaf\x8e film,positive\r', 'latin1'));
    const data = await readDataSet(path.join(dir, 'mac.csv'));
    assert.match(!data.ok ? data.reason : 'read', /line 4 has a byte that is not UTF-8/);
  });

  test('a CSV header that names a column twice is refused (csv-parse would keep the last one silently)', async () => {
    const file = path.join(dir, 'twice.csv');
    fs.writeFileSync(file, 'text,text,label\nfirst,second,positive\n');
    const data = await readDataSet(file);
    assert.equal(data.ok, false);
    assert.match(!data.ok ? data.reason : '', /twice\.csv: its header names the column `text` twice; rename one of them\.$/);
    // A spreadsheet's blank trailing header cells name no column: not a repeat.
    const blank = path.join(dir, 'blank-columns.csv');
    fs.writeFileSync(blank, 'text,label,,\r\nGreat film.,positive,,\r\n');
    const read = await readDataSet(blank);
    assert.ok(read.ok && read.rows[0]?.['text'] === 'Great film.', !read.ok ? read.reason : '');
  });

  test('a data file that is not UTF-8 is refused at its line (JSONL, CSV, past the first chunk), not read as U+FFFD', async () => {
    // Latin-1 `è`, `é`: a lenient decoder turned them into U+FFFD and scored the changed text without a word.
    fs.writeFileSync(
      path.join(dir, 'latin1.jsonl'),
      Buffer.from('{"review":"fine","label":"positive"}\n{"review":"tr\xe8s bien","label":"positive"}\n', 'latin1'),
    );
    fs.writeFileSync(path.join(dir, 'latin1.csv'), Buffer.from('review,label\nok,positive\n"caf\xe9 fine",positive\n', 'latin1'));
    // UTF-8 `é` in every row, so 64 KiB chunks split characters; the Latin-1 byte comes on line 3001.
    const utf8Rows = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ review: `café ${i}`, label: 'positive' })).join('\n') + '\n';
    fs.writeFileSync(path.join(dir, 'utf8-long.jsonl'), utf8Rows);
    fs.writeFileSync(
      path.join(dir, 'latin1-late.jsonl'),
      Buffer.concat([Buffer.from(utf8Rows, 'utf8'), Buffer.from('{"review":"caf\xe9","label":"positive"}\n', 'latin1')]),
    );
    const said = async (name: string): Promise<string> => {
      const read = await readDataSet(path.join(dir, name));
      return read.ok ? `read ${read.rows.length} rows` : read.reason;
    };
    const refusal = (name: string, line: number): string =>
      `${name} is not UTF-8 text (line ${line} has a byte that is not UTF-8, e.g. Latin-1 or Windows-1252); save it as UTF-8.`;
    assert.equal(await said('latin1.jsonl'), refusal('latin1.jsonl', 2));
    assert.equal(await said('latin1.csv'), refusal('latin1.csv', 3));
    assert.equal(await said('latin1-late.jsonl'), refusal('latin1-late.jsonl', 3001));
    assert.equal(await said('utf8-long.jsonl'), 'read 3000 rows');
    // The `data:` line's diagnostic says it too.
    const doc = parse([...header, 'data: latin1.csv', ''].join('\n'));
    const diagnostics = await serviceFor('tiny-random-bert-cased').checkStructure(doc, path.join(dir, 'doc.cloze'), defaultLimits);
    assert.deepEqual(
      diagnostics.filter((d) => d.code === 'data-unreadable').map((d) => d.message),
      [refusal('latin1.csv', 3)],
    );
  });

  test('a file within the limits is read whole, BOM and CRLF included', async () => {
    const file = path.join(dir, 'small.jsonl');
    fs.writeFileSync(file, '\ufeff{"review":"a","label":"positive"}\r\n{"review":"b","label":"negative"}');
    const data = await readDataSet(file);
    assert.ok(data.ok);
    assert.equal(data.rows.length, 2);
    assert.equal(data.limited, undefined);
  });

  test('a link loop is said to be one, a line that is not an object says what a row is, a value nested too deep is refused in words', async () => {
    fs.symlinkSync(path.join(dir, 'loop-b.jsonl'), path.join(dir, 'loop-a.jsonl'));
    fs.symlinkSync(path.join(dir, 'loop-a.jsonl'), path.join(dir, 'loop-b.jsonl'));
    fs.writeFileSync(path.join(dir, 'array.jsonl'), '[1, 2]\n');
    fs.writeFileSync(path.join(dir, 'deep.jsonl'), `{"review": ${'['.repeat(100_000)}${']'.repeat(100_000)}, "label": "positive"}\n`);
    const text = [...header, 'data: loop-a.jsonl', 'data: array.jsonl', 'data: deep.jsonl', ''].join('\n');
    const doc = parse(text);
    const diagnostics = await serviceFor('tiny-random-bert-cased').checkStructure(doc, path.join(dir, 'doc.cloze'), {
      maxRows: 20,
      maxBytes: 1 << 30,
    });
    const messages = diagnostics.filter((d) => d.code === 'data-unreadable').map((d) => d.message);
    assert.equal(messages.length, 3, messages.join('\n'));
    assert.match(messages[0], /loop-a\.jsonl: its symbolic links form a loop\.$/);
    // cloze eval and the editor's evaluation read the file themselves and say the same.
    const read = await readDataSet(path.join(dir, 'loop-a.jsonl'));
    assert.match(!read.ok ? read.reason : '', /loop-a\.jsonl: its symbolic links form a loop\.$/);
    // A file where the path needs a folder: the diagnostic, cloze eval and the CLI's .cloze files say it alike (fileErrors.ts).
    fs.writeFileSync(path.join(dir, 'plain.txt'), 'x');
    const underFile = await readDataSet(path.join(dir, 'plain.txt', 'rows.jsonl'));
    assert.match(!underFile.ok ? underFile.reason : '', /rows\.jsonl: a part of its path is a file, not a folder\.$/);
    const source = readSourceFile(path.join(dir, 'plain.txt', 'x.cloze'));
    assert.match(!source.ok ? source.message : '', /x\.cloze does not exist: a part of its path is a file, not a folder\.$/);
    assert.match(messages[1], /array\.jsonl line 1 is not a JSON object: each line is one row, an object of its fields and its `label`\.$/);
    assert.match(messages[2], /deep\.jsonl line 1: the value of `review` is nested too deeply to be a field\.$/);
  });

  test('the service reports a limit as a data-too-large warning on the `data:` path, and a device as data-unreadable', async () => {
    jsonl('many.jsonl', 50);
    const text = [...header, 'data: many.jsonl', 'data: pipe.jsonl', 'data: zero.jsonl', ''].join('\n');
    const doc = parse(text);
    const diagnostics = await serviceFor('tiny-random-bert-cased').checkStructure(doc, path.join(dir, 'doc.cloze'), {
      maxRows: 20,
      maxBytes: 1 << 30,
    });
    const byCode = (code: string) => diagnostics.filter((d) => d.code === code).map((d) => text.slice(d.span.start, d.span.end));
    assert.deepEqual(byCode('data-too-large'), ['many.jsonl']);
    assert.deepEqual(byCode('data-unreadable'), ['pipe.jsonl', 'zero.jsonl']);
    assert.equal(diagnostics.find((d) => d.code === 'data-too-large')?.severity, 'warning');
  });
});

describe('cloze check with hostile data files', () => {
  test('a FIFO and /dev/zero are reported and the check ends; --data-max-rows limits the rows read', async () => {
    jsonl('cli.jsonl', 30);
    const file = path.join(dir, 'cli.cloze');
    fs.writeFileSync(file, [...header, 'data: pipe.jsonl', 'data: zero.jsonl', 'data: cli.jsonl', ''].join('\n'));
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [cliMain, 'check', file, '--models-dir', modelsDir(), '--offline', '--data-max-rows', '10', '--format', 'json'],
        { cwd: repoRoot, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
    assert.equal(run.code, 1, run.stderr);
    const reports = JSON.parse(run.stdout) as Array<{ diagnostics: Array<{ code: string; message: string }> }>;
    const codes = reports[0].diagnostics.map((d) => d.code).sort();
    assert.deepEqual(codes, ['data-too-large', 'data-unreadable', 'data-unreadable']);
    assert.match(reports[0].diagnostics.find((d) => d.code === 'data-too-large')!.message, /first 10 rows/);
  });
});

describe('the language server with hostile data files', () => {
  test('`data:` naming /dev/zero or a FIFO gives data-unreadable at once and the server keeps answering', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false, data: { maxRows: 5 } });
    try {
      jsonl('lsp.jsonl', 20);
      const uri = pathToFileURL(path.join(dir, 'lsp.cloze')).href;
      const text = [...header, 'data: zero.jsonl', 'data: pipe.jsonl', 'data: lsp.jsonl', ''].join('\n');
      const published = client.diagnostics(uri, (d: Diagnostic[]) => d.some((x) => x.code === 'data-unreadable'));
      await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
      const diagnostics = await published;
      assert.deepEqual(
        diagnostics
          .filter((d) => String(d.code).startsWith('data-'))
          .map((d) => [d.code, d.range.start.line])
          .sort(),
        [
          ['data-too-large', 7],
          ['data-unreadable', 5],
          ['data-unreadable', 6],
        ],
      );
      const hover = await client.connection.sendRequest('textDocument/hover', {
        textDocument: { uri },
        position: { line: 3, character: 14 },
      });
      assert.ok(hover, 'no hover');
    } finally {
      await client.close();
    }
  });
});
