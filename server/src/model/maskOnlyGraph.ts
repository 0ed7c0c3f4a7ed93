/**
 * The graph the preview runs, made from the model file at load:
 *
 * 1. **Logits at the mask only.** The ONNX files exported for transformers.js
 *    end in `logits = X·W (+ b)` with X the hidden states at every position
 *    ([batch, length, hidden]) and W the vocabulary projection ([hidden,
 *    vocabulary]). That last product is most of the work (for
 *    review-bert-small 7.8 M of the ~11 M multiply-adds per token) and most
 *    of the memory traffic (a 120 KB row per token), yet the preview reads one
 *    row per input: the one at the mask. The rewrite gathers X at one row per
 *    input first, given as a new int64 input `[batch]` of positions in the
 *    batch flattened to [batch × length] (`row × length + mask`; Flatten and
 *    Gather, so it works from opset 11, as hub exports are):
 *
 *      logits[b, :] = X[b, mask[b], :]·W (+ b)        shape [batch, vocabulary]
 *
 *    The projection may be a plain `MatMul` by a constant (fp32 files, and
 *    weight-only int8 ones whose W is `DequantizeLinear` of int8), or the
 *    dynamic-int8 form of onnxruntime's `quantize_dynamic`
 *    (`DynamicQuantizeLinear → MatMulInteger → Cast → Mul`), in which case X
 *    is gathered before it is quantized. The same holds for every head that
 *    transformers.js fill-mask models use: BERT and RoBERTa/XLM-R
 *    (`cls.predictions`/`lm_head`: dense → gelu → LayerNorm → decoder),
 *    DistilBERT (`vocab_projector`), ALBERT (decoder from the smaller
 *    embedding size): all end in that product plus a bias.
 * 2. **Per-token activation quantization** (`perTokenQuantization.ts`), so
 *    dynamic-int8 numbers do not depend on the batch.
 * 3. **Weight-only int8 dequantized at load** (`foldDequantization.ts`), for
 *    the same reason and for speed.
 * 4. **The softmax statistics in the same graph** (option `statistics`, what
 *    the engine runs; `appendMaskStatistics` in `maskStats.ts`): each row's
 *    maximum, Σ exp, top k and the ranks of given ids as more outputs.
 *
 * Every other node is untouched. The rewrite works on the protobuf bytes
 * directly (`onnxGraph.ts`, no ONNX library): the initializers, nearly all of
 * the file, are copied as they are. When a step cannot apply, the answer says
 * why, and the caller runs the graph without it.
 */

import { ELEM_FLOAT, ELEM_INT64, valueInfo, attribute, readFields } from './onnxProto';
import {
  attributeFields,
  constantTest,
  type GraphNode,
  intAttribute,
  intsAttribute,
  nameMaker,
  newNode,
  type OnnxGraph,
  readGraph,
  wiring,
  writeGraph,
} from './onnxGraph';
import { foldWeightDequantization } from './foldDequantization';
import { perTokenQuantization, type Precision, precisionOf } from './perTokenQuantization';
import { appendMaskStatistics, type StatisticsHead } from './maskStats';

export type { Precision } from './perTokenQuantization';

export interface MaskOnlyGraph {
  /** The rewritten model, to give to `InferenceSession.create`. */
  readonly bytes: Uint8Array;
  /** The new int64 input: each row's mask position in the flattened batch (`row × length + mask`), shape [batch]. */
  readonly maskInput: string;
  /** The graph's output, now [batch, vocabulary]. */
  readonly output: string;
}

/** The graph to run for previews, and what it is. */
export interface PreviewGraph {
  /** The model to give to `InferenceSession.create` (the file's bytes when nothing was rewritten). */
  readonly bytes: Uint8Array;
  readonly graph: 'mask-only' | 'full';
  /** Set when `graph` is `mask-only`. */
  readonly maskInput?: string;
  /** The logits output: [batch, vocabulary] on the mask-only graph, [batch, length, vocabulary] on the full one. */
  readonly output?: string;
  readonly precision: Precision;
  /** Why the graph is `full`. */
  readonly reason?: string;
  /** Why dynamic quantization stays per input (then only one input may run per call). */
  readonly quantizationReason?: string;
  /** The softmax statistics and ranks computed in the same graph (option `statistics`, mask-only graphs). */
  readonly statistics?: StatisticsHead;
  /** Why a mask-only graph asked for them has no statistics (they are then computed after the model calls). */
  readonly statisticsReason?: string;
}

export interface PreviewGraphOptions {
  /** false: keep the full graph (still with per-token quantization). */
  readonly maskOnly?: boolean;
  /**
   * true: the mask-only graph also returns each row's softmax statistics and
   * the ranks of given ids (`appendMaskStatistics`), what the engine runs;
   * false (the default): logits only, as the benchmark's limit runs.
   */
  readonly statistics?: boolean;
}

/** The graph to run for previews; never throws. */
export function previewGraph(model: Uint8Array, options: PreviewGraphOptions = {}): PreviewGraph {
  let graph: OnnxGraph;
  try {
    graph = readGraph(model);
  } catch (error) {
    return { bytes: model, graph: 'full', precision: 'fp32', reason: `the file could not be read as an ONNX model (${message(error)})` };
  }
  const precisionBefore = precisionOf(graph, false);
  try {
    const folded = foldWeightDequantization(graph);
    const maskOnly =
      options.maskOnly === false ? { ok: false as const, reason: 'the mask-only graph was turned off' } : gatherAtMask(graph);
    const perToken = perTokenQuantization(graph);
    const statistics =
      maskOnly.ok && options.statistics === true ? withoutFailing(() => appendMaskStatistics(graph, maskOnly.output)) : undefined;
    const statisticsReason = statistics && !statistics.ok ? `they could not be added to the graph (${statistics.reason})` : undefined;
    const changed = folded > 0 || maskOnly.ok || (perToken.ok && perToken.rewritten > 0);
    const bytes = changed ? writeGraph(graph) : model;
    const precision = precisionBefore === 'int8-dynamic-per-input' && perToken.ok ? 'int8-dynamic-per-token' : precisionBefore;
    return {
      bytes,
      graph: maskOnly.ok ? 'mask-only' : 'full',
      ...(maskOnly.ok ? { maskInput: maskOnly.maskInput, output: maskOnly.output } : { reason: maskOnly.reason }),
      precision,
      ...(perToken.ok ? {} : { quantizationReason: perToken.reason }),
      ...(statistics?.ok ? { statistics: statistics.value } : {}),
      ...(statisticsReason !== undefined ? { statisticsReason } : {}),
    };
  } catch (error) {
    return {
      bytes: model,
      graph: 'full',
      precision: precisionBefore,
      reason: `the graph could not be rewritten (${message(error)})`,
      ...(precisionBefore === 'int8-dynamic-per-input' ? { quantizationReason: 'the graph could not be rewritten' } : {}),
    };
  }
}

/**
 * The statistics are an addition: should building them fail, the graph goes
 * on without them (the engine then uses the separate graphs) rather than
 * falling back to the file as shipped. `appendMaskStatistics` changes the
 * graph only after everything it adds is built.
 */
function withoutFailing<T>(build: () => T | undefined): { ok: true; value: T } | { ok: false; reason: string } {
  try {
    const value = build();
    return value === undefined ? { ok: false, reason: 'the file’s opset is below 11' } : { ok: true, value };
  } catch (error) {
    return { ok: false, reason: message(error) };
  }
}

/** The mask-only graph alone, or undefined when the file's graph does not allow it. */
export function maskOnlyGraph(model: Uint8Array): MaskOnlyGraph | undefined {
  const made = previewGraph(model);
  return made.graph === 'mask-only' && made.maskInput && made.output
    ? { bytes: made.bytes, maskInput: made.maskInput, output: made.output }
    : undefined;
}

type Gathered =
  { readonly ok: true; readonly maskInput: string; readonly output: string } | { readonly ok: false; readonly reason: string };

/** Finds the vocabulary projection and gathers its input at the mask rows (edits `graph` only on success). */
function gatherAtMask(graph: OnnxGraph): Gathered {
  if (graph.outputs.length !== 1) return { ok: false, reason: `the graph has ${graph.outputs.length} outputs, not one (logits)` };
  const output = graph.outputs[0];
  const { producer, consumers } = wiring(graph.nodes);
  const constant = constantTest(graph, producer);
  const last = producer.get(output);
  if (!last) return { ok: false, reason: `no node computes the output ${output}` };
  if (last.domain !== '') return { ok: false, reason: `the output is computed by ${last.domain}.${last.op}` };

  // logits = P or P + b, b a constant vector.
  let product: GraphNode | undefined = last;
  if (last.op === 'Add') {
    const [a, b] = last.inputs;
    const bias = [a, b].find((name) => name !== undefined && isVector(graph, name));
    const other = bias === a ? b : a;
    product = bias !== undefined && other !== undefined ? producer.get(other) : undefined;
    if (!product) return { ok: false, reason: 'the output is an Add, but not of a constant bias vector to a computed product' };
  }
  const only = (name: string, node: GraphNode): boolean => (consumers.get(name) ?? []).every((user) => user === node);

  // The tensor to gather, and the node of the projection that reads it.
  let hidden: string;
  let reader: GraphNode;
  if (product.op === 'MatMul' && product.domain === '' && product.inputs.length === 2) {
    const [x, weights] = product.inputs;
    if (!constant(weights)) return { ok: false, reason: 'the last MatMul is not by a constant matrix' };
    if (constant(x)) return { ok: false, reason: 'the last MatMul does not read the hidden states' };
    hidden = x;
    reader = product;
  } else if (product.op === 'Mul' && product.domain === '') {
    // Cast(MatMulInteger(DynamicQuantizeLinear(x), Wq, ...)) · (s · Ws)
    const cast = product.inputs.map((name) => producer.get(name)).find((n) => n?.op === 'Cast');
    const integer = cast ? producer.get(cast.inputs[0]) : undefined;
    const quantizer = integer?.op === 'MatMulInteger' ? producer.get(integer.inputs[0]) : undefined;
    if (!cast || !integer || integer.op !== 'MatMulInteger' || !quantizer || quantizer.op !== 'DynamicQuantizeLinear') {
      return {
        ok: false,
        reason: 'the output is a Mul, but not the dequantization of a MatMulInteger of dynamically quantized hidden states',
      };
    }
    if (!constant(integer.inputs[1])) return { ok: false, reason: 'the last MatMulInteger is not by a constant matrix' };
    const [y, s, z] = quantizer.outputs;
    const scaleUsers = consumers.get(s) ?? [];
    if (
      !only(y, integer) ||
      !only(z, integer) ||
      scaleUsers.length !== 1 ||
      !only(cast.outputs[0], product) ||
      !only(integer.outputs[0], cast)
    ) {
      return { ok: false, reason: 'the quantized hidden states of the last MatMulInteger are also read elsewhere' };
    }
    const scaleProduct = scaleUsers[0];
    if (scaleProduct !== product && !(scaleProduct.op === 'Mul' && only(scaleProduct.outputs[0], product))) {
      return { ok: false, reason: 'the activation scale of the last MatMulInteger is used elsewhere' };
    }
    hidden = quantizer.inputs[0];
    reader = quantizer;
  } else {
    return { ok: false, reason: `the logits are computed by ${product.op}, not by a MatMul by the vocabulary matrix (plus a bias)` };
  }
  if (!hidden || graph.inputs.includes(hidden)) return { ok: false, reason: 'the projection reads a graph input' };

  const fresh = nameMaker(graph);
  const maskInput = fresh('cloze_mask_index');
  // How far back the gather can go: the nodes that compute `hidden` one token at a time.
  const { region, stops } = tokenWiseRegion(graph, hidden, reader);
  const readers = [...graph.nodes.filter((n) => region.has(n)), reader];
  for (const stop of stops) {
    const flat = fresh(`${stop}_cloze_rows`);
    const gathered = fresh(`${stop}_cloze_at_mask`);
    // Flatten at the last axis: [batch, length, hidden] → [batch × length, hidden] (negative axes from opset 11).
    const axis = graph.opset >= 11 ? -1 : 2;
    const nodes = [
      newNode('Flatten', [stop], [flat], fresh('cloze_flatten_rows'), [attribute('axis', axis)]),
      newNode('Gather', [flat, maskInput], [gathered], fresh('cloze_mask_gather'), [attribute('axis', 0)]),
    ];
    const users = readers.filter((n) => n.inputs.includes(stop));
    for (const user of users) user.inputs = user.inputs.map((name) => (name === stop ? gathered : name));
    graph.nodes.splice(graph.nodes.indexOf(users[0]), 0, ...nodes);
  }
  graph.newInputs.push(valueInfo(maskInput, ELEM_INT64, ['batch']));
  graph.replacedOutputs.set(output, valueInfo(output, ELEM_FLOAT, ['batch', 'vocabulary']));
  return { ok: true, maskInput, output };
}

/** Operators that compute each token's row from that token's row alone (given constant other inputs). */
const ELEMENTWISE = new Set(['Cast', 'Erf', 'Sqrt', 'Tanh', 'Relu', 'Sigmoid', 'Neg', 'Abs', 'Exp', 'Log', 'Reciprocal', 'Identity']);
const BINARY = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min']);
const LAST_AXIS_REDUCTIONS = new Set(['ReduceMean', 'ReduceMax', 'ReduceMin']);

/**
 * The nodes before the vocabulary projection that compute `hidden` token by
 * token, so that they can run on the mask rows only: in a BERT-style model the
 * head's transform (dense, gelu, LayerNorm) and, of the last layer, everything
 * after the attention itself (output projection, residual, LayerNorm, the
 * feed-forward block, LayerNorm): about a fifth of a 4-layer encoder's work.
 * The attention of the last layer still reads every token (its keys and
 * values), so the region stops at the attention's output and at the residual
 * input; those tensors (`stops`) are gathered at the mask instead of `hidden`.
 *
 * A node joins when it is token-wise (elementwise with constant vectors or
 * scalars, a MatMul by a constant matrix, a reduction or LayerNormalization
 * over the last axis, the dynamic-int8 quantizer, made per token, and its
 * MatMulInteger) and everything that reads its outputs is already in the
 * region: nothing outside needs the rows it no longer computes.
 */
function tokenWiseRegion(graph: OnnxGraph, hidden: string, reader: GraphNode): { region: Set<GraphNode>; stops: string[] } {
  const { producer, consumers } = wiring(graph.nodes);
  const constant = constantTest(graph, producer);
  const region = new Set<GraphNode>();
  const wanted = new Set<string>([hidden]);
  const smallConstant = (name: string): boolean => {
    const init = graph.initializers.get(name);
    if (init) return init.dims.length <= 1;
    const made = producer.get(name);
    return made?.op === 'Constant' && constantRank(made) !== undefined && (constantRank(made) ?? 2) <= 1;
  };
  const tokenWise = (node: GraphNode): boolean => {
    if (node.domain !== '') return false;
    const computed = node.inputs.filter((name) => name !== '' && !constant(name));
    if (computed.length === 0) return false;
    if (ELEMENTWISE.has(node.op)) return node.inputs.length === 1;
    if (BINARY.has(node.op)) return node.inputs.every((name) => !constant(name) || smallConstant(name));
    if (node.op === 'MatMul') return node.inputs.length === 2 && constant(node.inputs[1]) && !constant(node.inputs[0]);
    if (LAST_AXIS_REDUCTIONS.has(node.op)) {
      const axes = intsAttribute(node, 'axes');
      return node.inputs.length === 1 && axes?.length === 1 && axes[0] === -1 && (intAttribute(node, 'keepdims') ?? 1) === 1;
    }
    if (node.op === 'LayerNormalization') {
      return (intAttribute(node, 'axis') ?? -1) === -1 && node.inputs.slice(1).every((name) => name === '' || smallConstant(name));
    }
    if (node.op === 'DynamicQuantizeLinear') return true;
    if (node.op === 'MatMulInteger')
      return constant(node.inputs[1]) && node.inputs.slice(2).every((name) => name === '' || !constant(name) || smallConstant(name));
    return false;
  };
  const end = graph.nodes.indexOf(reader);
  for (let i = end - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    if (!node.outputs.some((name) => wanted.has(name))) continue;
    const readersInside = node.outputs.every((name) => (consumers.get(name) ?? []).every((user) => user === reader || region.has(user)));
    if (!readersInside || graph.outputs.some((name) => node.outputs.includes(name)) || !tokenWise(node)) continue;
    region.add(node);
    for (const name of node.outputs) wanted.delete(name);
    for (const name of node.inputs) if (name !== '' && !constant(name)) wanted.add(name);
  }
  const stops = [...wanted];
  // A graph input among them (input_ids: the region reached the embeddings) is not a row of hidden states.
  if (stops.some((name) => graph.inputs.includes(name) || !producer.has(name))) return { region: new Set(), stops: [hidden] };
  return { region, stops };
}

/** The rank of a Constant node's `value` tensor, or undefined when it has none. */
function constantRank(node: GraphNode): number | undefined {
  const value = attributeFields(node, 'value');
  const tensor = value?.parts.find((p) => p.field === 5 && p.wire === 2);
  if (!value || !tensor) return undefined;
  const dims = readFields(value.bytes, tensor.start, tensor.end).filter((p) => p.field === 1);
  // Packed dims: one field holding every dimension; count its varints.
  if (dims.length === 1 && dims[0].wire === 2)
    return value.bytes.subarray(dims[0].start, dims[0].end).filter((b) => (b & 0x80) === 0).length;
  return dims.length;
}

/** Whether a tensor is a constant vector (rank 1) given as an initializer. */
function isVector(graph: OnnxGraph, name: string): boolean {
  return graph.initializers.get(name)?.dims.length === 1;
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
