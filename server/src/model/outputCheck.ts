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
  const gives = width === undefined ? 'more scores than the vocabulary has tokens' : `${width} score${width === 1 ? '' : 's'}`;
  throw new Error(
    `${id} cannot be scored: at the mask its output gives ${gives}, not one score per vocabulary token (${vocabSize}). Use a masked-LM export (AutoModelForMaskedLM), not a classifier or another head.`,
  );
}

/** The engine's messages start with the model id; it is already said once. */
function stripPrefix(text: string, id: string): string {
  const trimmed = text.trim().replace(/\.+$/, '');
  return trimmed.startsWith(`${id}: `) ? trimmed.slice(id.length + 2) : trimmed;
}
