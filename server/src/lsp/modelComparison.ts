import type { ClozeDocument } from '../language';
import { isCancelled } from '../model/cancelled';
import type { InferenceWorker } from '../model/inferenceWorker';
import { describeModelFailure } from '../model/modelFailure';
import type { ComparedModel } from '../protocol/messages';
import type { ClozeSettings } from '../protocol/settings';
import type { ClozeLanguageService, ModelChoice } from '../service/languageService';
import { computePreview } from '../service/preview';

/**
 * The previews of a document's other models (`models:`, `cloze.models`) for
 * the panel's side-by-side view: the same computePreview as the lenses, run
 * through the inference process under a key per document and model, so they
 * neither cancel nor are cancelled by the document's own preview. Only the
 * panel asks for them (lenses and hovers stay on the default model), and one
 * answer per (version, model, settings) is kept.
 */
export class ModelComparisons {
  private readonly entries = new Map<string, { readonly key: string; readonly outcome: Promise<ComparedModel | undefined> }>();

  constructor(
    private readonly worker: InferenceWorker,
    private readonly cacheDir: string,
  ) {}

  /** The other models' previews, in the order given; a model that cannot be scored says why. */
  async compare(
    uri: string,
    version: number,
    doc: ClozeDocument,
    service: ClozeLanguageService,
    others: readonly ModelChoice[],
    settings: ClozeSettings,
  ): Promise<ComparedModel[]> {
    const outcomes = others.map((choice) => {
      const id = `${uri}#model:${choice.id}`;
      const key = JSON.stringify([
        version,
        choice.id,
        settings.quantized,
        settings.preview.topK,
        settings.preview.calibrate,
        settings.preview.calibration,
      ]);
      const entry = this.entries.get(id);
      if (entry?.key === key) return entry.outcome;
      const outcome = this.previewOf(id, version, doc, service, choice, settings);
      this.entries.set(id, { key, outcome });
      return outcome;
    });
    const results = await Promise.all(outcomes);
    // A cancelled preview is not an answer: the next request computes it again.
    others.forEach((choice, i) => {
      if (results[i] === undefined && this.entries.get(`${uri}#model:${choice.id}`)?.outcome === outcomes[i])
        this.entries.delete(`${uri}#model:${choice.id}`);
    });
    return results.filter((r): r is ComparedModel => r !== undefined);
  }

  /** The document closed: its comparisons go. */
  forget(uri: string): void {
    for (const id of [...this.entries.keys()]) {
      if (!id.startsWith(`${uri}#model:`)) continue;
      this.entries.delete(id);
      this.worker.forget(id);
    }
  }

  private async previewOf(
    key: string,
    version: number,
    doc: ClozeDocument,
    service: ClozeLanguageService,
    choice: ModelChoice,
    settings: ClozeSettings,
  ): Promise<ComparedModel | undefined> {
    if (!choice.location.ok) return { model: choice.id, ok: false, reason: choice.location.reason };
    if (choice.location.source === 'remote')
      return { model: choice.id, ok: false, reason: 'not on this machine (models are not downloaded for a comparison)' };
    const tokenizer = await service.tokenizer(choice);
    if (!tokenizer.ok) return { model: choice.id, ok: false, reason: tokenizer.diagnostic.message };
    const model = { location: choice.location, cacheDir: this.cacheDir, quantized: settings.quantized };
    try {
      const preview = await computePreview(doc, tokenizer.tokenizer, this.worker.scorer(model, key, version), {
        topK: settings.preview.topK,
        calibrate: settings.preview.calibrate,
        // The default model's preview divides by the prior the settings choose: so must the models beside it.
        calibration: settings.preview.calibration,
      });
      return { model: choice.id, ok: true, preview };
    } catch (error) {
      if (isCancelled(error)) return undefined;
      return { model: choice.id, ok: false, reason: describeModelFailure(error instanceof Error ? error.message : String(error)) };
    }
  }
}
