/**
 * A masked-LM graph that computes the vocabulary logits at the mask only.
 *
 * The ONNX files exported for transformers.js end in `logits = X·W (+ b)`
 * with X the hidden states at every position ([batch, length, hidden]) and W
 * the vocabulary projection ([hidden, vocabulary]). That last product is most
 * of the work (for review-bert-small 7.8 M of the ~11 M multiply-adds per
 * token) and most of the memory traffic (a 120 KB row per token), yet the
 * preview reads one row per input: the one at the mask. This rewrites the
 * graph so that X is first gathered at one position per row, given as a new
 * input `[batch, 1]` of int64 positions:
 *
 *   logits[b, :] = X[b, mask[b], :]·W (+ b)        shape [batch, vocabulary]
 *
 * Every other node is untouched, so the row is the same arithmetic as the
 * full graph's row at that position (bit-identical on the shared models).
 *
 * The rewrite works on the protobuf bytes directly (no ONNX library): the
 * initializers, which are nearly all of the file, are copied as they are.
 * When the graph does not end in that shape (a MatMul by a constant matrix,
 * optionally plus a constant vector), the answer is `undefined` and the
 * caller runs the full graph.
 */

import { bytesField, concat, ELEM_FLOAT, ELEM_INT64, type Field, int, readFields, str, text, valueInfo, varint } from './onnxProto';

export interface MaskOnlyGraph {
  /** The rewritten model, to give to `InferenceSession.create`. */
  readonly bytes: Uint8Array;
  /** The new int64 input: the mask position of each row, shape [batch, 1]. */
  readonly maskInput: string;
  /** The graph's output, now [batch, vocabulary]. */
  readonly output: string;
}

interface Node {
  readonly field: Field;
  readonly parts: readonly Field[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly op: string;
  readonly domain: string;
}

// Field numbers of onnx.proto3 used here.
const MODEL_GRAPH = 7;
const MODEL_OPSET = 8;
const OPSET_DOMAIN = 1;
const OPSET_VERSION = 2;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const GRAPH_VALUE_INFO = 13;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_NAME = 3;
const NODE_OP = 4;
const NODE_ATTRIBUTE = 5;
const NODE_DOMAIN = 7;
const TENSOR_NAME = 8;
const VALUE_INFO_NAME = 1;
const VALUE_INFO_TYPE = 2;
const TENSOR_TYPE_ELEM = 1;
const ATTRIBUTE_NAME = 1;
const ATTRIBUTE_INT = 3;
const ATTRIBUTE_TYPE = 20;
const ATTRIBUTE_TYPE_INT = 2;

const TYPE_TENSOR = 1;

/** GatherND takes `batch_dims` from opset 12. */
const MIN_OPSET = 12;

export function maskOnlyGraph(model: Uint8Array): MaskOnlyGraph | undefined {
  try {
    return rewrite(model);
  } catch {
    // Not a protobuf we understand: the caller runs the file as it is.
    return undefined;
  }
}

function rewrite(model: Uint8Array): MaskOnlyGraph | undefined {
  const top = readFields(model, 0, model.length);
  const graphs = top.filter((f) => f.field === MODEL_GRAPH && f.wire === 2);
  if (graphs.length !== 1) return undefined;
  const opset = top
    .filter((f) => f.field === MODEL_OPSET && f.wire === 2)
    .map((f) => readFields(model, f.start, f.end))
    .find(
      (parts) =>
        text(
          model,
          parts.find((p) => p.field === OPSET_DOMAIN),
        ) === '',
    );
  const version = opset?.find((p) => p.field === OPSET_VERSION)?.value ?? 0;
  if (version < MIN_OPSET) return undefined;

  const graph = graphs[0];
  const fields = readFields(model, graph.start, graph.end);
  const nodes: Node[] = fields
    .filter((f) => f.field === GRAPH_NODE && f.wire === 2)
    .map((field) => {
      const parts = readFields(model, field.start, field.end);
      const strings = (n: number): string[] => parts.filter((p) => p.field === n).map((p) => text(model, p));
      return {
        field,
        parts,
        inputs: strings(NODE_INPUT),
        outputs: strings(NODE_OUTPUT),
        op: strings(NODE_OP)[0] ?? '',
        domain: strings(NODE_DOMAIN)[0] ?? '',
      };
    });
  const initializers = new Map<string, number>();
  for (const f of fields.filter((f) => f.field === GRAPH_INITIALIZER && f.wire === 2)) {
    const parts = readFields(model, f.start, f.end);
    initializers.set(
      text(
        model,
        parts.find((p) => p.field === TENSOR_NAME),
      ),
      rank(model, parts),
    );
  }
  const outputs = fields.filter((f) => f.field === GRAPH_OUTPUT && f.wire === 2);
  if (outputs.length !== 1) return undefined;
  const outputParts = readFields(model, outputs[0].start, outputs[0].end);
  const output = text(
    model,
    outputParts.find((p) => p.field === VALUE_INFO_NAME),
  );

  const producer = new Map<string, Node>();
  for (const node of nodes) for (const name of node.outputs) producer.set(name, node);
  const constant = constantTest(producer, initializers);

  // logits = MatMul(X, W) or Add(MatMul(X, W), b), W and b constants, b a vector.
  const last = producer.get(output);
  if (!last || last.domain !== '') return undefined;
  let matmul: Node | undefined = last;
  if (last.op === 'Add') {
    const [a, b] = last.inputs;
    const bias = [a, b].find((name) => name !== undefined && initializers.get(name) === 1);
    const other = bias === a ? b : a;
    matmul = bias !== undefined && other !== undefined ? producer.get(other) : undefined;
  }
  if (!matmul || matmul.op !== 'MatMul' || matmul.domain !== '' || matmul.inputs.length !== 2) return undefined;
  const [hidden, weights] = matmul.inputs;
  if (!constant(weights) || constant(hidden)) return undefined;

  const names = new Set<string>([...initializers.keys(), ...nodes.flatMap((n) => [...n.inputs, ...n.outputs])]);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  };
  const maskInput = fresh('cloze_mask_index');
  const gathered = fresh('cloze_mask_hidden');

  const gather = concat([
    str(NODE_INPUT, hidden),
    str(NODE_INPUT, maskInput),
    str(NODE_OUTPUT, gathered),
    str(NODE_NAME, fresh('cloze_mask_gather')),
    str(NODE_OP, 'GatherND'),
    bytesField(NODE_ATTRIBUTE, concat([str(ATTRIBUTE_NAME, 'batch_dims'), int(ATTRIBUTE_INT, 1), int(ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_INT)])),
  ]);
  // The MatMul with its first input replaced by the gathered rows.
  let replaced = false;
  const newMatmul = concat(
    matmul.parts.map((p) => {
      if (!replaced && p.field === NODE_INPUT && text(model, p) === hidden) {
        replaced = true;
        return str(NODE_INPUT, gathered);
      }
      return model.subarray(p.from, p.to);
    }),
  );
  const maskInputInfo = valueInfo(maskInput, ELEM_INT64, ['batch', 1]);
  const outputInfo = valueInfo(output, elemType(model, outputParts) ?? ELEM_FLOAT, ['batch', 'vocabulary']);
  // Shape hints for what changed shape would contradict the new shapes.
  const reshaped = new Set([...matmul.outputs, ...(last === matmul ? [] : last.outputs)]);
  const lastInput = fields.filter((f) => f.field === GRAPH_INPUT).at(-1);

  const parts: Uint8Array[] = [];
  for (const f of fields) {
    if (f === matmul.field) {
      parts.push(bytesField(GRAPH_NODE, gather), bytesField(GRAPH_NODE, newMatmul));
    } else if (f === outputs[0]) {
      parts.push(bytesField(GRAPH_OUTPUT, outputInfo));
    } else if (f.field === GRAPH_VALUE_INFO && f.wire === 2) {
      const name = text(
        model,
        readFields(model, f.start, f.end).find((p) => p.field === VALUE_INFO_NAME),
      );
      if (!reshaped.has(name)) parts.push(model.subarray(f.from, f.to));
    } else {
      parts.push(model.subarray(f.from, f.to));
    }
    if (f === lastInput) parts.push(bytesField(GRAPH_INPUT, maskInputInfo));
  }
  if (!lastInput) parts.push(bytesField(GRAPH_INPUT, maskInputInfo));
  const graphLength = parts.reduce((sum, p) => sum + p.length, 0);
  const graphHeader = concat([varint(MODEL_GRAPH * 8 + 2), varint(graphLength)]);
  const bytes = concat([model.subarray(0, graph.from), graphHeader, ...parts, model.subarray(graph.to)]);
  return { bytes, maskInput, output };
}

/** Whether a tensor is computed from initializers only (no graph input reaches it), memoised. */
function constantTest(
  producer: ReadonlyMap<string, Node>,
  initializers: ReadonlyMap<string, number>,
): (name: string | undefined) => boolean {
  const known = new Map<string, boolean>();
  const test = (name: string | undefined, depth: number): boolean => {
    if (name === undefined || name === '') return true; // an omitted optional input
    if (initializers.has(name)) return true;
    const cached = known.get(name);
    if (cached !== undefined) return cached;
    const node = producer.get(name);
    // A graph input, or a chain too long to be a weight's preprocessing.
    const result = node !== undefined && depth < 64 && node.inputs.every((input) => test(input, depth + 1));
    known.set(name, result);
    return result;
  };
  return (name) => test(name, 0);
}

/** The number of dimensions of a TensorProto: its `dims` (field 1), written one by one or packed. */
function rank(model: Uint8Array, tensorParts: readonly Field[]): number {
  let count = 0;
  for (const p of tensorParts) {
    if (p.field !== 1) continue;
    if (p.wire === 0) count++;
    else if (p.wire === 2) for (let i = p.start; i < p.end; i++) if ((model[i] & 0x80) === 0) count++;
  }
  return count;
}

function elemType(model: Uint8Array, valueInfoParts: readonly Field[]): number | undefined {
  const type = valueInfoParts.find((p) => p.field === VALUE_INFO_TYPE);
  if (!type) return undefined;
  const tensor = readFields(model, type.start, type.end).find((p) => p.field === TYPE_TENSOR);
  if (!tensor) return undefined;
  return readFields(model, tensor.start, tensor.end).find((p) => p.field === TENSOR_TYPE_ELEM)?.value;
}
