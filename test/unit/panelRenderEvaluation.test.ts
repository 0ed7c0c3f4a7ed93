import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  confusionMatrix,
  evaluationSection,
  misclassifiedRows,
  PANEL_MISCLASSIFIED,
  progressText,
} from '../../client/src/panel/renderEvaluation';
import { parse } from '../../server/src/language/parse';
import type { DataEvaluationData, DataFileState } from '../../server/src/protocol/messages';
import type { DataEvaluation, DataFigures } from '../../server/src/service/dataEvaluation';
import { readDataSet } from '../../server/src/service/dataSets';
import { evaluationRows, type MisclassifiedRow } from '../../server/src/service/evaluate';

/**
 * The panel's evaluation section (renderEvaluation.ts): the confusion matrix has one cell per
 * (gold, predicted) with its count and the diagonal marked, recall and precision per label,
 * each pattern's swap test beside its accuracy, the misclassified rows worst first as links to
 * their file and line, progress while it runs, hostile text escaped and nothing the CSP blocks.
 * And the data loader gives each row the line it starts on (JSONL blank lines, CSV records
 * over several lines, CRLF), which is where those links point.
 */

const labels = ['positive', 'negative', 'neutral'];
/** confusion[gold][predicted] */
const confusion = {
  positive: { positive: 40, negative: 7, neutral: 3 },
  negative: { positive: 5, negative: 30, neutral: 0 },
  neutral: { positive: 2, negative: 8, neutral: 5 },
};
const calibratedConfusion = {
  positive: { positive: 38, negative: 9, neutral: 3 },
  negative: { positive: 2, negative: 33, neutral: 0 },
  neutral: { positive: 1, negative: 4, neutral: 10 },
};

function perLabel(matrix: Record<string, Record<string, number>>): DataFigures['perLabel'] {
  return Object.fromEntries(
    labels.map((label) => {
      const support = labels.reduce((n, p) => n + matrix[label][p], 0);
      const predicted = labels.reduce((n, g) => n + matrix[g][label], 0);
      const tp = matrix[label][label];
      const precision = predicted === 0 ? 0 : tp / predicted;
      const recall = support === 0 ? 0 : tp / support;
      return [label, { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), support }];
    }),
  );
}

function figures(name: string, accuracy: number, swap: number): DataFigures {
  return {
    name,
    rows: 100,
    accuracy,
    calibratedAccuracy: accuracy + 0.06,
    macroF1: accuracy - 0.1,
    calibratedMacroF1: accuracy - 0.02,
    meanGold: 0.61,
    meanGoldCalibrated: 0.58,
    perLabel: perLabel(confusion),
    calibratedPerLabel: perLabel(calibratedConfusion),
    swapAccuracy: swap,
    calibratedSwapAccuracy: swap + 0.01,
    confusion,
    calibratedConfusion,
  };
}

function wrongRow(line: number, goldProbability: number, text: string): MisclassifiedRow {
  return {
    file: '/data/dev <set>.jsonl',
    line,
    label: 'neutral',
    predicted: 'negative',
    goldProbability,
    probabilities: { positive: 0.1, negative: 0.9 - goldProbability, neutral: goldProbability },
    fields: { review: text },
  };
}

const raw = Array.from({ length: 80 }, (_, i) => wrongRow(10 + i, 0.01 + i / 1000, `row ${i} text`));
raw[0] = wrongRow(7, 0.004, '<script>alert("x")</script> & worse');
const evaluation: DataEvaluation = {
  model: 'review-bert-small',
  labels,
  rows: 100,
  patterns: [figures('short', 0.75, 0.12), figures('long', 0.71, 0.2)],
  ensemble: figures('ensemble', 0.77, 0.1),
  problems: [],
  skipped: {},
  reused: 0,
  misclassified: { raw, calibrated: [wrongRow(3, 0.2, 'calibrated row')] },
  misclassifiedCount: { raw: 93, calibrated: 1 },
  calibration: 'content-free',
  supportSize: 0,
};
const state: DataFileState = {
  path: 'dev <set>.jsonl',
  file: '/data/dev <set>.jsonl',
  current: true,
  outcomes: [{ model: 'review-bert-small', ok: true, evaluation }],
};
const data: DataEvaluationData = { uri: 'file:///t.cloze', version: 3, calibrate: false, files: [state] };

/** The attributes of every element matching `tag` with `marker` in its opening tag. */
function elements(html: string, tag: string, marker: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const match of html.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'g'))) {
    if (!match[1].includes(marker)) continue;
    out.push(Object.fromEntries([...match[1].matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]])));
  }
  return out;
}

describe('the panel’s evaluation section', () => {
  const html = evaluationSection(data);

  test('the confusion matrix: one cell per gold × predicted with its count, the diagonal marked', () => {
    const cells = elements(html, 'td', 'data-count');
    assert.equal(cells.length, labels.length * labels.length);
    for (const cell of cells) {
      const gold = cell['data-gold'] as keyof typeof confusion;
      const predicted = cell['data-predicted'] as keyof (typeof confusion)['positive'];
      assert.equal(Number(cell['data-count']), confusion[gold][predicted]);
      assert.equal(cell.class.includes(' diagonal'), gold === predicted, `${gold}/${predicted}: ${cell.class}`);
    }
    // The empty off-diagonal cell has no shade; the largest share of a row has the darkest.
    assert.match(elements(html, 'td', 'data-gold="negative" data-predicted="neutral"')[0].class, /shade-0/);
    assert.match(elements(html, 'td', 'data-gold="positive" data-predicted="positive"')[0].class, /shade-4/);
  });

  test('every table scrolls sideways in its own box, so a wide matrix (many labels, many patterns) is not cut off', () => {
    const tables = [...html.matchAll(/<table\b/g)];
    assert.ok(tables.length >= 3, `${tables.length} tables`);
    for (const table of tables)
      assert.ok(html.slice(0, table.index).endsWith('<div class="scroll">'), html.slice(Math.max(0, (table.index ?? 0) - 80), table.index));
  });

  test('per-label recall beside the matrix and precision under it; the calibrated matrix when calibrated', () => {
    const recall = elements(html, 'td', 'class="recall"');
    assert.deepEqual(
      recall.map((r) => [r['data-label'], Number(r['data-p'])]),
      [
        ['positive', 40 / 50],
        ['negative', 30 / 35],
        ['neutral', 5 / 15],
      ],
    );
    assert.match(html, /<td class="recall" data-label="neutral" data-p="[^"]+">33\.3%<\/td>/);
    const precision = elements(html, 'td', 'class="precision"');
    assert.deepEqual(
      precision.map((p) => Number(p['data-p'])),
      [40 / 47, 30 / 45, 5 / 8],
    );
    const calibrated = confusionMatrix(evaluation, true);
    assert.equal(Number(elements(calibrated, 'td', 'data-gold="neutral" data-predicted="neutral"')[0]['data-count']), 10);
    assert.match(calibrated, /\(calibrated\)/);
    // Per-label recall of every pattern and the ensemble.
    const long = elements(html, 'td', 'class="label-recall" data-pattern="long" data-label="negative"');
    assert.equal(Number(long[0]['data-p']), 30 / 35);
    // A label never predicted has no precision (0/0): "–" in the per-label table, as under the matrix.
    const neverNeutral = {
      positive: { positive: 40, negative: 10, neutral: 0 },
      negative: { positive: 5, negative: 30, neutral: 0 },
      neutral: { positive: 2, negative: 13, neutral: 0 },
    };
    const never = figures('short', 0.7, 0.1);
    const section = evaluationSection({
      ...data,
      files: [
        {
          ...state,
          outcomes: [
            {
              model: 'm',
              ok: true,
              evaluation: { ...evaluation, patterns: [{ ...never, confusion: neverNeutral, perLabel: perLabel(neverNeutral) }] },
            },
          ],
        },
      ],
    });
    assert.match(section, /<td class="label-precision" data-pattern="short" data-label="neutral" data-p="0">–<\/td>/);
  });

  test('the prior the calibrated figures divide by is named: empty input, or the support set with its size', () => {
    const prior = (e: DataEvaluation): string =>
      /<p class="prior"[^>]*>([^<]*)<\/p>/.exec(
        evaluationSection({ ...data, files: [{ ...state, outcomes: [{ model: 'm', ok: true, evaluation: e }] }] }),
      )?.[1] ?? '';
    assert.match(prior(evaluation), /prediction for its empty input \(content-free\)/);
    assert.match(
      prior({ ...evaluation, calibration: 'support', supportSize: 1204 }),
      /mean prediction over 1,204 rows and examples \(support\)/,
    );
  });

  test('each pattern’s swap test beside its accuracy, raw and calibrated', () => {
    for (const set of [...evaluation.patterns, evaluation.ensemble]) {
      const row = html.slice(html.indexOf(`<tr class="${set.name === 'ensemble' ? 'ensemble' : 'pattern'}" data-pattern="${set.name}"`));
      const cells = elements(row.slice(0, row.indexOf('</tr>')), 'td', 'data-figure');
      assert.deepEqual(
        cells.slice(0, 4).map((c) => [c['data-figure'], c['data-kind'], Number(c['data-p'])]),
        [
          ['accuracy', 'raw', set.accuracy],
          ['accuracy', 'calibrated', set.calibratedAccuracy],
          ['swap', 'raw', set.swapAccuracy],
          ['swap', 'calibrated', set.calibratedSwapAccuracy],
        ],
      );
    }
    assert.match(html, /data-pattern="short" data-figure="swap" data-kind="raw" data-p="0.12">12\.0%</);
  });

  test('misclassified rows: worst first, each a link to its file and line, the rest behind the command', () => {
    const rows = elements(html, 'tr', 'misclassified-row');
    assert.equal(rows.length, PANEL_MISCLASSIFIED);
    assert.deepEqual(
      rows.slice(0, 3).map((r) => [r['data-action'], r['data-file'], Number(r['data-row'])]),
      [
        ['openRow', '/data/dev &lt;set&gt;.jsonl', 7],
        ['openRow', '/data/dev &lt;set&gt;.jsonl', 11],
        ['openRow', '/data/dev &lt;set&gt;.jsonl', 12],
      ],
    );
    assert.match(html, /Misclassified rows: 93 of 100/);
    assert.match(html, /43 more: <button class="example-link" data-action="showMisclassified">/);
    assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; worse/);
    assert.match(html, /data-p="0.004">0\.4%<\/td>/);
    // The text, the wide column, comes last: P(gold), which the rows are sorted by, stays in sight in a narrow panel.
    const head = /<table class="misclassified-table"><thead><tr>(.*?)<\/tr>/.exec(html)?.[1] ?? '';
    assert.deepEqual(
      [...head.matchAll(/<th>(.*?)<\/th>/g)].map((m) => m[1]),
      ['row', 'gold', 'predicted', 'P(gold)', ...labels.map((l) => `P(${l})`), 'text'],
    );
    // The command lists every kept row of every file, worst first, in the shown mode.
    assert.deepEqual(
      misclassifiedRows(data)
        .slice(0, 2)
        .map((r) => r.line),
      [7, 11],
    );
    assert.deepEqual(
      misclassifiedRows({ ...data, calibrate: true }).map((r) => r.line),
      [3],
    );
  });

  test('progress while a newer version is scored, over the last figures; nothing the CSP would block', () => {
    const running: DataFileState = { ...state, current: false, progress: { model: 'review-bert-small', done: 120, total: 1744 } };
    assert.equal(progressText(running), 'scoring with review-bert-small: 120/1,744 rows × patterns (6%)…');
    const shown = evaluationSection({ ...data, files: [running] });
    assert.match(shown, /data-testid="evaluation-progress">scoring with review-bert-small: 120\/1,744/);
    assert.match(shown, /class="data-evaluation stale"/);
    assert.match(
      evaluationSection({ ...data, files: [{ ...state, current: false, outcomes: undefined }] }),
      /waiting to score dev &lt;set&gt;\.jsonl/,
    );
    for (const page of [html, shown]) {
      assert.doesNotMatch(page, /<script|style=|javascript:|<img|<link|<iframe/i);
    }
    assert.equal(evaluationSection({ ...data, files: [] }), '');
  });
});

describe('the line each data row starts on', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-row-lines-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('JSONL with blank lines; CSV with CRLF, quoted line breaks and blank lines; TSV with a quoted header', async () => {
    const write = (name: string, content: string): string => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, content);
      return file;
    };
    const jsonl = write('a.jsonl', '\n{"text":"a","label":"x"}\n\n\n{"text":"b","label":"y"}\r\n{"text":"c","label":"x"}');
    const csv = write('b.csv', '\uFEFFtext,label\r\n"a\r\nb",pos\r\n\r\n"é😀 ""q""",neg\r\n"d\r\n\r\n",pos\r\ne,neg\r\n');
    const tsv = write('c.tsv', '"te\nxt"\tlabel\na\tpos\n\nb\tneg\n');
    const lines = async (file: string): Promise<readonly number[]> => {
      const set = await readDataSet(file);
      assert.ok(set.ok, JSON.stringify(set));
      return set.lines;
    };
    assert.deepEqual(await lines(jsonl), [2, 5, 6]);
    assert.deepEqual(await lines(csv), [2, 5, 6, 9]);
    assert.deepEqual(await lines(tsv), [3, 5]);
    // The evaluation's rows (and so its misclassified rows) carry those lines.
    const doc = parse(['pattern: {text} It was [MASK].', 'verbalizer:', '  pos: great', '  neg: bad', ''].join('\n'));
    const { rows } = await evaluationRows(doc, [csv], ['pos', 'neg']);
    assert.deepEqual(
      rows.map((r) => r.line),
      [2, 5, 6, 9],
    );
  });
});
