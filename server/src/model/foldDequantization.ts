/**
 * Weight-only int8 dequantized once at load instead of at every call.
 *
 * A weight-only int8 file (int8 weights, `DequantizeLinear` to float32 in the
 * graph, as the `model_quantized.onnx` files of our own exports are) keeps
 * those nodes in the graph at run time: ONNX Runtime does not fold
 * `DequantizeLinear` (it keeps it for its QDQ fusions). Every call then
 * dequantizes the whole vocabulary matrix again (30,522 × 256 for
 * review-bert-small), and the matrix products see a weight tensor computed in
 * the call rather than a constant, so they run another kernel path whose
 * float32 sums depend on the batch's shape: the same input scored in two
 * different batches differed in its last bits. This computes each such weight
 * here once, exactly as the operator does (`(q − zero point) · scale`: the
 * integer difference is exact, and the double product of two float32 values,
 * rounded once on the store to float32, equals ONNX Runtime's float32 product), and puts it in the graph as a float32 constant. The
 * numbers are those of the int8 file; memory holds float32 weights (the
 * download stays int8).
 */

import { floatTensor } from './onnxProto';
import { initializerValues, intAttribute, type OnnxGraph, wiring } from './onnxGraph';

/** Folds every `DequantizeLinear` of initializers; returns how many. */
export function foldWeightDequantization(graph: OnnxGraph): number {
  const folded = new Set<(typeof graph.nodes)[number]>();
  const replaced: string[] = [];
  for (const node of graph.nodes) {
    if (node.op !== 'DequantizeLinear' || node.domain !== '' || node.outputs.length !== 1) continue;
    const [xName, scaleName, zeroName] = node.inputs;
    const x = graph.initializers.get(xName ?? '');
    const scale = graph.initializers.get(scaleName ?? '');
    const zero = zeroName ? graph.initializers.get(zeroName) : undefined;
    if (!x || !scale || (zeroName && !zero) || (x.dataType !== 2 && x.dataType !== 3)) continue;
    const q = initializerValues(graph, x);
    const s = initializerValues(graph, scale);
    const z = zero ? initializerValues(graph, zero) : undefined;
    if (!q || !s || (zero && !z)) continue;
    const values = new Float32Array(q.length);
    if (s.length === 1) {
      const zp = z ? z[0] : 0;
      for (let i = 0; i < q.length; i++) values[i] = (q[i] - zp) * s[0];
    } else {
      // Per-axis (opset 13): one scale per index along `axis` (default 1).
      const rank = x.dims.length;
      const rawAxis = intAttribute(node, 'axis') ?? 1;
      const axis = rawAxis < 0 ? rawAxis + rank : rawAxis;
      if (axis < 0 || axis >= rank || x.dims[axis] !== s.length || (z && z.length !== s.length)) continue;
      const stride = x.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
      for (let block = 0, i = 0; i < q.length; block++) {
        const c = block % s.length;
        const zp = z ? z[c] : 0;
        const sc = s[c];
        for (const end = i + stride; i < end; i++) values[i] = (q[i] - zp) * sc;
      }
    }
    graph.newInitializers.push(floatTensor(node.outputs[0], values, x.dims));
    graph.addedConstants.add(node.outputs[0]);
    folded.add(node);
    replaced.push(...node.inputs.filter((name) => name !== ''));
  }
  if (folded.size === 0) return 0;
  graph.nodes = graph.nodes.filter((n) => !folded.has(n));
  // The int8 tensors nobody reads any more.
  const { consumers } = wiring(graph.nodes);
  for (const name of replaced)
    if (!consumers.has(name) && !graph.outputs.includes(name) && !graph.inputs.includes(name)) graph.droppedInitializers.add(name);
  return folded.size;
}
