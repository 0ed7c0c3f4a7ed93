import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PreTrainedTokenizer, Tensor } from '@xenova/transformers' with { 'resolution-mode': 'import' };
import type { MaskScores } from '../language/scores';
import { CancelledError } from './cancelled';
import { LogitsCache } from './logitsCache';
import { modelMaxLength, numberOr } from './maxLength';
import { maskNotFound, maskScoresFromLogits } from './maskDistribution';
import { locationKey, type ModelLocation } from './resolve';
import { withModelEnv } from './transformers';

/**
 * Scores inputs at their mask with a masked LM: the model's logits at the
 * first mask, softmaxed over the whole vocabulary. It runs the model itself
 * rather than the fill-mask pipeline, because the pipeline of transformers.js
 * 2.17.2 cannot score chosen tokens (no `targets`), keeps only the top k and
 * silently looks at the first mask only.
 */

export type LoadableModel = Extract<ModelLocation, { ok: true }>;

export interface EngineOptions {
  /** `onnx/model_quantized.onnx` (true, the transformers.js default) or `onnx/model.onnx`. */
  readonly quantized?: boolean;
  /** Most inputs run in one model call. */
  readonly batchSize?: number;
  /**
   * Most padded tokens in one model call. The graph returns logits at every
   * position (batch × length × vocabulary floats: 120 KB a token for BERT), so
   * this bounds the memory of one call as well as its padding waste.
   */
  readonly maxBatchTokens?: number;
  /** Memory for the logits of inputs already scored. */
  readonly cacheBytes?: number;
}

/**
 * Small batches are the fastest here: the graph computes the vocabulary
 * projection at every position, so a call's cost and memory grow with
 * batch × length and big batches only add padding and allocation. On
 * review-bert-small (2 cores, 64 SST-2 inputs of ~29 tokens) batches of 2–4
 * took 0.55–0.6 s (fp32) and 0.9–1.0 s (int8), batches of 16 took 2.0–2.5 s.
 */
export const defaultEngineOptions = { quantized: true, batchSize: 4, maxBatchTokens: 512, cacheBytes: 64 * 1024 * 1024 } as const;

export interface EngineCounters {
  /** Inputs run through the model. */
  readonly computedPairs: number;
  /** Inputs answered from the cache (or from a repeat of the same input in one call). */
  readonly cachedPairs: number;
  /** Model calls. */
  readonly batches: number;
  /** Time spent inside model calls, in milliseconds. */
  readonly modelMs: number;
}

/** What a loaded engine is, for progress messages and hovers. */
export interface ModelInfo {
  readonly modelKey: string;
  readonly id: string;
  readonly quantized: boolean;
  readonly file: string;
  readonly vocabSize: number;
  /** Longest input the model reads, special tokens included. */
  readonly maxLength: number;
  readonly maskToken: string;
  readonly maskTokenId: number;
  readonly loadMs: number;
}

/** The callable masked-LM model of transformers.js, as much of it as the engine uses. */
interface MaskedLmModel {
  (inputs: { input_ids: Tensor; attention_mask: Tensor }): Promise<{ logits: Tensor }>;
  readonly config: Record<string, unknown>;
  dispose(): Promise<unknown>;
}

type TensorClass = new (type: 'int64', data: BigInt64Array, dims: number[]) => Tensor;

/** An input ready for the model: its ids (cut to the model's length) and where its mask is. */
interface EncodedInput {
  readonly ids: readonly number[];
  /** -1 when the model would not see a mask. */
  readonly maskIndex: number;
  readonly truncated: boolean;
  readonly cacheKey: string;
}

/** RoBERTa-style models number positions from `pad_token_id + 1`, so they read two fewer tokens than they have positions. */

export class MaskedLmEngine {
  private readonly cache: LogitsCache;
  private counters = { computedPairs: 0, cachedPairs: 0, batches: 0, modelMs: 0 };
  private readonly vocab: readonly string[];
  private readonly padTokenId: number;
  private readonly batchSize: number;
  private readonly maxBatchTokens: number;

  private constructor(
    readonly info: ModelInfo,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly model: MaskedLmModel,
    private readonly TensorOf: TensorClass,
    options: EngineOptions,
  ) {
    this.cache = new LogitsCache(options.cacheBytes ?? defaultEngineOptions.cacheBytes);
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? defaultEngineOptions.batchSize));
    this.maxBatchTokens = Math.max(1, Math.floor(options.maxBatchTokens ?? defaultEngineOptions.maxBatchTokens));
    this.vocab = (tokenizer as unknown as { model: { vocab: string[] } }).model.vocab;
    this.padTokenId = tokenizer.pad_token_id ?? numberOr(model.config['pad_token_id'], 0);
  }

  /** Loads the tokenizer and the ONNX model; rejects with a message that names the folder, the file and the fix. */
  static async load(location: LoadableModel, cacheDir: string, options: EngineOptions = {}): Promise<MaskedLmEngine> {
    const quantized = options.quantized ?? defaultEngineOptions.quantized;
    const file = quantized ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx';
    const folder = locationKey(location);
    if (location.source !== 'remote' && !fs.existsSync(path.join(folder, file))) {
      const other = quantized ? 'onnx/model.onnx' : 'onnx/model_quantized.onnx';
      const hint = fs.existsSync(path.join(folder, other))
        ? ` It has ${other}: ${quantized ? 'turn cloze.quantized off (CLI: --no-quantized)' : 'turn cloze.quantized on'}.`
        : ' Export the model for transformers.js (ONNX files in onnx/).';
      throw new Error(`${location.id} cannot be scored: ${folder} has no ${file}.${hint}`);
    }
    const started = performance.now();
    let loaded: { tokenizer: PreTrainedTokenizer; model: MaskedLmModel; TensorOf: TensorClass };
    try {
      loaded = await withModelEnv(location, cacheDir, async (module) => {
        const tokenizer = await module.AutoTokenizer.from_pretrained(location.name);
        const model = (await module.AutoModelForMaskedLM.from_pretrained(location.name, { quantized })) as unknown as MaskedLmModel;
        return { tokenizer, model, TensorOf: module.Tensor as unknown as TensorClass };
      });
    } catch (error) {
      throw new Error(describeEngineLoadError(location, file, quantized, error));
    }
    const { tokenizer, model, TensorOf } = loaded;
    const maskTokenId = tokenizer.mask_token_id;
    if (tokenizer.mask_token === null || tokenizer.mask_token === undefined || maskTokenId === undefined) {
      await model.dispose();
      throw new Error(`${location.id} has no mask token in its tokenizer: it is not a masked language model.`);
    }
    const info: ModelInfo = {
      modelKey: locationKey(location),
      id: location.id,
      quantized,
      file,
      vocabSize: numberOr(model.config['vocab_size'], (tokenizer as unknown as { model: { vocab: string[] } }).model.vocab.length),
      maxLength: modelMaxLength(model.config, tokenizer.model_max_length),
      maskToken: tokenizer.mask_token,
      maskTokenId,
      loadMs: performance.now() - started,
    };
    return new MaskedLmEngine(info, tokenizer, model, TensorOf, options);
  }

  stats(): EngineCounters & { readonly cacheEntries: number } {
    return { ...this.counters, cacheEntries: this.cache.size };
  }

  /** The ids the model is fed for a text, special tokens included, before any cut. */
  encode(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /**
   * Scores each input at its first mask: the top `topK` tokens and, for each
   * of `wordIds`, its probability and rank. Inputs are encoded, looked up in
   * the cache, and the rest run in batches of similar length. `signal` is
   * checked between batches; when it fires the call rejects with
   * `CancelledError` (batches already run stay cached).
   */
  async score(inputs: readonly string[], wordIds: readonly number[], topK: number, signal?: AbortSignal): Promise<MaskScores[]> {
    const encoded = inputs.map((text) => this.prepare(text));
    const rows = new Map<string, Float32Array | null>();
    const toRun: EncodedInput[] = [];
    for (const input of encoded) {
      if (input.maskIndex < 0 || rows.has(input.cacheKey)) {
        if (input.maskIndex >= 0) this.counters.cachedPairs++;
        continue;
      }
      const cached = this.cache.get(input.cacheKey);
      if (cached !== undefined) {
        rows.set(input.cacheKey, cached);
        this.counters.cachedPairs++;
      } else {
        // Reserve the key so a repeat within this call is not run twice.
        rows.set(input.cacheKey, null);
        toRun.push(input);
      }
    }

    for (const batch of this.batches(toRun)) {
      // ONNX Runtime runs synchronously on this thread: yield once per batch so a
      // cancel message (or any other event) gets through between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal?.aborted) throw new CancelledError();
      const logits = await this.run(batch);
      batch.forEach((input, i) => {
        rows.set(input.cacheKey, logits[i]);
        this.cache.set(input.cacheKey, logits[i]);
      });
      this.counters.computedPairs += batch.length;
    }

    const tokenOf = (id: number): string => this.vocab[id] ?? String(id);
    return encoded.map((input) => {
      const row = input.maskIndex < 0 ? null : rows.get(input.cacheKey);
      return row ? maskScoresFromLogits(row, wordIds, topK, tokenOf, input.truncated) : maskNotFound(input.truncated);
    });
  }

  /** Drops the cached logits (the counters stay). */
  clearCache(): void {
    this.cache.clear();
  }

  async dispose(): Promise<void> {
    this.cache.clear();
    await this.model.dispose();
  }

  /**
   * Encodes a text and, when it is longer than the model reads, cuts it to a
   * window that keeps the mask: the end goes first (as Hugging Face truncation
   * does), but when the mask itself would be cut, the beginning goes instead,
   * so a long review before `It was [MASK].` still gets scored. The first and
   * last ids (`[CLS]`/`[SEP]`, `<s>`/`</s>`) are always kept.
   */
  private prepare(text: string): EncodedInput {
    const all = this.encode(text);
    const maskIndex = all.indexOf(this.info.maskTokenId);
    const { maxLength } = this.info;
    if (all.length <= maxLength || maskIndex < 0 || maxLength < 3) {
      const ids = all.length <= maxLength ? all : all.slice(0, maxLength);
      const visibleMask = maskIndex < ids.length ? maskIndex : -1;
      return { ids, maskIndex: visibleMask, truncated: all.length > maxLength, cacheKey: ids.join(' ') };
    }
    const content = all.slice(1, -1);
    const keep = maxLength - 2;
    const maskInContent = maskIndex - 1;
    const start = maskInContent < keep ? 0 : Math.min(content.length - keep, maskInContent - Math.floor(keep / 2));
    const ids = [all[0], ...content.slice(start, start + keep), all[all.length - 1]];
    return { ids, maskIndex: maskInContent - start + 1, truncated: true, cacheKey: ids.join(' ') };
  }

  /** Groups inputs of similar length (shortest first) into batches within both limits. */
  private *batches(inputs: readonly EncodedInput[]): Generator<EncodedInput[]> {
    const sorted = [...inputs].sort((a, b) => a.ids.length - b.ids.length);
    let batch: EncodedInput[] = [];
    for (const input of sorted) {
      // Sorted ascending, so this input sets the padded width of the batch.
      const width = input.ids.length;
      if (batch.length > 0 && (batch.length >= this.batchSize || (batch.length + 1) * width > this.maxBatchTokens)) {
        yield batch;
        batch = [];
      }
      batch.push(input);
    }
    if (batch.length > 0) yield batch;
  }

  /**
   * One model call on a right-padded batch. Padding carries attention mask 0;
   * transformers.js adds all-zero `token_type_ids` itself when the graph takes
   * them (BERT) and not when it does not (RoBERTa).
   */
  private async run(batch: readonly EncodedInput[]): Promise<Float32Array[]> {
    const width = Math.max(...batch.map((input) => input.ids.length));
    const inputIds = new BigInt64Array(batch.length * width).fill(BigInt(this.padTokenId));
    const attention = new BigInt64Array(batch.length * width);
    batch.forEach((input, row) => {
      input.ids.forEach((id, column) => {
        inputIds[row * width + column] = BigInt(id);
        attention[row * width + column] = 1n;
      });
    });
    const started = performance.now();
    const { logits } = await this.model({
      input_ids: new this.TensorOf('int64', inputIds, [batch.length, width]),
      attention_mask: new this.TensorOf('int64', attention, [batch.length, width]),
    });
    this.counters.modelMs += performance.now() - started;
    this.counters.batches++;
    const vocabSize = logits.dims[2];
    const data = logits.data;
    if (!(data instanceof Float32Array) || logits.dims[0] !== batch.length || logits.dims[1] !== width) {
      throw new Error(
        `${this.info.id}: the model returned logits of shape [${logits.dims.join(', ')}], not [${batch.length}, ${width}, vocabulary] float32.`,
      );
    }
    // Copy the mask rows out so the batch's large logits buffer can be freed.
    return batch.map((input, row) =>
      data.slice((row * width + input.maskIndex) * vocabSize, (row * width + input.maskIndex + 1) * vocabSize),
    );
  }
}

function describeEngineLoadError(location: LoadableModel, file: string, quantized: boolean, error: unknown): string {
  const detail = (error instanceof Error ? error.message : String(error)).split('\n')[0]?.trim().replace(/\.+$/, '');
  const folder = locationKey(location);
  const other = quantized
    ? 'If the folder has only onnx/model.onnx, turn cloze.quantized off (CLI: --no-quantized).'
    : 'If the folder has only onnx/model_quantized.onnx, turn cloze.quantized on.';
  if (location.source === 'remote') {
    return `${location.id} could not be downloaded for scoring (${file}: ${detail}). Check the id and the network, or put the model in the models folder (cloze.modelsDir).`;
  }
  return `${location.id} could not be loaded for scoring from ${folder} (${file}): ${detail}. A model folder needs config.json, tokenizer.json and ${file} as exported for transformers.js. ${other}`;
}
