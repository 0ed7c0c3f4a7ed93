// review-bert-small, the trained BERT of ../shared/models, on real SST-2 dev sentences: the engine
// equals onnxruntime run directly (fp32 and int8 files alike), the int8 file stays within the
// measured distance of fp32, calibration makes the content-free input uniform, and clear reviews
// get the right label. Long inputs are here too: this model reads 128 tokens, not the tokenizer's 512.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from '../../server/src/language/parse';
import { computePreview } from '../../server/src/service/preview';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MaskedLmEngine } from '../../server/src/model/engine';
import { resolveModel } from '../../server/src/model/resolve';
import { directDistribution, directRank, engineCacheDir, engineFor, modelFile } from '../support/directOnnx';
import { modelsDir, sst2Rows } from '../support/paths';
import { loadTokenizer } from '../support/service';

const model = 'review-bert-small';
const words = { great: 2307, good: 2204, terrible: 6659, bad: 2919 };
const wordIds = Object.values(words);
const labels = { positive: [words.great, words.good], negative: [words.terrible, words.bad] };

/**
 * How far the int8 file may be from the fp32 one. Measured over all 872 SST-2 dev sentences in the
 * three trained patterns (2,616 inputs) with great/good/terrible/bad: max |Δ p(w | x)| = 0.0087 and
 * max |Δ P(positive | x)| = 0.021; 4 of the 2,616 decisions flip. The bounds leave about 2× room.
 */
const int8WordTolerance = 0.02;
const int8LabelTolerance = 0.05;

function positive(p: (id: number) => number): number {
  const s = (ids: number[]): number => ids.reduce((sum, id) => sum + p(id), 0);
  return s(labels.positive) / (s(labels.positive) + s(labels.negative));
}

const patterns = [
  (t: string) => `${t} It was [MASK].`,
  (t: string) => `${t} All in all, it was [MASK].`,
  (t: string) => `Just [MASK]! ${t}`,
];

describe('review-bert-small against onnxruntime directly', () => {
  for (const quantized of [false, true]) {
    test(`${quantized ? 'model_quantized.onnx' : 'model.onnx'}: p(w | x), ranks and P(positive | x) to 1e-5`, async () => {
      const engine = await engineFor(model, { quantized });
      const tokenizer = await loadTokenizer(model);
      const inputs = sst2Rows(8).map((row, i) => patterns[i % patterns.length](row.text));
      const scores = await engine.score(inputs, wordIds, 3);
      for (const [i, input] of inputs.entries()) {
        const ids = [101, ...tokenizer.tokenize(input).map((piece) => piece.id), 102];
        const direct = await directDistribution(modelFile(model, quantized), ids, ids.indexOf(103));
        const byId = new Map(scores[i].words.map((word) => [word.tokenId, word]));
        for (const id of wordIds) {
          const word = byId.get(id);
          assert.ok(word && Math.abs(word.p - direct[id]) <= 1e-5 * direct[id] + 1e-12, `p(${id} | ${input}): ${word?.p} ≠ ${direct[id]}`);
          assert.equal(word.rank, directRank(direct, id));
        }
        const engineP = positive((id) => byId.get(id)?.p ?? NaN);
        assert.ok(Math.abs(engineP - positive((id) => direct[id])) <= 1e-5, `P(positive | ${input})`);
      }
    });
  }

  test(`the int8 file is within ${int8WordTolerance} of fp32 for p(w | x) and ${int8LabelTolerance} for P(L | x)`, async () => {
    const fp32 = await engineFor(model, { quantized: false });
    const int8 = await engineFor(model, { quantized: true });
    const inputs = sst2Rows(8).flatMap((row) => patterns.map((pattern) => pattern(row.text)));
    const [a, b] = [await fp32.score(inputs, wordIds, 1), await int8.score(inputs, wordIds, 1)];
    let wordGap = 0;
    let labelGap = 0;
    inputs.forEach((_, i) => {
      const p = new Map(a[i].words.map((w) => [w.tokenId, w.p]));
      const q = new Map(b[i].words.map((w) => [w.tokenId, w.p]));
      for (const id of wordIds) wordGap = Math.max(wordGap, Math.abs((p.get(id) ?? NaN) - (q.get(id) ?? NaN)));
      labelGap = Math.max(labelGap, Math.abs(positive((id) => p.get(id) ?? NaN) - positive((id) => q.get(id) ?? NaN)));
    });
    assert.ok(wordGap <= int8WordTolerance, `max |Δp(w|x)| = ${wordGap}`);
    assert.ok(labelGap <= int8LabelTolerance, `max |ΔP(L|x)| = ${labelGap}`);
    // The two files are different: a gap of exactly zero would mean one file was loaded twice.
    assert.ok(wordGap > 0);
  });
});

describe('review-bert-small previews', () => {
  const source = [
    'model: review-bert-small',
    'pattern short: {review} It was [MASK].',
    'pattern bare: It was [MASK].',
    'verbalizer:',
    '  positive: great',
    '  negative: terrible',
    'example positive: a gorgeous , high-spirited musical from india that exquisitely blends music , dance , song , and high drama .',
    'example negative: i had to look away - this was god awful .',
  ].join('\n');

  test('clear reviews get their label', async () => {
    const result = await computePreview(
      parse(source),
      await loadTokenizer(model),
      (inputs, ids, k) => engineFor(model).then((e) => e.score(inputs, ids, k)),
      {
        topK: 3,
        calibrate: false,
      },
    );
    const [good, bad] = result.examples;
    assert.ok(good.results[0].labels['positive'] > 0.5, JSON.stringify(good.results[0].labels));
    assert.ok(bad.results[0].labels['negative'] > 0.5, JSON.stringify(bad.results[0].labels));
    assert.equal(good.results[0].correct, true);
    assert.equal(bad.results[0].correct, true);
  });

  test('calibrated, the content-free input comes out uniform', async () => {
    // `bare` has no field, so every example's input is its content-free input.
    const result = await computePreview(
      parse(source),
      await loadTokenizer(model),
      (inputs, ids, k) => engineFor(model).then((e) => e.score(inputs, ids, k)),
      {
        topK: 3,
        calibrate: true,
      },
    );
    assert.equal(result.contentFree['bare'], 'It was [MASK].');
    assert.equal(result.contentFree['short'], 'It was [MASK].');
    const bare = result.examples[0].results[1];
    assert.equal(bare.input, 'It was [MASK].');
    assert.notDeepEqual(bare.labels, { positive: 0.5, negative: 0.5 });
    assert.deepEqual(bare.labels, result.priors['bare']);
    for (const p of Object.values(bare.calibrated)) assert.ok(Math.abs(p - 0.5) < 1e-12, JSON.stringify(bare.calibrated));
  });
});

describe('inputs longer than the model reads', () => {
  const long = Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? 'the film' : 'was long')).join(' ');

  test('the engine reads the limit from the position table', async () => {
    assert.equal((await engineFor(model, { quantized: false })).info.maxLength, 128);
  });

  test("a config.json without max_position_embeddings: the engine reads the limit from the file's position table", async () => {
    // A folder whose config.json lost the key (hand-edited, or another exporter's): the tokenizer declares 512.
    const folder = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-positions-')), 'rb-no-positions');
    fs.mkdirSync(folder);
    const original = path.join(modelsDir(), model);
    for (const name of fs.readdirSync(original)) {
      if (name === 'config.json') continue;
      fs.symlinkSync(path.join(original, name), path.join(folder, name));
    }
    const config = JSON.parse(fs.readFileSync(path.join(original, 'config.json'), 'utf8')) as Record<string, unknown>;
    delete config['max_position_embeddings'];
    fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify(config));
    const found = resolveModel('rb-no-positions', undefined, {
      modelsDir: path.dirname(folder),
      allowRemoteModels: false,
      cacheDir: engineCacheDir,
    });
    assert.ok(found.ok, !found.ok ? found.reason : '');
    const engine = await MaskedLmEngine.load(found, engineCacheDir, { quantized: true });
    try {
      assert.equal(engine.info.maxLength, 128);
      // A row longer than the table is cut, not sent to ONNX Runtime (which failed the whole evaluation on it).
      const [scores] = await engine.score([`${long} It was [MASK].`], [words.great], 3);
      assert.equal(scores.maskFound, true);
      assert.equal(scores.truncated, true);
    } finally {
      await engine.dispose();
      fs.rmSync(path.dirname(folder), { recursive: true, force: true });
    }
  });

  test('a mask near the end keeps the end: the beginning is cut', async () => {
    const engine = await engineFor(model, { quantized: false });
    const tokenizer = await loadTokenizer(model);
    const input = `${long} It was [MASK].`;
    const pieces = tokenizer.tokenize(input).map((piece) => piece.id);
    assert.ok(pieces.length + 2 > 128);
    const ids = [101, ...pieces.slice(pieces.length - 126), 102];
    const direct = await directDistribution(modelFile(model), ids, ids.indexOf(103));
    const [scores] = await engine.score([input], [words.great, words.terrible], 3);
    assert.equal(scores.maskFound, true);
    assert.equal(scores.truncated, true);
    for (const word of scores.words)
      assert.ok(Math.abs(word.p - direct[word.tokenId]) <= 1e-5 * direct[word.tokenId], `p(${word.tokenId})`);
  });

  test('a mask near the start keeps the start: the end is cut', async () => {
    const engine = await engineFor(model, { quantized: false });
    const tokenizer = await loadTokenizer(model);
    const input = `Just [MASK]! ${long}`;
    const pieces = tokenizer.tokenize(input).map((piece) => piece.id);
    const ids = [101, ...pieces.slice(0, 126), 102];
    const direct = await directDistribution(modelFile(model), ids, 2);
    const [scores] = await engine.score([input], [words.great], 3);
    assert.equal(scores.truncated, true);
    assert.ok(Math.abs(scores.words[0].p - direct[words.great]) <= 1e-5 * direct[words.great]);
  });

  test('an input without a mask is reported, not scored', async () => {
    const engine = await engineFor(model, { quantized: false });
    const before = engine.stats().computedPairs;
    const [scores] = await engine.score(['No mask here.'], [words.great], 3);
    assert.deepEqual(scores, { maskFound: false, truncated: false, top: [], words: [] });
    assert.equal(engine.stats().computedPairs, before);
  });
});
