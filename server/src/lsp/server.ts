import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  CodeActionKind,
  type CodeLens,
  DidChangeConfigurationNotification,
  TextDocuments,
  TextDocumentSyncKind,
  type CodeAction,
  type CompletionItem,
  type Connection,
  type Hover,
  type InitializeParams,
  type InitializeResult,
  type Range,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import {
  completeAt,
  documentSymbols,
  hoverAt,
  parse,
  patternDisplayName,
  quickFixes,
  type ClozeDocument,
  type Diagnostic,
} from '../language';
import { nodeAt } from '../language/find';
import { InferenceWorker } from '../model/inferenceWorker';
import type { LoadEvent } from '../model/messages';
import { defaultCacheDir, effectiveModelsDir } from '../model/resolve';
import { TokenizerCache } from '../model/tokenizers';
import { readSettings, type ClozeSettings } from '../protocol/settings';
import type { DataLimits } from '../service/dataSets';
import { ClozeLanguageService, type ModelChoice } from '../service/languageService';
import { completionKind, toDocumentSymbol, toLspDiagnostic, toOffset, toRange, toSpan } from './convert';
import { ValidationScheduler } from './validation';
import { offsetInDocument, recentTree } from './recentTree';
import { TrustNotification, untrustedDiagnostic } from './trust';
import { lensAnchors, lensContent, type LensAnchor } from './lenses';
import { labelWordHover, maskHover } from './previewHover';
import { PreviewManager } from './previews';

/** How old a syntax tree may be and still answer hovers and completions while the user types (see onRecentTree). */
const RECENT_TREE_MS = 500;

/** What a code lens carries between `textDocument/codeLens` and `codeLens/resolve`. */
interface LensData {
  readonly uri: string;
  readonly version: number;
  readonly anchor: LensAnchor;
}

/** Custom request: the inference worker's counters (computed vs cached pairs), for tests and benchmarks. */
export const StatsRequest = 'cloze/stats';

/**
 * Wires the language service to an LSP connection. Handlers parse through a
 * per-version cache, call the core, and convert at the edge; none of them may
 * throw into the connection (`safely`) or wait for a model on the typing path.
 */
export class ClozeServer {
  private readonly documents = new TextDocuments(TextDocument);
  private readonly parsed = new Map<string, { version: number; doc: ClozeDocument; at: number }>();
  private readonly settings = new Map<string, Promise<ClozeSettings>>();
  private readonly services = new Map<string, ClozeLanguageService>();
  private readonly tokenizers: TokenizerCache;
  private readonly cacheDir = defaultCacheDir();
  private workspaceRoot: string | undefined;
  private canPullConfiguration = false;
  private canShowProgress = false;
  private initialSettings: unknown;
  private canRefreshLenses = false;
  /** Created on the first preview: the model loads lazily, on first need. */
  private inference: { worker: InferenceWorker; previews: PreviewManager } | undefined;
  private readonly loadProgress = new Map<string, Promise<{ done(): void } | undefined>>();
  /** Debounced validation per document; the diagnostics last computed and their version (for code actions). */
  private readonly scheduler = new ValidationScheduler((uri) => {
    const document = this.documents.get(uri);
    return document ? this.validate(document) : Promise.resolve();
  });
  private readonly lastDiagnostics = new Map<string, { version: number; diagnostics: readonly Diagnostic[] }>();
  /** Workspace trust, as the client reports it (a client that has none is trusted). */
  private trusted = true;

  constructor(private readonly connection: Connection) {
    this.tokenizers = new TokenizerCache(this.cacheDir);
    connection.onInitialize((params) => this.initialize(params));
    connection.onInitialized(() => {
      if (this.canPullConfiguration)
        void connection.client.register(DidChangeConfigurationNotification.type, { section: 'cloze' }).catch(() => undefined);
    });
    connection.onDidChangeConfiguration((change) => {
      this.settings.clear();
      if (!this.canPullConfiguration) this.initialSettings = (change.settings as Record<string, unknown> | undefined)?.['cloze'];
      for (const document of this.documents.all()) this.scheduler.now(document.uri);
      // Preview settings (model, calibration, top-k) change what every lens says.
      if (this.canRefreshLenses) void connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
    });
    this.documents.onDidChangeContent((change) => this.scheduler.changed(change.document.uri));
    connection.onNotification(TrustNotification, (params: { trusted?: unknown }) => {
      this.trusted = params.trusted === true;
      for (const document of this.documents.all()) this.scheduler.now(document.uri);
      if (this.canRefreshLenses) void connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
    });
    this.documents.onDidClose((event) => {
      this.scheduler.forget(event.document.uri);
      this.lastDiagnostics.delete(event.document.uri);
      this.parsed.delete(event.document.uri);
      this.inference?.previews.forget(event.document.uri);
      this.settings.delete(event.document.uri);
      void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
    });
    connection.onHover((params) => this.safely(() => this.hover(params.textDocument.uri, params.position), null));
    connection.onCompletion((params) => this.safely(() => this.complete(params.textDocument.uri, params.position), []));
    connection.onCodeAction((params) => this.safely(() => this.codeActions(params.textDocument.uri, params.range), []));
    connection.onDocumentSymbol((params) =>
      this.safely(() => {
        const doc = this.parsedDocument(params.textDocument.uri);
        return doc ? documentSymbols(doc).map((symbol) => toDocumentSymbol(doc, symbol)) : [];
      }, []),
    );
    connection.onCodeLens((params) => this.safely(() => this.codeLenses(params.textDocument.uri), []));
    connection.onCodeLensResolve((lens) => this.safely(() => this.resolveLens(lens), lens));
    connection.onRequest(StatsRequest, () => this.safely(async () => (this.inference ? await this.inference.worker.stats() : null), null));
    connection.onShutdown(async () => {
      await this.inference?.worker.dispose();
    });
    this.documents.listen(connection);
  }

  listen(): void {
    this.connection.listen();
  }

  private initialize(params: InitializeParams): InitializeResult {
    this.canPullConfiguration = params.capabilities.workspace?.configuration === true;
    this.canShowProgress = params.capabilities.window?.workDoneProgress === true;
    this.canRefreshLenses = params.capabilities.workspace?.codeLens?.refreshSupport === true;
    this.initialSettings = (params.initializationOptions as Record<string, unknown> | undefined)?.['settings'];
    this.trusted = (params.initializationOptions as Record<string, unknown> | undefined)?.['trusted'] !== false;
    const folder = params.workspaceFolders?.[0]?.uri ?? params.rootUri ?? undefined;
    this.workspaceRoot = folder ? uriToPath(folder) : undefined;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        completionProvider: { triggerCharacters: ['{', ' '] },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        documentSymbolProvider: true,
        codeLensProvider: { resolveProvider: true },
      },
      serverInfo: { name: 'cloze-language-server', version: '0.1.0' },
    };
  }

  private parsedDocument(uri: string): ClozeDocument | undefined {
    const document = this.documents.get(uri);
    if (!document) return undefined;
    const cached = this.parsed.get(uri);
    if (cached && cached.version === document.version) return cached.doc;
    const doc = parse(document.getText());
    this.parsed.set(uri, { version: document.version, doc, at: performance.now() });
    return doc;
  }

  private settingsFor(uri: string): Promise<ClozeSettings> {
    let settings = this.settings.get(uri);
    if (!settings) {
      settings = this.canPullConfiguration
        ? this.connection.workspace
            .getConfiguration({ scopeUri: uri, section: 'cloze' })
            .then(readSettings, () => readSettings(this.initialSettings))
        : Promise.resolve(readSettings(this.initialSettings));
      this.settings.set(uri, settings);
    }
    return settings;
  }

  /** One service per distinct model settings; all share the tokenizer cache. */
  private serviceFor(settings: ClozeSettings): ClozeLanguageService {
    const configured = effectiveModelsDir(settings.modelsDir);
    const modelsDir =
      configured !== '' && this.workspaceRoot && !path.isAbsolute(configured) ? path.resolve(this.workspaceRoot, configured) : configured;
    const key = JSON.stringify([modelsDir, settings.allowRemoteModels, settings.model]);
    let service = this.services.get(key);
    if (!service) {
      service = new ClozeLanguageService(
        {
          modelsDir,
          allowRemoteModels: settings.allowRemoteModels,
          cacheDir: this.cacheDir,
          defaultModel: settings.model,
          defaultModelOrigin: 'the cloze.model setting',
        },
        this.tokenizers,
      );
      this.services.set(key, service);
    }
    return service;
  }

  private async context(
    uri: string,
  ): Promise<{ doc: ClozeDocument; service: ClozeLanguageService; choice: ModelChoice; file: string | undefined } | undefined> {
    const doc = this.parsedDocument(uri);
    if (!doc) return undefined;
    const service = this.serviceFor(await this.settingsFor(uri));
    const file = uriToPath(uri);
    if (!this.trusted) return { doc, service, choice: untrustedChoice(doc), file };
    return { doc, service, choice: service.modelChoice(doc, file), file };
  }

  /**
   * Structural diagnostics are published at once; when the tokenizer is not
   * loaded yet, the tokenizer checks follow in a second publish once it is.
   * A result for an outdated version is dropped.
   */
  private async validate(document: TextDocument): Promise<void> {
    const { uri, version } = document;
    const current = (): boolean => this.documents.get(uri)?.version === version;
    try {
      const context = await this.context(uri);
      if (!context || !current()) return;
      const { doc, service, choice, file } = context;
      if (!this.trusted) {
        // Nothing the workspace names is read: no data file, no model folder, no download.
        this.publish(uri, version, doc, [
          ...(await service.checkStructure(doc, undefined, undefined, false)),
          untrustedDiagnostic(choice.span),
        ]);
        return;
      }
      const structural = await service.checkStructure(doc, file, dataLimits(await this.settingsFor(uri)));
      if (!current()) return;
      const loaded = service.loadedTokenizer(choice);
      if (loaded) {
        this.publish(uri, version, doc, [...structural, ...service.tokenChecks(doc, choice, loaded)]);
        return;
      }
      this.publish(uri, version, doc, structural);
      const tokens = await this.withProgress(choice, () => service.checkTokens(doc, choice));
      if (!current()) return;
      this.publish(uri, version, doc, [...structural, ...tokens]);
    } catch (error) {
      this.connection.console.error(
        `Validation of ${uri} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
  }

  /** Publishes the diagnostics of one version, with that version, and keeps them for code actions. */
  private publish(uri: string, version: number, doc: ClozeDocument, diagnostics: readonly Diagnostic[]): void {
    this.lastDiagnostics.set(uri, { version, diagnostics });
    void this.connection.sendDiagnostics({ uri, version, diagnostics: diagnostics.map((d) => toLspDiagnostic(doc, d)) });
  }

  /** Shows a progress notification while a model is downloaded. */
  private async withProgress<T>(choice: ModelChoice, work: () => Promise<T>): Promise<T> {
    if (!this.canShowProgress || !choice.location.ok || choice.location.source !== 'remote') return work();
    const progress = await this.connection.window.createWorkDoneProgress();
    progress.begin('Cloze', undefined, `Downloading ${choice.id} from the Hugging Face hub…`);
    try {
      return await work();
    } finally {
      progress.done();
    }
  }

  private async hover(uri: string, position: { line: number; character: number }): Promise<Hover | null> {
    const settings = await this.settingsFor(uri);
    const service = this.serviceFor(settings);
    const answer = this.onRecentTree(uri, position, (doc, offset) => {
      const choice = this.trusted ? service.modelChoice(doc, uriToPath(uri)) : untrustedChoice(doc);
      const tokenizer = service.loadedTokenizer(choice);
      const result = service.boundedByTokenizer(
        choice,
        () => hoverAt(doc, offset, tokenizer),
        () => hoverAt(doc, offset, undefined),
      );
      return result ? { span: result.span, value: { result, doc, offset } } : undefined;
    });
    if (!answer) return null;
    const { result, doc, offset } = answer.value;
    // Only a preview that is already there: a hover never waits for the model.
    const preview = this.inference?.previews.latest(uri);
    let extra = '';
    if (preview?.ok) {
      const node = nodeAt(doc, offset);
      if (node?.kind === 'mask') extra = maskHover(preview.result, patternDisplayName(node.pattern));
      if (node?.kind === 'label-word') extra = labelWordHover(preview.result, node.entry.label.text, node.word.text);
    }
    const value = extra ? `${result.markdown}\n\n---\n\n${extra}` : result.markdown;
    return { contents: { kind: 'markdown', value }, range: answer.range };
  }

  private complete(uri: string, position: { line: number; character: number }): CompletionItem[] {
    const document = this.documents.get(uri);
    // The proposals' spans as one span: if it maps into the current version, each of them does, by the same shift.
    const answer = this.onRecentTree(uri, position, (doc, offset) => {
      const proposals = completeAt(doc, offset);
      const starts = proposals.map((p) => p.replace.start);
      const ends = proposals.map((p) => p.replace.end);
      const span = proposals.length === 0 ? { start: offset, end: offset } : { start: Math.min(...starts), end: Math.max(...ends) };
      return { span, value: proposals };
    });
    if (!document || !answer) return [];
    return answer.value.map((proposal) => ({
      label: proposal.label,
      kind: completionKind(proposal.kind),
      detail: proposal.detail,
      textEdit: {
        range: {
          start: document.positionAt(proposal.replace.start + answer.shift),
          end: document.positionAt(proposal.replace.end + answer.shift),
        },
        newText: proposal.insertText ?? proposal.label,
      },
    }));
  }

  /**
   * Runs a position request on the most recent syntax tree of the document when
   * the position and the answer's span lie outside what changed since (ranges
   * mapped to the current version), else on a fresh parse of the current
   * version. A tree older than RECENT_TREE_MS is not used: answers lag the
   * text by at most that while typing, and a 10,000-line document is parsed
   * a few times a second instead of once per request.
   */
  private onRecentTree<T>(
    uri: string,
    position: { line: number; character: number },
    work: (doc: ClozeDocument, offset: number) => { span: { start: number; end: number }; value: T } | undefined,
  ): { range: Range; value: T; shift: number } | undefined {
    const document = this.documents.get(uri);
    if (!document) return undefined;
    const cached = this.parsed.get(uri);
    if (cached && cached.version !== document.version && performance.now() - cached.at < RECENT_TREE_MS) {
      const tree = recentTree(cached.doc, document.getText());
      const offset = tree.toTree(offsetInDocument(document, position));
      if (offset !== undefined) {
        const answer = work(tree.doc, offset);
        if (!answer) return undefined;
        const span = tree.toCurrent(answer.span);
        if (span) {
          return {
            range: { start: document.positionAt(span.start), end: document.positionAt(span.end) },
            value: answer.value,
            shift: span.start - answer.span.start,
          };
        }
      }
    }
    const doc = this.parsedDocument(uri);
    if (!doc) return undefined;
    const answer = work(doc, toOffset(doc, position));
    return answer ? { range: toRange(doc, answer.span), value: answer.value, shift: 0 } : undefined;
  }

  /**
   * Quick fixes for the diagnostics of the current document version that touch
   * the requested range. The diagnostics a client sends back are not used: they
   * may belong to an older version, and a fix built from their ranges would
   * edit whatever text is there now.
   */
  private async codeActions(
    uri: string,
    range: { start: { line: number; character: number }; end: { line: number; character: number } },
  ): Promise<CodeAction[]> {
    const document = this.documents.get(uri);
    const context = await this.context(uri);
    if (!document || !context) return [];
    const { doc, service, choice, file } = context;
    const version = document.version;
    let diagnostics = this.lastDiagnostics.get(uri)?.version === version ? this.lastDiagnostics.get(uri)!.diagnostics : undefined;
    const tokenizer = this.trusted ? service.loadedTokenizer(choice) : undefined;
    if (!diagnostics) {
      const structural = this.trusted
        ? await service.checkStructure(doc, file, dataLimits(await this.settingsFor(uri)))
        : await service.checkStructure(doc, undefined, undefined, false);
      diagnostics = tokenizer ? [...structural, ...service.tokenChecks(doc, choice, tokenizer)] : structural;
      // Computed once per version: the editor asks again as the cursor moves.
      if (this.documents.get(uri)?.version === version) this.lastDiagnostics.set(uri, { version, diagnostics });
    }
    if (this.documents.get(uri)?.version !== version) return [];
    const wanted = toSpan(doc, range);
    const touching = diagnostics.filter((d) => d.span.start <= wanted.end && wanted.start <= d.span.end);
    const fixes = service.boundedByTokenizer(
      choice,
      () => quickFixes(doc, touching, tokenizer),
      () => [],
    );
    return fixes.map((fix) => ({
      title: fix.title,
      kind: CodeActionKind.QuickFix,
      isPreferred: fix.isPreferred,
      diagnostics: [toLspDiagnostic(doc, fix.diagnostic)],
      edit: { changes: { [uri]: fix.edits.map((edit) => ({ range: toRange(doc, edit.span), newText: edit.newText })) } },
    }));
  }

  private inferenceFor(): { worker: InferenceWorker; previews: PreviewManager } {
    if (!this.inference) {
      const worker = new InferenceWorker({
        onLoadEvent: (event) => this.onLoadEvent(event),
        log: (text) => this.connection.console.log(text),
      });
      const previews = new PreviewManager(worker, this.cacheDir, () => {
        if (this.canRefreshLenses) void this.connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
      });
      this.inference = { worker, previews };
    }
    return this.inference;
  }

  /** Progress in the editor while the worker loads a model (the first preview waits for it). */
  private onLoadEvent(event: LoadEvent): void {
    if (!this.canShowProgress) return;
    const key = `${event.modelKey}|${event.quantized}`;
    if (event.type === 'load-start') {
      this.loadProgress.set(
        key,
        this.connection.window.createWorkDoneProgress().then(
          (progress) => {
            progress.begin('Cloze', undefined, `Loading ${event.id} for the preview…`);
            return progress;
          },
          () => undefined,
        ),
      );
    } else {
      const progress = this.loadProgress.get(key);
      this.loadProgress.delete(key);
      void progress?.then((p) => p?.done());
    }
  }

  private async previewRequest(uri: string) {
    const document = this.documents.get(uri);
    const context = await this.context(uri);
    if (!document || !context) return undefined;
    const settings = await this.settingsFor(uri);
    if (!settings.preview.enabled || !this.trusted) return undefined;
    return { uri, version: document.version, doc: context.doc, settings, service: context.service, choice: context.choice };
  }

  /** Lenses at once from the syntax tree; their text now if the preview is ready, else at resolve. */
  private async codeLenses(uri: string): Promise<CodeLens[]> {
    const request = await this.previewRequest(uri);
    if (!request) return [];
    const { previews } = this.inferenceFor();
    const ready = previews.ready(request);
    if (!ready) void previews.preview(request);
    return lensAnchors(request.doc).map((anchor) => {
      const data: LensData = { uri, version: request.version, anchor };
      const lens: CodeLens = { range: toRange(request.doc, anchor.span), data };
      if (ready) {
        const content = lensContent(anchor, ready);
        lens.command = { title: content.title, command: '', arguments: [content.numbers] };
      }
      return lens;
    });
  }

  private async resolveLens(lens: CodeLens): Promise<CodeLens> {
    const data = lens.data as LensData | undefined;
    if (!data) return lens;
    const request = await this.previewRequest(data.uri);
    if (!request || request.version !== data.version) {
      // The document moved on; the client asks for new lenses after an edit.
      return { ...lens, command: { title: '…', command: '' } };
    }
    const outcome = await this.inferenceFor().previews.preview(request);
    if (!outcome) return { ...lens, command: { title: '…', command: '' } };
    const content = lensContent(data.anchor, outcome);
    return { ...lens, command: { title: content.title, command: '', arguments: [content.numbers] } };
  }

  /** Runs a request handler so that a bug answers with an empty result, logged, instead of an error. */
  private async safely<T>(handler: () => T | Promise<T>, fallback: T): Promise<T> {
    try {
      return await handler();
    } catch (error) {
      this.connection.console.error(`Request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      return fallback;
    }
  }
}

/** The model choice of an untrusted workspace: nothing is resolved, so nothing is read. */
function untrustedChoice(doc: ClozeDocument): ModelChoice {
  const line = doc.models[0];
  const lineBreak = doc.text.search(/\r|\n/);
  const span = line ? line.idSpan : { start: 0, end: lineBreak < 0 ? doc.text.length : lineBreak };
  const id = line?.id ?? '';
  return { id, span, origin: line ? 'file' : 'settings', location: { ok: false, id, reason: 'the workspace is not trusted' } };
}

/** The cloze.data.* settings as read limits. */
function dataLimits(settings: ClozeSettings): DataLimits {
  return { maxRows: settings.data.maxRows, maxBytes: settings.data.maxFileSizeMB * 1024 * 1024 };
}

function uriToPath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}
