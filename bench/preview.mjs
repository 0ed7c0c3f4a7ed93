// 2. Preview throughput: 256 (pattern, example) pairs scored by
//   (a) the product's engine (MaskedLmEngine, batched, cold cache),
//   (b) what a user writes by hand: transformers.js pipeline('fill-mask'), one
//       call per pair, topk large enough to find every label word,
//   (c) the limit: one onnxruntime-node session.run per batch on
//       pre-tokenized, pre-padded inputs, nothing else, on the same ONNX file
//       and the same graph as the engine (and, for comparison, on the file's
//       graph as shipped, which computes logits at every position),
// interleaved in one process so that the ratios share the machine's load.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { interleaved, median, medianRatio, round } from './stats.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const { MaskedLmEngine } = require('../server/out/model/engine.js');
const { resolveModel } = require('../server/out/model/resolve.js');
const { previewGraph } = require('../server/out/model/maskOnlyGraph.js');

/** The four patterns review-bert-small was trained with (../shared/models/SOURCES.md), and its verbalizer. */
export const PATTERNS = [
  '{review} It was [MASK].',
  '{review} All in all, it was [MASK].',
  'Just [MASK]! {review}',
  '{review} The movie is [MASK].',
];
export const LABEL_WORDS = ['great', 'good', 'terrible', 'bad'];

export function sentences(dataFile, count) {
  return readFileSync(dataFile, 'utf8')
    .trim()
    .split('\n')
    .slice(0, count)
    .map((line) => JSON.parse(line).text);
}

/** Sentences × patterns, pattern-major within each sentence, as a preview sends them. */
export function pairInputs(texts, maskToken = '[MASK]') {
  return texts.flatMap((text) => PATTERNS.map((pattern) => pattern.replace('{review}', text).replace('[MASK]', maskToken)));
}

/** The engine's batching: sorted by length (or in arrival order), at most `batchSize` rows and `maxBatchTokens` padded tokens. */
export function planBatches(encoded, { batchSize, maxBatchTokens, sorted = true }) {
  const order = sorted ? [...encoded].sort((a, b) => a.ids.length - b.ids.length) : [...encoded];
  const batches = [];
  let batch = [];
  let width = 0;
  for (const input of order) {
    const nextWidth = Math.max(width, input.ids.length);
    if (batch.length > 0 && (batch.length >= batchSize || (batch.length + 1) * nextWidth > maxBatchTokens)) {
      batches.push(batch);
      batch = [];
    }
    batch.push(input);
    width = Math.max(...batch.map((x) => x.ids.length));
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** Tensors for every batch, built before any timing: the limit does nothing but session.run. */
function feedsFor(session, batches, padId, maskInput) {
  return batches.map((batch) => {
    const width = Math.max(...batch.map((x) => x.ids.length));
    const shape = [batch.length, width];
    const ids = new BigInt64Array(batch.length * width).fill(BigInt(padId));
    const attention = new BigInt64Array(batch.length * width);
    batch.forEach((input, row) =>
      input.ids.forEach((id, column) => {
        ids[row * width + column] = BigInt(id);
        attention[row * width + column] = 1n;
      }),
    );
    const feeds = { input_ids: new ort.Tensor('int64', ids, shape), attention_mask: new ort.Tensor('int64', attention, shape) };
    if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(ids.length), shape);
    if (maskInput)
      feeds[maskInput] = new ort.Tensor(
        'int64',
        BigInt64Array.from(batch, (x, row) => BigInt(row * width + x.maskIndex)),
        [batch.length],
      );
    return feeds;
  });
}

async function runAll(session, feeds) {
  for (const feed of feeds) await session.run(feed);
}

export async function benchPreview({ modelsDir, cacheDir, dataFile, models, quick, log }) {
  const out = {};
  for (const model of models) out[model] = await benchModel({ model, modelsDir, cacheDir, dataFile, quick, log });
  return out;
}

async function benchModel({ model, modelsDir, cacheDir, dataFile, quick, log }) {
  const location = resolveModel(model, undefined, { modelsDir, allowRemoteModels: false, cacheDir });
  if (!location.ok) throw new Error(location.reason);
  const texts = sentences(dataFile, quick ? 2 : 64);
  const runs = quick ? 1 : 5;
  const warmup = quick ? 0 : 1;

  const main = await compare({ location, texts, cacheDir, quantized: true, withPipeline: true, runs, warmup, quick, log });
  // The same on the full-precision file, without the pipeline: is fp32 the better default here?
  const fp32 = await compare({ location, texts, cacheDir, quantized: false, withPipeline: false, runs, warmup, quick, log });
  return { ...main, fp32 };
}

async function compare({ location, texts, cacheDir, quantized, withPipeline, runs, warmup, quick, log }) {
  const model = location.id;
  const engine = await MaskedLmEngine.load(location, cacheDir, { quantized });
  const { info } = engine;
  const inputs = pairInputs(texts, info.maskToken);
  const pairs = inputs.length;
  const wordIds = LABEL_WORDS.map((word) => {
    const ids = engine.encode(word).slice(1, -1);
    if (ids.length !== 1) throw new Error(`${word} is not one token in ${model}`);
    return ids[0];
  });
  const engineOptions = engine.batching ?? { batchSize: 4, maxBatchTokens: 512 };
  const graph = info.graph ?? 'full';

  // Pre-tokenized inputs for the limit: the engine's own ids (none is cut: all are shorter than the model reads).
  const encoded = inputs.map((text) => {
    const ids = engine.encode(text);
    if (ids.length > info.maxLength) throw new Error(`an input of ${ids.length} tokens is longer than ${model} reads`);
    return { ids, maskIndex: ids.indexOf(info.maskTokenId) };
  });
  const bytes = readFileSync(join(location.root, location.name, info.file));
  const sessionOptions = engine.sessionOptions ?? {};
  const fullSession = await ort.InferenceSession.create(bytes, sessionOptions);
  // The graph the engine runs (mask-only, per-token quantizers, weights dequantized at load), made the same way.
  const rewritten = previewGraph(bytes);
  const maskSession = rewritten.graph === 'mask-only' ? await ort.InferenceSession.create(rewritten.bytes, sessionOptions) : undefined;
  const padId = engine.padTokenId ?? 0;

  const timePerPair = async (fn, count = pairs) => {
    const start = performance.now();
    await fn();
    return (performance.now() - start) / count;
  };
  const limitRun = (session, maskInput, options) => {
    const feeds = feedsFor(session, planBatches(encoded, options), padId, maskInput);
    return () => timePerPair(() => runAll(session, feeds));
  };

  // Batch size and bucketing: the runtime alone on the graph the engine runs, then the engine itself.
  const limitSession = graph === 'mask-only' ? maskSession : fullSession;
  const limitMaskInput = graph === 'mask-only' ? rewritten.maskInput : undefined;
  // The shipped graph returns batch × length × vocabulary logits (120 KB a token): large batches only cost memory there.
  const sweepSizes = quick ? [engineOptions.batchSize] : graph === 'mask-only' ? [1, 4, 16, 32, 64, 256] : [1, 2, 4, 8, 16];
  const sweepOptions = (batchSize, sorted = true) => ({ batchSize, maxBatchTokens: Number.MAX_SAFE_INTEGER, sorted });
  const limitSweep = await interleaved(
    Object.fromEntries([
      ...sweepSizes.map((size) => [`sorted ${size}`, limitRun(limitSession, limitMaskInput, sweepOptions(size))]),
      ...(quick ? [] : [[`arrival 16`, limitRun(limitSession, limitMaskInput, sweepOptions(16, false))]]),
    ]),
    { runs: quick ? 1 : 3, warmup },
  );
  const limitBest = bestOf(limitSweep);
  const bestSize = Number(limitBest.split(' ')[1]);
  log?.(`preview ${model} ${quantized ? 'int8' : 'fp32'} (${graph} graph): runtime sweep best ${limitBest}`);

  const engineSweep = { [`default ${engineOptions.batchSize}/${engineOptions.maxBatchTokens}`]: engine };
  if (!quick && quantized) {
    for (const batchSize of graph === 'mask-only' ? [4, 16, 64, 256] : [1, 2, 8, 16]) {
      if (batchSize === engineOptions.batchSize) continue;
      engineSweep[`batch ${batchSize}`] = await MaskedLmEngine.load(location, cacheDir, {
        quantized,
        batchSize,
        maxBatchTokens: Number.MAX_SAFE_INTEGER,
      });
    }
  }
  const engineRun = (e) => () =>
    timePerPair(async () => {
      e.clearCache(); // cold: every pair runs through the model
      await e.score(inputs, wordIds, 10);
    });
  const engineSweepRuns =
    Object.keys(engineSweep).length > 1
      ? await interleaved(Object.fromEntries(Object.entries(engineSweep).map(([name, e]) => [name, engineRun(e)])), { runs: 3, warmup })
      : undefined;
  for (const e of Object.values(engineSweep)) if (e !== engine) await e.dispose();

  // The comparison itself.
  const measurements = {
    engine: engineRun(engine),
    limit: limitRun(limitSession, limitMaskInput, { batchSize: bestSize, maxBatchTokens: Number.MAX_SAFE_INTEGER }),
  };
  if (graph === 'mask-only') {
    // The shipped graph computes logits at every position: its best batching is small.
    measurements.limitFullGraph = limitRun(fullSession, undefined, { batchSize: 4, maxBatchTokens: Number.MAX_SAFE_INTEGER });
  }
  let pipelineInfo;
  if (withPipeline) {
    const pipeline = await pipelineRunner({ location, quantized, inputs, engine, wordIds, quick });
    pipelineInfo = pipeline.info;
    measurements.pipeline = pipeline.run;
  }
  const results = await interleaved(measurements, { runs, warmup });
  const pairsPerSecond = Object.fromEntries(Object.entries(results).map(([name, msPerPair]) => [name, 1000 / median(msPerPair)]));
  await engine.dispose();

  const summary = {
    file: info.file,
    graph,
    precision: info.precision,
    ...(info.graphReason ? { graphReason: info.graphReason } : {}),
    pairs,
    runs,
    batchSize: engineOptions.batchSize,
    maxBatchTokens: engineOptions.maxBatchTokens,
    pairsPerSecond,
    engineOverLimit: medianRatio(results.engine, results.limit),
    msPerPair: Object.fromEntries(Object.entries(results).map(([name, values]) => [name, values.map((v) => round(v, 3))])),
    sweep: {
      limit: Object.fromEntries(Object.entries(limitSweep).map(([name, values]) => [name, round(1000 / median(values), 1)])),
      limitBest,
      engine: engineSweepRuns
        ? Object.fromEntries(Object.entries(engineSweepRuns).map(([name, values]) => [name, round(1000 / median(values), 1)]))
        : undefined,
    },
  };
  // How much faster the engine is than a plain loop over the file as shipped (time ratio, > 1: the engine is faster).
  if (results.limitFullGraph) summary.fullGraphOverEngine = medianRatio(results.limitFullGraph, results.engine);
  if (results.pipeline) {
    summary.pipelineOverEngine = medianRatio(results.pipeline, results.engine);
    summary.pipeline = pipelineInfo;
  }
  log?.(
    `preview ${model} ${quantized ? 'int8' : 'fp32'}: ${Object.entries(pairsPerSecond)
      .map(([name, rate]) => `${name} ${round(rate, 1)}/s`)
      .join(', ')}`,
  );
  return summary;
}

function bestOf(sweep) {
  return Object.entries(sweep).sort((a, b) => median(a[1]) - median(b[1]))[0][0];
}

/**
 * What a user writes by hand: the fill-mask pipeline, one call per pair, with
 * the smallest topk that finds every label word of every pair (the largest
 * rank the engine found; a user who does not know it needs more). Its cost per
 * pair does not depend on the other pairs (no batching, no cache), so when 256
 * calls would take too long it is timed on an evenly spread sample of the
 * pairs (every n-th by length, another offset each run), and reported per pair.
 */
async function pipelineRunner({ location, quantized, inputs, engine, wordIds, quick }) {
  const transformers = await import('@xenova/transformers');
  const { env } = transformers;
  env.localModelPath = location.root.endsWith('/') ? location.root : `${location.root}/`;
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  const fillMask = await transformers.pipeline('fill-mask', location.name, { quantized });

  engine.clearCache();
  const scores = await engine.score(inputs, wordIds, 1);
  const topk = Math.max(...scores.flatMap((score) => score.words.map((word) => word.rank)));

  // Same numbers as the engine? (Checked on the first pair: the pipeline really finds the label words.)
  const answer = await fillMask(inputs[0], { topk });
  let maxDifference = 0;
  for (const word of scores[0].words) {
    const found = answer.find((item) => item.token === word.tokenId);
    maxDifference = Math.max(maxDifference, found ? Math.abs(found.score - word.p) : Infinity);
  }

  // Time one call, then pick the sample so that one run takes about 3 s.
  const start = performance.now();
  await fillMask(inputs[1 % inputs.length], { topk });
  const oneCall = performance.now() - start;
  let stride = 1;
  while (!quick && stride < 32 && (inputs.length / stride) * oneCall > 3000) stride *= 2;
  if (quick) stride = Math.max(1, Math.floor(inputs.length / 2));
  const order = inputs.map((text, i) => ({ text, i })).sort((a, b) => a.text.length - b.text.length);

  let calls = 0;
  return {
    info: { topk, stride, sampledPairs: Math.ceil(inputs.length / stride), maxProbabilityDifference: maxDifference },
    run: async () => {
      const offset = calls++ % stride;
      const sample = order.filter((_, i) => i % stride === offset);
      const t0 = performance.now();
      for (const { text } of sample) await fillMask(text, { topk });
      return (performance.now() - t0) / sample.length;
    },
  };
}
