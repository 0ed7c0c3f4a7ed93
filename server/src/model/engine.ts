import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PreTrainedTokenizer } from '@xenova/transformers' with { 'resolution-mode': 'import' };
import * as ort from 'onnxruntime-node';
import { segments } from '../language/render';
import type { MaskScores } from '../language/scores';
import { CancelledError } from './cancelled';
import { LogitsCache } from './logitsCache';
import { modelMaxLength, numberOr } from './maxLength';
import { positionTableRows, readGraph } from './onnxGraph';
import { maskNotFound, maskScoresFromLogits, maskScoresFromStats } from './maskDistribution';
import { type Precision, previewGraph, type PreviewGraph } from './maskOnlyGraph';
import { MaskStats, RANK_CELLS, type RowStats, type StatisticsHead } from './maskStats';
import { externalDataProblem } from './externalData';
import { MODEL_JSON_FILES, modelFileKindProblem, modelFolderProblem } from './modelFiles';
import { locationKey, type ModelLocation } from './resolve';
import { withModelEnv } from './transformers';
import { modelsFolderHint, useFullPrecision, useQuantized, type UserInterface } from './wording';

/**
 * Scores inputs at their mask with a masked LM: the model's logits at the
 * first mask, softmaxed over the whole vocabulary. It runs the model itself
 * rather than the fill-mask pipeline, because the pipeline of transformers.js
 * 2.17.2 cannot score chosen tokens (no `targets`), keeps only the top k and
 * silently looks at the first mask only.
 *
 * The tokenizer and config come from transformers.js; the ONNX file is run
 * with onnxruntime-node (the 1.14.0 transformers.js itself uses), on the graph
 * rewritten by `maskOnlyGraph` to compute the vocabulary logits at the mask
 * only, when the file allows it (else on the graph as it is).
 */

export type LoadableModel = Extract<ModelLocation, { ok: true }>;

export interface EngineOptions {
  /** `onnx/model_quantized.onnx` (true, the transformers.js default) or `onnx/model.onnx`. */
  readonly quantized?: boolean;
  /** Most inputs run in one model call (default: by graph, `defaultBatching`). */
  readonly batchSize?: number;
  /**
   * Most padded tokens in one model call (default: by graph). It bounds the
   * memory of one call (hidden states and attention grow with it, and the
   * full graph's logits by 120 KB a token for BERT) and its padding waste.
   */
  readonly maxBatchTokens?: number;
  /** Memory for the logits of inputs already scored. */
  readonly cacheBytes?: number;
  /** Whose settings or flags load errors name (default: the editor). */
  readonly userInterface?: UserInterface;
}

/** Which graph the engine runs: logits at the mask only (`maskOnlyGraph`), or the file's graph as it is. */
export type GraphKind = 'mask-only' | 'full';

/**
 * The fastest batching per graph, measured by `npm run bench` (bench/preview.mjs:
 * 256 SST-2 pairs of 11–52 tokens, 2 cores). With logits at the mask only, a
 * call costs about its padded tokens, so inputs sorted by length go in large
 * batches: on review-bert-small int8, 32 gave 473 pairs/s against 265 for 4,
 * 451 for 16 and 387 for 64 (the int8 file dequantizes its vocabulary matrix
 * once a call, so tiny batches pay that often); in arrival order instead of
 * sorted, 16 lost a fifth. The full graph returns batch × length × vocabulary
 * floats, so there small batches are fastest (4 took a third of the time of 16).
 */
export const defaultBatching: Readonly<Record<GraphKind, { readonly batchSize: number; readonly maxBatchTokens: number }>> = {
  'mask-only': { batchSize: 32, maxBatchTokens: 4096 },
  full: { batchSize: 4, maxBatchTokens: 512 },
};

export const defaultEngineOptions = { quantized: true, cacheBytes: 64 * 1024 * 1024 } as const;

/** Rows of cached logits per call of the statistics graph. */
const STATS_ROWS = 32;

/** How the ONNX Runtime sessions run (the benchmark's limit uses the same). */
export const sessionOptions: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  // ONNX Runtime's own logger writes a failing node's error to stderr (`[E:onnxruntime:, sequential_executor.cc…]`),
  // through the CLI's output and the editor's log, before the same error reaches the caller as an exception, which
  // says it in words. Fatal only: every error is the caller's to say.
  logSeverityLevel: 4,
};

/** How each model call runs: its failure is an exception said in words, not also a log line (see `sessionOptions`). */
export const runOptions: ort.InferenceSession.RunOptions = { logSeverityLevel: 4 };

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
  /** `mask-only` when the file's graph could be rewritten to compute logits at the mask only. */
  readonly graph: GraphKind;
  /** Why the graph is `full` (undefined on `mask-only`). */
  readonly graphReason?: string;
  /**
   * What the matrix products compute in: `fp32`; `int8-weights` (int8 weights
   * dequantized to fp32); `int8-dynamic-per-token` (a hub `quantize_dynamic`
   * file, its activation scales made per token at load); or
   * `int8-dynamic-per-input` (such a file whose quantizers could not be
   * rewritten: each input then runs alone, so its numbers still do not depend
   * on the others).
   */
  readonly precision: Precision;
  /** Why the precision is `int8-dynamic-per-input`. */
  readonly precisionReason?: string;
  /**
   * Why a mask-only graph computes the softmax statistics after the model
   * calls rather than in its graph: the same numbers, more slowly.
   */
  readonly statisticsReason?: string;
  readonly loadMs: number;
}

/** An input ready for the model: its ids (cut to the model's length) and where its mask is. */
interface EncodedInput {
  readonly ids: readonly number[];
  /** -1 when the model would not see a mask, or sees more than one (`severalMasks`). */
  readonly maskIndex: number;
  /** The text holds the mask token besides the pattern's: not scored (see MaskScores.severalMasks). */
  readonly severalMasks?: boolean;
  readonly truncated: boolean;
  readonly cacheKey: string;
  /** Segment ids of a pair input (`[SEP+]`), from the tokenizer's pair encoding; absent: all 0. */
  readonly typeIds?: readonly number[];
}

export class MaskedLmEngine {
  private readonly cache: LogitsCache;
  private counters = { computedPairs: 0, cachedPairs: 0, batches: 0, modelMs: 0 };
  private readonly vocab: readonly string[];
  /** The id padding positions carry (attention mask 0). */
  readonly padTokenId: number;
  /** The batching in use: the options given, else `defaultBatching` for the graph. */
  readonly batching: { readonly batchSize: number; readonly maxBatchTokens: number };
  private readonly feedsTokenTypes: boolean;

  private constructor(
    readonly info: ModelInfo,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly session: ort.InferenceSession,
    /** The mask-only graph's position input, when the engine runs that graph. */
    private readonly maskInput: string | undefined,
    private readonly output: string,
    /** Softmax statistics by ONNX Runtime for rows not computed with them (cached rows); undefined: computed in JavaScript. */
    private readonly maskStats: MaskStats | undefined,
    /** The statistics the model's own graph returns beside the logits (`appendMaskStatistics`), when it does, and its rows' width. */
    private readonly statisticsHead: (StatisticsHead & { readonly rowWidth: number }) | undefined,
    config: Readonly<Record<string, unknown>>,
    options: EngineOptions,
  ) {
    this.cache = new LogitsCache(options.cacheBytes ?? defaultEngineOptions.cacheBytes);
    const defaults = defaultBatching[info.graph];
    this.batching = {
      // One activation scale per call: only an input alone keeps numbers that are its own.
      batchSize: info.precision === 'int8-dynamic-per-input' ? 1 : Math.max(1, Math.floor(options.batchSize ?? defaults.batchSize)),
      maxBatchTokens: Math.max(1, Math.floor(options.maxBatchTokens ?? defaults.maxBatchTokens)),
    };
    this.vocab = (tokenizer as unknown as { model: { vocab: string[] } }).model.vocab;
    this.padTokenId = tokenizer.pad_token_id ?? numberOr(config['pad_token_id'], 0);
    // transformers.js feeds all-zero token types when the graph takes them (BERT); so does this.
    this.feedsTokenTypes = session.inputNames.includes('token_type_ids');
  }

  /** Loads the tokenizer and the ONNX model; rejects with a message that names the folder, the file and the fix. */
  static async load(location: LoadableModel, cacheDir: string, options: EngineOptions = {}): Promise<MaskedLmEngine> {
    const quantized = options.quantized ?? defaultEngineOptions.quantized;
    const ui = options.userInterface ?? 'editor';
    const file = quantized ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx';
    const folder = locationKey(location);
    if (location.source !== 'remote' && !fs.existsSync(path.join(folder, file))) {
      const other = quantized ? 'onnx/model.onnx' : 'onnx/model_quantized.onnx';
      const hint = fs.existsSync(path.join(folder, other))
        ? ` It has ${other}: ${quantized ? useFullPrecision(ui) : useQuantized(ui)}.`
        : ' Export the model for transformers.js (ONNX files in onnx/).';
      throw new Error(`${location.id} cannot be scored: ${folder} has no ${file}.${hint}`);
    }
    const started = performance.now();
    let tokenizer: PreTrainedTokenizer;
    let config: Record<string, unknown>;
    let session: ort.InferenceSession;
    let prepared: PreviewGraph;
    let rowWidth: number | undefined;
    let graphPositions: number | undefined;
    try {
      // A folder, device or pipe where a file should be is refused before anything opens it (modelFiles.ts).
      const kind = location.source === 'remote' ? undefined : modelFileKindProblem(folder, MODEL_JSON_FILES);
      if (kind) throw new Error(kind);
      ({ tokenizer, config } = await withModelEnv(location, cacheDir, async (module) => {
        const loadedTokenizer = await module.AutoTokenizer.from_pretrained(location.name);
        const loadedConfig = (await module.AutoConfig.from_pretrained(location.name)) as unknown as Record<string, unknown>;
        if (location.source === 'remote') {
          // transformers.js knows the hub's layout: it downloads the file into the cache, where it is read below.
          const downloaded = await module.AutoModelForMaskedLM.from_pretrained(location.name, { quantized });
          await downloaded.dispose();
        }
        return { tokenizer: loadedTokenizer, config: loadedConfig };
      }));
      // The ONNX file has no size bound (readFile refuses what it cannot hold), only its kind.
      const onnxKind = modelFileKindProblem(folder, [file], Number.POSITIVE_INFINITY);
      if (onnxKind) throw new Error(onnxKind);
      const bytes = await fs.promises.readFile(path.join(folder, file));
      // ONNX Runtime says "No graph was found in the protobuf" for an empty file, which names no cause.
      if (bytes.length === 0)
        throw new Error(`the file is empty (0 bytes): a download or copy that did not finish? Copy or export it again`);
      const external = externalDataProblem(bytes, path.join(folder, file), folder);
      if (external) throw new Error(`${file} cannot be used: ${external}`);
      ({ prepared, session, rowWidth } = await preparedSession(bytes, tokenizer));
      graphPositions = positionTable(bytes);
    } catch (error) {
      throw new Error(describeEngineLoadError(location, file, quantized, error, ui));
    }
    const maskTokenId = tokenizer.mask_token_id;
    if (tokenizer.mask_token === null || tokenizer.mask_token === undefined || maskTokenId === undefined) {
      throw new Error(`${location.id} has no mask token in its tokenizer: it is not a masked language model.`);
    }
    const output =
      prepared.maskInput && prepared.output ? prepared.output : session.outputNames.includes('logits') ? 'logits' : session.outputNames[0];
    const info: ModelInfo = {
      modelKey: locationKey(location),
      id: location.id,
      quantized,
      file,
      vocabSize: numberOr(config['vocab_size'], (tokenizer as unknown as { model: { vocab: string[] } }).model.vocab.length),
      maxLength: modelMaxLength(config, tokenizer.model_max_length, graphPositions),
      maskToken: tokenizer.mask_token,
      maskTokenId,
      graph: prepared.graph,
      ...(prepared.reason !== undefined ? { graphReason: prepared.reason } : {}),
      precision: prepared.precision,
      ...(prepared.quantizationReason !== undefined && prepared.precision === 'int8-dynamic-per-input'
        ? { precisionReason: prepared.quantizationReason }
        : {}),
      ...(prepared.graph === 'mask-only' && prepared.statisticsReason !== undefined ? { statisticsReason: prepared.statisticsReason } : {}),
      loadMs: performance.now() - started,
    };
    const maskStats = await MaskStats.create(sessionOptions);
    const head = prepared.statistics && rowWidth !== undefined ? { ...prepared.statistics, rowWidth } : undefined;
    return new MaskedLmEngine(info, tokenizer, session, prepared.maskInput, output, maskStats, head, config, options);
  }

  stats(): EngineCounters & { readonly cacheEntries: number } {
    return { ...this.counters, cacheEntries: this.cache.size };
  }

  /** The ids the model is fed for a text, special tokens included, before any cut. */
  encode(text: string): number[] {
    return this.encodeWithTypes(text).ids;
  }

  /**
   * A text, or the two texts of a pair input (split at `SEGMENT_B`, a pattern
   * with `[SEP+]`), encoded by the tokenizer itself: for a pair its own pair
   * encoding (`[CLS] A [SEP] B [SEP]`, `<s> A </s></s> B </s>`) with the
   * segment ids its post-processor gives.
   */
  encodeWithTypes(text: string): { ids: number[]; typeIds?: number[] } {
    const [a, b] = segments(text);
    if (b === undefined) return { ids: this.tokenizer.encode(text) };
    // `_encode_plus` is what `encode` and the tokenizer call use inside; only it returns the segment ids without tensors.
    const plus = (this.tokenizer as unknown as PairEncoder)._encode_plus(a, b, { return_token_type_ids: true });
    return { ids: plus.input_ids, typeIds: plus.token_type_ids ?? plus.input_ids.map(() => 0) };
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

    // The softmax statistics of each row this call reads, for its top k.
    const statistics = new Map<string, { max: number; sum: number; top: number[]; above?: number[] }>();
    const record = (
      keys: readonly string[],
      stats: RowStats,
      above: Int32Array | undefined,
      inside: readonly number[],
      vocabulary: number,
    ): void => {
      keys.forEach((key, row) => {
        const top = Array.from(stats.top.subarray(row * stats.k, (row + 1) * stats.k), Number);
        const counts = above?.subarray(row * inside.length, (row + 1) * inside.length);
        let next = 0;
        // The ranks of the ids within the vocabulary (one outside it ranks last, in maskScoresFromStats).
        const perWord = counts && wordIds.map((id) => (id >= 0 && id < vocabulary ? counts[next++] : 0));
        statistics.set(key, { max: stats.max[row], sum: stats.sum[row], top, ...(perWord ? { above: perWord } : {}) });
      });
    };
    const within = (vocabulary: number): number[] => wordIds.filter((id) => id >= 0 && id < vocabulary);

    // Each mask-only batch: its rows in one buffer, and what the model's graph already computed of their statistics.
    const computed: { keys: string[]; logits: Float32Array; vocabulary: number; stats?: RowStats }[] = [];
    for (const batch of this.batches(toRun)) {
      // ONNX Runtime runs synchronously on this thread: yield once per batch so a
      // cancel message (or any other event) gets through between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal?.aborted) throw new CancelledError();
      const { rows: logits, contiguous, stats, above } = await this.run(batch, topK, wordIds);
      batch.forEach((input, i) => {
        rows.set(input.cacheKey, logits[i]);
        this.cache.set(input.cacheKey, logits[i]);
      });
      this.counters.computedPairs += batch.length;
      const keys = batch.map((input) => input.cacheKey);
      const vocabulary = logits[0].length;
      if (stats && above) record(keys, stats, above, within(vocabulary), vocabulary);
      else if (contiguous) computed.push({ keys, logits: contiguous, vocabulary, ...(stats ? { stats } : {}) });
    }

    if (this.maskStats) {
      const maskStats = this.maskStats;
      // What the model's graph did not compute, only after every model call of this
      // request: a call of the statistics session between two model calls made the
      // next model call about 40% slower (review-bert-small-xenova fp32, 256 pairs:
      // 2.2 against 1.5 ms a pair), whatever the statistics session's threads; after
      // them it costs its own time only.
      const complete = async (keys: readonly string[], data: Float32Array, vocabulary: number, given?: RowStats): Promise<void> => {
        const inside = within(vocabulary);
        const stats = given ?? (await maskStats.compute(data, keys.length, vocabulary, topK));
        record(keys, stats, await maskStats.above(data, keys.length, vocabulary, inside), inside, vocabulary);
      };
      for (const { keys, logits, vocabulary, stats } of computed) await complete(keys, logits, vocabulary, stats);
      // Rows from the cache (and the full graph's rows): their statistics, a few rows a call.
      const pending = [...rows].filter((entry): entry is [string, Float32Array] => entry[1] !== null && !statistics.has(entry[0]));
      for (let start = 0; start < pending.length; start += STATS_ROWS) {
        const chunk = pending.slice(start, start + STATS_ROWS);
        const vocabulary = chunk[0][1].length;
        const data = new Float32Array(chunk.length * vocabulary);
        chunk.forEach(([, row], i) => data.set(row, i * vocabulary));
        await complete(
          chunk.map(([key]) => key),
          data,
          vocabulary,
        );
      }
    }

    const tokenOf = (id: number): string => this.vocab[id] ?? String(id);
    return encoded.map((input) => {
      const row = input.maskIndex < 0 ? null : rows.get(input.cacheKey);
      if (!row) return maskNotFound(input.truncated, input.severalMasks);
      const stats = statistics.get(input.cacheKey);
      return stats
        ? maskScoresFromStats(row, stats, wordIds, topK, tokenOf, input.truncated)
        : maskScoresFromLogits(row, wordIds, topK, tokenOf, input.truncated);
    });
  }

  /** Drops the cached logits (the counters stay). */
  clearCache(): void {
    this.cache.clear();
  }

  async dispose(): Promise<void> {
    // onnxruntime-node 1.14 has no release(): a session is freed when it is collected.
    this.cache.clear();
    return Promise.resolve();
  }

  /**
   * Encodes a text and, when it is longer than the model reads, cuts it to a
   * window that keeps the mask: the end goes first (as Hugging Face truncation
   * does), but when the mask itself would be cut, the beginning goes instead,
   * so a long review before `It was [MASK].` still gets scored. The first and
   * last ids (`[CLS]`/`[SEP]`, `<s>`/`</s>`) are always kept.
   */
  private prepare(text: string): EncodedInput {
    const { ids: all, typeIds: allTypes } = this.encodeWithTypes(text);
    const maskIndex = all.indexOf(this.info.maskTokenId);
    const { maxLength } = this.info;
    // A pair input's segment ids are part of what the model sees, so of the cache key too.
    const withTypes = (ids: number[], typeIds: number[] | undefined): { ids: number[]; typeIds?: number[]; cacheKey: string } =>
      typeIds ? { ids, typeIds, cacheKey: `${ids.join(' ')}|${typeIds.join('')}` } : { ids, cacheKey: ids.join(' ') };
    // A second mask token comes from the text (`example: fun [MASK]`): the first mask would be the text's, not the pattern's.
    if (maskIndex >= 0 && all.indexOf(this.info.maskTokenId, maskIndex + 1) >= 0) {
      const cut = Math.min(all.length, maxLength);
      return {
        ...withTypes(all.slice(0, cut), allTypes?.slice(0, cut)),
        maskIndex: -1,
        truncated: all.length > maxLength,
        severalMasks: true,
      };
    }
    if (all.length <= maxLength || maskIndex < 0 || maxLength < 3) {
      const cut = all.length <= maxLength ? all.length : maxLength;
      const visibleMask = maskIndex < cut ? maskIndex : -1;
      return { ...withTypes(all.slice(0, cut), allTypes?.slice(0, cut)), maskIndex: visibleMask, truncated: all.length > maxLength };
    }
    const content = all.slice(1, -1);
    const keep = maxLength - 2;
    const maskInContent = maskIndex - 1;
    const start = maskInContent < keep ? 0 : Math.min(content.length - keep, maskInContent - Math.floor(keep / 2));
    const ids = [all[0], ...content.slice(start, start + keep), all[all.length - 1]];
    const typeIds = allTypes && [allTypes[0], ...allTypes.slice(1, -1).slice(start, start + keep), allTypes[allTypes.length - 1]];
    return { ...withTypes(ids, typeIds), maskIndex: maskInContent - start + 1, truncated: true };
  }

  /** Groups inputs of similar length (shortest first) into batches within both limits. */
  private *batches(inputs: readonly EncodedInput[]): Generator<EncodedInput[]> {
    const { batchSize, maxBatchTokens } = this.batching;
    const sorted = [...inputs].sort((a, b) => a.ids.length - b.ids.length);
    let batch: EncodedInput[] = [];
    for (const input of sorted) {
      // Sorted ascending, so this input sets the padded width of the batch.
      const width = input.ids.length;
      if (batch.length > 0 && (batch.length >= batchSize || (batch.length + 1) * width > maxBatchTokens)) {
        yield batch;
        batch = [];
      }
      batch.push(input);
    }
    if (batch.length > 0) yield batch;
  }

  /**
   * One model call on a right-padded batch. Padding carries attention mask 0;
   * token types are all zero. The mask-only graph also takes each row's mask
   * position and returns one logits row per input; the full graph returns
   * them at every position and the mask rows are copied out.
   */
  private async run(
    batch: readonly EncodedInput[],
    topK: number,
    wordIds: readonly number[],
  ): Promise<{ rows: Float32Array[]; contiguous: Float32Array | undefined; stats?: RowStats; above?: Int32Array }> {
    const width = Math.max(...batch.map((input) => input.ids.length));
    const shape = [batch.length, width];
    const inputIds = new BigInt64Array(batch.length * width).fill(BigInt(this.padTokenId));
    const attention = new BigInt64Array(batch.length * width);
    batch.forEach((input, row) => {
      input.ids.forEach((id, column) => {
        inputIds[row * width + column] = BigInt(id);
        attention[row * width + column] = 1n;
      });
    });
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', inputIds, shape),
      attention_mask: new ort.Tensor('int64', attention, shape),
    };
    if (this.feedsTokenTypes) {
      const types = new BigInt64Array(inputIds.length);
      batch.forEach((input, row) => input.typeIds?.forEach((type, column) => (types[row * width + column] = BigInt(type))));
      feeds['token_type_ids'] = new ort.Tensor('int64', types, shape);
    }
    if (this.maskInput) {
      // Each row's mask in the batch flattened to [batch × width] rows.
      feeds[this.maskInput] = new ort.Tensor(
        'int64',
        BigInt64Array.from(batch, (input, row) => BigInt(row * width + input.maskIndex)),
        [batch.length],
      );
    }
    const head = this.maskInput ? this.statisticsHead : undefined;
    let request: { k: number; words: number[]; ranked: boolean } | undefined;
    if (head) {
      // The graph's statistics need ids inside the row and k at most its width: the width the load probe saw.
      const width = head.rowWidth;
      const inside = wordIds.filter((id) => id >= 0 && id < width);
      // The ranks' [batch, words, vocabulary] intermediate is bounded as the separate graph's is: above that, no ids here and the ranks after.
      const words = batch.length * inside.length * width <= RANK_CELLS ? inside : [];
      request = { k: Math.max(1, Math.min(Math.floor(topK), width)), words, ranked: words.length === inside.length };
      feeds[head.k] = new ort.Tensor('int64', BigInt64Array.from([BigInt(request.k)]), [1]);
      feeds[head.words] = new ort.Tensor(
        'int64',
        BigInt64Array.from(words, (id) => BigInt(id)),
        [words.length],
      );
    }
    const started = performance.now();
    const outputs = await this.session.run(feeds, runOptions);
    const logits = outputs[this.output];
    this.counters.modelMs += performance.now() - started;
    this.counters.batches++;
    const data = logits.data;
    const dims = logits.dims;
    const vocabSize = dims[dims.length - 1];
    const expected = this.maskInput ? [batch.length, 'vocabulary'] : [batch.length, width, 'vocabulary'];
    const ok =
      data instanceof Float32Array && dims.length === expected.length && dims[0] === batch.length && (this.maskInput || dims[1] === width);
    if (!ok) {
      throw new Error(
        `${this.info.id}: the model returned ${logits.type} logits of shape [${dims.join(', ')}], not [${expected.join(', ')}] float32.`,
      );
    }
    const all = data as Float32Array;
    if (this.maskInput) {
      // One row per input already: views, not copies (copying a fresh 120 KB row cost about 0.08 ms).
      const rows = batch.map((_, row) => all.subarray(row * vocabSize, (row + 1) * vocabSize));
      if (!head || !request || vocabSize !== head.rowWidth) return { rows, contiguous: all };
      const stats: RowStats = {
        max: outputs[head.max].data as Float32Array,
        sum: outputs[head.sum].data as Float64Array,
        top: outputs[head.top].data as BigInt64Array,
        k: request.k,
      };
      // No ids were given when the ranks would not fit: they are counted after the model calls.
      const above = request.ranked ? (outputs[head.above].data as Int32Array) : undefined;
      return { rows, contiguous: all, stats, ...(above ? { above } : {}) };
    }
    // Copy the mask rows out so the batch's large logits buffer can be freed.
    const rows = batch.map((input, row) =>
      all.slice((row * width + input.maskIndex) * vocabSize, (row * width + input.maskIndex + 1) * vocabSize),
    );
    return { rows, contiguous: undefined };
  }
}

/**
 * The session for previews: the mask-only graph, with the softmax statistics
 * in it, when the file allows it and it passes a one-input probe; else the
 * mask-only graph alone; else the full graph (with per-token quantization if
 * it can be), else the file as shipped; the graph says why.
 */
/** The rows of the file's position table, if it can be read (`positionTableRows`). */
function positionTable(bytes: Uint8Array): number | undefined {
  try {
    return positionTableRows(readGraph(bytes));
  } catch {
    return undefined;
  }
}

async function preparedSession(
  bytes: Uint8Array,
  tokenizer: PreTrainedTokenizer,
): Promise<{ prepared: PreviewGraph; session: ort.InferenceSession; rowWidth?: number }> {
  let prepared = previewGraph(bytes, { statistics: true });
  let problem: string | undefined;
  // The mask-only graph without the statistics is made only if the one with them fails (each is a copy of the model).
  const candidates = function* (): Generator<PreviewGraph> {
    yield prepared;
    if (prepared.statistics) yield previewGraph(bytes);
  };
  for (const candidate of candidates()) {
    if (candidate.graph !== 'mask-only') break;
    try {
      const session = await ort.InferenceSession.create(candidate.bytes, sessionOptions);
      const probe = await probeMaskOnly(session, candidate, tokenizer);
      if (typeof probe === 'number') {
        const statisticsReason =
          candidate === prepared ? prepared.statisticsReason : `they failed a check at load (${problem ?? 'unknown'})`;
        return { prepared: { ...candidate, ...(statisticsReason !== undefined ? { statisticsReason } : {}) }, session, rowWidth: probe };
      }
      problem = probe;
    } catch (error) {
      problem = `ONNX Runtime could not load it: ${firstLine(error)}`;
    }
  }
  if (prepared.graph === 'mask-only') {
    // A graph the rewrite misread: the full graph instead, and why.
    prepared = { ...previewGraph(bytes, { maskOnly: false }), reason: `the mask-only graph failed a check at load (${problem})` };
  }
  if (prepared.bytes !== bytes) {
    try {
      return { prepared, session: await ort.InferenceSession.create(prepared.bytes, sessionOptions) };
    } catch (error) {
      const { reason } = prepared;
      prepared = {
        bytes,
        graph: 'full',
        precision: prepared.precision === 'int8-dynamic-per-token' ? 'int8-dynamic-per-input' : prepared.precision,
      };
      prepared = {
        ...prepared,
        reason: reason ?? 'the rewritten graph did not load',
        quantizationReason: `the rewritten graph did not load (${firstLine(error)})`,
      };
    }
  }
  return { prepared, session: await ort.InferenceSession.create(bytes, sessionOptions) };
}

/**
 * The width of the logits row when a rewritten graph runs on a one-input
 * batch (`[CLS] [MASK] [SEP]`) and gives one row (and, with the statistics,
 * statistics that agree with it), else what went wrong.
 */
async function probeMaskOnly(session: ort.InferenceSession, graph: PreviewGraph, tokenizer: PreTrainedTokenizer): Promise<number | string> {
  try {
    const ids = tokenizer.encode(tokenizer.mask_token ?? '');
    const mask = ids.indexOf(tokenizer.mask_token_id ?? -1);
    if (mask < 0 || !graph.maskInput || !graph.output) return 'the tokenizer gives no mask token';
    const shape = [1, ids.length];
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), shape),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), shape),
      [graph.maskInput]: new ort.Tensor('int64', BigInt64Array.from([BigInt(mask)]), [1]),
    };
    if (session.inputNames.includes('token_type_ids'))
      feeds['token_type_ids'] = new ort.Tensor('int64', new BigInt64Array(ids.length), shape);
    const head = graph.statistics;
    if (head) {
      feeds[head.k] = new ort.Tensor('int64', BigInt64Array.from([1n]), [1]);
      feeds[head.words] = new ort.Tensor('int64', BigInt64Array.from([0n]), [1]);
    }
    const outputs = await session.run(feeds, runOptions);
    const logits = outputs[graph.output];
    const ok = logits.dims.length === 2 && logits.dims[0] === 1 && logits.dims[1] > 1 && logits.data instanceof Float32Array;
    if (!ok) return `it returned logits of shape [${logits.dims.join(', ')}]`;
    if (head) {
      // The statistics of the row against the row itself: the largest logit, its id first, and how many exceed token 0.
      const row = logits.data as Float32Array;
      // A NaN or +∞ in the row makes the statistics meaningless; that is the model's fault, not theirs (−∞ is a probability of 0).
      if (row.some((value) => Number.isNaN(value) || value === Infinity)) return 'the probe input’s logits include NaN or +∞';
      let max = -Infinity;
      let argmax = 0;
      let above = 0;
      row.forEach((value, id) => {
        if (value > max) [max, argmax] = [value, id];
        if (value > row[0]) above++;
      });
      const agrees =
        (outputs[head.max].data as Float32Array)[0] === max &&
        Number((outputs[head.top].data as BigInt64Array)[0]) === argmax &&
        (outputs[head.above].data as Int32Array)[0] === above &&
        (outputs[head.sum].data as Float64Array)[0] >= 1;
      if (!agrees) return 'its softmax statistics disagree with its logits';
    }
    return logits.dims[1];
  } catch (error) {
    return `it did not run: ${firstLine(error)}`;
  }
}

function firstLine(error: unknown): string {
  return ((error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '').trim().replace(/\.+$/, '');
}

/** What ran, as `cloze preview --format json` and `cloze eval --format json` report it (`engine`). */
export interface EngineReport {
  readonly file: string;
  readonly graph: GraphKind;
  readonly precision: Precision;
  /** Why the graph is `full`. */
  readonly reason?: string;
  /** Why the precision is per input rather than per token. */
  readonly precisionReason?: string;
  /** Why the softmax statistics run after the model calls rather than in its graph. */
  readonly statisticsReason?: string;
}

export function engineReport(info: ModelInfo): EngineReport {
  return {
    file: info.file,
    graph: info.graph,
    precision: info.precision,
    ...(info.graph === 'full' ? { reason: info.graphReason ?? 'unknown' } : {}),
    ...(info.precisionReason !== undefined ? { precisionReason: info.precisionReason } : {}),
    ...(info.statisticsReason !== undefined ? { statisticsReason: info.statisticsReason } : {}),
  };
}

/** One line for logs and hover footers: `onnx/model_quantized.onnx · mask-only graph · int8-dynamic-per-token`. */
export function describeEngine(info: ModelInfo): string {
  const graph = info.graph === 'mask-only' ? 'mask-only graph' : `full graph (${info.graphReason ?? 'reason unknown'})`;
  const precision = info.precisionReason ? `${info.precision} (${info.precisionReason})` : info.precision;
  const statistics = info.statisticsReason ? ` · softmax statistics after the model calls (${info.statisticsReason})` : '';
  return `${info.file} · ${graph} · ${precision}${statistics}`;
}

function describeEngineLoadError(location: LoadableModel, file: string, quantized: boolean, error: unknown, ui: UserInterface): string {
  const detail = (error instanceof Error ? error.message : String(error)).split('\n')[0]?.trim().replace(/\.+$/, '');
  const folder = locationKey(location);
  const other = quantized
    ? `If the folder has only onnx/model.onnx, ${useFullPrecision(ui)}.`
    : `If the folder has only onnx/model_quantized.onnx, ${useQuantized(ui)}.`;
  if (location.source === 'remote') {
    const local = location.notInModelsDir ? `${location.notInModelsDir}, and ` : '';
    return `${local}${location.id} could not be downloaded for scoring (${file}: ${detail}). Check the id and the network, or put the model in the models folder (${modelsFolderHint(ui)}).`;
  }
  const problem = modelFolderProblem(folder, MODEL_JSON_FILES, ['tokenizer.json', 'config.json']);
  if (problem)
    return `${location.id} could not be loaded for scoring: ${problem}. A model folder needs config.json, tokenizer.json and ${file} as exported for transformers.js.`;
  return `${location.id} could not be loaded for scoring from ${folder} (${file}): ${detail}. A model folder needs config.json, tokenizer.json and ${file} as exported for transformers.js. ${other}`;
}

/** The tokenizer's pair encoding with segment ids (typed here: the library declares it private). */
interface PairEncoder {
  _encode_plus(text: string, pair: string, options: { return_token_type_ids: boolean }): { input_ids: number[]; token_type_ids?: number[] };
}
