import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  attribute,
  bytesField,
  concat,
  ELEM_FLOAT,
  ELEM_INT64,
  ELEM_INT8,
  floatTensor,
  int,
  int64Tensor,
  node,
  onnxModel,
  str,
  valueInfo,
} from '../../server/src/model/onnxProto';
import { modelsDir } from './paths';

/**
 * Random-weight masked-LM graphs of the shapes that hub exports have, written
 * as ONNX protobuf here (no file from ../shared): embeddings (plus token
 * types when the model takes them), one attention layer with the attention
 * mask as an additive −10,000 bias and a GELU feed-forward, then the head of
 * each architecture transformers.js fill-mask models use:
 *
 * - `bert`, `roberta` (XLM-R and CamemBERT have RoBERTa's graph), `distilbert`:
 *   dense H→H → GELU (Erf) → LayerNorm → decoder H→V + bias;
 * - `albert`: embeddings of size E < H mapped to H, and a head dense H→E →
 *   GELU → LayerNorm(E) → decoder E→V + bias.
 *
 * `int8` writes every weight MatMul the way onnxruntime's
 * `quantize_dynamic(per_channel=True, reduce_range=True, weight_type=QInt8)`
 * does: `DynamicQuantizeLinear → MatMulInteger → Cast → Mul(scale · weight
 * scales) → Add(bias)`, one quantizer per activation shared by its MatMuls,
 * 7-bit symmetric weights with per-column scales. LayerNorm is decomposed
 * (ReduceMean, Sub, Pow, Sqrt, Div) as torch.onnx.export writes it at opset
 * 11–17. `unhandled` ends the graph in a Softmax (probabilities, not logits),
 * which the mask-only rewrite does not know; `oddScales` writes one scale
 * product in a form neither rewrite knows.
 */

export type Head = 'bert' | 'roberta' | 'distilbert' | 'albert';

export interface FixtureOptions {
  readonly head: Head;
  readonly opset: number;
  readonly int8: boolean;
  readonly vocab?: number;
  readonly unhandled?: boolean;
  /** int8: the decoder's scale product written as a Div by the inverse weight scales, which the per-token rewrite does not know. */
  readonly oddScales?: boolean;
  readonly seed?: number;
  /** A token whose decoder bias is this value (NaN, as a broken export has, or −∞): its logit is that in every row. */
  readonly logitBias?: { readonly id: number; readonly value: number };
  /** A token whose embedding is NaN: every input with that token has NaN logits, the others none. */
  readonly nanEmbedding?: number;
}

export function takesTokenTypes(head: Head): boolean {
  return head === 'bert' || head === 'albert';
}

export function fixtureModel(options: FixtureOptions): Uint8Array {
  const { head, opset, int8 } = options;
  const V = options.vocab ?? 300;
  const H = 16;
  const E = head === 'albert' ? 8 : H;
  const F = 32;
  const random = gaussian(options.seed ?? 7);
  const nodes: Uint8Array[] = [];
  const initializers: Uint8Array[] = [];
  let count = 0;
  const fresh = (base: string): string => `${base}_${count++}`;
  const weight = (name: string, dims: number[], scale = 0.3): string => {
    initializers.push(
      floatTensor(
        name,
        Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => random() * scale),
        dims,
      ),
    );
    return name;
  };
  const constant = (value: number): string => {
    const name = fresh('c');
    initializers.push(floatTensor(name, [value]));
    return name;
  };
  const op = (type: string, inputs: string[], attributes: Uint8Array[] = [], outputs = 1, named?: string): string[] => {
    const names = named ? [named] : Array.from({ length: outputs }, () => fresh(type.toLowerCase()));
    nodes.push(node(type, inputs, names, fresh(`${type}_node`), attributes));
    return names;
  };
  const one = (type: string, inputs: string[], attributes: Uint8Array[] = [], named?: string): string =>
    op(type, inputs, attributes, 1, named)[0];

  const quantized = new Map<string, [string, string, string]>();
  /** x·W + b over the last axis, fp32 or as quantize_dynamic writes it. */
  const linear = (x: string, inputs: number, outputs: number, label: string, named?: string): string => {
    const w = Array.from({ length: inputs * outputs }, () => (random() * 0.6) / Math.sqrt(inputs));
    // The same draws as weight(…, 0.1), so the other fixtures keep their numbers.
    const biasValues = Array.from({ length: outputs }, () => random() * 0.1);
    if (label === 'head.decoder' && options.logitBias !== undefined) biasValues[options.logitBias.id] = options.logitBias.value;
    const bias = `${label}.bias`;
    initializers.push(floatTensor(bias, biasValues, [outputs]));
    if (!int8) {
      const W = `${label}.weight`;
      initializers.push(floatTensor(W, w, [inputs, outputs]));
      return one('Add', [one('MatMul', [x, W]), bias], [], named);
    }
    // Per-column symmetric int8 in 7 bits (reduce_range), zero points 0.
    const scales = Array.from({ length: outputs }, (_, n) => {
      let max = 0;
      for (let k = 0; k < inputs; k++) max = Math.max(max, Math.abs(w[k * outputs + n]));
      return max / 63 || 1;
    });
    const q = Int8Array.from(w, (value, i) => Math.round(value / scales[i % outputs]));
    initializers.push(int8Tensor(`${label}.weight_quantized`, q, [inputs, outputs]));
    initializers.push(floatTensor(`${label}.weight_scale`, scales, [outputs]));
    initializers.push(int8Tensor(`${label}.weight_zero_point`, new Int8Array(outputs), [outputs]));
    let dq = quantized.get(x);
    if (!dq) {
      dq = op('DynamicQuantizeLinear', [x], [], 3) as [string, string, string];
      quantized.set(x, dq);
    }
    const [y, s, z] = dq;
    let scale: string;
    if (options.oddScales && label === 'head.decoder') {
      initializers.push(
        floatTensor(
          `${label}.weight_scale_inverse`,
          scales.map((x) => 1 / x),
          [outputs],
        ),
      );
      scale = one('Div', [s, `${label}.weight_scale_inverse`]);
    } else {
      scale = one('Mul', [s, `${label}.weight_scale`]);
    }
    const integer = one('MatMulInteger', [y, `${label}.weight_quantized`, z, `${label}.weight_zero_point`]);
    const product = one('Mul', [one('Cast', [integer], [attribute('to', ELEM_FLOAT)]), scale]);
    return one('Add', [product, bias], [], named);
  };
  // ReduceMean takes its axes as an attribute up to opset 17, as an input from 18.
  const lastAxisMean = (x: string): string => {
    if (opset < 18) return one('ReduceMean', [x], [attribute('axes', [-1])]);
    const axes = `${x}.mean_axes`;
    initializers.push(int64Tensor(axes, [-1]));
    return one('ReduceMean', [x, axes]);
  };
  const layerNorm = (x: string, size: number, label: string): string => {
    const mean = lastAxisMean(x);
    const centred = one('Sub', [x, mean]);
    const variance = lastAxisMean(one('Pow', [centred, constant(2)]));
    const normed = one('Div', [centred, one('Sqrt', [one('Add', [variance, constant(1e-12)])])]);
    const gamma = `${label}.weight`;
    initializers.push(
      floatTensor(
        gamma,
        Array.from({ length: size }, () => 1 + random() * 0.1),
        [size],
      ),
    );
    return one('Add', [one('Mul', [normed, gamma]), weight(`${label}.bias`, [size], 0.1)]);
  };
  const gelu = (x: string): string =>
    one('Mul', [one('Mul', [x, one('Add', [one('Erf', [one('Div', [x, constant(Math.SQRT2)])]), constant(1)])]), constant(0.5)]);

  // Embeddings.
  const embeddings = Array.from({ length: V * E }, () => random());
  if (options.nanEmbedding !== undefined) embeddings.fill(NaN, options.nanEmbedding * E, (options.nanEmbedding + 1) * E);
  initializers.push(floatTensor('word_embeddings', embeddings, [V, E]));
  let h = one('Gather', ['word_embeddings', 'input_ids']);
  if (takesTokenTypes(head)) h = one('Add', [h, one('Gather', [weight('token_type_embeddings', [2, E], 1), 'token_type_ids'])]);
  h = layerNorm(h, E, 'embeddings.LayerNorm');
  if (head === 'albert') h = linear(h, E, H, 'embedding_hidden_mapping_in');

  // One attention layer: the mask is an additive bias over the key positions.
  const shape3 = fresh('shape');
  initializers.push(int64Tensor(shape3, [0, 1, -1]));
  const maskFloat = one('Cast', [one('Reshape', ['attention_mask', shape3])], [attribute('to', ELEM_FLOAT)]);
  const maskBias = one('Mul', [one('Sub', [constant(1), maskFloat]), constant(-10000)]);
  const query = linear(h, H, H, 'attention.query');
  const key = linear(h, H, H, 'attention.key');
  const value = linear(h, H, H, 'attention.value');
  const scores = one('Div', [one('MatMul', [query, one('Transpose', [key], [attribute('perm', [0, 2, 1])])]), constant(Math.sqrt(H))]);
  const probabilities = one('Softmax', [one('Add', [scores, maskBias])], [attribute('axis', -1)]);
  const context = one('MatMul', [probabilities, value]);
  h = layerNorm(one('Add', [h, linear(context, H, H, 'attention.output')]), H, 'attention.LayerNorm');
  h = layerNorm(one('Add', [h, linear(gelu(linear(h, H, F, 'intermediate')), F, H, 'output')]), H, 'output.LayerNorm');

  // The head.
  const size = head === 'albert' ? E : H;
  const transformed = layerNorm(gelu(linear(h, H, size, 'head.dense')), size, 'head.LayerNorm');
  // The output is named `logits`, as exports name it.
  if (options.unhandled) one('Softmax', [linear(transformed, size, V, 'head.decoder')], [attribute('axis', -1)], 'logits');
  else linear(transformed, size, V, 'head.decoder', 'logits');

  const inputs = [
    valueInfo('input_ids', ELEM_INT64, ['batch_size', 'sequence_length']),
    valueInfo('attention_mask', ELEM_INT64, ['batch_size', 'sequence_length']),
    ...(takesTokenTypes(head) ? [valueInfo('token_type_ids', ELEM_INT64, ['batch_size', 'sequence_length'])] : []),
  ];
  return onnxModel(opset, {
    name: `cloze_fixture_${head}`,
    nodes,
    initializers,
    inputs,
    outputs: [valueInfo('logits', ELEM_FLOAT, ['batch_size', 'sequence_length', V])],
  });
}

function int8Tensor(name: string, values: Int8Array, dims: readonly number[]): Uint8Array {
  return concat([
    ...dims.map((d) => int(1, d)),
    int(2, ELEM_INT8),
    str(8, name),
    bytesField(9, new Uint8Array(values.buffer, values.byteOffset, values.byteLength)),
  ]);
}

/** A seeded standard-normal generator (mulberry32 and Box–Muller): the same fixture every run. */
function gaussian(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * A models folder (returned) holding `name` with tiny-random-bert-uncased's config and tokenizer
 * files and `graph` as `onnx/<file>`: a fixture model the real loading code resolves.
 */
export function fixtureFolder(graph: Uint8Array, name: string, file = 'model.onnx'): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-fixture-model-'));
  const folder = path.join(root, name);
  fs.mkdirSync(path.join(folder, 'onnx'), { recursive: true });
  const source = path.join(modelsDir(), 'tiny-random-bert-uncased');
  for (const part of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) {
    fs.copyFileSync(path.join(source, part), path.join(folder, part));
  }
  fs.writeFileSync(path.join(folder, 'onnx', file), graph);
  return root;
}
