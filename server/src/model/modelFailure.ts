/**
 * How a model that cannot be scored is told to the user: one message for the
 * `model-unavailable` diagnostic (and the CLI), and a short reason for places
 * with one line of room (lens titles). ONNX Runtime's own errors carry codes,
 * paths and graph internals a few hundred characters long; what the user can
 * act on is said in words, and the rest is cut.
 */

/** Longest quoted ONNX Runtime detail kept in a message. */
const MAX_DETAIL = 160;

/** The message of a model failure, readable: known ONNX Runtime errors in words, long internals cut. */
export function describeModelFailure(message: string): string {
  let text = (message.split('\n')[0] ?? message).trim();
  text = text.replace(
    /Failed to load model because protobuf parsing failed/i,
    'the file is not a complete ONNX model (truncated, still being copied, or not ONNX at all)',
  );
  text = text.replace(/No graph was found in the protobuf/i, 'the file holds no ONNX graph (not an ONNX model, or cut short)');
  text = text.replace(/\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*[A-Z_]+\s*:\s*/g, '');
  text = text.replace(/Load model from \S+ failed:\s*/g, '');
  // A long detail (graph node names, shapes, file offsets) is cut between the message's own sentences.
  return text.replace(/\): ([^]*?)\. (A model folder needs)/, (_, detail: string, rest: string) => `): ${cut(detail)}. ${rest}`);
}

function cut(text: string): string {
  return text.length <= MAX_DETAIL ? text : `${text.slice(0, MAX_DETAIL - 1).trimEnd()}…`;
}

/** The few words a lens title has room for. */
export function shortModelFailure(modelId: string): string {
  return `model ${modelId} cannot be used (see the problem on the model: line)`;
}
