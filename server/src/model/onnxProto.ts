/**
 * Just enough protobuf to read and write ONNX models (onnx.proto3) without an
 * ONNX library: fields are read without decoding their payloads, so a 44 MB
 * model's weights are never copied until the rewritten model is assembled.
 */

/** A protobuf field: its number, wire type, where the whole field lies and (length-delimited) where its payload lies. */
export interface Field {
  readonly field: number;
  readonly wire: number;
  readonly from: number;
  readonly to: number;
  readonly start: number;
  readonly end: number;
  readonly value: number;
}

/** The fields of one protobuf message between `start` and `end`, payloads not decoded. */
export function readFields(bytes: Uint8Array, start: number, end: number): Field[] {
  const out: Field[] = [];
  let at = start;
  const readVarint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (at >= end) throw new Error('truncated varint');
      const byte = bytes[at++];
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
  };
  while (at < end) {
    const from = at;
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let value = 0;
    let payload = at;
    if (wire === 0) value = readVarint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const length = readVarint();
      payload = at;
      at += length;
    } else throw new Error(`wire type ${wire}`);
    if (at > end) throw new Error('truncated field');
    out.push({ field, wire, from, to: at, start: payload, end: wire === 2 ? at : payload, value });
  }
  return out;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export function text(bytes: Uint8Array, field: Field | undefined): string {
  return field && field.wire === 2 ? decoder.decode(bytes.subarray(field.start, field.end)) : '';
}

export function varint(value: number): Uint8Array {
  if (value < 0) {
    // A negative int64 (an axis of -1) is its 64-bit two's complement: ten bytes.
    const out: number[] = [];
    let rest = BigInt.asUintN(64, BigInt(value));
    while (rest >= 128n) {
      out.push(Number(rest % 128n) | 128);
      rest /= 128n;
    }
    out.push(Number(rest));
    return Uint8Array.from(out);
  }
  const out: number[] = [];
  let rest = value;
  while (rest >= 128) {
    out.push((rest % 128) | 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Uint8Array.from(out);
}

export function bytesField(field: number, payload: Uint8Array): Uint8Array {
  return concat([varint(field * 8 + 2), varint(payload.length), payload]);
}

export function str(field: number, value: string): Uint8Array {
  return bytesField(field, encoder.encode(value));
}

export function int(field: number, value: number): Uint8Array {
  return concat([varint(field * 8), varint(value)]);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// Field numbers of onnx.proto3 for what is built here.
const VALUE_INFO_NAME = 1;
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR = 1;
const TENSOR_TYPE_ELEM = 1;
const TENSOR_TYPE_SHAPE = 2;
const SHAPE_DIM = 1;
const DIM_VALUE = 1;
const DIM_PARAM = 2;

/** Element types (TensorProto.DataType). */
export const ELEM_FLOAT = 1;
export const ELEM_UINT8 = 2;
export const ELEM_INT8 = 3;
export const ELEM_INT32 = 6;
export const ELEM_INT64 = 7;
export const ELEM_DOUBLE = 11;

/** A ValueInfoProto: a tensor's name, element type and shape (a dimension is a number or a name). */
export function valueInfo(name: string, elem: number, dims: ReadonlyArray<string | number>): Uint8Array {
  const shape = concat(dims.map((dim) => bytesField(SHAPE_DIM, typeof dim === 'string' ? str(DIM_PARAM, dim) : int(DIM_VALUE, dim))));
  const tensorType = concat([int(TENSOR_TYPE_ELEM, elem), bytesField(TENSOR_TYPE_SHAPE, shape)]);
  return concat([str(VALUE_INFO_NAME, name), bytesField(VALUE_INFO_TYPE, bytesField(TYPE_TENSOR, tensorType))]);
}

// NodeProto, AttributeProto, TensorProto, GraphProto and ModelProto fields for what is built here.
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_NAME = 3;
const NODE_OP = 4;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_NAME = 1;
const ATTRIBUTE_INT = 3;
const ATTRIBUTE_INTS = 8;
const ATTRIBUTE_TYPE = 20;
const ATTRIBUTE_TYPE_INT = 2;
const ATTRIBUTE_TYPE_INTS = 7;
const ATTRIBUTE_TENSOR = 5;
const ATTRIBUTE_TYPE_TENSOR = 4;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const GRAPH_NODE = 1;
const GRAPH_NAME = 2;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const MODEL_IR_VERSION = 1;
const MODEL_GRAPH = 7;
const MODEL_OPSET = 8;
const OPSET_DOMAIN = 1;
const OPSET_VERSION = 2;

/** An attribute of a node: one integer or a list of them. */
export function attribute(name: string, value: number | readonly number[]): Uint8Array {
  const payload =
    typeof value === 'number'
      ? [int(ATTRIBUTE_INT, value), int(ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_INT)]
      : [...value.map((v) => int(ATTRIBUTE_INTS, v)), int(ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_INTS)];
  return bytesField(NODE_ATTRIBUTE, concat([str(ATTRIBUTE_NAME, name), ...payload]));
}

/** A tensor-valued attribute (TensorProto bytes), as `ConstantOfShape` takes its `value`. */
export function tensorAttribute(name: string, tensor: Uint8Array): Uint8Array {
  return bytesField(
    NODE_ATTRIBUTE,
    concat([str(ATTRIBUTE_NAME, name), bytesField(ATTRIBUTE_TENSOR, tensor), int(ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_TENSOR)]),
  );
}

/** A NodeProto of the default domain. */
export function node(
  op: string,
  inputs: readonly string[],
  outputs: readonly string[],
  name: string,
  attributes: readonly Uint8Array[] = [],
): Uint8Array {
  return concat([
    ...inputs.map((input) => str(NODE_INPUT, input)),
    ...outputs.map((output) => str(NODE_OUTPUT, output)),
    str(NODE_NAME, name),
    str(NODE_OP, op),
    ...attributes,
  ]);
}

/** An int64 initializer (non-negative values). */
export function int64Tensor(name: string, values: readonly number[]): Uint8Array {
  const raw = new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer);
  return concat([
    int(TENSOR_DIMS, values.length),
    int(TENSOR_DATA_TYPE, ELEM_INT64),
    str(TENSOR_NAME, name),
    bytesField(TENSOR_RAW_DATA, raw),
  ]);
}

/** A whole model of one graph in the default domain at `opset`. */
export function onnxModel(
  opset: number,
  graph: {
    readonly name: string;
    readonly nodes: readonly Uint8Array[];
    readonly initializers: readonly Uint8Array[];
    readonly inputs: readonly Uint8Array[];
    readonly outputs: readonly Uint8Array[];
  },
): Uint8Array {
  const body = concat([
    ...graph.nodes.map((n) => bytesField(GRAPH_NODE, n)),
    str(GRAPH_NAME, graph.name),
    ...graph.initializers.map((t) => bytesField(GRAPH_INITIALIZER, t)),
    ...graph.inputs.map((v) => bytesField(GRAPH_INPUT, v)),
    ...graph.outputs.map((v) => bytesField(GRAPH_OUTPUT, v)),
  ]);
  // IR version 7 goes with opset 13 (ONNX 1.8).
  return concat([
    int(MODEL_IR_VERSION, 7),
    bytesField(MODEL_OPSET, concat([str(OPSET_DOMAIN, ''), int(OPSET_VERSION, opset)])),
    bytesField(MODEL_GRAPH, body),
  ]);
}

/** A uint8 scalar initializer. */
export function uint8Scalar(name: string, value: number): Uint8Array {
  return concat([int(TENSOR_DATA_TYPE, ELEM_UINT8), str(TENSOR_NAME, name), bytesField(TENSOR_RAW_DATA, Uint8Array.of(value))]);
}

/** A uint8 tensor of one dimension. */
export function uint8Tensor(name: string, values: readonly number[]): Uint8Array {
  return concat([
    int(TENSOR_DIMS, values.length),
    int(TENSOR_DATA_TYPE, ELEM_UINT8),
    str(TENSOR_NAME, name),
    bytesField(TENSOR_RAW_DATA, Uint8Array.from(values)),
  ]);
}

/** A float32 initializer: a scalar when `dims` is empty. */
export function floatTensor(name: string, values: ArrayLike<number>, dims: readonly number[] = []): Uint8Array {
  const floats = values instanceof Float32Array ? values : Float32Array.from(values);
  const raw = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
  return concat([
    ...dims.map((d) => int(TENSOR_DIMS, d)),
    int(TENSOR_DATA_TYPE, ELEM_FLOAT),
    str(TENSOR_NAME, name),
    bytesField(TENSOR_RAW_DATA, raw),
  ]);
}
