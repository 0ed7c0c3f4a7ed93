import * as path from 'node:path';
import type { ClozeDocument, Diagnostic, Span } from '../language/ast';
import type { TokenizerView } from '../language/tokenizer';
import { fileLevelSpan, validateStructure, type DataSetSummary } from '../language/validate';
import { listedModels, otherModels } from '../language/models';
import { validateWithTokenizer } from '../language/validateTokens';
import { downloadModel, hubOptionsFromEnv, TOKENIZER_FILES } from '../model/download';
import { locationKey, resolveModel, withModelsDirNote, type ModelLocation, type ModelSettings } from '../model/resolve';
import { boundedTokenizing, checkBudgetMs, TokenizerCache, TokenizerTimeout } from '../model/tokenizers';
import { DataSetSummaries, defaultDataLimits, type DataLimits } from './dataSets';

/**
 * The language service both front ends use: the language server (per open
 * document) and the `cloze` CLI (per file). It joins the pure core to the
 * things the core may not touch: the file system (data files, model folders)
 * and the real tokenizer.
 */

export interface ServiceSettings extends ModelSettings {
  /** `cloze.model`: the model of files without a `model:` line. */
  readonly defaultModel: string;
  /** Why a file without a `model:` line has `defaultModel`, as a clause ("the cloze.model setting chose it"). */
  readonly defaultModelOrigin: string;
}

/** Which model a document uses and where the diagnostics about it go. */
export interface ModelChoice {
  readonly id: string;
  /** The `model:` value, or the first line when the model comes from settings. */
  readonly span: Span;
  readonly origin: 'file' | 'settings' | 'override';
  /** For a model besides the default: listed by the cloze.models setting rather than the file. */
  readonly listedBySetting?: boolean;
  readonly location: ModelLocation;
}

export class ClozeLanguageService {
  /** Summaries of data files (never their rows), remembered while a file is unchanged. */
  private readonly dataSummaries = new DataSetSummaries();

  constructor(
    readonly settings: ServiceSettings,
    /** Shared by every service of the process, so one model is loaded once. */
    readonly tokenizers: TokenizerCache = new TokenizerCache(settings.cacheDir, settings.userInterface),
  ) {}

  /** The tokenizer of a model choice if it is loaded already: the typing path never waits. */
  loadedTokenizer(choice: ModelChoice): TokenizerView | undefined {
    return choice.location.ok ? this.tokenizers.loaded(choice.location) : undefined;
  }

  modelChoice(doc: ClozeDocument, documentPath: string | undefined, override?: string): ModelChoice {
    // `model:` is the default; without it, the first model of `models:` is (see language/models.ts).
    const line = doc.models[0] ?? listedModels(doc)[0];
    const id = override ?? line?.id ?? this.settings.defaultModel;
    const span = line && override === undefined ? line.idSpan : fileLevelSpan(doc);
    const documentDir = documentPath ? path.dirname(documentPath) : undefined;
    const origin = override !== undefined ? 'override' : line ? 'file' : 'settings';
    // The CLI's --model is written on a command line, where paths are relative to the current folder.
    const pathBase = origin === 'override' && this.settings.userInterface === 'cli' ? 'the current folder' : 'the .cloze file';
    return { id, span, origin, location: resolveModel(id, documentDir, this.settings, pathBase) };
  }

  /**
   * The models a document is checked against besides its default (`choice`):
   * its `models:` line, else the `cloze.models` setting (`fromSettings`).
   */
  otherModelChoices(
    doc: ClozeDocument,
    documentPath: string | undefined,
    choice: ModelChoice,
    fromSettings: readonly string[] = [],
  ): ModelChoice[] {
    return this.otherModelsOf(doc, documentPath, choice, fromSettings).choices;
  }

  /**
   * The other models (`otherModelChoices`) and `model-duplicate` warnings for entries of `models:`
   * that name, under another spelling (a path, a trailing slash), a model folder the file names
   * already: they are checked and scored once. One resolution of the entries (each stats the
   * models' folders) for both.
   */
  otherModelsOf(
    doc: ClozeDocument,
    documentPath: string | undefined,
    choice: ModelChoice,
    fromSettings: readonly string[] = [],
  ): { readonly choices: ModelChoice[]; readonly duplicates: Diagnostic[] } {
    const resolved = this.resolvedOthers(doc, documentPath, choice, fromSettings);
    return {
      choices: resolved.filter((other) => other.sameAs === undefined),
      duplicates: resolved.flatMap((other): Diagnostic[] =>
        other.sameAs === undefined || other.listedBySetting
          ? []
          : [
              {
                code: 'model-duplicate',
                severity: 'warning',
                span: other.span,
                message: `\`${other.id}\` is the model folder of \`${other.sameAs}\`, which the file names already; it is checked and scored once. Remove this one.`,
              },
            ],
      ),
    };
  }

  private resolvedOthers(
    doc: ClozeDocument,
    documentPath: string | undefined,
    choice: ModelChoice,
    fromSettings: readonly string[],
  ): Array<ModelChoice & { readonly sameAs?: string }> {
    const documentDir = documentPath ? path.dirname(documentPath) : undefined;
    // The folders named so far, by the id that named them first: the default's, then the list's in order.
    const named = new Map<string, string>();
    if (choice.location.ok) named.set(locationKey(choice.location), choice.id);
    return otherModels(doc, choice.id, fromSettings).map((ref) => {
      const location = resolveModel(ref.id, documentDir, this.settings);
      const key = location.ok ? locationKey(location) : undefined;
      const sameAs = key !== undefined ? named.get(key) : undefined;
      if (key !== undefined && sameAs === undefined) named.set(key, ref.id);
      return {
        id: ref.id,
        span: ref.idSpan ?? fileLevelSpan(doc),
        origin: ref.idSpan ? 'file' : 'settings',
        listedBySetting: !ref.idSpan,
        location,
        ...(sameAs !== undefined ? { sameAs } : {}),
      };
    });
  }

  /**
   * The tokenizer checks of the other models if every one of them is loaded
   * (or cannot be: that is its diagnostic), else undefined: typing never waits.
   * A model that still has to be downloaded is reported, not fetched, unless
   * `download` (the CLI) says so.
   */
  loadedOtherChecks(doc: ClozeDocument, others: readonly ModelChoice[]): Diagnostic[] | undefined {
    const out: Diagnostic[] = [];
    for (const choice of others) {
      if (!choice.location.ok) out.push(this.unavailable(choice, choice.location.reason));
      else if (choice.location.source === 'remote') out.push(notDownloaded(choice));
      else {
        const tokenizer = this.tokenizers.loaded(choice.location);
        if (!tokenizer) return undefined;
        out.push(...tagged(this.tokenChecks(doc, choice, tokenizer), choice));
      }
    }
    return out;
  }

  /** The tokenizer checks of the other models, loading their tokenizers (one after another: they share a queue). */
  async otherChecks(doc: ClozeDocument, others: readonly ModelChoice[], download = false): Promise<Diagnostic[]> {
    const out: Diagnostic[] = [];
    for (const choice of others) {
      if (!download && choice.location.ok && choice.location.source === 'remote') out.push(notDownloaded(choice));
      else out.push(...tagged(await this.checkTokens(doc, choice), choice));
    }
    return out;
  }

  /** The loaded tokenizers of `others`, and the ids of those not (yet) loaded: hovers never wait. */
  loadedTokenizers(others: readonly ModelChoice[]): { loaded: TokenizerView[]; missing: string[] } {
    const loaded: TokenizerView[] = [];
    const missing: string[] = [];
    for (const choice of others) {
      const tokenizer = this.loadedTokenizer(choice);
      if (tokenizer) loaded.push(tokenizer);
      else missing.push(choice.id);
    }
    return { loaded, missing };
  }

  /**
   * Summaries of the document's data files, read relative to the document:
   * asynchronously, regular files only, within `limits` (see dataSets.ts).
   */
  async dataSets(
    doc: ClozeDocument,
    documentPath: string | undefined,
    limits: DataLimits = defaultDataLimits,
  ): Promise<Map<string, DataSetSummary>> {
    const summaries = new Map<string, DataSetSummary>();
    if (documentPath === undefined) {
      // A document without a file (an editor's untitled buffer) has nothing its paths are relative
      // to: the server's cwd is arbitrary, so nothing is read (as the lens and cloze/evaluate refuse).
      for (const data of doc.data) summaries.set(data.path, { ok: false, reason: unsavedDataReason(data.path) });
      return summaries;
    }
    const base = path.dirname(documentPath);
    await Promise.all(
      doc.data.map(async (data) => summaries.set(data.path, await this.dataSummaries.get(path.resolve(base, data.path), limits))),
    );
    return summaries;
  }

  /**
   * The checks that need nothing but the text and the data files (read without
   * blocking, bounded). `readFiles` false: the data files are not read at all
   * (an untrusted workspace).
   */
  async checkStructure(
    doc: ClozeDocument,
    documentPath: string | undefined,
    limits: DataLimits = defaultDataLimits,
    readFiles = true,
  ): Promise<Diagnostic[]> {
    return validateStructure(doc, readFiles ? await this.dataSets(doc, documentPath, limits) : new Map());
  }

  /** Loads (or reuses) the tokenizer of a model choice. */
  async tokenizer(choice: ModelChoice): Promise<{ ok: true; tokenizer: TokenizerView } | { ok: false; diagnostic: Diagnostic }> {
    if (!choice.location.ok) return { ok: false, diagnostic: this.unavailable(choice, choice.location.reason) };
    let location = choice.location;
    if (location.source === 'remote') {
      // Fetched by Cloze's own downloader (timeouts, atomic files), then read from the cache.
      try {
        await downloadModel({
          id: location.id,
          cacheDir: this.settings.cacheDir,
          files: TOKENIZER_FILES,
          hub: hubOptionsFromEnv(),
          userInterface: this.settings.userInterface,
        });
      } catch (error) {
        const message = withModelsDirNote(error instanceof Error ? error.message : String(error), location);
        return { ok: false, diagnostic: this.unavailable(choice, message) };
      }
      location = { ...location, source: 'cache' };
    }
    const result = await this.tokenizers.get(location);
    return result.ok ? result : { ok: false, diagnostic: this.unavailable(choice, result.reason) };
  }

  /** The checks that need the model's tokenizer, or the reason it could not be loaded. */
  async checkTokens(doc: ClozeDocument, choice: ModelChoice): Promise<Diagnostic[]> {
    const result = await this.tokenizer(choice);
    return result.ok ? this.tokenChecks(doc, choice, result.tokenizer) : [result.diagnostic];
  }

  /**
   * The tokenizer checks with a loaded tokenizer, within a time budget: a
   * tokenizer that hangs (a catastrophically backtracking regex) is stopped and
   * reported on the model line instead of freezing the server.
   */
  tokenChecks(doc: ClozeDocument, choice: ModelChoice, tokenizer: TokenizerView): Diagnostic[] {
    return this.boundedByTokenizer(
      choice,
      () => validateWithTokenizer(doc, tokenizer),
      (diagnostic) => [diagnostic],
      checkBudgetMs(doc.text.length),
    );
  }

  /** Runs work that tokenizes within a budget; a timeout gives `fallback` the model-unavailable diagnostic. */
  boundedByTokenizer<T>(choice: ModelChoice, work: () => T, fallback: (diagnostic: Diagnostic) => T, budgetMs = checkBudgetMs(0)): T {
    try {
      return boundedTokenizing(budgetMs, work);
    } catch (error) {
      if (error instanceof TokenizerTimeout) return fallback(this.unavailable(choice, error.reason));
      throw error;
    }
  }

  /** Everything, as the CLI reports it. */
  async check(doc: ClozeDocument, documentPath: string | undefined, override?: string, limits?: DataLimits): Promise<Diagnostic[]> {
    const structural = await this.checkStructure(doc, documentPath, limits);
    // As in the editor: a file without a pattern (an empty one) gets no model diagnostics; its missing
    // pattern is the problem to say, not the default model's failed download.
    if (doc.patterns.length === 0) return structural;
    const choice = this.modelChoice(doc, documentPath, override);
    const tokens = await this.checkTokens(doc, choice);
    // With --model the file is checked against that model alone.
    const listed = override === undefined ? this.otherModelsOf(doc, documentPath, choice) : undefined;
    const others = listed ? await this.otherChecks(doc, listed.choices, true) : [];
    const aliases = listed?.duplicates ?? [];
    return [...structural, ...tokens, ...others, ...aliases].sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  }

  /** The one `model-unavailable` diagnostic of a model choice, saying why. */
  modelUnavailable(choice: ModelChoice, reason: string): Diagnostic {
    return this.unavailable(choice, reason);
  }

  private unavailable(choice: ModelChoice, reason: string): Diagnostic {
    const origin = choice.listedBySetting
      ? ' (the cloze.models setting lists it)'
      : choice.origin === 'settings'
        ? ` (the file has no \`model:\` line, so ${this.settings.defaultModelOrigin})`
        : choice.origin === 'override'
          ? ' (chosen by --model)'
          : '';
    return {
      code: 'model-unavailable',
      severity: 'error',
      span: choice.span,
      message: `Model ${choice.id} is unavailable${origin}: ${reason}`,
    };
  }
}

/** A model of `models:` that is not on this machine yet: the editor does not download while the user types. */
function notDownloaded(choice: ModelChoice): Diagnostic {
  return {
    code: 'model-unavailable',
    severity: 'warning',
    span: choice.span,
    message: `Model ${choice.id} is not on this machine, so the label words are not checked against it. Put it in the models folder (cloze.modelsDir), make it the \`model:\` (which is downloaded), or run \`cloze check\`, which downloads it.`,
  };
}

/** Marks the checks of a model besides the default with its id. */
function tagged(diagnostics: readonly Diagnostic[], choice: ModelChoice): Diagnostic[] {
  return diagnostics.map((diagnostic) => ({ ...diagnostic, model: choice.id }));
}

/** Why a data file of a document that has no file is not read. */
export function unsavedDataReason(dataPath: string): string {
  return `${dataPath} is not read: this document is not saved, and data paths are relative to the .cloze file. Save it first.`;
}
