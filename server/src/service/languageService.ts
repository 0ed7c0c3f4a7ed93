import * as path from 'node:path';
import type { ClozeDocument, Diagnostic, Span } from '../language/ast';
import type { TokenizerView } from '../language/tokenizer';
import { validateStructure, type DataSetSummary } from '../language/validate';
import { validateWithTokenizer } from '../language/validateTokens';
import { resolveModel, type ModelLocation, type ModelSettings } from '../model/resolve';
import { TokenizerCache } from '../model/tokenizers';
import { readDataSet, summarize } from './dataSets';

/**
 * The language service both front ends use: the language server (per open
 * document) and the `cloze` CLI (per file). It joins the pure core to the
 * things the core may not touch: the file system (data files, model folders)
 * and the real tokenizer.
 */

export interface ServiceSettings extends ModelSettings {
  /** `cloze.model`: the model of files without a `model:` line. */
  readonly defaultModel: string;
  /** How messages name where `defaultModel` came from ("the cloze.model setting"). */
  readonly defaultModelOrigin: string;
}

/** Which model a document uses and where the diagnostics about it go. */
export interface ModelChoice {
  readonly id: string;
  /** The `model:` value, or the first line when the model comes from settings. */
  readonly span: Span;
  readonly origin: 'file' | 'settings' | 'override';
  readonly location: ModelLocation;
}

export class ClozeLanguageService {
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
    const line = doc.models[0];
    const id = override ?? line?.id ?? this.settings.defaultModel;
    const lineBreak = doc.text.search(/\r|\n/);
    const span = line && override === undefined ? line.idSpan : { start: 0, end: lineBreak < 0 ? doc.text.length : lineBreak };
    const documentDir = documentPath ? path.dirname(documentPath) : undefined;
    const origin = override !== undefined ? 'override' : line ? 'file' : 'settings';
    return { id, span, origin, location: resolveModel(id, documentDir, this.settings) };
  }

  /** Summaries of the document's data files, read relative to the document. */
  dataSets(doc: ClozeDocument, documentPath: string | undefined): Map<string, DataSetSummary> {
    const summaries = new Map<string, DataSetSummary>();
    const base = documentPath ? path.dirname(documentPath) : process.cwd();
    for (const data of doc.data) summaries.set(data.path, summarize(readDataSet(path.resolve(base, data.path))));
    return summaries;
  }

  /** The checks that need nothing but the text and the data files: instant. */
  checkStructure(doc: ClozeDocument, documentPath: string | undefined): Diagnostic[] {
    return validateStructure(doc, this.dataSets(doc, documentPath));
  }

  /** Loads (or reuses) the tokenizer of a model choice. */
  async tokenizer(choice: ModelChoice): Promise<{ ok: true; tokenizer: TokenizerView } | { ok: false; diagnostic: Diagnostic }> {
    if (!choice.location.ok) return { ok: false, diagnostic: this.unavailable(choice, choice.location.reason) };
    const result = await this.tokenizers.get(choice.location);
    return result.ok ? result : { ok: false, diagnostic: this.unavailable(choice, result.reason) };
  }

  /** The checks that need the model's tokenizer, or the reason it could not be loaded. */
  async checkTokens(doc: ClozeDocument, choice: ModelChoice): Promise<Diagnostic[]> {
    const result = await this.tokenizer(choice);
    return result.ok ? validateWithTokenizer(doc, result.tokenizer) : [result.diagnostic];
  }

  /** Everything, as the CLI reports it. */
  async check(doc: ClozeDocument, documentPath: string | undefined, override?: string): Promise<Diagnostic[]> {
    const structural = this.checkStructure(doc, documentPath);
    const tokens = await this.checkTokens(doc, this.modelChoice(doc, documentPath, override));
    return [...structural, ...tokens].sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  }

  private unavailable(choice: ModelChoice, reason: string): Diagnostic {
    const origin =
      choice.origin === 'settings'
        ? ` (the file has no \`model:\` line, so ${this.settings.defaultModelOrigin} chose it)`
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
