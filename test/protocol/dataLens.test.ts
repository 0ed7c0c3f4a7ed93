import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { CodeLens } from 'vscode-languageserver-protocol';
import type { EvaluateResult } from '../../server/src/protocol/messages';
import { eventually } from '../support/eventually';
import { startServer, type TestClient } from '../support/lsp';
import { brokenModelFolder } from '../support/brokenModels';
import { sentenceDataDocument } from '../support/documents';
import { cliMain, modelsDir, sst2Lines } from '../support/paths';

/**
 * The evaluation lens above a `data:` line (issue 13, items 1 and 4) over the real protocol: it
 * says it is evaluating, then shows for the ensemble accuracy, macro-F1 and mean P(gold), raw
 * (calibrated) — the figures of `cloze eval` on the same file — and one ensemble figure for each
 * other model of `models:`; each pattern's figures are in a lens above that pattern. An edit of a
 * pattern updates them.
 */

const ROWS = 40;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-data-lens-protocol-'));
const file = path.join(dir, 'lens.cloze');
const text = [
  'model: review-bert-small',
  'models: tiny-random-bert-uncased',
  'pattern short: {sentence} It was [MASK].',
  'pattern long: {sentence} All in all, it was [MASK].',
  'verbalizer:',
  '  positive: great, good',
  '  negative: terrible, bad',
  'data: dev.jsonl',
  '',
].join('\n');
const dataLine = 7;
const patternLines = [2, 3];

interface Summary {
  pattern: string;
  accuracy: number;
  calibratedAccuracy: number;
  meanGoldProbability: number;
  meanGoldCalibrated: number;
}

/** `cloze eval` of one model (the file's `models:` line would evaluate both): by default the file's default model. */
function evalJson(model = 'review-bert-small'): { patterns: Summary[]; ensemble: Summary } {
  const args = [cliMain, 'eval', file, '--format', 'json', '--models-dir', modelsDir(), '--offline', '--model', model];
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as ReturnType<
    typeof evalJson
  >;
}

const pct = (p: number): string => `${(p * 100).toFixed(1)}%`;

describe('the evaluation lens over stdio', () => {
  let client: TestClient;
  let uri: string;

  before(async () => {
    const lines = sst2Lines(0, ROWS);
    fs.writeFileSync(path.join(dir, 'dev.jsonl'), `${lines.join('\n')}\n`);
    fs.writeFileSync(file, text);
    client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    uri = pathToFileURL(file).href;
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
  });
  after(async () => {
    await client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The data line's lens titles, then each pattern line's lens from the data file, in line order;
   * a pattern line with none or more than one adds a marker that no check accepts.
   */
  async function dataTitles(): Promise<string[]> {
    const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
    const on = (line: number): string[] => lenses.filter((lens) => lens.range.start.line === line).map((lens) => lens.command?.title ?? '');
    const perPattern = patternLines.map((line) => on(line).filter((title) => title.startsWith('dev.jsonl ')));
    return [...on(dataLine), ...perPattern.map((titles) => (titles.length === 1 ? titles[0] : `(${titles.length} data-file lenses)`))];
  }

  async function until(accept: (titles: string[]) => boolean, seen: string[][] = []): Promise<string[]> {
    for (let i = 0; i < 600; i++) {
      const titles = await dataTitles();
      seen.push(titles);
      if (accept(titles)) return titles;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the lens never got there: ${JSON.stringify(seen.at(-1))}`);
  }

  test('evaluating…, then the figures of cloze eval per pattern and ensemble, and the other model’s ensemble', async () => {
    const seen: string[][] = [];
    const titles = await until(
      (t) => t[2]?.startsWith(`${ROWS} rows ·`) && !t[2].includes('updating') && t.length === 5 && t.every((x) => !x.startsWith('(')),
      seen,
    );
    assert.ok(
      seen.some((t) => t.some((title) => title.includes('evaluating'))),
      JSON.stringify(seen[0]),
    );
    const expected = evalJson();
    const [short, long] = expected.patterns;
    // The ensembles first above the data line (one row of lenses is cut at the editor's width), then the legend;
    // each pattern above itself.
    assert.ok(
      titles[0].startsWith(`ensemble ${pct(expected.ensemble.accuracy)} (${pct(expected.ensemble.calibratedAccuracy)})`),
      titles[0],
    );
    const other = evalJson('tiny-random-bert-uncased').ensemble;
    assert.equal(titles[1], `tiny-random-bert-uncased: accuracy ${pct(other.accuracy)} (${pct(other.calibratedAccuracy)})`);
    assert.ok(titles[3].startsWith(`dev.jsonl ${pct(short.accuracy)} (${pct(short.calibratedAccuracy)}) · F1 `), titles[3]);
    assert.ok(titles[3].endsWith(`P(gold) ${pct(short.meanGoldProbability)} (${pct(short.meanGoldCalibrated)})`), titles[3]);
    assert.ok(titles[4].startsWith(`dev.jsonl ${pct(long.accuracy)} (${pct(long.calibratedAccuracy)})`), titles[4]);
  });

  test("Evaluate on the File's Data, after the lens, scores nothing again and reports the same figures", async () => {
    type Stats = { computedPairs: number; cachedPairs: number };
    const stats = async (): Promise<Stats> => (await client.connection.sendRequest('cloze/stats')) as Stats;
    // The lens's figures are there (as the test above left them, or once they come when this test runs alone).
    await until((t) => t[2]?.startsWith(`${ROWS} rows ·`) && !t[2].includes('updating') && t.length === 5);
    const before = await stats();
    const result = (await client.connection.sendRequest('cloze/evaluate', { uri })) as EvaluateResult;
    const after = await stats();
    assert.ok(result.ok, JSON.stringify(result));
    // Neither a model run nor the engine's logits cache: every row came from what the lens scored.
    assert.deepEqual(
      { computed: after.computedPairs - before.computedPairs, cached: after.cachedPairs - before.cachedPairs },
      { computed: 0, cached: 0 },
    );
    const expected = evalJson();
    assert.equal(result.evaluation.evaluated, ROWS);
    for (const [i, summary] of expected.patterns.entries()) {
      const got = result.evaluation.patterns[i];
      assert.ok(Math.abs((got.accuracy ?? NaN) - summary.accuracy) < 1e-9, got.pattern);
      assert.ok(Math.abs((got.meanGoldProbability ?? NaN) - summary.meanGoldProbability) < 1e-6, got.pattern);
    }
    assert.ok(Math.abs((result.evaluation.ensemble.calibratedAccuracy ?? NaN) - expected.ensemble.calibratedAccuracy) < 1e-9);
  });

  test('an edit of a pattern updates the figures', async () => {
    const before = await dataTitles();
    const edited = text.replace('All in all, it was [MASK].', 'Overall, it was [MASK].');
    await client.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [{ text: edited }],
    });
    fs.writeFileSync(file, edited);
    const expected = evalJson().patterns[1];
    // Meanwhile the unedited pattern keeps its figures, marked as updating, and the edited one has none.
    const seen: string[][] = [];
    const titles = await until((t) => t.length === 5 && !t[2].includes('updating') && t[4] !== before[4], seen);
    assert.ok(
      seen.some((t) => t[3] === `${before[3]} · updating…` && t[4] === '(0 data-file lenses)'),
      JSON.stringify(seen.slice(0, 3)),
    );
    assert.ok(titles[4].startsWith(`dev.jsonl ${pct(expected.accuracy)} (${pct(expected.calibratedAccuracy)})`), titles[4]);
    assert.equal(titles[3], before[3], 'the unedited pattern keeps its figures');
  });
});

describe('a data file changed on disk while its document is open', () => {
  const changedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-data-changed-'));
  const cloze = path.join(changedDir, 'watch.cloze');
  const data = path.join(changedDir, 'rows.jsonl');
  const source = sentenceDataDocument('review-bert-small');
  after(() => fs.rmSync(changedDir, { recursive: true, force: true }));

  test('the client is asked to watch data files; a change re-checks the document and re-evaluates, without an edit of it', async () => {
    fs.writeFileSync(data, `${sst2Lines(0, 12).join('\n')}\n`);
    fs.writeFileSync(cloze, source);
    const client = await startServer(
      { modelsDir: modelsDir(), allowRemoteModels: false },
      {},
      {
        capabilities: {
          workspace: { configuration: true, codeLens: { refreshSupport: true }, didChangeWatchedFiles: { dynamicRegistration: true } },
          textDocument: { codeLens: {} },
        },
      },
    );
    try {
      const uri = pathToFileURL(cloze).href;
      const registration = await eventually('the watcher registration', () =>
        client.requests.find(
          (r) =>
            r.method === 'client/registerCapability' &&
            JSON.stringify(r.params).includes('workspace/didChangeWatchedFiles') &&
            JSON.stringify(r.params).includes('jsonl'),
        ),
      );
      assert.ok(registration);
      await client.connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri, languageId: 'cloze', version: 1, text: source },
      });
      const lensOn = async (pattern: RegExp): Promise<string> =>
        eventually(
          `a data lens matching ${pattern}`,
          async () => {
            const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
            return lenses.map((lens) => lens.command?.title ?? '').find((title) => pattern.test(title));
          },
          60_000,
          50,
        );
      await lensOn(/^12 rows/);
      // The file grows to 20 rows, then is emptied: no edit of the document, only the watcher's notification.
      const refreshes = () => client.requests.filter((r) => r.method === 'workspace/codeLens/refresh').length;
      const before = refreshes();
      fs.writeFileSync(data, `${sst2Lines(0, 20).join('\n')}\n`);
      await client.connection.sendNotification('workspace/didChangeWatchedFiles', {
        changes: [{ uri: pathToFileURL(data).href, type: 2 }],
      });
      await eventually('a lens refresh', () => refreshes() > before);
      await lensOn(/^20 rows/);
      fs.writeFileSync(data, '');
      await client.connection.sendNotification('workspace/didChangeWatchedFiles', {
        changes: [{ uri: pathToFileURL(data).href, type: 2 }],
      });
      const diagnostics = await client.diagnostics(uri, (d) => d.some((x) => x.code === 'data-empty'));
      assert.ok(diagnostics.some((d) => d.code === 'data-empty'));
      // A change of a file no document names changes nothing, and a malformed notification is ignored.
      const quiet = refreshes();
      await client.connection.sendNotification('workspace/didChangeWatchedFiles', {
        changes: [{ uri: pathToFileURL(path.join(changedDir, 'other.csv')).href, type: 2 }],
      });
      await client.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: 'nonsense' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(refreshes(), quiet);
    } finally {
      await client.close();
    }
  });
});

describe('a model replaced in its folder while its document is open', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-model-replaced-'));
  const models = path.join(root, 'models');
  const mine = path.join(models, 'mine');
  const cloze = path.join(root, 'replaced.cloze');
  const source = sentenceDataDocument('mine');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  /** `cloze eval`'s accuracy and mean P(gold) on the folder as it is now, as the lens writes them (one pattern: its own figures). */
  function evalNow(): { accuracy: string; gold: string } {
    const args = [cliMain, 'eval', cloze, '--format', 'json', '--models-dir', models, '--offline'];
    const { ensemble } = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as {
      ensemble: Summary;
    };
    return {
      accuracy: ` ${pct(ensemble.accuracy)} (${pct(ensemble.calibratedAccuracy)}) · F1 `,
      gold: `P(gold) ${pct(ensemble.meanGoldProbability)} (${pct(ensemble.meanGoldCalibrated)})`,
    };
  }

  test("the lens and Evaluate on the File's Data give the new model's figures, not the ones remembered of the old", async () => {
    // review-bert-small's tokenizer and config, with its own weights, then with tiny-random-bert-uncased's (the same vocabulary).
    const from = path.join(modelsDir(), 'review-bert-small');
    fs.mkdirSync(path.join(mine, 'onnx'), { recursive: true });
    for (const name of fs.readdirSync(from)) if (name !== 'onnx') fs.copyFileSync(path.join(from, name), path.join(mine, name));
    const weights = path.join(mine, 'onnx', 'model_quantized.onnx');
    fs.copyFileSync(path.join(from, 'onnx', 'model_quantized.onnx'), weights);
    fs.chmodSync(weights, 0o644);
    fs.writeFileSync(path.join(root, 'rows.jsonl'), `${sst2Lines(0, 40).join('\n')}\n`);
    fs.writeFileSync(cloze, source);
    const trained = evalNow();
    const client = await startServer(
      { modelsDir: models, allowRemoteModels: false },
      {},
      { capabilities: { workspace: { configuration: true, codeLens: { refreshSupport: true } }, textDocument: { codeLens: {} } } },
    );
    try {
      const uri = pathToFileURL(cloze).href;
      await client.connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri, languageId: 'cloze', version: 1, text: source },
      });
      const figuresLens = (expected: { accuracy: string; gold: string }): Promise<string> =>
        eventually(
          `the data lens with "${expected.accuracy}" and "${expected.gold}"`,
          async () => {
            const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
            const titles = lenses.map((lens) => lens.command?.title ?? '');
            const current = !titles.some((title) => /updating|evaluating/.test(title));
            return current && titles.find((title) => title.includes(expected.accuracy) && title.endsWith(expected.gold));
          },
          60_000,
          100,
        );
      await figuresLens(trained);
      const first = (await client.connection.sendRequest('cloze/evaluate', { uri })) as EvaluateResult;
      assert.ok(first.ok, JSON.stringify(first));

      fs.rmSync(weights);
      fs.copyFileSync(path.join(modelsDir(), 'tiny-random-bert-uncased', 'onnx', 'model_quantized.onnx'), weights);
      const random = evalNow();
      assert.notDeepEqual(random, trained, 'the two models must differ on these rows for this test to tell anything');
      await figuresLens(random);
      const second = (await client.connection.sendRequest('cloze/evaluate', { uri })) as EvaluateResult;
      assert.ok(second.ok, JSON.stringify(second));
      assert.notEqual(second.evaluation.ensemble.meanGoldProbability, first.evaluation.ensemble.meanGoldProbability);
      assert.ok(random.accuracy.startsWith(` ${pct(second.evaluation.ensemble.accuracy ?? NaN)} (`), JSON.stringify(random));
    } finally {
      await client.close();
    }
  });
});

describe('the evaluation lens with a listed model whose ONNX file is broken', () => {
  test('says what is wrong in words, not ONNX Runtime’s message', async () => {
    const { root } = brokenModelFolder('m', 'truncated');
    fs.writeFileSync(path.join(root, 'rows.jsonl'), `${sst2Lines(0, 10).join('\n')}\n`);
    const source = sentenceDataDocument('review-bert-small', ['models: ./m']);
    const brokenUri = pathToFileURL(path.join(root, 'doc.cloze')).href;
    fs.writeFileSync(path.join(root, 'doc.cloze'), source);
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    try {
      await client.connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri: brokenUri, languageId: 'cloze', version: 1, text: source },
      });
      const title = await eventually('the broken model’s figure', async () => {
        const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri: brokenUri } })) as CodeLens[];
        return lenses.map((lens) => lens.command?.title ?? '').find((t) => t.includes('./m: no evaluation'));
      });
      assert.match(title, /\.\/m: no evaluation \(cannot be loaded: the file is not a complete ONNX model\)/);
      assert.doesNotMatch(title, /protobuf|ONNXRuntime|\/tmp\//i);
    } finally {
      await client.close();
    }
  });
});
