import type { MaskScores, Scorer, TokenProbability, WordProbability } from '../language/scores';

/**
 * What a model said at the mask of each input, remembered across the data evaluations of the
 * editor: the evaluation lens scores each pattern on the rows of a `data:` file, and "Evaluate on
 * the File's Data" (`cloze/evaluate`), asked a moment later, scores the same inputs again. Through
 * this memo it scores only what the lens has not. The engine's own logits cache cannot serve it: a
 * data file's rows are thousands of vocabulary rows, far beyond its bound.
 *
 * Remembering is sound because an input's numbers are a function of the input, the model and its
 * precision alone, whatever else is in its batch (the per-token quantizers of issue 8); `modelKey`
 * must name the model folder, the precision and the files' stamps. Entries keep the probabilities
 * of every label word asked for so far, so a request for other words (another verbalizer, another
 * token form) is answered from memory where it can be and scored where it cannot; the memo is
 * bounded by the characters of the inputs it holds (a data row can be a whole review), oldest use
 * out first.
 */

interface Remembered {
  readonly maskFound: boolean;
  readonly nonFinite?: boolean;
  readonly severalMasks?: boolean;
  readonly truncated: boolean;
  /** The most probable tokens, as many as the largest `topK` asked for. */
  readonly top: readonly TokenProbability[];
  readonly topK: number;
  readonly words: Map<number, WordProbability>;
  /** What the entry counts against the bound. */
  readonly size: number;
}

/** Characters of inputs remembered, with a fixed charge per entry and word: about 40 MB at most. */
const DEFAULT_BUDGET = 20_000_000;
const ENTRY_CHARGE = 200;
const WORD_CHARGE = 40;

export class ScoreMemo {
  private readonly entries = new Map<string, Remembered>();
  private used = 0;
  /** Incremented by `clear`: a call that started before it remembers nothing. */
  private generation = 0;

  constructor(private readonly budget = DEFAULT_BUDGET) {}

  /** Entries held now (tests, stats). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * `scorer`, answering from memory what it can: only the inputs not remembered (or not with these
   * words) are scored. `modelKey` is asked before and after each call: numbers scored while the model
   * files changed under it are returned but not remembered (they may be either model's), and nor are
   * those of a call that outlived a `clear`.
   */
  scorer(modelKey: () => string, scorer: Scorer): Scorer {
    return async (inputs, wordIds, topK) => {
      const model = modelKey();
      const generation = this.generation;
      const keys = inputs.map((input) => `${model}\u0000${input}`);
      const answers: Array<MaskScores | undefined> = keys.map((key) => this.recall(key, wordIds, topK));
      const missing = [...new Set(inputs.filter((_, i) => answers[i] === undefined))];
      if (missing.length > 0) {
        const scored = await scorer(missing, wordIds, topK);
        const fresh = new Map(missing.map((input, i) => [input, scored[i]]));
        const keep = generation === this.generation && modelKey() === model;
        for (const [i, input] of inputs.entries()) {
          if (answers[i] !== undefined) continue;
          const score = fresh.get(input);
          if (!score) continue;
          if (keep) this.remember(keys[i], score, topK);
          answers[i] = score;
        }
      }
      return answers.map((answer) => {
        // A scorer that answered fewer inputs than asked: its own contract is broken, not ours to hide.
        if (answer === undefined) throw new Error('The scorer answered fewer inputs than it was asked for.');
        return answer;
      });
    };
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
    this.generation++;
  }

  private recall(key: string, wordIds: readonly number[], topK: number): MaskScores | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.topK < topK) return undefined;
    if (entry.maskFound && !wordIds.every((id) => entry.words.has(id))) return undefined;
    // Map keeps insertion order: re-inserting marks the entry as recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return {
      maskFound: entry.maskFound,
      ...(entry.nonFinite !== undefined ? { nonFinite: entry.nonFinite } : {}),
      ...(entry.severalMasks !== undefined ? { severalMasks: entry.severalMasks } : {}),
      truncated: entry.truncated,
      top: entry.top.slice(0, topK),
      words: entry.maskFound ? wordIds.map((id) => entry.words.get(id) as WordProbability) : [],
    };
  }

  private remember(key: string, score: MaskScores, topK: number): void {
    const old = this.entries.get(key);
    const words = new Map(old?.maskFound === score.maskFound ? old.words : []);
    for (const word of score.words) words.set(word.tokenId, word);
    const keepOldTop = old !== undefined && old.topK > topK;
    const entry: Remembered = {
      maskFound: score.maskFound,
      ...(score.nonFinite !== undefined ? { nonFinite: score.nonFinite } : {}),
      ...(score.severalMasks !== undefined ? { severalMasks: score.severalMasks } : {}),
      truncated: score.truncated,
      top: keepOldTop ? old.top : score.top,
      topK: keepOldTop ? old.topK : topK,
      words,
      size: key.length + ENTRY_CHARGE + WORD_CHARGE * words.size,
    };
    if (old) this.forget(key, old);
    this.entries.set(key, entry);
    this.used += entry.size;
    for (const [oldest, held] of this.entries) {
      if (this.used <= this.budget || oldest === key) break;
      this.forget(oldest, held);
    }
  }

  private forget(key: string, entry: Remembered): void {
    this.entries.delete(key);
    this.used -= entry.size;
  }
}
