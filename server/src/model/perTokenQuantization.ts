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
 * rewrites each `DynamicQuantizeLinear` to the same arithmetic over each row
 * (one token's activations) instead, with ONNX operators of opset 11:
 *
 *   s_r = max(max(x_r, 0) − min(x_r, 0), ε) / 255,  z_r = round(−min(x_r, 0) / s_r)
 *   y_r = clip(round(x_r / s_r) + z_r, 0, 255)      as uint8
 *
 * `MatMulInteger` takes only one activation zero point per tensor in ONNX
 * Runtime, so it is given none and the zero point is taken out after it, in
 * int32 and exactly: Σ_k (y_k − z)(w_k − Wz) = Σ_k y_k (w_k − Wz) − z · Σ_k (w_k − Wz),
 * the column sums Σ_k (w_k − Wz) being computed once at load from the weights
 * (a constant subgraph ONNX Runtime folds). The scale product `s · Ws` that
 * follows broadcasts the row scales unchanged. The weights stay int8 and the
 * matrix products int8 (what the file was shipped for); only the activation
 * scales are finer: per token instead of per batch.
 */

import { attribute, ELEM_INT32, ELEM_UINT8, floatTensor, int64Tensor } from './onnxProto';
import { type GraphNode, nameMaker, newNode, type OnnxGraph, wiring } from './onnxGraph';

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
  const constants = {
    zero: fresh('cloze_q_zero'),
    qmax: fresh('cloze_q_255'),
    tiny: fresh('cloze_q_tiny'),
  };
  graph.newInitializers.push(
    floatTensor(constants.zero, [0]),
    floatTensor(constants.qmax, [255]),
    // The smallest normal float32: a row of zeros gets y = z = 0 instead of 0/0.
    floatTensor(constants.tiny, [1.1754943508222875e-38]),
  );
  const reduce = (op: string, input: string, output: string, axis: number, keepdims: number): GraphNode[] => {
    // Opset 13 moved ReduceSum's axes, opset 18 the other reductions', from an attribute to an input.
    const axesAsInput = op === 'ReduceSum' ? graph.opset >= 13 : graph.opset >= 18;
    if (!axesAsInput) return [newNode(op, [input], [output], fresh(output), [attribute('axes', [axis]), attribute('keepdims', keepdims)])];
    const axes = fresh(`${output}_axes`);
    graph.newInitializers.push(int64Tensor(axes, [axis]));
    return [newNode(op, [input, axes], [output], fresh(output), [attribute('keepdims', keepdims)])];
  };
  const columnSums = new Map<string, string>();

  const rewritten: GraphNode[] = [];
  for (const node of graph.nodes) {
    if (node.op === 'DynamicQuantizeLinear' && node.domain === '') {
      rewritten.push(...perRow(node));
    } else if (node.op === 'MatMulInteger' && node.domain === '' && quantizers.some((q) => q.outputs[0] === node.inputs[0])) {
      rewritten.push(...withoutZeroPoint(node));
    } else {
      rewritten.push(node);
    }
  }
  graph.nodes = rewritten;
  return { ok: true, rewritten: quantizers.length };

  function perRow(q: GraphNode): GraphNode[] {
    const [x] = q.inputs;
    const [y, s, z] = q.outputs;
    const t = (what: string): string => fresh(`${x}_row_${what}`);
    const [max, min, max0, min0, range, scale0, negMin, zeroQ, zero, scaled, rounded, shifted, clipped] = [
      'max',
      'min',
      'max0',
      'min0',
      'range',
      'scale0',
      'neg_min',
      'zero_q',
      'zero',
      'scaled',
      'rounded',
      'shifted',
      'clipped',
    ].map(t);
    const n = (op: string, inputs: string[], output: string, attributes: Uint8Array[] = []): GraphNode =>
      newNode(op, inputs, [output], fresh(`${output}_node`), attributes);
    return [
      ...reduce('ReduceMax', x, max, -1, 1),
      ...reduce('ReduceMin', x, min, -1, 1),
      n('Max', [max, constants.zero], max0),
      n('Min', [min, constants.zero], min0),
      n('Sub', [max0, min0], range),
      n('Div', [range, constants.qmax], scale0),
      n('Max', [scale0, constants.tiny], s),
      n('Sub', [constants.zero, min0], negMin),
      n('Div', [negMin, s], zeroQ),
      n('Round', [zeroQ], zero),
      n('Div', [x, s], scaled),
      n('Round', [scaled], rounded),
      n('Add', [rounded, zero], shifted),
      n('Clip', [shifted, constants.zero, constants.qmax], clipped),
      n('Cast', [clipped], y, [attribute('to', ELEM_UINT8)]),
      // The zero point as int32, for the correction after MatMulInteger.
      n('Cast', [zero], z, [attribute('to', ELEM_INT32)]),
    ];
  }

  function withoutZeroPoint(matmul: GraphNode): GraphNode[] {
    const [y, weights, z, weightZero = ''] = matmul.inputs;
    const [out] = matmul.outputs;
    const key = `${weights}\u0000${weightZero}`;
    const nodes: GraphNode[] = [];
    let sums = columnSums.get(key);
    if (!sums) {
      // Σ_k (w_kn − Wz_n) in int32: constant, folded by ONNX Runtime when the session is created.
      const w32 = fresh(`${weights}_int32`);
      nodes.push(newNode('Cast', [weights], [w32], fresh(`${w32}_node`), [attribute('to', ELEM_INT32)]));
      let centred = w32;
      if (weightZero !== '') {
        const z32 = fresh(`${weightZero}_int32`);
        centred = fresh(`${weights}_centred`);
        nodes.push(
          newNode('Cast', [weightZero], [z32], fresh(`${z32}_node`), [attribute('to', ELEM_INT32)]),
          newNode('Sub', [w32, z32], [centred], fresh(`${centred}_node`)),
        );
      }
      sums = fresh(`${weights}_column_sums`);
      nodes.push(...reduce('ReduceSum', centred, sums, 0, 0));
      columnSums.set(key, sums);
    }
    const raw = fresh(`${out}_before_zero_point`);
    const correction = fresh(`${out}_zero_point_term`);
    nodes.push(
      { ...matmul, inputs: [y, weights, '', weightZero], outputs: [raw] },
      newNode('Mul', [z, sums], [correction], fresh(`${correction}_node`)),
      newNode('Sub', [raw, correction], [out], fresh(`${out}_node`)),
    );
    return nodes;
  }
}

/** What precision a graph computes in, from its operators. */
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
