import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { ClozeDocument } from '../language';
import type { LabelWordRanking } from '../language/labelWordCompletion';
import { hasSingleMask } from '../language/render';
import { isCancelled } from '../model/cancelled';
import type { InferenceWorker } from '../model/inferenceWorker';
import type { DataLimits } from '../service/dataSets';
import { evaluationRows } from '../service/evaluate';
import type { ClozeLanguageService, ModelChoice } from '../service/languageService';
import { labelledExampleRows, rankLabelWords } from '../service/suggest';

/**
 * The label-word rankings behind completion at a verbalizer entry. A
 * completion request never waits for the model: it gets the ranking of the
 * document's current patterns, labels and rows if it is ready, else
 * "scoring…" while the ranking is computed in the inference process (under a
 * key of its own, so the preview's requests do not cancel it, nor it theirs).
 * One ranking per document; a changed pattern, label set, row or model starts
 * a new one, edits elsewhere (the label words themselves) do not.
 */

/** Rows ranked on at most: the completion wants words in seconds, not the whole data set's accuracy. */
export const RANKING_ROWS = 256;
/** Words ranked per label. */
const RANKED_WORDS = 30;

interface Entry {
  readonly key: string;
  ranking: LabelWordRanking;
}

export interface RankingRequest {
  readonly uri: string;
  readonly doc: ClozeDocument;
  readonly file: string | undefined;
  readonly service: ClozeLanguageService;
  readonly choice: ModelChoice;
  readonly quantized: boolean;
  readonly limits: DataLimits;
}

export class LabelWordRankings {
  private readonly entries = new Map<string, Entry>();
  private runs = 0;

  constructor(
    /** The inference process, started only when a ranking is computed. */
    private readonly worker: () => InferenceWorker,
    private readonly cacheDir: string,
  ) {}

  /** The ranking for the document as it is now, starting it when there is none; never waits for the model. */
  async current(request: RankingRequest): Promise<LabelWordRanking> {
    const { doc, file, choice } = request;
    if (!choice.location.ok) return { state: 'unavailable', reason: `model ${choice.id} is unavailable: ${choice.location.reason}` };
    const patterns = doc.patterns.filter(hasSingleMask);
    if (patterns.length === 0) return { state: 'unavailable', reason: 'no pattern with exactly one [MASK] to rank label words in' };
    const labels = [...new Set(doc.verbalizers[0]?.entries.map((e) => e.label.text) ?? [])];
    const files = file ? doc.data.map((d) => path.resolve(path.dirname(file), d.path)) : [];
    const { rows: dataRows } = await evaluationRows(doc, files, labels, request.limits, 'data-line');
    const rows = [...labelledExampleRows(doc, labels), ...dataRows].slice(0, RANKING_ROWS);
    if (labels.length < 2 || new Set(rows.map((r) => r.label)).size < 2) {
      return {
        state: 'unavailable',
        reason: 'label words are ranked on labelled rows of two labels or more: add labelled examples or a `data:` file',
      };
    }
    const key = createHash('sha256')
      .update(
        JSON.stringify([
          choice.location.root,
          choice.location.name,
          request.quantized,
          patterns.map((p) => doc.text.slice(p.span.start, p.span.end)),
          labels,
          rows.map((r) => [r.label, [...r.fields]]),
        ]),
      )
      .digest('hex');
    const existing = this.entries.get(request.uri);
    if (existing?.key === key) return existing.ranking;

    const entry: Entry = { key, ranking: { state: 'scoring' } };
    this.entries.set(request.uri, entry);
    const tokenizer = await request.service.tokenizer(choice);
    if (!tokenizer.ok) {
      entry.ranking = { state: 'unavailable', reason: tokenizer.diagnostic.message };
      return entry.ranking;
    }
    const model = { location: choice.location, cacheDir: this.cacheDir, quantized: request.quantized };
    const scorer = this.worker().scorer(model, `${request.uri}#label-words`, ++this.runs);
    void rankLabelWords(doc, tokenizer.tokenizer, scorer, labels, rows, RANKED_WORDS).then(
      (result) => {
        entry.ranking = { state: 'ready', rows: result.rows, byLabel: result.byLabel };
      },
      (error: unknown) => {
        // Superseded by a newer ranking of the same document: that one answers.
        if (isCancelled(error)) return;
        entry.ranking = {
          state: 'unavailable',
          reason: `the model failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
        };
      },
    );
    return entry.ranking;
  }

  forget(uri: string): void {
    this.entries.delete(uri);
    if (this.runs > 0) this.worker().forget(`${uri}#label-words`);
  }
}
