import * as ort from 'onnxruntime-node';
import { attribute, ELEM_DOUBLE, ELEM_FLOAT, ELEM_INT32, ELEM_INT64, int64Tensor, node, onnxModel, valueInfo } from './onnxProto';

/**
 * The softmax statistics of logits rows, computed by ONNX Runtime rather than
 * in JavaScript: for each row its maximum, Σ exp(logit − max), and the ids of
 * its k largest logits (largest first, the lower id first on a tie, as ONNX's
 * TopK defines). A probability is then one `exp(logit − max) / sum`, in
 * float64. The terms of the sum are float32 (ONNX Runtime's vectorised Exp)
 * and added in float64, so neither a large logit overflows nor 30,000 small
 * terms are lost; the sum is within 1e-7 (relative) of an all-float64 one.
 *
 * Why: a JavaScript loop of 30,522 `Math.exp` took about 0.3 ms a row on the
 * 2-core test machine, a fifth of review-bert-small's own time per input; this
 * graph takes about 0.03 ms (0.11 ms with the exponentials in float64).
 *
 * The graph is built here (opset 13) from nothing; it depends on no model.
 */

export interface RowStats {
  /** The largest logit of each row. */
  readonly max: Float32Array;
  /** Σ exp(logit − max) over each row: the terms in float32, their sum in float64. */
  readonly sum: Float64Array;
  /** `k` ids per row, row after row. */
  readonly top: BigInt64Array;
  readonly k: number;
}

const OPSET = 13;

function statsModel(): Uint8Array {
  return onnxModel(OPSET, {
    name: 'cloze_mask_stats',
    nodes: [
      node('TopK', ['logits', 'k'], ['top_values', 'top'], 'top_k', [
        attribute('axis', 1),
        attribute('largest', 1),
        attribute('sorted', 1),
      ]),
      node('ReduceMax', ['logits'], ['max'], 'max', [attribute('axes', [1]), attribute('keepdims', 1)]),
      node('Sub', ['logits', 'max'], ['shifted'], 'shift'),
      node('Exp', ['shifted'], ['exps32'], 'exp'),
      node('Cast', ['exps32'], ['exps'], 'to_double', [attribute('to', ELEM_DOUBLE)]),
      node('ReduceSum', ['exps', 'row_axis'], ['sum'], 'sum', [attribute('keepdims', 0)]),
    ],
    initializers: [int64Tensor('row_axis', [1])],
    inputs: [valueInfo('logits', ELEM_FLOAT, ['rows', 'vocabulary']), valueInfo('k', ELEM_INT64, [1])],
    outputs: [
      valueInfo('max', ELEM_FLOAT, ['rows', 1]),
      valueInfo('sum', ELEM_DOUBLE, ['rows']),
      valueInfo('top', ELEM_INT64, ['rows', 'k']),
    ],
  });
}

/**
 * The ranks of chosen tokens in each row: 1 + how many logits are larger than
 * the token's own (`Greater` over [rows, words, vocabulary], summed in int32).
 * Why: counting in JavaScript took 0.1–0.2 ms a row for four label words on
 * review-bert-small-xenova (a pass over 30,522 logits per word once the
 * lowest word ranks far down), as much as a fifth of the model's own time per
 * input; this graph takes about a third of that. The [rows, words, vocabulary]
 * intermediate is why the caller runs it on a few rows at a time.
 */
function ranksModel(): Uint8Array {
  return onnxModel(OPSET, {
    name: 'cloze_mask_ranks',
    nodes: [
      node('Gather', ['logits', 'words'], ['own'], 'own', [attribute('axis', 1)]),
      node('Unsqueeze', ['own', 'word_axis'], ['thresholds'], 'thresholds'),
      node('Unsqueeze', ['logits', 'row_axis'], ['values'], 'values'),
      node('Greater', ['values', 'thresholds'], ['larger'], 'larger'),
      node('Cast', ['larger'], ['counts'], 'count', [attribute('to', ELEM_INT32)]),
      node('ReduceSum', ['counts', 'word_axis'], ['above'], 'above', [attribute('keepdims', 0)]),
    ],
    initializers: [int64Tensor('row_axis', [1]), int64Tensor('word_axis', [2])],
    inputs: [valueInfo('logits', ELEM_FLOAT, ['rows', 'vocabulary']), valueInfo('words', ELEM_INT64, ['words'])],
    outputs: [valueInfo('above', ELEM_INT32, ['rows', 'words'])],
  });
}

/** Most entries of the ranks graph's [rows, words, vocabulary] intermediate in one call (4 words × 32 rows of BERT's vocabulary: 16 MB as int32). */
const RANK_CELLS = 4 * 32 * 30_522;

export class MaskStats {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly ranksSession: ort.InferenceSession | undefined,
  ) {}

  /** Undefined when ONNX Runtime cannot run the graph (the caller then computes in JavaScript). */
  static async create(options: ort.InferenceSession.SessionOptions): Promise<MaskStats | undefined> {
    try {
      const session = await ort.InferenceSession.create(statsModel(), options);
      const ranks = await ort.InferenceSession.create(ranksModel(), options).catch(() => undefined);
      return new MaskStats(session, ranks);
    } catch {
      return undefined;
    }
  }

  /**
   * For each of `rows` rows of `vocabulary` logits, the number of logits larger
   * than each word's own (row after row, `wordIds.length` a row); undefined when
   * the graph is unavailable. Every id must be within the vocabulary.
   */
  async above(data: Float32Array, rows: number, vocabulary: number, wordIds: readonly number[]): Promise<Int32Array | undefined> {
    if (!this.ranksSession || wordIds.length === 0 || rows === 0) return undefined;
    const out = new Int32Array(rows * wordIds.length);
    const words = new ort.Tensor(
      'int64',
      BigInt64Array.from(wordIds, (id) => BigInt(id)),
      [wordIds.length],
    );
    const step = Math.max(1, Math.floor(RANK_CELLS / (wordIds.length * vocabulary)));
    for (let start = 0; start < rows; start += step) {
      const count = Math.min(step, rows - start);
      const logits = new ort.Tensor('float32', data.subarray(start * vocabulary, (start + count) * vocabulary), [count, vocabulary]);
      const result = await this.ranksSession.run({ logits, words });
      out.set(result['above'].data as Int32Array, start * wordIds.length);
    }
    return out;
  }

  /** The statistics of `rows` rows of `vocabulary` logits each, stored row after row in `data`; `k` is at least 1. */
  async compute(data: Float32Array, rows: number, vocabulary: number, k: number): Promise<RowStats> {
    const count = Math.max(1, Math.min(Math.floor(k), vocabulary));
    const outputs = await this.session.run({
      logits: new ort.Tensor('float32', data.length === rows * vocabulary ? data : data.subarray(0, rows * vocabulary), [rows, vocabulary]),
      k: new ort.Tensor('int64', BigInt64Array.from([BigInt(count)]), [1]),
    });
    return {
      max: outputs['max'].data as Float32Array,
      sum: outputs['sum'].data as Float64Array,
      top: outputs['top'].data as BigInt64Array,
      k: count,
    };
  }
}
