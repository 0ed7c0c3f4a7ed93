/**
 * An ONNX model's graph as a list of nodes that can be edited, over the
 * protobuf bytes (`onnxProto.ts`): nodes are decoded to their op, domain,
 * inputs and outputs; everything else (attributes, initializers, which are
 * nearly all of the file) stays as the file's bytes and is copied once when
 * the edited model is written.
 */

import { bytesField, concat, type Field, int, readFields, str, text, varint } from './onnxProto';

export interface GraphNode {
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  /** The node's other fields (name, attributes, domain, doc), as bytes. */
  readonly rest: readonly Uint8Array[];
}

export interface Initializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: number;
  /** The TensorProto's fields (for its data). */
  readonly parts: readonly Field[];
}

export interface OnnxGraph {
  readonly opset: number;
  nodes: GraphNode[];
  readonly initializers: ReadonlyMap<string, Initializer>;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Initializers added by an edit (TensorProto bytes). */
  readonly newInitializers: Uint8Array[];
  /** The names of `newInitializers` that replace computed tensors (constants now). */
  readonly addedConstants: Set<string>;
  /** Initializers an edit made unused, left out when the model is written. */
  readonly droppedInitializers: Set<string>;
  /** Graph inputs added by an edit (ValueInfoProto bytes). */
  readonly newInputs: Uint8Array[];
  /** Replacements of graph outputs by name (ValueInfoProto bytes). */
  readonly replacedOutputs: Map<string, Uint8Array>;
  /** Graph outputs added by an edit (ValueInfoProto bytes), after the file's own. */
  readonly newOutputs: Uint8Array[];
  /** The operator domains the model imports (its opset imports), `''` being ONNX's own. */
  readonly domains: ReadonlySet<string>;
  /** Domains an edit's nodes use that the model does not import yet (each imported at version 1). */
  readonly newDomains: Set<string>;
  /** The model's bytes and where the graph and its fields lie. */
  readonly source: { readonly bytes: Uint8Array; readonly graph: Field; readonly fields: readonly Field[] };
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
const NODE_OP = 4;
const NODE_DOMAIN = 7;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_NAME = 8;
const VALUE_INFO_NAME = 1;

/** Reads a model; throws on bytes that are not a model of one graph. */
export function readGraph(bytes: Uint8Array): OnnxGraph {
  const top = readFields(bytes, 0, bytes.length);
  const graphs = top.filter((f) => f.field === MODEL_GRAPH && f.wire === 2);
  if (graphs.length !== 1) throw new Error('not an ONNX model of one graph');
  const imports = top.filter((f) => f.field === MODEL_OPSET && f.wire === 2).map((f) => readFields(bytes, f.start, f.end));
  const domainOf = (parts: Field[]): string =>
    text(
      bytes,
      parts.find((p) => p.field === OPSET_DOMAIN),
    );
  const opset = imports.find((parts) => domainOf(parts) === '');
  const graph = graphs[0];
  const fields = readFields(bytes, graph.start, graph.end);
  const nodes = fields
    .filter((f) => f.field === GRAPH_NODE && f.wire === 2)
    .map((field): GraphNode => {
      const parts = readFields(bytes, field.start, field.end);
      const strings = (n: number): string[] => parts.filter((p) => p.field === n).map((p) => text(bytes, p));
      return {
        op: strings(NODE_OP)[0] ?? '',
        domain: strings(NODE_DOMAIN)[0] ?? '',
        inputs: strings(NODE_INPUT),
        outputs: strings(NODE_OUTPUT),
        rest: parts.filter((p) => p.field !== NODE_INPUT && p.field !== NODE_OUTPUT).map((p) => bytes.subarray(p.from, p.to)),
      };
    });
  const initializers = new Map<string, Initializer>();
  for (const f of fields.filter((f) => f.field === GRAPH_INITIALIZER && f.wire === 2)) {
    const parts = readFields(bytes, f.start, f.end);
    const name = text(
      bytes,
      parts.find((p) => p.field === TENSOR_NAME),
    );
    initializers.set(name, {
      name,
      dims: dims(bytes, parts),
      dataType: parts.find((p) => p.field === TENSOR_DATA_TYPE)?.value ?? 0,
      parts,
    });
  }
  const names = (field: number): string[] =>
    fields
      .filter((f) => f.field === field && f.wire === 2)
      .map((f) =>
        text(
          bytes,
          readFields(bytes, f.start, f.end).find((p) => p.field === VALUE_INFO_NAME),
        ),
      );
  return {
    opset: opset?.find((p) => p.field === OPSET_VERSION)?.value ?? 0,
    nodes,
    initializers,
    inputs: names(GRAPH_INPUT),
    outputs: names(GRAPH_OUTPUT),
    newInitializers: [],
    addedConstants: new Set(),
    droppedInitializers: new Set(),
    newInputs: [],
    replacedOutputs: new Map(),
    newOutputs: [],
    domains: new Set(imports.map(domainOf)),
    newDomains: new Set(),
    source: { bytes, graph, fields },
  };
}

/**
 * The edited model's bytes. Shape hints (`value_info`) are left out: an edit
 * changes shapes (a per-tensor scale becomes one per row, logits lose their
 * length axis), and ONNX Runtime infers them again.
 */
export function writeGraph(graph: OnnxGraph): Uint8Array {
  const { bytes, fields } = graph.source;
  const nodeBytes = graph.nodes.map((n) =>
    bytesField(
      GRAPH_NODE,
      concat([...n.inputs.map((name) => str(NODE_INPUT, name)), ...n.outputs.map((name) => str(NODE_OUTPUT, name)), ...n.rest]),
    ),
  );
  const parts: Uint8Array[] = [...nodeBytes];
  const lastInput = fields.filter((f) => f.field === GRAPH_INPUT).at(-1);
  const lastOutput = fields.filter((f) => f.field === GRAPH_OUTPUT).at(-1);
  for (const f of fields) {
    if (f.field === GRAPH_NODE || f.field === GRAPH_VALUE_INFO) continue;
    if (f.field === GRAPH_INITIALIZER && f.wire === 2 && graph.droppedInitializers.size > 0) {
      const name = text(
        bytes,
        readFields(bytes, f.start, f.end).find((p) => p.field === TENSOR_NAME),
      );
      if (graph.droppedInitializers.has(name)) continue;
    }
    if (f.field === GRAPH_OUTPUT && f.wire === 2) {
      const name = text(
        bytes,
        readFields(bytes, f.start, f.end).find((p) => p.field === VALUE_INFO_NAME),
      );
      const replaced = graph.replacedOutputs.get(name);
      parts.push(replaced ? bytesField(GRAPH_OUTPUT, replaced) : bytes.subarray(f.from, f.to));
      if (f === lastOutput) parts.push(...graph.newOutputs.map((v) => bytesField(GRAPH_OUTPUT, v)));
      continue;
    }
    parts.push(bytes.subarray(f.from, f.to));
    if (f === lastInput) parts.push(...graph.newInputs.map((v) => bytesField(GRAPH_INPUT, v)));
  }
  if (!lastInput) parts.push(...graph.newInputs.map((v) => bytesField(GRAPH_INPUT, v)));
  if (!lastOutput) parts.push(...graph.newOutputs.map((v) => bytesField(GRAPH_OUTPUT, v)));
  parts.push(...graph.newInitializers.map((t) => bytesField(GRAPH_INITIALIZER, t)));
  const length = parts.reduce((sum, p) => sum + p.length, 0);
  const header = concat([varint(MODEL_GRAPH * 8 + 2), varint(length)]);
  // Opset imports may stand anywhere among the model's fields: the new ones go last.
  const imports = [...graph.newDomains]
    .filter((domain) => !graph.domains.has(domain))
    .map((domain) => bytesField(MODEL_OPSET, concat([str(OPSET_DOMAIN, domain), int(OPSET_VERSION, 1)])));
  return concat([bytes.subarray(0, graph.source.graph.from), header, ...parts, bytes.subarray(graph.source.graph.to), ...imports]);
}

/** A node built by an edit, of ONNX's own domain unless `domain` is given (the caller imports that domain). */
export function newNode(
  op: string,
  inputs: readonly string[],
  outputs: readonly string[],
  name: string,
  attributes: readonly Uint8Array[] = [],
  domain = '',
): GraphNode {
  const rest = [str(3, name), str(NODE_OP, op), ...attributes, ...(domain === '' ? [] : [str(NODE_DOMAIN, domain)])];
  return { op, domain, inputs: [...inputs], outputs: [...outputs], rest };
}

/** Names not yet used in the graph. */
export function nameMaker(graph: OnnxGraph): (base: string) => string {
  const names = new Set<string>([
    ...graph.initializers.keys(),
    ...graph.inputs,
    ...graph.outputs,
    ...graph.nodes.flatMap((n) => [...n.inputs, ...n.outputs]),
  ]);
  return (base) => {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  };
}

/** Who produces each tensor, and who reads it. */
export function wiring(nodes: readonly GraphNode[]): {
  producer: Map<string, GraphNode>;
  consumers: Map<string, GraphNode[]>;
} {
  const producer = new Map<string, GraphNode>();
  const consumers = new Map<string, GraphNode[]>();
  for (const node of nodes) {
    for (const name of node.outputs) producer.set(name, node);
    for (const name of node.inputs) {
      if (name === '') continue;
      const list = consumers.get(name) ?? [];
      if (!list.includes(node)) list.push(node);
      consumers.set(name, list);
    }
  }
  return { producer, consumers };
}

/** Whether a tensor is computed from initializers only (no graph input reaches it), memoised. */
export function constantTest(graph: OnnxGraph, producer: ReadonlyMap<string, GraphNode>): (name: string | undefined) => boolean {
  const known = new Map<string, boolean>();
  const test = (name: string | undefined, depth: number): boolean => {
    if (name === undefined || name === '') return true; // an omitted optional input
    if (graph.initializers.has(name) || graph.addedConstants.has(name)) return true;
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

/** A TensorProto's `dims` (field 1), written one by one or packed. */
function dims(bytes: Uint8Array, tensorParts: readonly Field[]): number[] {
  const out: number[] = [];
  for (const p of tensorParts) {
    if (p.field !== TENSOR_DIMS) continue;
    if (p.wire === 0) out.push(p.value);
    else if (p.wire === 2) {
      let value = 0;
      let scale = 1;
      for (let i = p.start; i < p.end; i++) {
        value += (bytes[i] & 0x7f) * scale;
        scale *= 128;
        if ((bytes[i] & 0x80) === 0) {
          out.push(value);
          value = 0;
          scale = 1;
        }
      }
    }
  }
  return out;
}

/** A node's attribute by name: the AttributeProto's fields and the bytes they index, or undefined. */
export function attributeFields(node: GraphNode, name: string): { readonly bytes: Uint8Array; readonly parts: Field[] } | undefined {
  for (const field of node.rest) {
    const [outer] = readFields(field, 0, field.length);
    if (outer?.field !== 5 || outer.wire !== 2) continue;
    const parts = readFields(field, outer.start, outer.end);
    const named = parts.find((p) => p.field === 1);
    if (text(field, named) === name) return { bytes: field, parts };
  }
  return undefined;
}

/** The varints in bytes[from, to) as 64-bit two's complement (an axis of -1 is ten bytes). */
function signedVarints(bytes: Uint8Array, from: number, to: number): number[] {
  const values: number[] = [];
  let result = 0n;
  let shift = 0n;
  for (let i = from; i < to; i++) {
    result |= BigInt(bytes[i] & 0x7f) << shift;
    shift += 7n;
    if ((bytes[i] & 0x80) === 0) {
      values.push(Number(BigInt.asIntN(64, result)));
      result = 0n;
      shift = 0n;
    }
  }
  return values;
}

/** A node's integer attribute (negative values decoded), or undefined. */
export function intAttribute(node: GraphNode, name: string): number | undefined {
  const attribute = attributeFields(node, name);
  const value = attribute?.parts.find((p) => p.field === 3 && p.wire === 0);
  return attribute && value ? signedVarints(attribute.bytes, value.start, value.to)[0] : undefined;
}

/** A node's list-of-integers attribute (negative values decoded; repeated or packed), or undefined. */
export function intsAttribute(node: GraphNode, name: string): number[] | undefined {
  const attribute = attributeFields(node, name);
  if (!attribute) return undefined;
  return attribute.parts
    .filter((p) => p.field === 8 && (p.wire === 0 || p.wire === 2))
    .flatMap((p) => signedVarints(attribute.bytes, p.start, p.wire === 0 ? p.to : p.end));
}

/** The values of a numeric initializer (float32, int8, uint8, int32 or int64), from raw_data or the typed fields; undefined for other kinds. */
export function initializerValues(graph: OnnxGraph, tensor: Initializer): ArrayLike<number> | undefined {
  const { bytes } = graph.source;
  const count = tensor.dims.reduce((a, b) => a * b, 1);
  const raw = tensor.parts.find((p) => p.field === 9 && p.wire === 2);
  if (raw) {
    // A copy of its own (a Buffer's slice would share, and misalign, the file's memory).
    const copy = new Uint8Array(raw.end - raw.start);
    copy.set(bytes.subarray(raw.start, raw.end));
    const view =
      tensor.dataType === 1
        ? new Float32Array(copy.buffer)
        : tensor.dataType === 3
          ? new Int8Array(copy.buffer)
          : tensor.dataType === 2
            ? new Uint8Array(copy.buffer)
            : tensor.dataType === 6
              ? new Int32Array(copy.buffer)
              : undefined;
    return view && view.length === count ? view : undefined;
  }
  const out: number[] = [];
  if (tensor.dataType === 1) {
    for (const p of tensor.parts.filter((p) => p.field === 4)) {
      const at = p.wire === 2 ? p.start : p.to - 4;
      const end = p.wire === 2 ? p.end : p.to;
      const view = new DataView(bytes.buffer, bytes.byteOffset + at, end - at);
      for (let i = 0; i + 4 <= end - at; i += 4) out.push(view.getFloat32(i, true));
    }
  } else if (tensor.dataType === 2 || tensor.dataType === 3 || tensor.dataType === 6) {
    for (const p of tensor.parts.filter((p) => p.field === 5)) {
      if (p.wire === 0) out.push(p.value);
      else if (p.wire === 2) for (const f of readPackedVarints(bytes, p.start, p.end)) out.push(f);
    }
    if (tensor.dataType === 3) for (let i = 0; i < out.length; i++) out[i] = (out[i] << 24) >> 24;
    if (tensor.dataType === 6) for (let i = 0; i < out.length; i++) out[i] = out[i] | 0;
  } else {
    return undefined;
  }
  return out.length === count ? out : undefined;
}

function readPackedVarints(bytes: Uint8Array, start: number, end: number): number[] {
  const out: number[] = [];
  let value = 0;
  let scale = 1;
  for (let i = start; i < end; i++) {
    value += (bytes[i] & 0x7f) * scale;
    scale *= 128;
    if ((bytes[i] & 0x80) === 0) {
      out.push(value % 2 ** 32);
      value = 0;
      scale = 1;
    }
  }
  return out;
}

/**
 * The rows of a BERT-style model's position table, [positions, hidden], int8-quantized or not: the
 * initializer named `…position_embeddings…` (optimum's exports, the hub's) or `pos.weight` (the
 * exports of ../shared/models). Undefined when the graph has none, or tables of several sizes.
 */
export function positionTableRows(graph: OnnxGraph): number | undefined {
  const tables = [...graph.initializers.values()].filter(
    (init) => /position_embeddings|(^|[./])pos\.weight/.test(init.name) && init.dims.length === 2,
  );
  const rows = new Set(tables.map((init) => init.dims[0]));
  const [only] = rows;
  return rows.size === 1 && typeof only === 'number' && only > 0 ? only : undefined;
}
