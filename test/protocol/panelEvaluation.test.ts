import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { DataEvaluationData } from '../../server/src/protocol/messages';
import type { DataFigures } from '../../server/src/service/dataEvaluation';
import type { FiguresRecord } from '../../server/src/service/evaluate';
import { startServer, type TestClient } from '../support/lsp';
import { cliMain, modelsDir, sst2Rows } from '../support/paths';

/**
 * The preview panel's evaluation (issue 13, item 1) over the real protocol (`cloze/dataEvaluation`),
 * with review-bert-small through the real loading code: while it runs it reports its progress;
 * then every pattern's and the ensemble's accuracy, macro-F1, per-label precision and recall, swap
 * test and mean P(gold), raw and calibrated, the confusion matrix and the misclassified rows equal
 * what `cloze eval --format json --errors N` prints for the same file. The data is a CSV written
 * the way spreadsheets write them (CRLF, quoted cells with line breaks and doubled quotes, blank
 * lines), and each misclassified row's line is the line its record starts on in that file.
 */

const ROWS = 60;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-panel-evaluation-'));
const file = path.join(dir, 'panel.cloze');
const csv = path.join(dir, 'reviews.csv');
const text = [
  'model: review-bert-small',
  'pattern short: {text} It was [MASK].',
  'pattern long: {text} All in all, it was [MASK].',
  'verbalizer:',
  '  positive: great, good',
  '  negative: terrible, bad',
  'data: reviews.csv',
  '',
].join('\n');

/** The first line of each record's text → the 1-based line its record starts on (written below, so known). */
const startLines = new Map<string, number>();

function writeCsv(): void {
  const source = sst2Rows(ROWS);
  const lines = ['text,label'];
  source.forEach((row, i) => {
    // Every fifth record spans two lines (a quoted line break) and quotes a word; every seventh follows a blank line.
    if (i % 7 === 3) lines.push('');
    const words = row.text.split(' ');
    const cell = i % 5 === 2 ? `"${words.slice(0, 3).join(' ')}\r\n""${words.slice(3).join(' ')}"""` : `"${row.text.replace(/"/g, '""')}"`;
    const first = i % 5 === 2 ? words.slice(0, 3).join(' ') : row.text;
    startLines.set(first, lines.length + 1);
    lines.push(...`${cell},${row.label}`.split('\r\n'));
  });
  fs.writeFileSync(csv, `${lines.join('\r\n')}\r\n`);
}

interface EvalJson {
  evaluated: number;
  labels: string[];
  patterns: Array<{ pattern: string; meanGoldProbability: number; meanGoldCalibrated: number }>;
  ensemble: { meanGoldProbability: number; meanGoldCalibrated: number };
  confusion: Record<string, Record<string, number>>;
  figures: Array<{ name: string; kind: string; raw: FiguresRecord; calibrated: FiguresRecord }>;
  errors: Array<{ file: string; line: number; label: string; predicted: string; goldProbability: number; fields: Record<string, string> }>;
}

function close(actual: number | null | undefined, expected: number | null | undefined, what: string): void {
  if (expected === null || expected === undefined) {
    assert.equal(actual ?? null, expected ?? null, what);
    return;
  }
  assert.ok(typeof actual === 'number' && Math.abs(actual - expected) < 1e-6, `${what}: panel ${actual}, cloze eval ${expected}`);
}

describe('the preview panel’s evaluation over stdio', () => {
  let client: TestClient;
  let uri: string;
  let final: DataEvaluationData;
  // Answered to every configuration pull: a test changes it and tells the server.
  const settings: Record<string, unknown> = { modelsDir: modelsDir(), allowRemoteModels: false };
  const seen: DataEvaluationData[] = [];

  before(async () => {
    writeCsv();
    fs.writeFileSync(file, text);
    client = await startServer(settings);
    uri = pathToFileURL(file).href;
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
    // Asked often: on a quiet machine the rows are scored in well under a second, and progress is only
    // seen by a request that falls inside that time (at 100 ms it was missed in about one run of three).
    for (const deadline = Date.now() + 90_000; Date.now() < deadline;) {
      const data = (await client.connection.sendRequest('cloze/dataEvaluation', { uri })) as DataEvaluationData;
      seen.push(data);
      if (data.files.length === 1 && data.files[0].current) {
        final = data;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`the evaluation never finished: ${JSON.stringify(seen.at(-1))}\n${client.stderr()}`);
  });
  after(async () => {
    await client?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('it reports progress while it scores, then the figures of the current version', () => {
    assert.ok(
      seen.some((d) => d.files[0] && !d.files[0].current && d.files[0].progress && d.files[0].progress.done < d.files[0].progress.total),
      `no progress was reported: ${JSON.stringify(seen.map((d) => d.files[0]?.progress ?? null))}`,
    );
    const [outcome] = final.files[0].outcomes ?? [];
    assert.ok(outcome?.ok, JSON.stringify(outcome));
    assert.equal(outcome.evaluation.rows, ROWS);
    assert.equal(final.files[0].file, csv);
  });

  test('every figure, the confusion matrix and the misclassified rows equal cloze eval --format json', () => {
    const expected = JSON.parse(
      execFileSync(
        process.execPath,
        [cliMain, 'eval', file, '--format', 'json', '--errors', '1000', '--models-dir', modelsDir(), '--offline'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      ),
    ) as EvalJson;
    const [outcome] = final.files[0].outcomes ?? [];
    assert.ok(outcome?.ok);
    const evaluation = outcome.evaluation;
    assert.equal(expected.evaluated, ROWS);
    assert.deepEqual(evaluation.labels, expected.labels);
    const compare = (panel: DataFigures, name: string, kind: string): void => {
      const set = expected.figures.find((f) => f.name === name && f.kind === kind);
      assert.ok(set, `cloze eval has no figures for ${name}`);
      for (const [mode, record] of [
        ['raw', set.raw],
        ['calibrated', set.calibrated],
      ] as const) {
        const raw = mode === 'raw';
        close(raw ? panel.accuracy : panel.calibratedAccuracy, record.accuracy, `${name} ${mode} accuracy`);
        close(raw ? panel.macroF1 : panel.calibratedMacroF1, record.macroF1, `${name} ${mode} macro-F1`);
        close(raw ? panel.swapAccuracy : panel.calibratedSwapAccuracy, record.swapAccuracy, `${name} ${mode} swap test`);
        for (const label of expected.labels) {
          const mine = (raw ? panel.perLabel : panel.calibratedPerLabel)[label];
          close(mine.recall, record.perLabel[label].recall, `${name} ${mode} recall of ${label}`);
          close(mine.precision, record.perLabel[label].precision, `${name} ${mode} precision of ${label}`);
          assert.equal(mine.support, record.perLabel[label].support);
        }
      }
    };
    evaluation.patterns.forEach((figures, p) => {
      compare(figures, expected.patterns[p].pattern, 'pattern');
      close(figures.meanGold, expected.patterns[p].meanGoldProbability, `${figures.name} mean P(gold)`);
      close(figures.meanGoldCalibrated, expected.patterns[p].meanGoldCalibrated, `${figures.name} calibrated mean P(gold)`);
    });
    compare(evaluation.ensemble, 'ensemble', 'ensemble');
    close(evaluation.ensemble.meanGold, expected.ensemble.meanGoldProbability, 'ensemble mean P(gold)');
    // cloze eval's matrix is of the raw ensemble without --calibrate, as the panel's first one.
    assert.deepEqual(evaluation.ensemble.confusion, expected.confusion);
    const wrong = expected.labels.reduce(
      (n, g) => n + expected.labels.filter((p) => p !== g).reduce((m, p) => m + expected.confusion[g][p], 0),
      0,
    );
    assert.ok(wrong > 0, 'review-bert-small gets some of these rows wrong, so the list below is not empty');
    assert.equal(evaluation.misclassifiedCount.raw, wrong);
    assert.deepEqual(
      evaluation.misclassified.raw.map((r) => [r.line, r.label, r.predicted]),
      expected.errors.map((r) => [r.line, r.label, r.predicted]),
    );
    evaluation.misclassified.raw.forEach((row, i) =>
      close(row.goldProbability, expected.errors[i].goldProbability, `P(gold) of line ${row.line}`),
    );
  });

  test('a misclassified row links to the line its record starts on in the CSV (quoted line breaks, CRLF, blank lines)', () => {
    const [outcome] = final.files[0].outcomes ?? [];
    assert.ok(outcome?.ok);
    const rows = [...outcome.evaluation.misclassified.raw, ...outcome.evaluation.misclassified.calibrated];
    assert.ok(rows.length > 0);
    const fileLines = fs.readFileSync(csv, 'utf8').split('\r\n');
    let shifted = 0;
    for (const row of rows) {
      assert.equal(row.file, csv);
      const first = row.fields['text'].split(/\r\n|\n/)[0];
      assert.equal(row.line, startLines.get(first), `${first}: line ${row.line}`);
      assert.ok(fileLines[row.line - 1].startsWith(`"${first.replace(/"/g, '""')}`), `line ${row.line} is ${fileLines[row.line - 1]}`);
      // Past a multi-line record or a blank line, the line differs from the record's number + 1 (the header).
      const record = [...startLines.values()].indexOf(row.line);
      if (row.line !== record + 2) shifted++;
    }
    assert.ok(shifted > 0, 'some misclassified row lies past a multi-line record or a blank line');
  });

  test('with `cloze.preview.calibration: support`, the calibrated figures are cloze eval --calibration support’s', async () => {
    settings.preview = { calibration: 'support' };
    await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
    let support: DataEvaluationData | undefined;
    for (let i = 0; i < 600 && !support; i++) {
      const data = (await client.connection.sendRequest('cloze/dataEvaluation', { uri })) as DataEvaluationData;
      const [outcome] = data.files[0]?.outcomes ?? [];
      if (data.files[0]?.current && outcome?.ok && outcome.evaluation.calibration === 'support') support = data;
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(support, `the evaluation never followed the setting\n${client.stderr()}`);
    const [outcome] = support.files[0].outcomes ?? [];
    assert.ok(outcome?.ok);
    const expected = JSON.parse(
      execFileSync(
        process.execPath,
        [cliMain, 'eval', file, '--format', 'json', '--calibration', 'support', '--models-dir', modelsDir(), '--offline'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      ),
    ) as EvalJson & { supportSize: number };
    assert.equal(outcome.evaluation.supportSize, expected.supportSize);
    for (const figures of [...outcome.evaluation.patterns, outcome.evaluation.ensemble]) {
      const set = expected.figures.find(
        (f) => f.name === figures.name && f.kind === (figures.name === 'ensemble' ? 'ensemble' : 'pattern'),
      );
      assert.ok(set, `cloze eval has no figures for ${figures.name}`);
      close(figures.calibratedAccuracy, set.calibrated.accuracy, `${figures.name} support-calibrated accuracy`);
      close(figures.calibratedMacroF1, set.calibrated.macroF1, `${figures.name} support-calibrated macro-F1`);
      // Raw figures do not depend on the prior.
      close(figures.accuracy, set.raw.accuracy, `${figures.name} raw accuracy`);
    }
    // The previous (content-free) evaluation's calibrated figures differ: the setting changed what was computed.
    const [before] = final.files[0].outcomes ?? [];
    assert.ok(before?.ok);
    assert.notEqual(before.evaluation.ensemble.meanGoldCalibrated, outcome.evaluation.ensemble.meanGoldCalibrated);
  });
});
