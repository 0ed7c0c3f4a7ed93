/**
 * The longest input a model reads, special tokens included: the smaller of
 * the tokenizer's `model_max_length` and the model's position table. Both
 * the validator (`input-too-long`) and the scorer use this one number, so a
 * warning appears exactly when the preview has to truncate.
 */

/** Models whose position ids start after the padding id (RoBERTa: 514 positions read 512 tokens). */
const PADDING_OFFSET_MODELS = new Set(['roberta', 'xlm-roberta', 'camembert', 'longformer', 'data2vec-text']);

export function modelMaxLength(
  config: Readonly<Record<string, unknown>>,
  tokenizerMax: number | undefined,
  /**
   * The rows of the ONNX file's position table, when the engine has read them: a config.json without
   * `max_position_embeddings` (or with a wrong one) let the tokenizer's 512 through to a 128-row
   * table, and ONNX Runtime failed the whole evaluation at the first long row.
   */
  graphPositions?: number,
): number {
  const modelType = typeof config['model_type'] === 'string' ? config['model_type'] : '';
  const positions = Math.min(numberOr(config['max_position_embeddings'], Infinity), graphPositions ?? Infinity);
  const offset = PADDING_OFFSET_MODELS.has(modelType) ? numberOr(config['pad_token_id'], 1) + 1 : 0;
  const fromModel = positions - offset > 0 ? positions - offset : Infinity;
  // Tokenizers without a declared limit report a huge number.
  const fromTokenizer = typeof tokenizerMax === 'number' && tokenizerMax > 0 && tokenizerMax < 100_000 ? tokenizerMax : Infinity;
  const limit = Math.min(fromModel, fromTokenizer);
  return Number.isFinite(limit) ? limit : 512;
}

/** A finite number from a config value, else the fallback. */
export function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
