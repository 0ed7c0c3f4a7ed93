import * as ort from 'onnxruntime-node';
import {
  attribute,
  ELEM_DOUBLE,
  ELEM_FLOAT,
  ELEM_INT32,
  ELEM_INT64,
  ELEM_UINT8,
  int64Tensor,
  node,
  onnxModel,
  tensorAttribute,
  uint8Tensor,
  valueInfo,
} from './onnxProto';
import { nameMaker, newNode, type OnnxGraph } from './onnxGraph';

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
 * The same nodes serve twice: appended to the model's mask-only graph
 * (`appendMaskStatistics`, at the file's opset), where each batch's call
 * returns them beside its logits; and as two standalone graphs (opset 13,
 * built here from nothing) for rows that come from the cache and for ranks too
 * many for one call.
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

/** One node, as both the standalone graphs here and the model's own graph (`appendMaskStatistics`) write it. */
interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name: string;
  readonly attributes: readonly Uint8Array[];
}

interface Specs {
  readonly nodes: NodeSpec[];
  readonly initializers: Uint8Array[];
}

/**
 * Axes of a reduction or an Unsqueeze over one axis: an attribute before the
 * opset that made them an input (13 for ReduceSum and Unsqueeze), else an
 * int64 initializer.
 */
function axesOf(
  opset: number,
  inputFrom: number,
  axis: number,
  fresh: (base: string) => string,
  specs: Specs,
): { inputs: string[]; attributes: Uint8Array[] } {
  if (opset < inputFrom) return { inputs: [], attributes: [attribute('axes', [axis])] };
  const name = fresh(`cloze_axis_${axis}`);
  specs.initializers.push(int64Tensor(name, [axis]));
  return { inputs: [name], attributes: [] };
}

/** Row maximum, Σ exp(logit − max) in float64 and the top k, of `logits` [rows, vocabulary]. */
function softmaxSpecs(
  opset: number,
  fresh: (base: string) => string,
  logits: string,
  k: string,
  out: { max: string; sum: string; top: string },
  specs: Specs,
): void {
  const spec = (op: string, inputs: string[], outputs: string[], attributes: Uint8Array[] = []): void => {
    specs.nodes.push({ op, inputs, outputs, name: fresh(`cloze_stats_${op}`), attributes });
  };
  const [topValues, shifted, exps32, exps] = ['top_values', 'shifted', 'exps32', 'exps'].map((base) => fresh(`cloze_stats_${base}`));
  spec('TopK', [logits, k], [topValues, out.top], [attribute('axis', 1), attribute('largest', 1), attribute('sorted', 1)]);
  // The row's maximum is TopK's first value (k ≥ 1, sorted): one pass over the vocabulary fewer than ReduceMax.
  const first = fresh('cloze_stats_first');
  specs.initializers.push(int64Tensor(first, [0]));
  spec('Gather', [topValues, first], [out.max], [attribute('axis', 1)]);
  spec('Sub', [logits, out.max], [shifted]);
  spec('Exp', [shifted], [exps32]);
  spec('Cast', [exps32], [exps], [attribute('to', ELEM_DOUBLE)]);
  const sumAxes = axesOf(opset, 13, 1, fresh, specs);
  spec('ReduceSum', [exps, ...sumAxes.inputs], [out.sum], [...sumAxes.attributes, attribute('keepdims', 0)]);
}

/** For each row of `logits` [rows, vocabulary] and each id of `words` [words], how many logits are larger than the word's own. */
function ranksSpecs(opset: number, fresh: (base: string) => string, logits: string, words: string, above: string, specs: Specs): void {
  const spec = (op: string, inputs: string[], outputs: string[], attributes: Uint8Array[] = []): void => {
    specs.nodes.push({ op, inputs, outputs, name: fresh(`cloze_ranks_${op}`), attributes });
  };
  const [own, thresholds, values, larger, flags, shape, vocabulary, onesShape, ones, counts] = [
    'own',
    'thresholds',
    'values',
    'larger',
    'flags',
    'shape',
    'vocabulary',
    'ones_shape',
    'ones',
    'counts',
  ].map((base) => fresh(`cloze_ranks_${base}`));
  const [from, to, axis0, column] = ['from', 'to', 'axis0', 'column'].map((base) => fresh(`cloze_ranks_${base}`));
  specs.initializers.push(int64Tensor(from, [1]), int64Tensor(to, [2]), int64Tensor(axis0, [0]), int64Tensor(column, [1]));
  spec('Gather', [logits, words], [own], [attribute('axis', 1)]);
  const wordAxis = axesOf(opset, 13, 2, fresh, specs);
  spec('Unsqueeze', [own, ...wordAxis.inputs], [thresholds], wordAxis.attributes);
  const rowAxis = axesOf(opset, 13, 1, fresh, specs);
  spec('Unsqueeze', [logits, ...rowAxis.inputs], [values], rowAxis.attributes);
  spec('Greater', [values, thresholds], [larger]);
  // Counted as a product with a column of ones, [rows, words, vocabulary] uint8 × [vocabulary, 1] → int32.
  spec('Cast', [larger], [flags], [attribute('to', ELEM_UINT8)]);
  spec('Shape', [logits], [shape]);
  spec('Slice', [shape, from, to, axis0], [vocabulary]);
  spec('Concat', [vocabulary, column], [onesShape], [attribute('axis', 0)]);
  spec('ConstantOfShape', [onesShape], [ones], [tensorAttribute('value', uint8Tensor('one', [1]))]);
  spec('MatMulInteger', [flags, ones], [counts]);
  const countAxis = axesOf(opset, 13, 2, fresh, specs);
  spec('Squeeze', [counts, ...countAxis.inputs], [above], countAxis.attributes);
}

function standalone(name: string, build: (specs: Specs) => void, inputs: Uint8Array[], outputs: Uint8Array[]): Uint8Array {
  const specs: Specs = { nodes: [], initializers: [] };
  build(specs);
  return onnxModel(OPSET, {
    name,
    nodes: specs.nodes.map((n) => node(n.op, n.inputs, n.outputs, n.name, n.attributes)),
    initializers: specs.initializers,
    inputs,
    outputs,
  });
}

/** Names for a graph built from nothing: each base as it is, numbered on a repeat. */
function counter(): (base: string) => string {
  const used = new Map<string, number>();
  return (base) => {
    const n = used.get(base) ?? 0;
    used.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  };
}

function statsModel(): Uint8Array {
  return standalone(
    'cloze_mask_stats',
    (specs) => softmaxSpecs(OPSET, counter(), 'logits', 'k', { max: 'max', sum: 'sum', top: 'top' }, specs),
    [valueInfo('logits', ELEM_FLOAT, ['rows', 'vocabulary']), valueInfo('k', ELEM_INT64, [1])],
    [valueInfo('max', ELEM_FLOAT, ['rows', 1]), valueInfo('sum', ELEM_DOUBLE, ['rows']), valueInfo('top', ELEM_INT64, ['rows', 'k'])],
  );
}

/**
 * The ranks of chosen tokens in each row: 1 + how many logits are larger than
 * the token's own (`Greater` over [rows, words, vocabulary], counted by
 * `MatMulInteger` with a column of ones: the flags stay one byte each, where a
 * cast to int32 and `ReduceSum` wrote four and took about twice as long,
 * 64–86 against 28–49 µs a row of BERT's vocabulary for four words).
 * Why: counting in JavaScript took 0.1–0.2 ms a row for four label words on
 * review-bert-small-xenova (a pass over 30,522 logits per word once the
 * lowest word ranks far down), as much as a fifth of the model's own time per
 * input; this graph takes about a third of that. The [rows, words, vocabulary]
 * intermediate is why the caller runs it on a few rows at a time.
 */
function ranksModel(): Uint8Array {
  return standalone(
    'cloze_mask_ranks',
    (specs) => ranksSpecs(OPSET, counter(), 'logits', 'words', 'above', specs),
    [valueInfo('logits', ELEM_FLOAT, ['rows', 'vocabulary']), valueInfo('words', ELEM_INT64, ['words'])],
    [valueInfo('above', ELEM_INT32, ['rows', 'words'])],
  );
}

/** The inputs and outputs `appendMaskStatistics` adds to a mask-only graph. */
export interface StatisticsHead {
  /** int64 [1]: how many top ids to return. */
  readonly k: string;
  /** int64 [words]: the ids to rank (each within the row). */
  readonly words: string;
  /** float32 [batch, 1]. */
  readonly max: string;
  /** float64 [batch]. */
  readonly sum: string;
  /** int64 [batch, k]. */
  readonly top: string;
  /** int32 [batch, words]. */
  readonly above: string;
}

/**
 * Adds the softmax statistics and the ranks to a mask-only graph, on its
 * logits [batch, vocabulary], as more outputs beside the logits. Why in the
 * model's graph rather than in the separate graphs above: in one call the
 * statistics read each batch's logits while they are still in the cache, and
 * no second session runs between model calls. Undefined below opset 11 (TopK's
 * `largest` attribute); the caller then uses the separate graphs.
 */
export function appendMaskStatistics(graph: OnnxGraph, logits: string): StatisticsHead | undefined {
  if (graph.opset < 11) return undefined;
  const fresh = nameMaker(graph);
  const head: StatisticsHead = {
    k: fresh('cloze_top_k'),
    words: fresh('cloze_rank_words'),
    max: fresh('cloze_logits_max'),
    sum: fresh('cloze_exp_sum'),
    top: fresh('cloze_top_ids'),
    above: fresh('cloze_rank_above'),
  };
  const specs: Specs = { nodes: [], initializers: [] };
  softmaxSpecs(graph.opset, fresh, logits, head.k, head, specs);
  ranksSpecs(graph.opset, fresh, logits, head.words, head.above, specs);
  graph.nodes.push(...specs.nodes.map((n) => newNode(n.op, n.inputs, n.outputs, n.name, n.attributes)));
  graph.newInitializers.push(...specs.initializers);
  graph.newInputs.push(valueInfo(head.k, ELEM_INT64, [1]), valueInfo(head.words, ELEM_INT64, ['words']));
  graph.newOutputs.push(
    valueInfo(head.max, ELEM_FLOAT, ['batch', 1]),
    valueInfo(head.sum, ELEM_DOUBLE, ['batch']),
    valueInfo(head.top, ELEM_INT64, ['batch', 'k']),
    valueInfo(head.above, ELEM_INT32, ['batch', 'words']),
  );
  return head;
}

/** Most entries of the ranks graph's [rows, words, vocabulary] intermediates in one call (4 words × 32 rows of BERT's vocabulary: two of 3.9 MB, the comparison and its uint8 cast). */
export const RANK_CELLS = 4 * 32 * 30_522;

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
    // No rows, no call: onnxruntime 1.14 dies of a floating-point exception (SIGFPE) on a [0, vocabulary] input here.
    if (rows === 0) return { max: new Float32Array(0), sum: new Float64Array(0), top: new BigInt64Array(0), k: count };
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
