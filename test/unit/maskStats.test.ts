// The softmax statistics computed by ONNX Runtime (server/src/model/maskStats.ts) against the
// all-JavaScript, all-float64 computation (maskScoresFromLogits): the same top tokens in the same
// order (ties: lower id first), the same ranks, the same probabilities to 1e-6. And the logits
// cache, which counts memory by buffer now that a batch's rows are views into one buffer.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { LogitsCache } from '../../server/src/model/logitsCache';
import { maskScoresFromLogits, maskScoresFromStats } from '../../server/src/model/maskDistribution';
import { MaskStats } from '../../server/src/model/maskStats';
import { maskOnlyGraph, previewGraph } from '../../server/src/model/maskOnlyGraph';
import { freshEngine, modelFile } from '../support/directOnnx';

/** Real rows: review-bert-small's logits at the mask of `[CLS] it was [MASK] . [SEP]` and of `[CLS] [MASK] ! [SEP]`. */
async function realRows(): Promise<{ data: Float32Array; rows: number; vocabulary: number }> {
  const rewritten = maskOnlyGraph(fs.readFileSync(modelFile('review-bert-small')));
  assert.ok(rewritten);
  const session = await ort.InferenceSession.create(rewritten.bytes);
  const ids = [101, 2009, 2001, 103, 1012, 102, 101, 103, 999, 102, 0, 0];
  const shape = [2, 6];
  const output = await session.run({
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), shape),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], BigInt), shape),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(12), shape),
    // Mask rows in the batch flattened to [2 × 6] rows: row 0 position 3, row 1 position 1.
    [rewritten.maskInput]: new ort.Tensor('int64', BigInt64Array.from([3n, 6n + 1n]), [2]),
  });
  const logits = output[rewritten.output];
  return { data: logits.data as Float32Array, rows: logits.dims[0], vocabulary: logits.dims[1] };
}

function compare(
  data: Float32Array,
  rows: number,
  vocabulary: number,
  wordIds: number[],
  topK: number,
  stats: Awaited<ReturnType<MaskStats['compute']>>,
): void {
  const tokenOf = (id: number): string => `t${id}`;
  for (let row = 0; row < rows; row++) {
    const logits = data.subarray(row * vocabulary, (row + 1) * vocabulary);
    const expected = maskScoresFromLogits(logits, wordIds, topK, tokenOf, false);
    const top = Array.from(stats.top.subarray(row * stats.k, (row + 1) * stats.k), Number);
    const actual = maskScoresFromStats(logits, { max: stats.max[row], sum: stats.sum[row], top }, wordIds, topK, tokenOf, false);
    assert.deepEqual(
      actual.top.map((t) => t.tokenId),
      expected.top.map((t) => t.tokenId),
      `row ${row}: top ids`,
    );
    assert.deepEqual(
      actual.words.map((w) => w.rank),
      expected.words.map((w) => w.rank),
      `row ${row}: ranks`,
    );
    for (const [i, word] of actual.words.entries()) {
      const p = expected.words[i].p;
      assert.ok(Math.abs(word.p - p) <= 1e-6 * p + 1e-15, `row ${row}: p(${word.tokenId}) ${word.p} ≠ ${p}`);
    }
    for (const [i, token] of actual.top.entries()) {
      const p = expected.top[i].p;
      assert.ok(Math.abs(token.p - p) <= 1e-6 * p, `row ${row}: top p ${token.p} ≠ ${p}`);
    }
  }
}

describe('softmax statistics by ONNX Runtime', () => {
  test('equal the float64 JavaScript computation on real rows', async () => {
    const stats = await MaskStats.create({});
    assert.ok(stats, 'ONNX Runtime runs the statistics graph');
    const { data, rows, vocabulary } = await realRows();
    // great, good, terrible, bad; an id outside the vocabulary ranks last with p 0.
    const wordIds = [2307, 2204, 6659, 2919, vocabulary + 5];
    compare(data, rows, vocabulary, wordIds, 10, await stats.compute(data, rows, vocabulary, 10));
  });

  test('no rows: empty statistics and ranks, and the process lives (onnxruntime 1.14 dies of SIGFPE on [0, vocabulary])', async () => {
    const stats = await MaskStats.create({});
    assert.ok(stats);
    const empty = await stats.compute(new Float32Array(0), 0, 30522, 10);
    assert.deepEqual([empty.max.length, empty.sum.length, empty.top.length, empty.k], [0, 0, 0, 10]);
    assert.equal(await stats.above(new Float32Array(0), 0, 30522, [5]), undefined);
  });

  test('ranks counted by ONNX Runtime equal the JavaScript count, in row chunks and with ties', async () => {
    const stats = await MaskStats.create({});
    assert.ok(stats);
    const { data, rows, vocabulary } = await realRows();
    const count = (row: number, id: number): number => {
      let above = 0;
      for (let i = 0; i < vocabulary; i++) above += +(data[row * vocabulary + i] > data[row * vocabulary + id]);
      return above;
    };
    const wordIds = [2307, 2204, 6659, 2919, 0, vocabulary - 1];
    const above = await stats.above(data, rows, vocabulary, wordIds);
    assert.ok(above);
    for (let row = 0; row < rows; row++)
      assert.deepEqual(
        Array.from(above.subarray(row * wordIds.length, (row + 1) * wordIds.length)),
        wordIds.map((id) => count(row, id)),
      );
    // Many words: fewer rows a call (one row here), the same counts; and a small flat row with ties.
    const many = Array.from({ length: 200 }, (_, i) => i * 100);
    const chunked = await stats.above(data, rows, vocabulary, many);
    assert.ok(chunked);
    assert.deepEqual(
      Array.from(chunked.subarray(many.length)),
      many.map((id) => count(1, id)),
    );
    const flat = new Float32Array(8).fill(1.5);
    flat[5] = 2;
    assert.deepEqual(Array.from((await stats.above(flat, 1, 8, [0, 5])) ?? []), [1, 0]);
  });

  test('ties: the lower id first, and untrained (flat) rows', async () => {
    const stats = await MaskStats.create({});
    assert.ok(stats);
    const vocabulary = 50;
    const data = new Float32Array(vocabulary * 3);
    // Row 0: all equal. Row 1: a few equal maxima. Row 2: spread values.
    for (let i = 0; i < vocabulary; i++) {
      data[vocabulary + i] = i % 7 === 3 ? 2.5 : -i / 10;
      data[2 * vocabulary + i] = Math.sin(i * 12.9898) * 4;
    }
    compare(data, 3, vocabulary, [3, 10, 17, 49], 5, await stats.compute(data, 3, vocabulary, 5));
  });
});

describe('a row that is not all numbers', () => {
  test('NaN or +∞ among the logits: no numbers for the input (not a 50/50 tie); −∞ is a probability of 0', () => {
    const tokenOf = (id: number): string => `t${id}`;
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const row = Float32Array.from([0.5, 1, bad, -2]);
      const scores = maskScoresFromLogits(row, [0, 1], 2, tokenOf, false);
      assert.deepEqual(scores, { maskFound: false, nonFinite: true, truncated: false, top: [], words: [] }, String(bad));
      // The same from statistics computed in the graph: ONNX Runtime's Σ exp is NaN there.
      const fromStats = maskScoresFromStats(row, { max: bad, sum: Number.NaN, top: [2, 1] }, [0, 1], 2, tokenOf, true);
      assert.deepEqual(fromStats, { maskFound: false, nonFinite: true, truncated: true, top: [], words: [] });
    }
    const withMinusInfinity = maskScoresFromLogits(Float32Array.from([0, Number.NEGATIVE_INFINITY, 0]), [0, 1], 1, tokenOf, false);
    assert.equal(withMinusInfinity.maskFound, true);
    assert.equal(withMinusInfinity.nonFinite, undefined);
    assert.deepEqual(
      withMinusInfinity.words.map((w) => w.p),
      [0.5, 0],
    );
  });
});

describe('statistics in the model graph', () => {
  // Opset 14 (our export, weight-only int8) and opset 11 (the hub's recipe, dynamic int8), where
  // reductions and Unsqueeze take their axes as attributes.
  for (const [model, quantized] of [
    ['review-bert-small', true],
    ['review-bert-small-xenova', true],
    ['review-bert-small-xenova', false],
  ] as const) {
    test(`${model} ${quantized ? 'int8' : 'fp32'}: the graph's own statistics are those of the separate graphs on its logits, bit for bit`, async () => {
      const graph = previewGraph(fs.readFileSync(modelFile(model, quantized)), { statistics: true });
      const head = graph.statistics;
      assert.ok(head && graph.maskInput && graph.output, 'the mask-only graph gets the statistics');
      const session = await ort.InferenceSession.create(graph.bytes);
      const ids = [101, 2009, 2001, 103, 1012, 102, 101, 103, 999, 102, 0, 0];
      const shape = [2, 6];
      const words = [2307, 2204, 6659, 2919, 0, 30521];
      const output = await session.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), shape),
        attention_mask: new ort.Tensor('int64', BigInt64Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], BigInt), shape),
        token_type_ids: new ort.Tensor('int64', new BigInt64Array(12), shape),
        [graph.maskInput]: new ort.Tensor('int64', BigInt64Array.from([3n, 6n + 1n]), [2]),
        [head.k]: new ort.Tensor('int64', BigInt64Array.from([7n]), [1]),
        [head.words]: new ort.Tensor('int64', BigInt64Array.from(words, BigInt), [words.length]),
      });
      const logits = output[graph.output];
      const [rows, vocabulary] = logits.dims;
      const data = logits.data as Float32Array;
      const separate = await MaskStats.create({});
      assert.ok(separate);
      const stats = await separate.compute(data, rows, vocabulary, 7);
      assert.deepEqual(Array.from(output[head.max].data as Float32Array), Array.from(stats.max));
      assert.deepEqual(Array.from(output[head.sum].data as Float64Array), Array.from(stats.sum));
      assert.deepEqual(Array.from(output[head.top].data as BigInt64Array), Array.from(stats.top));
      assert.deepEqual(
        Array.from(output[head.above].data as Int32Array),
        Array.from((await separate.above(data, rows, vocabulary, words)) ?? []),
      );
      compare(data, rows, vocabulary, words, 7, stats);
    });
  }

  test('more label words than the graph ranks at once: counted after the model calls, the same ranks', async () => {
    const engine = await freshEngine('review-bert-small-xenova');
    const inputs = ['it was [MASK] .', 'the movie is [MASK] !', 'just [MASK] ! a waste of time .', 'a [MASK] film , truly .'];
    const few = [2307, 2204, 6659, 2919];
    // 4 inputs × 40 words × 30,522 logits is above the bound: the graph gets no ids, the separate graph ranks them.
    const many = [...few, ...Array.from({ length: 36 }, (_, i) => 1000 + i * 700)];
    const inGraph = await engine.score(inputs, few, 5);
    engine.clearCache();
    const after = await engine.score(inputs, many, 5);
    assert.equal(engine.stats().cacheEntries, inputs.length);
    for (const [i, scores] of inGraph.entries()) {
      assert.deepEqual(
        scores.words.map((w) => [w.tokenId, w.rank, w.p]),
        after[i].words.slice(0, few.length).map((w) => [w.tokenId, w.rank, w.p]),
      );
      assert.deepEqual(
        scores.top.map((t) => t.tokenId),
        after[i].top.map((t) => t.tokenId),
      );
    }
    // And from the cache (the separate graphs): the same again.
    const cached = await engine.score(inputs, few, 5);
    assert.deepEqual(cached, inGraph);
  });
});

describe('the logits cache', () => {
  test('counts a buffer once while any of its rows is kept', () => {
    const vocabulary = 1000; // 4,000 bytes a row
    const batch = new Float32Array(vocabulary * 4); // 16,000 bytes, four rows
    const cache = new LogitsCache(20_000);
    for (let row = 0; row < 4; row++) cache.set(`b${row}`, batch.subarray(row * vocabulary, (row + 1) * vocabulary));
    assert.equal(cache.size, 4, 'four views of one 16 kB buffer fit in 20 kB');
    // A second buffer does not fit beside the first: the oldest rows go until the first buffer is freed.
    const other = new Float32Array(vocabulary * 2);
    cache.set('c0', other.subarray(0, vocabulary));
    assert.equal(cache.get('b0'), undefined);
    assert.equal(cache.get('b3'), undefined, 'every row of the first buffer went: keeping one would have kept all 16 kB');
    assert.ok(cache.get('c0'));
  });
});
