import type { ClozeDocument } from '../language';
import { isCancelled } from '../model/cancelled';
import type { InferenceWorker } from '../model/inferenceWorker';
import type { ClozeSettings } from '../protocol/settings';
import type { ClozeLanguageService, ModelChoice } from '../service/languageService';
import { computePreview, type PreviewResult } from '../service/preview';

/**
 * The previews of open documents: one computation per document version and
 * preview settings, shared by the lenses and hovers that ask for it. Scoring
 * happens in the inference worker; this class only keeps promises and results.
 */

export type PreviewOutcome = { readonly ok: true; readonly result: PreviewResult } | { readonly ok: false; readonly reason: string };

interface Entry {
  readonly key: string;
  readonly promise: Promise<PreviewOutcome | undefined>;
  /** Set when the promise settles with an outcome. */
  outcome: PreviewOutcome | undefined;
}

export interface PreviewRequest {
  readonly uri: string;
  readonly version: number;
  readonly doc: ClozeDocument;
  readonly settings: ClozeSettings;
  readonly service: ClozeLanguageService;
  readonly choice: ModelChoice;
}

export class PreviewManager {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly worker: InferenceWorker,
    private readonly cacheDir: string,
    /** Called when a preview has been computed, e.g. to ask the client to refresh its lenses. */
    private readonly onComputed: (uri: string) => void,
  ) {}

  /** The preview of a document version, computing it if needed. Undefined when a newer version superseded it. */
  preview(request: PreviewRequest): Promise<PreviewOutcome | undefined> {
    const key = entryKey(request);
    const existing = this.entries.get(request.uri);
    if (existing && existing.key === key) return existing.promise;
    const entry: Entry = { key, promise: this.compute(request), outcome: undefined };
    this.entries.set(request.uri, entry);
    void entry.promise.then((outcome) => {
      if (!outcome || this.entries.get(request.uri) !== entry) return;
      entry.outcome = outcome;
      this.onComputed(request.uri);
    });
    return entry.promise;
  }

  /** The preview if it is ready, without starting or waiting for anything. */
  ready(request: Omit<PreviewRequest, 'doc' | 'service' | 'choice'> & { choice: ModelChoice }): PreviewOutcome | undefined {
    const entry = this.entries.get(request.uri);
    return entry && entry.key === entryKey(request) ? entry.outcome : undefined;
  }

  /** The newest preview of a document that is ready, whatever its version (for hovers while typing). */
  latest(uri: string): PreviewOutcome | undefined {
    return this.entries.get(uri)?.outcome;
  }

  forget(uri: string): void {
    this.entries.delete(uri);
    this.worker.forget(uri);
  }

  private async compute(request: PreviewRequest): Promise<PreviewOutcome | undefined> {
    const { choice, service, settings } = request;
    if (!choice.location.ok) return { ok: false, reason: `model ${choice.id} is unavailable` };
    const tokenizer = await service.tokenizer(choice);
    if (!tokenizer.ok) return { ok: false, reason: `model ${choice.id} is unavailable` };
    const model = { location: choice.location, cacheDir: this.cacheDir, quantized: settings.quantized };
    try {
      const result = await computePreview(request.doc, tokenizer.tokenizer, this.worker.scorer(model, request.uri, request.version), {
        topK: settings.preview.topK,
        calibrate: settings.preview.calibrate,
        calibration: settings.preview.calibration,
      });
      return { ok: true, result };
    } catch (error) {
      if (isCancelled(error)) return undefined;
      return { ok: false, reason: firstLine(error instanceof Error ? error.message : String(error)) };
    }
  }
}

function entryKey(request: { version: number; settings: ClozeSettings; choice: ModelChoice }): string {
  const location = request.choice.location.ok ? `${request.choice.location.root}|${request.choice.location.name}` : request.choice.id;
  return JSON.stringify([
    request.version,
    location,
    request.settings.quantized,
    request.settings.preview.topK,
    request.settings.preview.calibrate,
    request.settings.preview.calibration,
  ]);
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
