// The mask-only rewrite of the ONNX graphs (server/src/model/maskOnlyGraph.ts): for every shared
// model and both files, the rewritten graph's row for each input equals the shipped graph's logits
// at that input's mask, on a padded batch, and the engine runs the rewritten graph. Files the
// rewrite does not understand are left alone. (How much faster it is belongs to `npm run bench`.)

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { maskOnlyGraph } from '../../server/src/model/maskOnlyGraph';
import { freshEngine, modelFile } from '../support/directOnnx';

const models = ['review-bert-small', 'tiny-random-bert-uncased', 'tiny-random-bert-cased', 'tiny-random-roberta'];
// (The hub-style exports, *-xenova, are in hubExports.test.ts; every head shape at opsets 11–17 in hubGraphs.test.ts.)

/** Two rows of different lengths (the first padded), masks at different positions; ids valid in every vocabulary here. */
function batch(session: ort.InferenceSession, maskId: number) {
  const rows = [
    [0, 1037, maskId, 2, 1],
    [0, maskId, 2009, 2001, 2],
  ];
  const lengths = [4, 5];
  const masks = [2, 1];
  const shape = [2, 5];
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), shape),
    attention_mask: new ort.Tensor(
      'int64',
      BigInt64Array.from(
        rows.flatMap((row, r) => row.map((_, c) => (c < lengths[r] ? 1 : 0))),
        BigInt,
      ),
      shape,
    ),
  };
  if (session.inputNames.includes('token_type_ids')) feeds['token_type_ids'] = new ort.Tensor('int64', new BigInt64Array(10), shape);
  return { feeds, masks };
}

describe('the mask-only graph', () => {
  for (const model of models) {
    for (const quantized of [false, true]) {
      test(`${model} ${quantized ? 'int8' : 'fp32'}: the rows at the masks, unchanged`, async () => {
        const bytes = fs.readFileSync(modelFile(model, quantized));
        const rewritten = maskOnlyGraph(bytes);
        assert.ok(rewritten, 'the graph ends in MatMul by the vocabulary matrix plus a bias, so it is rewritten');
        const full = await ort.InferenceSession.create(bytes);
        const maskOnly = await ort.InferenceSession.create(rewritten.bytes);
        const maskId = model.includes('roberta') ? 50264 : 103;
        const { feeds, masks } = batch(full, maskId);
        const expected = (await full.run(feeds))['logits'];
        const actual = (
          await maskOnly.run({
            ...feeds,
            // Each row's mask in the batch flattened to [batch × width] rows.
            [rewritten.maskInput]: new ort.Tensor(
              'int64',
              BigInt64Array.from(masks, (mask, row) => BigInt(row * 5 + mask)),
              [2],
            ),
          })
        )[rewritten.output];
        const [, width, vocab] = expected.dims;
        assert.deepEqual(actual.dims, [2, vocab]);
        const e = expected.data as Float32Array;
        const a = actual.data as Float32Array;
        let worst = 0;
        masks.forEach((mask, row) => {
          for (let v = 0; v < vocab; v++) {
            const expectedLogit = e[(row * width + mask) * vocab + v];
            // Relative for large logits: the weight-only int8 file's weights are dequantized at load in the
            // rewritten graph, at each call in the shipped one, and the products' sums differ in the last bits.
            worst = Math.max(worst, Math.abs(a[row * vocab + v] - expectedLogit) / Math.max(1, Math.abs(expectedLogit)));
          }
        });
        assert.ok(worst <= 1e-5, `largest difference ${worst}`);
      });
    }
  }

  test('the engine runs it, and says so', async () => {
    const engine = await freshEngine('tiny-random-bert-uncased', { quantized: true });
    assert.equal(engine.info.graph, 'mask-only');
    assert.equal(engine.batching.batchSize > 4, true, 'mask-only batches are large');
  });

  test('bytes that are not a graph it understands are left alone', () => {
    assert.equal(maskOnlyGraph(new TextEncoder().encode('this is not an ONNX file')), undefined);
    const bytes = fs.readFileSync(modelFile('tiny-random-bert-uncased'));
    assert.equal(maskOnlyGraph(bytes.subarray(0, 1000)), undefined, 'a truncated file');
  });
});
