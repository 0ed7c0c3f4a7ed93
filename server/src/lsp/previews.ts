import * as fs from 'node:fs';
import type { ClozeDocument } from '../language';
import { isCancelled } from '../model/cancelled';
import type { InferenceWorker } from '../model/inferenceWorker';
import type { ModelRequest } from '../model/messages';
import { describeModelFailure, shortModelFailure } from '../model/modelFailure';
import { locationKey } from '../model/resolve';
import type { ClozeSettings } from '../protocol/settings';
import type { ClozeLanguageService, ModelChoice } from '../service/languageService';
import { computePreview, type PreviewResult } from '../service/preview';

/**
 * The previews of open documents: one computation per document version and
 * preview settings, shared by the lenses and hovers that ask for it. Scoring
 * happens in the inference process; this class only keeps promises and
 * results, one entry per open document, dropped when it closes (and the
 * inference process is told which models the open documents still use).
 */

export type PreviewOutcome =
  | { readonly ok: true; readonly result: PreviewResult }
  | {
      readonly ok: false;
      /** A few words, for a lens title. */
      readonly reason: string;
      /** When the model itself failed (load, output check, run): the whole message, for the `model:` line's diagnostic. */
      readonly modelProblem?: ModelProblem;
    };

/** Why a model that has a tokenizer still cannot be scored. */
export interface ModelProblem {
  readonly modelId: string;
  readonly message: string;
}

interface Entry {
  readonly key: string;
  readonly promise: Promise<PreviewOutcome | undefined>;
  /** Set when the promise settles with an outcome. */
  outcome: PreviewOutcome | undefined;
  /** The engine the preview uses, so the inference process keeps it while the document is open. */
  readonly model: ModelRequest | undefined;
  /** What was asked, to ask again when a failed model's folder changes. */
  readonly request: PreviewRequest;
}

/** Changes to a failed model's folder are gathered this long before the preview is tried again (a copy writes many times). */
const FOLDER_SETTLE_MS = 300;

export interface PreviewRequest {
  readonly uri: string;
  readonly version: number;
  readonly doc: ClozeDocument;
  readonly settings: ClozeSettings;
  readonly service: ClozeLanguageService;
  readonly choice: ModelChoice;
  /**
   * The document's other models (`models:`, `cloze.models`): the panel, the hovers and the data lens score
   * with them too, so the inference process keeps them while the document is open (without this each was
   * dropped at the next preview and loaded again at the next use).
   */
  readonly others?: readonly ModelChoice[];
}

export class PreviewManager {
  private readonly entries = new Map<string, Entry>();
  /** The last failed outcome per document, kept while a newer preview is computed. */
  private readonly lastProblems = new Map<string, PreviewOutcome>();
  /** The last outcome computed per document, kept while a newer version is computed (`latest`). */
  private readonly lastSettled = new Map<string, PreviewOutcome>();
  /** Watchers of the folders of models that failed, so fixing the folder retries without an edit. */
  private readonly watchers = new Map<string, { watcher: fs.FSWatcher; timer: NodeJS.Timeout | undefined }>();

  constructor(
    private readonly worker: InferenceWorker,
    private readonly cacheDir: string,
    /** Called when a preview has been computed, e.g. to ask the client to refresh its lenses. */
    private readonly onComputed: (uri: string) => void,
    /** Called when a document's model problem appears or goes away, to publish its diagnostics again. */
    private readonly onModelProblemChanged: (uri: string) => void = () => undefined,
  ) {}

  /** The preview of a document version, computing it if needed. Undefined when a newer version superseded it. */
  preview(request: PreviewRequest): Promise<PreviewOutcome | undefined> {
    const key = entryKey(request);
    const existing = this.entries.get(request.uri);
    if (existing && existing.key === key) return existing.promise;
    const entry: Entry = { key, promise: this.compute(request), outcome: undefined, model: modelRequest(request, this.cacheDir), request };
    const before = this.modelProblem(request.uri);
    this.entries.set(request.uri, entry);
    this.retainModels();
    void entry.promise.then((outcome) => {
      if (!outcome || this.entries.get(request.uri) !== entry) return;
      entry.outcome = outcome;
      this.lastSettled.set(request.uri, outcome);
      this.watchFailedModels();
      this.onComputed(request.uri);
      if (JSON.stringify(before) !== JSON.stringify(this.modelProblem(request.uri))) this.onModelProblemChanged(request.uri);
    });
    return entry.promise;
  }

  /** The user looks at this document: its preview goes before the others'. */
  focus(uri: string): void {
    this.worker.focus(uri);
  }

  /**
   * Why the document's model cannot be scored, from its newest settled
   * preview (an older problem stays until a newer preview settles, so the
   * diagnostic does not flicker while the retry runs).
   */
  modelProblem(uri: string): ModelProblem | undefined {
    const outcome = this.entries.get(uri)?.outcome ?? this.lastProblems.get(uri);
    return outcome && !outcome.ok ? outcome.modelProblem : undefined;
  }

  /** How many documents have a preview entry (for tests: none after every document closed). */
  get size(): number {
    return this.entries.size;
  }

  /** The preview if it is ready, without starting or waiting for anything. */
  ready(request: Omit<PreviewRequest, 'doc' | 'service' | 'choice'> & { choice: ModelChoice }): PreviewOutcome | undefined {
    const entry = this.entries.get(request.uri);
    return entry && entry.key === entryKey(request) ? entry.outcome : undefined;
  }

  /**
   * The newest preview of a document that is ready, whatever its version (for hovers and lenses while
   * typing): the current entry's, or while it is computed the one before it.
   */
  latest(uri: string): PreviewOutcome | undefined {
    return this.entries.get(uri)?.outcome ?? this.lastSettled.get(uri);
  }

  /** The document closed: its preview goes, and the inference process may drop models no open document uses. */
  forget(uri: string): void {
    this.entries.delete(uri);
    this.lastProblems.delete(uri);
    this.lastSettled.delete(uri);
    this.worker.forget(uri);
    this.retainModels();
    this.watchFailedModels();
  }

  /** Stops watching model folders (the server shuts down). */
  dispose(): void {
    for (const { watcher, timer } of this.watchers.values()) {
      clearTimeout(timer);
      watcher.close();
    }
    this.watchers.clear();
  }

  /**
   * Watches the folder of every model whose preview failed (and only those),
   * so a folder fixed while the document stays open is tried again without an
   * edit: the failed previews are computed anew, which refreshes the lenses and
   * clears the diagnostic. A download-cache model has no folder of the user's.
   */
  private watchFailedModels(): void {
    const failed = new Set<string>();
    for (const entry of this.entries.values()) {
      const { location } = entry.request.choice;
      if (entry.outcome && !entry.outcome.ok && entry.outcome.modelProblem && location.ok && location.source !== 'remote')
        failed.add(locationKey(location));
    }
    for (const [folder, watched] of this.watchers) {
      if (failed.has(folder)) continue;
      clearTimeout(watched.timer);
      watched.watcher.close();
      this.watchers.delete(folder);
    }
    for (const folder of failed) {
      if (this.watchers.has(folder)) continue;
      try {
        const watcher = fs.watch(folder, { recursive: true, persistent: false }, () => this.folderChanged(folder));
        watcher.on('error', () => undefined);
        this.watchers.set(folder, { watcher, timer: undefined });
      } catch {
        // Not watchable (gone, or no permission): the next edit tries again.
      }
    }
  }

  private folderChanged(folder: string): void {
    const watched = this.watchers.get(folder);
    if (!watched) return;
    clearTimeout(watched.timer);
    watched.timer = setTimeout(() => {
      watched.timer = undefined;
      for (const [uri, entry] of [...this.entries]) {
        const { location } = entry.request.choice;
        if (!entry.outcome || entry.outcome.ok || !location.ok || locationKey(location) !== folder) continue;
        this.entries.delete(uri);
        void this.preview(entry.request);
      }
    }, FOLDER_SETTLE_MS);
  }

  private retainModels(): void {
    const models = new Map<string, ModelRequest>();
    for (const entry of this.entries.values()) {
      if (entry.model) models.set(JSON.stringify(entry.model), entry.model);
      for (const other of entry.request.others ?? []) {
        const model = modelRequest({ ...entry.request, choice: other }, this.cacheDir);
        if (model) models.set(JSON.stringify(model), model);
      }
    }
    this.worker.retain([...models.values()]);
  }

  private async compute(request: PreviewRequest): Promise<PreviewOutcome | undefined> {
    const { choice, service, settings } = request;
    // The reason, not only the fact: the lens is where a user looks first.
    if (!choice.location.ok) return { ok: false, reason: `model ${choice.id} is unavailable: ${choice.location.reason}` };
    const tokenizer = await service.tokenizer(choice);
    if (!tokenizer.ok) return { ok: false, reason: lowerFirst(tokenizer.diagnostic.message) };
    const model = { location: choice.location, cacheDir: this.cacheDir, quantized: settings.quantized };
    try {
      const result = await computePreview(request.doc, tokenizer.tokenizer, this.worker.scorer(model, request.uri, request.version), {
        topK: settings.preview.topK,
        calibrate: settings.preview.calibrate,
        calibration: settings.preview.calibration,
      });
      this.lastProblems.delete(request.uri);
      return { ok: true, result };
    } catch (error) {
      if (isCancelled(error)) return undefined;
      const message = error instanceof Error ? error.message : String(error);
      if (/^The inference process (stopped unexpectedly|has been disposed)/.test(message)) {
        // Not the model's fault: the next edit or lens request tries again in a fresh process.
        return { ok: false, reason: firstLine(message) };
      }
      const outcome: PreviewOutcome = {
        ok: false,
        reason: shortModelFailure(choice.id),
        modelProblem: { modelId: choice.id, message: describeModelFailure(message) },
      };
      this.lastProblems.set(request.uri, outcome);
      return outcome;
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

function modelRequest(request: PreviewRequest, cacheDir: string): ModelRequest | undefined {
  const { location } = request.choice;
  return location.ok ? { location, cacheDir, quantized: request.settings.quantized } : undefined;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
