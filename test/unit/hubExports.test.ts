// Models exported the way Xenova/* hub models are (../shared/models/*-xenova: optimum's export at
// opset 11, then quantize_dynamic with MatMulInteger), through the real loading code: the engine
// runs the mask-only graph on both files and says what ran; its numbers equal onnxruntime run
// directly on the file as shipped (fp32 to 1e-5; int8 within the tolerance measured in
// docs/preview.md); an input's numbers are bit-identical alone, in two different batches and after
// another example is edited; a graph the rewrite does not know loads in full with the reason; a
// NaN logit makes the statistics fall back and the output check say so.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from '../../server/src/language/parse';
import { maskHover } from '../../server/src/lsp/previewHover';
import { describeEngine, engineReport, MaskedLmEngine } from '../../server/src/model/engine';
import { checkModelOutput } from '../../server/src/model/outputCheck';
import { renderPanel } from '../../client/src/panel/render';
import { exampleProblems } from '../../server/src/language/exampleProblems';
import type { PreviewResult } from '../../server/src/service/preview';
import { computePreview } from '../../server/src/service/preview';
import { resolveModel } from '../../server/src/model/resolve';
import { directDistribution, directRank, engineCacheDir, engineFor, freshEngine, modelFile } from '../support/directOnnx';
import { fixtureModel, fixtureFolder as folderWith } from '../support/fixtureGraphs';
import { cliMain, fixturesDir, modelsDir, repoRoot, sst2Rows } from '../support/paths';
import { loadTokenizer } from '../support/service';

/**
 * How far the engine's int8 numbers may be from onnxruntime run on the shipped dynamic-int8 file
 * one input at a time. The engine quantizes activations per token (symmetric), the file per call:
 * over the 2,616 SST-2 inputs of `node bench/precision.mjs` on review-bert-small-xenova the largest
 * |Δ p(w | x)| was 0.0114 (docs/preview.md). The bound leaves about 1.75× room.
 */
const int8Tolerance = 0.02;

function sst2(count: number): string[] {
  return sst2Rows(count).map((row) => row.text);
}

const patterns = [
  (t: string) => `${t} It was [MASK].`,
  (t: string) => `Just [MASK]! ${t}`,
  (t: string) => `${t} All in all, it was [MASK].`,
];

const hubModels = [
  { model: 'review-bert-small-xenova', words: ['great', 'good', 'terrible', 'bad'] },
  { model: 'tiny-random-distilbert-xenova', words: ['great', 'terrible'] },
  { model: 'tiny-random-albert-xenova', words: ['great', 'terrible'] },
];

describe('hub-style exports: the fast path, and numbers equal to the file run directly', () => {
  for (const { model, words } of hubModels) {
    for (const quantized of [false, true]) {
      test(`${model} ${quantized ? 'int8' : 'fp32'}: mask-only, and p(w | x) and ranks as onnxruntime on the shipped file`, async () => {
        const engine = await engineFor(model, { quantized });
        assert.equal(engine.info.graph, 'mask-only', engine.info.graphReason);
        assert.equal(engine.info.precision, quantized ? 'int8-dynamic-per-token' : 'fp32');
        assert.deepEqual(engineReport(engine.info), {
          file: quantized ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx',
          graph: 'mask-only',
          precision: quantized ? 'int8-dynamic-per-token' : 'fp32',
        });
        const mask = engine.info.maskToken;
        const wordIds = words.map((word) => {
          const ids = engine.encode(word).slice(1, -1);
          assert.equal(ids.length, 1, `${word} is one token of ${model}`);
          return ids[0];
        });
        const inputs = sst2(6).map((text, i) => patterns[i % patterns.length](text).replace('[MASK]', mask));
        const scores = await engine.score(inputs, wordIds, 3);
        let worst = 0;
        for (const [i, input] of inputs.entries()) {
          const ids = engine.encode(input);
          const direct = await directDistribution(modelFile(model, quantized), ids, ids.indexOf(engine.info.maskTokenId));
          for (const word of [...scores[i].words, ...scores[i].top]) {
            const difference = Math.abs(word.p - direct[word.tokenId]);
            worst = Math.max(worst, difference);
            if (!quantized) {
              assert.ok(
                difference <= 1e-5 * direct[word.tokenId] + 1e-12,
                `p(${word.tokenId} | ${input}): ${word.p} ≠ ${direct[word.tokenId]}`,
              );
              if ('rank' in word) assert.equal(word.rank, directRank(direct, word.tokenId));
            }
          }
        }
        if (quantized) {
          assert.ok(worst <= int8Tolerance, `max |Δp| ${worst}`);
          // The int8 file is really run (not the fp32 one): its numbers are not the fp32 file's.
          const fp32 = await directDistribution(
            modelFile(model, false),
            engine.encode(inputs[0]),
            engine.encode(inputs[0]).indexOf(engine.info.maskTokenId),
          );
          assert.notEqual(scores[0].words[0].p, fp32[wordIds[0]]);
        }
      });
    }
  }
});

describe('batch-invariant numbers', () => {
  for (const [model, quantized] of [
    ['review-bert-small-xenova', true],
    ['review-bert-small-xenova', false],
    ['review-bert-small', true],
  ] as const) {
    test(`${model} ${quantized ? 'int8' : 'fp32'}: one input alone, in two different batches, and after another example is edited`, async () => {
      const engine = await freshEngine(model, { quantized });
      const texts = sst2(24);
      const target = `${texts[0]} It was [MASK].`;
      const wordIds = ['great', 'terrible'].map((w) => engine.encode(w)[1]);
      const scoreOf = async (inputs: string[]): Promise<unknown> => {
        engine.clearCache(); // every input runs through the model, in the batches this call makes
        const scores = await engine.score(inputs, wordIds, 10);
        return scores[inputs.indexOf(target)];
      };
      const alone = await scoreOf([target]);
      // Neighbours of other lengths (other padding, other places in the batch), and other patterns.
      const first = [...texts.slice(1, 12).map((t) => `${t} It was [MASK].`), target];
      const second = [target, ...texts.slice(12, 24).map((t) => `Just [MASK]! ${t}`), 'A [MASK] film.'];
      assert.deepEqual(await scoreOf(first), alone);
      assert.deepEqual(await scoreOf(second), alone);
      // The same batch after an edit of another example: its numbers change, the target's do not.
      const edited = first.map((input, i) => (i === 3 ? input.replace('It was', 'Honestly, it was') : input));
      assert.deepEqual(await scoreOf(edited), alone);
      assert.equal(engine.batching.batchSize > 1, true, 'batched, not one input per call');
    });
  }
});

/** A models folder holding `name`: the real tokenizer of tiny-random-bert-uncased and a generated graph as `onnx/<file>`. */
describe('a graph the rewrite does not know', () => {
  for (const unhandled of [true, false]) {
    test(unhandled ? 'loads the full graph and says why' : 'the same folder with a BERT head at opset 11 runs mask-only', async () => {
      const root = folderWith(fixtureModel({ head: 'bert', opset: 11, int8: false, vocab: 30522, unhandled }), 'fixture-bert');
      const location = resolveModel('fixture-bert', undefined, { modelsDir: root, allowRemoteModels: false, cacheDir: engineCacheDir });
      assert.ok(location.ok);
      const engine = await MaskedLmEngine.load(location, engineCacheDir, { quantized: false });
      const report = engineReport(engine.info);
      if (unhandled) {
        assert.equal(report.graph, 'full');
        assert.match(report.reason ?? '', /Softmax/);
      } else {
        assert.equal(report.graph, 'mask-only');
        assert.equal(report.reason, undefined);
      }
      const [scores] = await engine.score(['It was [MASK].'], [2307], 3);
      assert.equal(scores.maskFound, true);
      assert.equal(scores.top.length, 3);
    });
  }
});

describe('softmax statistics that cannot go into the graph', () => {
  test('are computed after the model calls, to the same numbers, and the engine says so', async () => {
    // Opset 10: the mask-only rewrite applies, the statistics' nodes need 11. The same weights at 11 have them in the graph.
    const engines = [];
    for (const opset of [10, 11]) {
      const root = folderWith(fixtureModel({ head: 'bert', opset, int8: false, vocab: 30522 }), 'fixture-stats');
      const location = resolveModel('fixture-stats', undefined, { modelsDir: root, allowRemoteModels: false, cacheDir: engineCacheDir });
      assert.ok(location.ok);
      engines.push(await MaskedLmEngine.load(location, engineCacheDir, { quantized: false }));
    }
    const [separate, inGraph] = engines;
    assert.equal(separate.info.graph, 'mask-only');
    assert.match(separate.info.statisticsReason ?? '', /opset is below 11/);
    assert.match(engineReport(separate.info).statisticsReason ?? '', /opset is below 11/);
    assert.match(describeEngine(separate.info), /softmax statistics after the model calls \(they could not be added to the graph/);
    assert.equal(inGraph.info.statisticsReason, undefined);
    assert.doesNotMatch(describeEngine(inGraph.info), /softmax statistics/);
    const inputs = ['It was [MASK].', 'A much longer input, and it was [MASK] indeed.'];
    const [a, b] = [await separate.score(inputs, [2307, 2204], 5), await inGraph.score(inputs, [2307, 2204], 5)];
    a.forEach((scores, i) => {
      assert.deepEqual(
        scores.top.map((t) => t.tokenId),
        b[i].top.map((t) => t.tokenId),
      );
      scores.words.forEach((w, j) => {
        assert.ok(Math.abs(w.p - b[i].words[j].p) <= 1e-6, `${w.p} ${b[i].words[j].p}`);
        assert.equal(w.rank, b[i].words[j].rank);
      });
    });
  });
});

describe('a model with a NaN logit (a broken export)', () => {
  test('the statistics fail the load probe, run after the model calls, and the output check says what is wrong', async () => {
    const graph = fixtureModel({ head: 'bert', opset: 11, int8: false, vocab: 30522, logitBias: { id: 5000, value: Number.NaN } });
    const root = folderWith(graph, 'fixture-nan');
    const location = resolveModel('fixture-nan', undefined, { modelsDir: root, allowRemoteModels: false, cacheDir: engineCacheDir });
    assert.ok(location.ok);
    const engine = await MaskedLmEngine.load(location, engineCacheDir, { quantized: false });
    // The probe's row has the NaN: the statistics are not compared with it, and the reason says so.
    assert.equal(engine.info.graph, 'mask-only');
    assert.equal(engine.info.statisticsReason, 'they failed a check at load (the probe input’s logits include NaN or +∞)');
    assert.match(describeEngine(engine.info), /softmax statistics after the model calls \(they failed a check at load/);
    await assert.rejects(
      checkModelOutput(engine),
      /fixture-nan cannot be scored: its logits at the mask are not all numbers \(a NaN or \+∞ logit from onnx\/model\.onnx\)/,
    );
    // The same weights without the NaN pass both.
    const soundOptions = { head: 'bert', opset: 11, int8: false, vocab: 30522 } as const;
    const sound = folderWith(fixtureModel(soundOptions), 'fixture-sound');
    const soundLocation = resolveModel('fixture-sound', undefined, {
      modelsDir: sound,
      allowRemoteModels: false,
      cacheDir: engineCacheDir,
    });
    assert.ok(soundLocation.ok);
    const soundEngine = await MaskedLmEngine.load(soundLocation, engineCacheDir, { quantized: false });
    assert.equal(soundEngine.info.statisticsReason, undefined);
    await checkModelOutput(soundEngine);
    // −∞ is a probability of 0, not a broken row: not even at the last id, where the width is read.
    const last = folderWith(
      fixtureModel({ ...soundOptions, logitBias: { id: 30521, value: Number.NEGATIVE_INFINITY } }),
      'fixture-minus-inf',
    );
    const lastLocation = resolveModel('fixture-minus-inf', undefined, {
      modelsDir: last,
      allowRemoteModels: false,
      cacheDir: engineCacheDir,
    });
    assert.ok(lastLocation.ok);
    await checkModelOutput(await MaskedLmEngine.load(lastLocation, engineCacheDir, { quantized: false }));
  });
});

describe('a model that gives NaN for some inputs only', () => {
  test('those inputs are not scored and say why, in the engine, `cloze preview` and `cloze eval`; the others are', async () => {
    // The embedding of `great` (id 2307) is NaN: any input with that word has NaN logits everywhere.
    const root = folderWith(fixtureModel({ head: 'bert', opset: 11, int8: false, vocab: 30522, nanEmbedding: 2307 }), 'fixture-nan-word');
    const location = resolveModel('fixture-nan-word', undefined, { modelsDir: root, allowRemoteModels: false, cacheDir: engineCacheDir });
    assert.ok(location.ok);
    const engine = await MaskedLmEngine.load(location, engineCacheDir, { quantized: false });
    await checkModelOutput(engine); // The probe input has no `great`.
    const [broken, sound] = await engine.score(['A great film. It was [MASK].', 'A dull film. It was [MASK].'], [2204, 2919], 3);
    assert.deepEqual(broken, { maskFound: false, nonFinite: true, truncated: false, top: [], words: [] });
    assert.ok(sound.maskFound && sound.words.every((w) => w.p > 0 && w.p < 1), JSON.stringify(sound));

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-nan-word-'));
    const file = path.join(dir, 'nan.cloze');
    fs.writeFileSync(
      file,
      'model: fixture-nan-word\npattern: {text} It was [MASK].\nverbalizer:\n  positive: good\n  negative: bad\nexample positive: A great film.\nexample negative: A dull film.\n',
    );
    fs.writeFileSync(
      path.join(dir, 'rows.jsonl'),
      '{"text":"A great film.","label":"positive"}\n{"text":"A dull film.","label":"negative"}\n',
    );
    // Exit 1 is an answer here (a gate failed, nothing to suggest): the status is checked where it matters.
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [cliMain, ...args, '--models-dir', root, '--offline', '--no-quantized'], { encoding: 'utf8' });
    const cli = (...args: string[]): string => run(...args).stdout;
    const previewText = cli('preview', file);
    assert.match(previewText, /pattern 1 {2}no numbers: fixture-nan-word gave NaN or infinite logits at the mask for this input/);
    assert.match(previewText, /accuracy on 1 labelled example \(1 not scored\): pattern 1 /);
    // The preview panel, from the same JSON the server sends it: the example on line 6 has the word.
    const preview = JSON.parse(cli('preview', file, '--format', 'json')) as PreviewResult & { quantized: boolean };
    const source = fs.readFileSync(file, 'utf8');
    const html = renderPanel(
      { ok: true, uri: 'file:///nan.cloze', version: 1, preview, quantized: false, exampleProblems: exampleProblems(parse(source)) },
      6,
      'nan.cloze',
    );
    assert.match(html, /fixture-nan-word gave no numbers at \[MASK\] for this input: its logits are NaN or infinite/);
    assert.match(html, /<p class="verdict problem">Not scored: fixture-nan-word gave NaN or infinite logits for it\.<\/p>/);
    const evaluation = JSON.parse(cli('eval', file, '--data', path.join(dir, 'rows.jsonl'), '--format', 'json')) as {
      unscored: Record<string, { maskCutOff: number; nonFinite: number; severalMasks: number }>;
      patterns: Array<{ accuracy: number }>;
    };
    assert.deepEqual(evaluation.unscored, { 'pattern 1': { maskCutOff: 0, nonFinite: 1, severalMasks: 0 } });
    assert.match(
      cli('eval', file, '--data', path.join(dir, 'rows.jsonl')),
      /not scored by pattern 1, left out of its figures: 1 row with NaN or infinite logits from fixture-nan-word/,
    );
    // As a CI gate: the scored row alone is right (100 %), but a model that gives no numbers for a row does not pass.
    const gated = run('eval', file, '--data', path.join(dir, 'rows.jsonl'), '--min-accuracy', '0.5');
    assert.equal(gated.status, 1, gated.stderr);
    assert.match(gated.stderr, /cloze eval: ensemble: 1 row got NaN or infinite logits from fixture-nan-word, which a gate does not pass/);
    const junit = cli('eval', file, '--data', path.join(dir, 'rows.jsonl'), '--min-accuracy', '0.5', '--format', 'junit');
    assert.match(
      junit,
      /<failure message="ensemble: 1 row got NaN or infinite logits from fixture-nan-word, which a gate does not pass" type="not-scored">/,
    );
    assert.match(
      junit,
      /<property name="unscored pattern 1" value="mask cut off 0, NaN or infinite logits 1, mask token in the text 0"\/>/,
    );
    // Searching label words: the positive row gave no numbers, so that label has no candidate, and nothing is suggested.
    const suggested = run('suggest', file, '--data', path.join(dir, 'rows.jsonl'));
    assert.equal(suggested.status, 1, suggested.stderr);
    assert.match(suggested.stdout, /^ {2}positive: \(none\)$/m);
    assert.match(suggested.stderr, /cloze suggest: no verbalizer could be built: no candidate word for positive/);
    // The word in the pattern's own text: long rows lose it to the window around the mask and are
    // scored, but the empty input keeps it, so there is no prior to calibrate by, and that is said.
    const priorFile = path.join(dir, 'prior.cloze');
    fs.writeFileSync(
      priorFile,
      'model: fixture-nan-word\npattern: great. {text} It was [MASK].\nverbalizer:\n  positive: good\n  negative: bad\n',
    );
    const long = (word: string, label: string): string => JSON.stringify({ text: Array(600).fill(word).join(' '), label });
    fs.writeFileSync(path.join(dir, 'long.jsonl'), `${long('fine', 'positive')}\n${long('dull', 'negative')}\n`);
    const priorEval = cli('eval', priorFile, '--data', path.join(dir, 'long.jsonl'));
    assert.match(
      priorEval,
      /no prior for pattern 1: the model gave NaN or infinite logits for the empty input, so its calibrated figures are its raw ones/,
    );
    assert.doesNotMatch(priorEval, /not scored by/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('dynamic int8 the rewrite cannot make per token', () => {
  test('runs one input per call, so the numbers are still the input’s own, and says why', async () => {
    const graph = fixtureModel({ head: 'bert', opset: 11, int8: true, vocab: 30522, oddScales: true });
    const root = folderWith(graph, 'fixture-odd', 'model_quantized.onnx');
    const location = resolveModel('fixture-odd', undefined, { modelsDir: root, allowRemoteModels: false, cacheDir: engineCacheDir });
    assert.ok(location.ok);
    const engine = await MaskedLmEngine.load(location, engineCacheDir, { quantized: true, batchSize: 16 });
    const report = engineReport(engine.info);
    assert.equal(report.graph, 'full');
    assert.equal(report.precision, 'int8-dynamic-per-input');
    assert.match(report.precisionReason ?? '', /Div/);
    assert.equal(engine.batching.batchSize, 1);
    const target = 'It was [MASK].';
    const [alone] = await engine.score([target], [2307], 5);
    engine.clearCache();
    const batched = await engine.score(['A much longer input, and it was [MASK] indeed.', target, 'Short [MASK].'], [2307], 5);
    assert.deepEqual(batched[1], alone);
  });
});

describe('cloze preview --format json says what ran', () => {
  for (const quantized of [true, false]) {
    test(`review-bert-small-xenova ${quantized ? 'int8' : 'fp32'}: engine.graph is mask-only`, async () => {
      const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-cli-cache-'));
      const args = [
        cliMain,
        'preview',
        path.join(fixturesDir, 'preview', 'sentiment.cloze'),
        '--model',
        'review-bert-small-xenova',
        '--models-dir',
        modelsDir(),
        '--offline',
        '--format',
        'json',
        ...(quantized ? [] : ['--no-quantized']),
      ];
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, args, { cwd: repoRoot, env: { ...process.env, CLOZE_CACHE_DIR: cacheDir } }, (error, out, err) =>
          error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
        ),
      );
      const result = JSON.parse(stdout) as { model: string; engine: Record<string, unknown> };
      assert.equal(result.model, 'review-bert-small-xenova');
      assert.deepEqual(result.engine, {
        file: quantized ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx',
        graph: 'mask-only',
        precision: quantized ? 'int8-dynamic-per-token' : 'fp32',
      });
    });
  }
});

describe('the [MASK] hover says what ran', () => {
  test('review-bert-small-xenova int8: a footer with the file, the graph and the precision', async () => {
    const engine = await engineFor('review-bert-small-xenova', { quantized: true });
    const source = [
      'pattern short: {review} It was [MASK].',
      'verbalizer:',
      '  positive: great',
      '  negative: terrible',
      'example positive: a gorgeous , high-spirited musical .',
    ].join('\n');
    const result = await computePreview(
      parse(source),
      await loadTokenizer('review-bert-small-xenova'),
      (inputs, ids, k) => engine.score(inputs, ids, k),
      {
        topK: 3,
        calibrate: false,
      },
    );
    const hover = maskHover(result, 'short', describeEngine(engine.info));
    // The example is named by its first words (the hover of issue 11).
    assert.match(hover, /\| a gorgeous , high\\-spirited… \(positive\) \|/);
    assert.equal(hover.split('\n').at(-1), '_onnx/model_quantized.onnx · mask-only graph · int8-dynamic-per-token_');
  });
});
