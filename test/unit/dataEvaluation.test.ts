import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { macroF1 } from '../../server/src/language/classification';
import { parse } from '../../server/src/language/parse';
import type { Scorer } from '../../server/src/language/scores';
import { MaskedLmEngine } from '../../server/src/model/engine';
import { DataEvaluations, type DataEvaluationRequest } from '../../server/src/service/dataEvaluation';
import { cliMain, modelsDir, sst2Lines } from '../support/paths';
import { loadTokenizer, serviceFor } from '../support/service';

/**
 * The evaluation lens's figures (issue 13, item 1) through the real engine and review-bert-small on
 * the first rows of SST-2 dev: they equal `cloze eval`'s (the existing path) for every pattern and
 * the ensemble, macro-F1 equals the one computed from `cloze eval`'s confusion matrix, and after an
 * edit to one pattern only that pattern is scored again.
 */

const ROWS = 100;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-data-lens-'));
const data = path.join(dir, 'dev.jsonl');
const file = path.join(dir, 'sst2.cloze');
const text = [
  'model: review-bert-small',
  'pattern short: {sentence} It was [MASK].',
  'pattern long: {sentence} All in all, it was [MASK].',
  'verbalizer:',
  '  positive: great, good',
  '  negative: terrible, bad',
  'data: dev.jsonl',
  '',
].join('\n');

interface Summary {
  pattern: string;
  labelled: number;
  accuracy: number;
  calibratedAccuracy: number;
  meanGoldProbability: number;
  meanGoldCalibrated: number;
}

function cloze(...args: string[]): {
  evaluated: number;
  patterns: Summary[];
  ensemble: Summary;
  confusion: Record<string, Record<string, number>>;
} {
  const run = spawnSync(process.execPath, [cliMain, ...args, '--models-dir', modelsDir(), '--offline', '--format', 'json'], {
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as ReturnType<typeof cloze>;
}

describe('the evaluation lens figures', () => {
  let engine: MaskedLmEngine;
  const scored: string[] = [];

  before(async () => {
    const lines = sst2Lines(0, ROWS);
    fs.writeFileSync(data, `${lines.join('\n')}\n`);
    fs.writeFileSync(file, text);
    const service = serviceFor('review-bert-small');
    const choice = service.modelChoice(parse(text), file);
    assert.ok(choice.location.ok && choice.location.source !== 'remote');
    engine = await MaskedLmEngine.load(choice.location, service.settings.cacheDir, { quantized: true });
  });
  after(async () => {
    await engine?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function request(source: string): Promise<DataEvaluationRequest> {
    const scorer: Scorer = (inputs, wordIds, topK) => {
      scored.push(...inputs);
      return engine.score(inputs, wordIds, topK);
    };
    return {
      doc: parse(source),
      files: [data],
      tokenizer: await loadTokenizer('review-bert-small'),
      modelKey: 'review-bert-small|quantized',
      scorerFor: () => scorer,
      limits: { maxRows: 100_000, maxBytes: 100 * 1024 * 1024 },
    };
  }

  test('equal `cloze eval` per pattern and for the ensemble; an edit re-scores only the changed pattern', async () => {
    const evaluations = new DataEvaluations();
    const progress: Array<[number, number]> = [];
    const first = await evaluations.evaluate({ ...(await request(text)), onProgress: (done, total) => progress.push([done, total]) }, {});
    const expected = cloze('eval', file);
    assert.equal(first.rows, ROWS);
    assert.equal(first.reused, 0);
    for (const [i, figures] of [...first.patterns, first.ensemble].entries()) {
      const summary = [...expected.patterns, expected.ensemble][i];
      assert.equal(figures.name, summary.pattern);
      assert.equal(figures.rows, summary.labelled);
      assert.ok(Math.abs(figures.accuracy! - summary.accuracy) < 1e-9, `${figures.name} accuracy`);
      assert.ok(Math.abs(figures.calibratedAccuracy! - summary.calibratedAccuracy) < 1e-9, `${figures.name} calibrated`);
      assert.ok(Math.abs(figures.meanGold! - summary.meanGoldProbability) < 1e-6, `${figures.name} mean gold`);
      assert.ok(Math.abs(figures.meanGoldCalibrated! - summary.meanGoldCalibrated) < 1e-6, `${figures.name} mean gold calibrated`);
    }
    // Macro-F1 of the ensemble from cloze eval's confusion matrix (raw predictions), computed here by hand.
    const f1s = Object.keys(expected.confusion).map((label) => {
      const tp = expected.confusion[label][label];
      const fn = Object.values(expected.confusion[label]).reduce((a, b) => a + b, 0) - tp;
      const fp = Object.keys(expected.confusion).reduce((n, gold) => n + (gold === label ? 0 : expected.confusion[gold][label]), 0);
      return (2 * tp) / (2 * tp + fp + fn);
    });
    assert.ok(Math.abs(first.ensemble.macroF1! - f1s.reduce((a, b) => a + b, 0) / f1s.length) < 1e-9);
    // Progress went up to every row of both patterns.
    assert.deepEqual(progress.at(-1), [2 * ROWS, 2 * ROWS]);

    // The same document again: nothing is scored.
    scored.length = 0;
    const again = await evaluations.evaluate(await request(text), {});
    assert.equal(again.reused, 2);
    assert.equal(scored.length, 0);
    assert.deepEqual(again.ensemble, first.ensemble);

    // Pattern `long` edited: only its inputs go to the model; `short` keeps its figures.
    const edited = text.replace('All in all, it was [MASK].', 'Overall, it was [MASK].');
    const third = await evaluations.evaluate(await request(edited), {});
    assert.equal(third.reused, 1);
    assert.ok(scored.length > 0 && scored.every((input) => input.includes('Overall, it was')), scored.slice(0, 3).join('\n'));
    assert.deepEqual(third.patterns[0], first.patterns[0]);
    const expectedEdited = (() => {
      fs.writeFileSync(file, edited);
      return cloze('eval', file);
    })();
    assert.ok(Math.abs(third.ensemble.accuracy! - expectedEdited.ensemble.accuracy) < 1e-9);

    // A verbalizer edit re-scores both (each pattern's numbers depend on it).
    const words = await evaluations.evaluate(await request(edited.replace('great, good', 'great, good, excellent')), {});
    assert.equal(words.reused, 0);
  });

  test('with the support prior: equal `cloze eval --calibration support`; an edited example re-scores no row', async () => {
    const evaluations = new DataEvaluations();
    const withExamples = `${text}example: The soundtrack had its moments.\nexample negative: Dull from start to end.\n`;
    await evaluations.evaluate(await request(withExamples), {});
    scored.length = 0;
    const support = await evaluations.evaluate({ ...(await request(withExamples)), calibration: 'support' }, {});
    // Only the two examples and the empty input, per pattern, went to the model: the rows' P are remembered.
    assert.equal(scored.length, 6, scored.join('\n'));
    assert.equal(support.calibration, 'support');
    assert.equal(support.supportSize, ROWS + 2);
    const check = (figures: typeof support, expected: ReturnType<typeof cloze>): void => {
      for (const [i, f] of [...figures.patterns, figures.ensemble].entries()) {
        const summary = [...expected.patterns, expected.ensemble][i];
        assert.ok(Math.abs(f.calibratedAccuracy! - summary.calibratedAccuracy) < 1e-9, `${f.name} calibrated accuracy`);
        assert.ok(Math.abs(f.meanGoldCalibrated! - summary.meanGoldCalibrated) < 1e-6, `${f.name} mean gold calibrated`);
        assert.ok(Math.abs(f.accuracy! - summary.accuracy) < 1e-9, `${f.name} accuracy`);
      }
    };
    fs.writeFileSync(file, withExamples);
    const expected = cloze('eval', file, '--calibration', 'support');
    check(support, expected);
    // The prior moved the figures: the support-calibrated ones are not the content-free ones.
    const contentFree = cloze('eval', file);
    assert.notEqual(support.patterns.map((p) => p.meanGoldCalibrated).join(), contentFree.patterns.map((p) => p.meanGoldCalibrated).join());

    // An example edited: its new P enters the prior, and still no row is scored again.
    const edited = withExamples.replace('Dull from start to end.', 'A joy from start to end, wonderful and moving.');
    scored.length = 0;
    const after = await evaluations.evaluate({ ...(await request(edited)), calibration: 'support' }, {});
    assert.equal(scored.length, 6, scored.join('\n'));
    fs.writeFileSync(file, edited);
    check(after, cloze('eval', file, '--calibration', 'support'));
    fs.writeFileSync(file, text);
  });

  test('every scorer key a computation asked for is released when it settles (the worker would keep it for good)', async () => {
    const evaluations = new DataEvaluations();
    const asked: string[] = [];
    const released: string[] = [];
    const base = await request(text.replace('data:', 'example positive: A fine film.\ndata:'));
    const tracked: DataEvaluationRequest = {
      ...base,
      calibration: 'support',
      scorerFor: (key) => (asked.push(key), base.scorerFor(key)),
      releaseScorer: (key) => released.push(key),
    };
    await evaluations.evaluate(tracked, {});
    await evaluations.evaluate(tracked, {});
    // Two patterns' computations (the second run reuses them) and one support scorer per run.
    assert.equal(asked.filter((key) => key.startsWith('support:')).length, 2);
    assert.equal(asked.length, 4);
    assert.deepEqual([...released].sort(), [...asked].sort());
  });

  test('a cancelled job stops; a computation another job still needs goes on', async () => {
    const evaluations = new DataEvaluations();
    const changed = text.replace('It was', 'It is');
    // Cancelled at once (before it has asked for anything): it ends with CancelledError.
    const early = {};
    const c = evaluations.evaluate(await request(changed), early);
    evaluations.cancel(early);
    await assert.rejects(c, (error: Error) => error.name === 'CancelledError');
    // Two jobs share the computation of the changed pattern; cancelling one, once both wait on it, leaves it running.
    const one = {};
    const two = {};
    const progress: number[] = [];
    const a = evaluations.evaluate({ ...(await request(changed)), onProgress: (done) => progress.push(done) }, one);
    const b = evaluations.evaluate(await request(changed), two);
    while (progress.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    evaluations.cancel(one);
    const result = await b;
    assert.equal(result.rows, ROWS);
    assert.equal((await a).rows, ROWS);
    // Cancelled alone while scoring: it stops at its next chunk.
    scored.length = 0;
    const three = {};
    const alone = evaluations.evaluate(
      { ...(await request(text.replace('It was', 'It seems'))), onProgress: () => evaluations.cancel(three) },
      three,
    );
    await assert.rejects(alone, (error: Error) => error.name === 'CancelledError');
    assert.ok(scored.length < 2 * ROWS, `${scored.length} inputs scored after the cancel`);
  });
});

describe('macroF1', () => {
  test('the mean of the labels’ F1, leaving out labels that never occur', () => {
    const pairs = [
      { gold: 'a', predicted: 'a' },
      { gold: 'a', predicted: 'b' },
      { gold: 'b', predicted: 'b' },
      { gold: 'b', predicted: 'b' },
    ];
    // F1(a) = 2·1/(2+0+1) = 2/3; F1(b) = 2·2/(4+1+0) = 4/5.
    assert.ok(Math.abs(macroF1(pairs, ['a', 'b', 'c'])! - (2 / 3 + 4 / 5) / 2) < 1e-12);
    // Always the majority label: accuracy 3/4 but macro-F1 (6/7 + 0) / 2.
    const majority = [...Array(3).fill({ gold: 'a', predicted: 'a' }), { gold: 'b', predicted: 'a' }];
    assert.ok(Math.abs(macroF1(majority, ['a', 'b'])! - 6 / 7 / 2) < 1e-12);
    assert.equal(macroF1([], ['a']), null);
  });
});
