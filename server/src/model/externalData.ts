import * as fs from 'node:fs';
import * as path from 'node:path';
import { readFields, text, type Field } from './onnxProto';

/**
 * ONNX tensors may keep their weights in other files (`external_data` with a
 * `location`). onnxruntime reads whatever path is written there, so a model
 * folder from a workspace could make it read `/dev/zero` (never ends) or any
 * file of the user's as weights. Before a model is given to onnxruntime,
 * every location must be a relative path to a regular file inside the model
 * folder.
 */

// Field numbers of onnx.proto3.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_SPARSE_INITIALIZER = 15;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_T = 5;
const ATTRIBUTE_G = 6;
const ATTRIBUTE_TENSORS = 8;
const ATTRIBUTE_GRAPHS = 10;
const SPARSE_VALUES = 1;
const SPARSE_INDICES = 2;
const TENSOR_EXTERNAL_DATA = 13;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;

/** Why the model's external data cannot be read safely, or undefined when it has none or all of it is inside `folder`. */
export function externalDataProblem(model: Uint8Array, modelFile: string, folder: string): string | undefined {
  const locations: string[] = [];
  try {
    for (const graph of readFields(model, 0, model.length).filter((f) => f.field === MODEL_GRAPH && f.wire === 2)) {
      collectGraph(model, graph, locations, 0);
    }
  } catch {
    return undefined; // Not a readable protobuf: onnxruntime reports that itself.
  }
  if (locations.length === 0) return undefined;
  let root: string;
  try {
    root = fs.realpathSync(folder);
  } catch {
    root = path.resolve(folder);
  }
  for (const location of new Set(locations)) {
    const shown = location.length > 80 ? `${location.slice(0, 80)}…` : location;
    if (location === '' || path.isAbsolute(location) || location.includes('\0') || /^[A-Za-z]:/.test(location)) {
      return `its external data location "${shown}" is not a path inside the model folder`;
    }
    const target = path.resolve(path.dirname(modelFile), location);
    let real: string;
    try {
      real = fs.realpathSync(target);
    } catch {
      return `its external data file "${shown}" does not exist`;
    }
    if (real !== root && !real.startsWith(root + path.sep)) return `its external data location "${shown}" is outside the model folder`;
    if (!fs.statSync(real).isFile()) return `its external data location "${shown}" is not a regular file`;
  }
  return undefined;
}

function collectGraph(bytes: Uint8Array, graph: Field, out: string[], depth: number): void {
  if (depth > 16) return;
  for (const field of readFields(bytes, graph.start, graph.end)) {
    if (field.wire !== 2) continue;
    if (field.field === GRAPH_INITIALIZER) collectTensor(bytes, field, out);
    else if (field.field === GRAPH_SPARSE_INITIALIZER) {
      for (const part of readFields(bytes, field.start, field.end)) {
        if ((part.field === SPARSE_VALUES || part.field === SPARSE_INDICES) && part.wire === 2) collectTensor(bytes, part, out);
      }
    } else if (field.field === GRAPH_NODE) {
      for (const attribute of readFields(bytes, field.start, field.end).filter((f) => f.field === NODE_ATTRIBUTE && f.wire === 2)) {
        for (const inner of readFields(bytes, attribute.start, attribute.end)) {
          if (inner.wire !== 2) continue;
          if (inner.field === ATTRIBUTE_T || inner.field === ATTRIBUTE_TENSORS) collectTensor(bytes, inner, out);
          if (inner.field === ATTRIBUTE_G || inner.field === ATTRIBUTE_GRAPHS) collectGraph(bytes, inner, out, depth + 1);
        }
      }
    }
  }
}

function collectTensor(bytes: Uint8Array, tensor: Field, out: string[]): void {
  for (const entry of readFields(bytes, tensor.start, tensor.end)) {
    if (entry.field !== TENSOR_EXTERNAL_DATA || entry.wire !== 2) continue;
    const parts = readFields(bytes, entry.start, entry.end);
    if (
      text(
        bytes,
        parts.find((p) => p.field === ENTRY_KEY),
      ) === 'location'
    )
      out.push(
        text(
          bytes,
          parts.find((p) => p.field === ENTRY_VALUE),
        ),
      );
  }
}
