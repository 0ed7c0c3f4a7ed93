import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { resolveModel } from '../../server/src/model/resolve';
import { MaskedLmEngine, type EngineOptions, type LoadableModel } from '../../server/src/model/engine';
import { modelsDir } from './paths';

/**
 * The independent computation the engine is checked against: the ONNX file
 * run directly with onnxruntime-node (the same 1.14.0 that transformers.js
 * uses), one unpadded input at a time, and the softmax at the mask written out
 * here again in float64. Nothing of the engine's code is on this path.
 */

const sessions = new Map<string, Promise<ort.InferenceSession>>();

export function modelFile(model: string, quantized = false): string {
  return path.join(modelsDir(), model, 'onnx', quantized ? 'model_quantized.onnx' : 'model.onnx');
}

function session(file: string): Promise<ort.InferenceSession> {
  let created = sessions.get(file);
  if (!created) {
    created = ort.InferenceSession.create(file);
    sessions.set(file, created);
  }
  return created;
}

/** p(v | x) over the whole vocabulary at `maskIndex`, from the logits of one unpadded input. */
export async function directDistribution(file: string, ids: readonly number[], maskIndex: number): Promise<Float64Array> {
  const model = await session(file);
  const shape = [1, ids.length];
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from(ids, (id) => BigInt(id)),
      shape,
    ),
    attention_mask: new ort.Tensor(
      'int64',
      BigInt64Array.from(ids, () => 1n),
      shape,
    ),
  };
  if (model.inputNames.includes('token_type_ids')) feeds['token_type_ids'] = new ort.Tensor('int64', new BigInt64Array(ids.length), shape);
  const output = await model.run(feeds);
  const logits = output['logits'];
  const vocab = logits.dims[2];
  const row = (logits.data as Float32Array).subarray(maskIndex * vocab, (maskIndex + 1) * vocab);
  let max = -Infinity;
  for (const value of row) max = Math.max(max, value);
  let total = 0;
  for (const value of row) total += Math.exp(value - max);
  return Float64Array.from(row, (value) => Math.exp(value - max) / total);
}

/** 1-based rank of a token: one more than the number of tokens strictly more probable. */
export function directRank(distribution: Float64Array, tokenId: number): number {
  let above = 0;
  for (const p of distribution) if (p > distribution[tokenId]) above++;
  return above + 1;
}

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-engine-cache-'));

export function location(model: string): LoadableModel {
  const found = resolveModel(model, undefined, { modelsDir: modelsDir(), allowRemoteModels: false, cacheDir });
  if (!found.ok) throw new Error(`${model} is not in the models folder: ${found.reason}`);
  return found;
}

const engines = new Map<string, Promise<MaskedLmEngine>>();

/** An engine shared by the tests of one file, per model and options. */
export function engineFor(model: string, options: EngineOptions = {}): Promise<MaskedLmEngine> {
  const key = `${model} ${JSON.stringify(options)}`;
  let engine = engines.get(key);
  if (!engine) {
    engine = MaskedLmEngine.load(location(model), cacheDir, options);
    engines.set(key, engine);
  }
  return engine;
}

/** A fresh engine nobody else has warmed the cache of. */
export function freshEngine(model: string, options: EngineOptions = {}): Promise<MaskedLmEngine> {
  return MaskedLmEngine.load(location(model), cacheDir, options);
}

export { cacheDir as engineCacheDir };

/**
 * The raw logits at `maskIndex` of one unpadded input, as the training
 * frameworks read them (PET, OpenPrompt and LM-BFF combine logits, not
 * probabilities). `typeIds` are the segment ids of a pair encoding (all 0 when
 * absent), fed when the graph takes them.
 */
export async function directLogits(
  file: string,
  ids: readonly number[],
  maskIndex: number,
  typeIds?: readonly number[],
): Promise<Float64Array> {
  const model = await session(file);
  const shape = [1, ids.length];
  const int64 = (values: readonly number[]): ort.Tensor =>
    new ort.Tensor(
      'int64',
      BigInt64Array.from(values, (v) => BigInt(v)),
      shape,
    );
  const feeds: Record<string, ort.Tensor> = { input_ids: int64(ids), attention_mask: int64(ids.map(() => 1)) };
  if (model.inputNames.includes('token_type_ids')) feeds['token_type_ids'] = int64(typeIds ?? ids.map(() => 0));
  const logits = (await model.run(feeds))['logits'];
  const vocab = logits.dims[2];
  return Float64Array.from((logits.data as Float32Array).subarray(maskIndex * vocab, (maskIndex + 1) * vocab));
}
