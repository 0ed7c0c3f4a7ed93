// Precision of the int8 files against fp32 on the same weights, as the preview computes them
// (docs/preview.md, "Precision of the int8 files"). Not part of `npm run bench` (it measures no
// speed); run it after a change to how int8 files are run:
//
//   node bench/precision.mjs [model ...]     (default: review-bert-small-xenova review-bert-small)
//
// For each model: every SST-2 dev sentence in the three trained patterns, scored at the mask with
// great/good/terrible/bad by (a) the engine on onnx/model.onnx, (b) the engine on
// onnx/model_quantized.onnx, and (c) onnxruntime on model_quantized.onnx as shipped, one unpadded
// input per call (a dynamic-int8 file's per-input activation scale: what transformers.js computes
// for a single input). Prints max |Δ p(w | x)|, max |Δ P(positive | x)| (great + good against terrible + bad,
// as test/unit/reviewBert.test.ts)
// and how many decisions flip, as JSON.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const { MaskedLmEngine } = require('../server/out/model/engine.js');
const { resolveModel } = require('../server/out/model/resolve.js');

const root = resolve(import.meta.dirname, '..');
const modelsDir = resolve(process.env.CLOZE_MODELS_DIR ?? join(root, '..', 'shared', 'models'));
const dataFile = resolve(process.env.CLOZE_BENCH_DATA ?? join(modelsDir, '..', 'data', 'sst2-dev.jsonl'));
const cacheDir = join(root, '.bench-cache-unused');
const models = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['review-bert-small-xenova', 'review-bert-small'];
const PATTERNS = ['{review} It was [MASK].', '{review} All in all, it was [MASK].', 'Just [MASK]! {review}'];
const WORDS = ['great', 'good', 'terrible', 'bad'];

const texts = readFileSync(dataFile, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line).text);

const out = {};
for (const model of models) {
  const location = resolveModel(model, undefined, { modelsDir, allowRemoteModels: false, cacheDir });
  if (!location.ok) throw new Error(location.reason);
  const fp32 = await MaskedLmEngine.load(location, cacheDir, { quantized: false });
  const int8 = await MaskedLmEngine.load(location, cacheDir, { quantized: true });
  const inputs = texts.flatMap((text) => PATTERNS.map((p) => p.replace('{review}', text).replace('[MASK]', fp32.info.maskToken)));
  const wordIds = WORDS.map((w) => fp32.encode(w).slice(1, -1)[0]);
  const a = await fp32.score(inputs, wordIds, 1);
  const b = await int8.score(inputs, wordIds, 1);
  const c = await shippedAlone(join(location.root, location.name, 'onnx', 'model_quantized.onnx'), inputs, int8, wordIds);
  out[model] = {
    inputs: inputs.length,
    int8: { ...int8.info, loadMs: undefined },
    engineInt8VsFp32: compare(a, b),
    shippedInt8AloneVsFp32: compare(a, c),
    engineInt8VsShippedInt8Alone: compare(c, b),
  };
  console.error(`${model}: ${JSON.stringify(out[model])}`);
}
console.log(JSON.stringify(out, null, 2));

function compare(reference, other) {
  let word = 0;
  let positive = 0;
  let flips = 0;
  reference.forEach((r, i) => {
    const o = other[i];
    const p = (s) => s.words.map((w) => w.p);
    const [rp, op] = [p(r), p(o)];
    rp.forEach((value, k) => (word = Math.max(word, Math.abs(value - op[k]))));
    const pos = (ps) => (ps[0] + ps[1]) / (ps[0] + ps[1] + ps[2] + ps[3]);
    positive = Math.max(positive, Math.abs(pos(rp) - pos(op)));
    if (pos(rp) > 0.5 !== pos(op) > 0.5) flips++;
  });
  return { maxWordProbability: word, maxPositive: positive, flips };
}

/** The shipped file, one unpadded input per call, softmax over the vocabulary in float64. */
async function shippedAlone(file, inputs, engine, wordIds) {
  const session = await ort.InferenceSession.create(file);
  const scores = [];
  for (const text of inputs) {
    const ids = engine.encode(text);
    const mask = ids.indexOf(engine.info.maskTokenId);
    const shape = [1, ids.length];
    const feeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), shape),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), shape),
    };
    if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(ids.length), shape);
    const logits = (await session.run(feeds)).logits;
    const vocab = logits.dims[2];
    const row = logits.data.subarray(mask * vocab, (mask + 1) * vocab);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    scores.push({ words: wordIds.map((id) => ({ p: Math.exp(row[id] - max) / sum })) });
  }
  return scores;
}
