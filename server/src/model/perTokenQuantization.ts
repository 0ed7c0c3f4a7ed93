/**
 * Dynamic int8 quantization made per token, so that an input's numbers do not
 * depend on what else is in its batch.
 *
 * onnxruntime's `quantize_dynamic` (how transformers.js's `scripts/convert.py`
 * makes every `Xenova/*` `model_quantized.onnx`) turns each weight MatMul into
 *
 *   y, s, z = DynamicQuantizeLinear(x)            one scale s and zero point z for ALL of x
 *   logits  = Cast(MatMulInteger(y, Wq, z, Wz)) · (s · Ws)  (+ b)
 *
 * where x is [batch, length, hidden]: one scale over the whole padded batch.
 * The same input scored beside other inputs then gets other numbers. This
 * rewrites each `DynamicQuantizeLinear` to a scale per row (one token's
 * activations), symmetric around a fixed zero point:
 *
 *   s_r = max(max_k |x_rk|, 1e-30) / 127
 *   y_r = QuantizeLinear(x_r, s_r, 128) = round_half_even(x_r / s_r) + 128, in [1, 255];   z = 128
 *
 * The zero point is one constant for the whole tensor, which is what
 * `MatMulInteger` takes, so the matrix products stay int8 and untouched; the
 * scale product `s · Ws` that follows broadcasts the row scales.
 *
 * Why symmetric: an asymmetric scale per row (`DynamicQuantizeLinear`'s own
 * arithmetic, row by row) needs a zero point per row, which ONNX Runtime's
 * `MatMulInteger` does not take; correcting for it after the product took 16
 * operators a quantizer and left the int8 graph slower than float32
 * (review-bert-small-xenova, 454 against 588 pairs/s). The price is one bit
 * on activations that are not centred on zero (after gelu: 255 levels over
 * [−max, max] instead of [min, max]); the figures against fp32 are in
 * docs/preview.md.
 *
 * Why `com.microsoft.QuantizeLinear`: ONNX's own takes a scale per axis only
 * from opset 13, and hub exports are opset 11; ONNX Runtime's takes it at any
 * opset. Three passes over the activations remain (two reductions and the
 * quantizer), where `x / s + 128.5` and a truncating cast took five with a
 * copy of |x|. Raw `session.run` on review-bert-small-xenova int8, 256 pairs,
 * as times against the shipped graph's: with a busy loop on one of the two
 * cores, 2.6× (five passes) against 3.5× (three) in one run and 2.58× against
 * 2.90× (Mul and an ONNX QuantizeLinear after the two reductions) in another;
 * under the shared machine's usual load 2.81/2.84, 3.14/3.18, 3.48/3.58; on a
 * quiet one 3.78/3.62 and 3.99/4.09. `DynamicQuantizeLinear` left per batch
 * on the same mask-only graph (fused by ONNX Runtime into its product) was
 * 13–23% faster than either in the same runs.
 */

import { attribute, floatTensor, int64Tensor, uint8Scalar } from './onnxProto';
import { type GraphNode, nameMaker, newNode, type OnnxGraph, wiring } from './onnxGraph';

/** ONNX Runtime's own operators; its `QuantizeLinear` there takes a scale per row (axis 0) at any opset. */
const MICROSOFT = 'com.microsoft';

/** Result of the rewrite: how many quantizers became per token, or why one could not. */
export type PerTokenResult = { readonly ok: true; readonly rewritten: number } | { readonly ok: false; readonly reason: string };

/** Rewrites every `DynamicQuantizeLinear` of the graph in place (all or none). */
export function perTokenQuantization(graph: OnnxGraph): PerTokenResult {
  const quantizers = graph.nodes.filter((n) => n.op === 'DynamicQuantizeLinear' && n.domain === '');
  if (quantizers.length === 0) return { ok: true, rewritten: 0 };
  const { consumers } = wiring(graph.nodes);
  // Check every quantizer before changing anything.
  for (const q of quantizers) {
    const [y, s, z] = q.outputs;
    if (q.inputs.length !== 1 || !y || !s || !z) return { ok: false, reason: 'a DynamicQuantizeLinear node without all three outputs' };
    for (const user of consumers.get(y) ?? []) {
      if (user.op !== 'MatMulInteger' || user.domain !== '' || user.inputs[0] !== y || user.inputs[1] === y || user.inputs[2] !== z) {
        return { ok: false, reason: `a quantized activation is read by ${user.op || 'a node'} other than as MatMulInteger's first input` };
      }
    }
    for (const user of consumers.get(z) ?? []) {
      if (user.op !== 'MatMulInteger' || user.inputs[0] !== y || user.inputs.indexOf(z) !== 2) {
        return { ok: false, reason: `an activation zero point is read by ${user.op || 'a node'} other than MatMulInteger` };
      }
    }
    for (const user of consumers.get(s) ?? []) {
      if (user.op !== 'Mul') return { ok: false, reason: `an activation scale is read by ${user.op || 'a node'}, not by Mul` };
    }
    if (graph.outputs.some((o) => o === y || o === s || o === z)) return { ok: false, reason: 'a quantizer output is a graph output' };
  }

  const fresh = nameMaker(graph);
  const constants = { floor: fresh('cloze_q_floor'), levels: fresh('cloze_q_127'), flat: fresh('cloze_q_flat') };
  graph.newInitializers.push(
    // A row of zeros gets s = 1e-30 / 127 (a normal float32) and y = 128, not 0/0.
    floatTensor(constants.floor, [1e-30]),
    floatTensor(constants.levels, [127]),
    int64Tensor(constants.flat, [-1]),
  );
  graph.newDomains.add(MICROSOFT);
  graph.nodes = graph.nodes.flatMap((node) => (node.op === 'DynamicQuantizeLinear' && node.domain === '' ? perRow(node) : [node]));
  keepBiasesOutOfFusion(graph, new Set(quantizers.map((q) => q.outputs[0])));
  return { ok: true, rewritten: quantizers.length };

  function perRow(q: GraphNode): GraphNode[] {
    const [x] = q.inputs;
    const [y, s, z] = q.outputs;
    const t = (what: string): string => fresh(`${x}_row_${what}`);
    const [max, min, negatedMin, floored, rowScales, rowZeroPoints, shapeOfScales, rows, quantizedRows, shapeOfX] = [
      'max',
      'min',
      'negated_min',
      'floored',
      'scales',
      'zero_points',
      'scales_shape',
      'rows',
      'quantized_rows',
      'shape',
    ].map(t);
    const n = (op: string, inputs: string[], output: string, attributes: Uint8Array[] = [], domain = ''): GraphNode =>
      newNode(op, inputs, [output], fresh(`${output}_node`), attributes, domain);
    // The zero point is now a constant; it keeps the name MatMulInteger reads.
    graph.newInitializers.push(uint8Scalar(z, 128));
    graph.addedConstants.add(z);
    // Reductions take their axes as an attribute up to opset 17, as an input from 18.
    const lastAxis = (op: string, output: string): GraphNode => {
      if (graph.opset < 18) return n(op, [x], output, [attribute('axes', [-1]), attribute('keepdims', 1)]);
      const axes = fresh(`${output}_axes`);
      graph.newInitializers.push(int64Tensor(axes, [-1]));
      return n(op, [x, axes], output, [attribute('keepdims', 1)]);
    };
    return [
      // max |x_r| as max(max x_r, −min x_r): two reads of x, where Abs would also write a copy of it.
      lastAxis('ReduceMax', max),
      lastAxis('ReduceMin', min),
      n('Neg', [min], negatedMin),
      newNode('Max', [max, negatedMin, constants.floor], [floored], fresh(`${floored}_node`)),
      n('Div', [floored, constants.levels], s),
      // One quantizer over the rows, a scale and a zero point per row: [.., hidden] → [rows, hidden] and back.
      n('Reshape', [s, constants.flat], rowScales),
      n('Shape', [rowScales], shapeOfScales),
      n('Expand', [z, shapeOfScales], rowZeroPoints),
      n('Flatten', [x], rows, [attribute('axis', -1)]),
      n('QuantizeLinear', [rows, rowScales, rowZeroPoints], quantizedRows, [attribute('axis', 0)], MICROSOFT),
      n('Shape', [x], shapeOfX),
      n('Reshape', [quantizedRows, shapeOfX], y),
    ];
  }
}

/**
 * ONNX Runtime (1.14, the version transformers.js 2.17.2 brings) fuses
 * `Cast(MatMulInteger(..)) · Mul(s, Ws)` and a following `+ b` (b a constant
 * second input) into one `MatMulIntegerToFloat`. With a scale per row it then
 * multiplies the bias by the row scale too: (acc · Ws + b) · s instead of
 * acc · s · Ws + b, which loses the bias (a random-weight fixture's logits
 * moved by 14% of their spread). Writing the Add as `b + x` keeps the bias
 * out of the fusion (it only takes a bias as the second input) and the fused
 * product in: the rows are then scaled correctly.
 */
function keepBiasesOutOfFusion(graph: OnnxGraph, quantized: ReadonlySet<string>): void {
  const { producer } = wiring(graph.nodes);
  for (const add of graph.nodes) {
    if (add.op !== 'Add' || add.domain !== '' || add.inputs.length !== 2) continue;
    const [x, b] = add.inputs;
    if (!graph.initializers.has(b)) continue;
    const mul = producer.get(x);
    const cast = mul?.op === 'Mul' ? mul.inputs.map((name) => producer.get(name)).find((n) => n?.op === 'Cast') : undefined;
    const integer = cast ? producer.get(cast.inputs[0]) : undefined;
    if (integer?.op === 'MatMulInteger' && quantized.has(integer.inputs[0])) add.inputs = [b, x];
  }
}

/**
 * What precision a graph computes in, from its operators: of the file's graph
 * as read, before any rewrite (the ranks appended for previews count with a
 * `MatMulInteger`, which would read as dynamic int8 here).
 */
export type Precision = 'fp32' | 'int8-weights' | 'int8-dynamic-per-token' | 'int8-dynamic-per-input';

export function precisionOf(graph: OnnxGraph, perToken: boolean): Precision {
  const ops = new Set(graph.nodes.map((n) => n.op));
  if (ops.has('MatMulInteger') || ops.has('DynamicQuantizeLinear') || ops.has('DynamicQuantizeMatMul')) {
    return perToken ? 'int8-dynamic-per-token' : 'int8-dynamic-per-input';
  }
  const lowPrecision = [...graph.initializers.values()].some((t) => t.dataType === 2 || t.dataType === 3);
  if (ops.has('DequantizeLinear') || lowPrecision) return 'int8-weights';
  return 'fp32';
}
