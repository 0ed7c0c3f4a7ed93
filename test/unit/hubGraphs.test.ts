// The preview graph (server/src/model/maskOnlyGraph.ts) on every head shape of hub exports, built
// here as random-weight ONNX graphs (test/support/fixtureGraphs.ts) at opsets 11–18, fp32 and
// dynamic int8, with and without token_type_ids: the rewrite applies, its rows equal the full
// graph's at the masks, an input's numbers are bit-identical alone and in any padded batch, and a
// graph it does not know runs in full with the reason said.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { previewGraph } from '../../server/src/model/maskOnlyGraph';
import { readGraph } from '../../server/src/model/onnxGraph';
import { bytesField, concat, int, readFields, str, text } from '../../server/src/model/onnxProto';
import { fixtureModel, type Head, takesTokenTypes } from '../support/fixtureGraphs';

const heads: Head[] = ['bert', 'roberta', 'distilbert', 'albert'];
const opsets = [11, 12, 13, 14, 15, 17, 18];
const options: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };

/** Three inputs of different lengths, masks (any id: the weights are random) at different positions. */
const INPUTS = [
  { ids: [1, 17, 42, 9, 250, 2], mask: 3 },
  { ids: [1, 5, 2], mask: 1 },
  { ids: [1, 88, 23, 77, 64, 31, 12, 199, 2], mask: 7 },
];

function feeds(session: ort.InferenceSession, batch: readonly { ids: number[] }[], pad: number): Record<string, ort.Tensor> {
  const width = Math.max(...batch.map((x) => x.ids.length));
  const shape = [batch.length, width];
  const ids = new BigInt64Array(batch.length * width).fill(BigInt(pad));
  const attention = new BigInt64Array(batch.length * width);
  batch.forEach((x, row) =>
    x.ids.forEach((id, column) => {
      ids[row * width + column] = BigInt(id);
      attention[row * width + column] = 1n;
    }),
  );
  const out: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, shape),
    attention_mask: new ort.Tensor('int64', attention, shape),
  };
  if (session.inputNames.includes('token_type_ids')) out['token_type_ids'] = new ort.Tensor('int64', new BigInt64Array(ids.length), shape);
  return out;
}

/** The mask rows of a batch from a full graph ([batch, width, vocabulary]). */
async function fullRows(session: ort.InferenceSession, batch: typeof INPUTS): Promise<Float32Array[]> {
  const logits = (await session.run(feeds(session, batch, 0)))['logits'];
  const [, width, vocab] = logits.dims;
  const data = logits.data as Float32Array;
  return batch.map((x, row) => data.slice((row * width + x.mask) * vocab, (row * width + x.mask + 1) * vocab));
}

/** The rows of a batch from a mask-only graph. */
async function maskRows(
  session: ort.InferenceSession,
  graph: ReturnType<typeof previewGraph>,
  batch: typeof INPUTS,
): Promise<Float32Array[]> {
  const width = Math.max(...batch.map((x) => x.ids.length));
  const positions = BigInt64Array.from(batch, (x, row) => BigInt(row * width + x.mask));
  const all = feeds(session, batch, 0);
  all[graph.maskInput ?? ''] = new ort.Tensor('int64', positions, [batch.length]);
  const logits = (await session.run(all))[graph.output ?? ''];
  assert.equal(logits.dims.length, 2);
  const vocab = logits.dims[1];
  const data = logits.data as Float32Array;
  return batch.map((_, row) => data.slice(row * vocab, (row + 1) * vocab));
}

function largestDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function spread(row: Float32Array): number {
  return Math.max(...row) - Math.min(...row);
}

describe('the preview graph on hub-shaped exports', () => {
  for (const head of heads) {
    for (const opset of opsets) {
      for (const int8 of [false, true]) {
        const name = `${head}, opset ${opset}, ${int8 ? 'dynamic int8' : 'fp32'}${takesTokenTypes(head) ? ', token types' : ''}`;
        test(`${name}: mask-only, the full graph's rows, batch-invariant`, async () => {
          const bytes = fixtureModel({ head, opset, int8 });
          const graph = previewGraph(bytes);
          assert.equal(graph.graph, 'mask-only', graph.reason);
          assert.equal(graph.precision, int8 ? 'int8-dynamic-per-token' : 'fp32');
          assert.equal(graph.quantizationReason, undefined);
          // Gathered before the last layer's token-wise part: at the attention's output and at the residual.
          const gathers = readGraph(graph.bytes).nodes.filter((n) => n.op === 'Gather' && n.inputs.includes(graph.maskInput ?? ''));
          assert.equal(gathers.length, 2);
          const shipped = await ort.InferenceSession.create(bytes, options);
          const maskOnly = await ort.InferenceSession.create(graph.bytes, options);
          const rows = await maskRows(maskOnly, graph, INPUTS);

          // The same rows as the full graph (for int8: the full graph with the same per-token quantizers).
          const reference = int8 ? await ort.InferenceSession.create(previewGraph(bytes, { maskOnly: false }).bytes, options) : shipped;
          const expected = await fullRows(reference, INPUTS);
          rows.forEach((row, i) =>
            assert.ok(largestDifference(row, expected[i]) <= 1e-5, `row ${i}: ${largestDifference(row, expected[i])}`),
          );

          if (int8) {
            // As near the float32 model of the same weights as the file as shipped is, run one unpadded
            // input at a time (its own per-input activation scale, what transformers.js computes).
            const float = await ort.InferenceSession.create(fixtureModel({ head, opset, int8: false }), options);
            const exact = await fullRows(float, INPUTS);
            for (const [i, input] of INPUTS.entries()) {
              const [alone] = await fullRows(shipped, [input]);
              const ours = largestDifference(rows[i], exact[i]);
              const theirs = largestDifference(alone, exact[i]);
              assert.ok(ours <= 1.5 * theirs + 0.01 * spread(exact[i]), `row ${i}: ${ours} from float32, the shipped file alone ${theirs}`);
            }
          }

          // Bit-identical alone, and in two other batches (other neighbours, other padding, other place).
          const [alone] = await maskRows(maskOnly, graph, [INPUTS[0]]);
          const [first] = await maskRows(maskOnly, graph, [INPUTS[0], INPUTS[1]]);
          const [, second] = await maskRows(maskOnly, graph, [INPUTS[2], INPUTS[0], INPUTS[1]]);
          assert.deepEqual(first, alone);
          assert.deepEqual(second, alone);
        });
      }
    }
  }

  // The softmax statistics the engine appends to the mask-only graph, at the opsets where their axes
  // change from attributes to inputs (13 for ReduceSum, Squeeze and Unsqueeze; 18 for the quantizers'
  // ReduceMax and ReduceMin), against the same run's logits.
  for (const head of heads) {
    for (const opset of [11, 13, 17, 18]) {
      for (const int8 of [false, true]) {
        test(`${head}, opset ${opset}, ${int8 ? 'dynamic int8' : 'fp32'}: the statistics in the graph are those of its logits`, async () => {
          const graph = previewGraph(fixtureModel({ head, opset, int8 }), { statistics: true });
          const stats = graph.statistics;
          assert.ok(stats, graph.reason);
          const session = await ort.InferenceSession.create(graph.bytes, options);
          const width = Math.max(...INPUTS.map((x) => x.ids.length));
          const all = feeds(session, INPUTS, 0);
          all[graph.maskInput ?? ''] = new ort.Tensor(
            'int64',
            BigInt64Array.from(INPUTS, (x, row) => BigInt(row * width + x.mask)),
            [INPUTS.length],
          );
          const k = 3;
          all[stats.k] = new ort.Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]);
          const out = await session.run({ ...all, [stats.words]: new ort.Tensor('int64', BigInt64Array.from([0n, 5n, 9n]), [3]) });
          const logits = out[graph.output ?? ''];
          const vocab = logits.dims[1];
          const data = logits.data as Float32Array;
          INPUTS.forEach((_, row) => {
            const values = Array.from(data.subarray(row * vocab, (row + 1) * vocab));
            const max = Math.max(...values);
            assert.equal((out[stats.max].data as Float32Array)[row], max);
            const sum = values.reduce((total, v) => total + Math.exp(v - max), 0);
            assert.ok(Math.abs((out[stats.sum].data as Float64Array)[row] - sum) <= 1e-6 * sum);
            const order = values.map((v, id) => ({ v, id })).sort((a, b) => b.v - a.v || a.id - b.id);
            assert.deepEqual(
              Array.from((out[stats.top].data as BigInt64Array).subarray(row * k, (row + 1) * k), Number),
              order.slice(0, k).map((x) => x.id),
            );
            assert.deepEqual(
              Array.from((out[stats.above].data as Int32Array).subarray(row * 3, (row + 1) * 3)),
              [0, 5, 9].map((id) => values.filter((v) => v > values[id]).length),
            );
          });
        });
      }
    }
  }

  test('with the per-batch quantizers of the shipped int8 file, the numbers did depend on the batch (what the rewrite fixes)', async () => {
    const bytes = fixtureModel({ head: 'bert', opset: 11, int8: true });
    const shipped = await ort.InferenceSession.create(bytes, options);
    const [alone] = await fullRows(shipped, [INPUTS[0]]);
    const [batched] = await fullRows(shipped, [INPUTS[0], INPUTS[2]]);
    assert.ok(largestDifference(alone, batched) > 0, 'one activation scale over the batch');
  });

  for (const int8 of [false, true]) {
    test(`a graph it does not know (${int8 ? 'int8' : 'fp32'}: Softmax after the logits) runs in full, and says why`, async () => {
      const bytes = fixtureModel({ head: 'bert', opset: 14, int8, unhandled: true });
      const graph = previewGraph(bytes);
      assert.equal(graph.graph, 'full');
      assert.match(graph.reason ?? '', /computed by Softmax, not by a MatMul/);
      assert.equal(graph.maskInput, undefined);
      // Still batch-invariant: the quantizers are per token even in the full graph.
      assert.equal(graph.precision, int8 ? 'int8-dynamic-per-token' : 'fp32');
      const session = await ort.InferenceSession.create(graph.bytes, options);
      const [alone] = await fullRows(session, [INPUTS[0]]);
      const [batched] = await fullRows(session, [INPUTS[2], INPUTS[0]].reverse());
      assert.deepEqual(batched, alone);
    });
  }

  test('dynamic int8 quantizers it does not know: the full graph, per-input precision, and why', () => {
    const graph = previewGraph(fixtureModel({ head: 'bert', opset: 11, int8: true, oddScales: true }));
    assert.equal(graph.graph, 'full');
    assert.match(graph.reason ?? '', /activation scale/);
    assert.equal(graph.precision, 'int8-dynamic-per-input');
    assert.match(graph.quantizationReason ?? '', /read by Div, not by Mul/);
  });

  test('per-token quantizers: one com.microsoft QuantizeLinear each, no copy of |x|, the domain imported once', async () => {
    const shipped = fixtureModel({ head: 'bert', opset: 11, int8: true });
    // The same file with ONNX Runtime's domain already imported (as files with contrib operators have it).
    const importing = concat([shipped, bytesField(8, concat([str(1, 'com.microsoft'), int(2, 1)]))]);
    for (const bytes of [shipped, importing]) {
      const quantizers = readGraph(bytes).nodes.filter((n) => n.op === 'DynamicQuantizeLinear').length;
      assert.ok(quantizers > 0);
      const graph = previewGraph(bytes);
      const nodes = readGraph(graph.bytes).nodes;
      assert.equal(nodes.filter((n) => n.op === 'QuantizeLinear' && n.domain === 'com.microsoft').length, quantizers);
      assert.equal(nodes.filter((n) => n.op === 'DynamicQuantizeLinear' || n.op === 'Abs').length, 0);
      const imports = readFields(graph.bytes, 0, graph.bytes.length)
        .filter((f) => f.field === 8 && f.wire === 2)
        .map((f) =>
          text(
            graph.bytes,
            readFields(graph.bytes, f.start, f.end).find((p) => p.field === 1),
          ),
        );
      assert.deepEqual(
        imports.filter((domain) => domain === 'com.microsoft'),
        ['com.microsoft'],
      );
      await ort.InferenceSession.create(graph.bytes, options);
    }
  });

  test('bytes that are not a model run as they are, with the reason', () => {
    const junk = new TextEncoder().encode('this is not an ONNX file');
    const graph = previewGraph(junk);
    assert.equal(graph.graph, 'full');
    assert.equal(graph.bytes, junk);
    assert.match(graph.reason ?? '', /could not be read as an ONNX model/);
  });
});
