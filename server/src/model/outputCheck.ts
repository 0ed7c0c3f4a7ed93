import type { MaskedLmEngine } from './engine';

/**
 * Whether a loaded model gives what the preview needs: float32 logits with one
 * score per vocabulary token at the mask. A sequence classifier (2 scores), a
 * head cut to another size, or integer logits would otherwise be scored as if
 * they were a vocabulary distribution (label words outside the row all get
 * p = 0, so every label ties at 50 %). Run once after a load, by the inference
 * process and by the CLI, so such a model is `model-unavailable` with the reason.
 *
 * It uses the engine's public `score` only: the row's width shows in how a
 * word id is answered. An id outside the row gets p = 0 and the rank `width`
 * (it ranks last); one inside gets a rank at most the width. So scoring id
 * `V` (V = the vocabulary size) tells `width == V` apart from narrower rows
 * (rank below V) and wider ones (V inside, ranked by its logit). A row with a
 * NaN or +∞ logit has no numbers (`nonFinite`).
 */
export async function checkModelOutput(engine: MaskedLmEngine): Promise<void> {
  const { id, vocabSize, maskToken } = engine.info;
  let answer;
  try {
    [answer] = await engine.score([maskToken], [vocabSize], 1);
  } catch (error) {
    const detail = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    const rows = embeddingRowsFromGatherError(detail);
    if (rows !== undefined && rows < vocabSize) {
      // The tokenizer's ids run past the model's embedding: not a wrong head, a tokenizer of another model.
      throw new Error(
        `${id} cannot be scored: its tokenizer has ${vocabSize.toLocaleString('en-US')} tokens but the model's embedding has ${rows.toLocaleString('en-US')} rows, so tokenizer.json and ${engine.info.file} come from different models. Put the model's own tokenizer files (tokenizer.json, tokenizer_config.json) beside its ONNX file.`,
      );
    }
    throw new Error(
      `${id} cannot be scored: its output is not float32 logits with one score per vocabulary token (${vocabSize}) — ${stripPrefix(detail, id)}. Use a masked-LM export (AutoModelForMaskedLM), not a classifier or another head.`,
    );
  } finally {
    // The probe's row is no user's input: keep it out of the cache the counters describe.
    engine.clearCache();
  }
  // A NaN or +∞ logit anywhere in the row leaves no probability to compute: said as such.
  if (answer?.nonFinite) {
    throw new Error(
      `${id} cannot be scored: its logits at the mask are not all numbers (a NaN or +∞ logit from ${engine.info.file}), so no probability can be computed. The file's weights are broken or its arithmetic overflows: export the model again (in float32 if it overflows).`,
    );
  }
  if (!answer?.maskFound) return; // The mask token alone is cut away (a model that reads 2 tokens): nothing to measure.
  const [beyond] = answer.words;
  // Not `p > 0` for id V − 1 as well: a −∞ logit there (or one 745 nats below the top) is a probability of 0 in a row of the right width.
  if (beyond.p === 0 && beyond.rank === vocabSize) return;
  const width = beyond.p === 0 ? beyond.rank : undefined;
  // A row wider than the vocabulary, or one of a vocabulary's size (a classifier has a few scores), is a masked-LM
  // head read with the tokenizer and config.json of another model, not the wrong head.
  if (width === undefined || width >= MIN_VOCABULARY_ROW) {
    const tokens = vocabSize.toLocaleString('en-US');
    const gives =
      width === undefined
        ? `more scores than its tokenizer has tokens (${tokens})`
        : `${width.toLocaleString('en-US')} scores, fewer than its tokenizer's ${tokens} tokens`;
    throw new Error(
      `${id} cannot be scored: at the mask its output gives ${gives}, so tokenizer.json or config.json (vocab_size) come from a different model than ${engine.info.file}. Put the model's own tokenizer and config files beside its ONNX file.`,
    );
  }
  const gives = `${width} score${width === 1 ? '' : 's'}`;
  throw new Error(
    `${id} cannot be scored: at the mask its output gives ${gives}, not one score per vocabulary token (${vocabSize}). Use a masked-LM export (AutoModelForMaskedLM), not a classifier or another head.`,
  );
}

/** Fewer scores than this at the mask is a classification head; more is a vocabulary (the smallest real ones have ~8,000 tokens). */
const MIN_VOCABULARY_ROW = 1000;

/** The engine's messages start with the model id; it is already said once. */
function stripPrefix(text: string, id: string): string {
  const trimmed = text.trim().replace(/\.+$/, '');
  return trimmed.startsWith(`${id}: `) ? trimmed.slice(id.length + 2) : trimmed;
}

/**
 * ONNX Runtime's Gather kernel refuses an id past the table it reads from as
 * `indices element out of data bounds, idx=50264 must be within the inclusive range [-21128,21127]`:
 * the table's rows are the upper bound + 1. Undefined for any other error.
 */
export function embeddingRowsFromGatherError(message: string): number | undefined {
  const match = /Gather[^]*indices element out of data bounds, idx=-?\d+ must be within the inclusive range \[-?\d+,(\d+)\]/.exec(message);
  return match ? Number(match[1]) + 1 : undefined;
}
