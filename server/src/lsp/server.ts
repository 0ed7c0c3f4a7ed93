import * as path from 'node:path';
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
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import {
  completeAt,
  documentSymbols,
  hoverAt,
  offsetAt,
  parse,
  patternDisplayName,
  quickFixes,
  validateWithTokenizer,
  type ClozeDocument,
  type Diagnostic,
} from '../language';
import { nodeAt } from '../language/find';
import { InferenceWorker } from '../model/inferenceWorker';
import type { LoadEvent } from '../model/messages';
import { listLocalModels } from '../model/localModels';
import { defaultCacheDir, effectiveModelsDir } from '../model/resolve';
import { TokenizerCache } from '../model/tokenizers';
import { readSettings, type ClozeSettings } from '../protocol/settings';
import { ClozeLanguageService, type ModelChoice } from '../service/languageService';
import { completionKind, fromLspDiagnostic, toDocumentSymbol, toLspDiagnostic, toRange } from './convert';
import { lensAnchors, lensContent, type LensAnchor } from './lenses';
import { topTokensFromPreview } from './fixHints';
import { labelWordHover, maskHover } from './previewHover';
import { PreviewManager } from './previews';

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
  private readonly parsed = new Map<string, { version: number; doc: ClozeDocument }>();
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
      for (const document of this.documents.all()) void this.validate(document);
      // Preview settings (model, calibration, top-k) change what every lens says.
      if (this.canRefreshLenses) void connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
    });
    this.documents.onDidChangeContent((change) => void this.validate(change.document));
    this.documents.onDidClose((event) => {
      this.parsed.delete(event.document.uri);
      this.inference?.previews.forget(event.document.uri);
      this.settings.delete(event.document.uri);
      void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
    });
    connection.onHover((params) => this.safely(() => this.hover(params.textDocument.uri, params.position), null));
    connection.onCompletion((params) => this.safely(() => this.complete(params.textDocument.uri, params.position), []));
    connection.onCodeAction((params) => this.safely(() => this.codeActions(params.textDocument.uri, params.context.diagnostics), []));
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
    const folder = params.workspaceFolders?.[0]?.uri ?? params.rootUri ?? undefined;
    this.workspaceRoot = folder ? uriToPath(folder) : undefined;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        completionProvider: { triggerCharacters: ['{', ' ', '['] },
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
    this.parsed.set(uri, { version: document.version, doc });
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
    return { doc, service, choice: service.modelChoice(doc, file), file };
  }

  /**
   * Structural diagnostics are published at once; when the tokenizer is not
   * loaded yet, the tokenizer checks follow in a second publish once it is.
   * A result for an outdated version is dropped.
   */
  private async validate(document: TextDocument): Promise<void> {
    const { uri, version } = document;
    try {
      const context = await this.context(uri);
      if (!context || this.documents.get(uri)?.version !== version) return;
      const { doc, service, choice, file } = context;
      const structural = service.checkStructure(doc, file);
      const loaded = service.loadedTokenizer(choice);
      if (loaded) {
        this.publish(uri, doc, [...structural, ...validateWithTokenizer(doc, loaded)]);
        return;
      }
      this.publish(uri, doc, structural);
      const tokens = await this.withProgress(choice, () => service.checkTokens(doc, choice));
      if (this.documents.get(uri)?.version !== version) return;
      this.publish(uri, doc, [...structural, ...tokens]);
    } catch (error) {
      this.connection.console.error(
        `Validation of ${uri} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
  }

  private publish(uri: string, doc: ClozeDocument, diagnostics: readonly Diagnostic[]): void {
    void this.connection.sendDiagnostics({ uri, diagnostics: diagnostics.map((d) => toLspDiagnostic(doc, d, uri)) });
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
    const context = await this.context(uri);
    if (!context) return null;
    const { doc, service, choice } = context;
    const offset = offsetAt(doc, position);
    const result = hoverAt(doc, offset, service.loadedTokenizer(choice));
    if (!result) return null;
    // Only a preview that is already there: a hover never waits for the model.
    const preview = this.inference?.previews.latest(uri);
    let extra = '';
    if (preview?.ok) {
      const node = nodeAt(doc, offset);
      if (node?.kind === 'mask') extra = maskHover(preview.result, patternDisplayName(node.pattern));
      if (node?.kind === 'label-word') extra = labelWordHover(preview.result, node.entry.label.text, node.word.text);
    }
    const value = extra ? `${result.markdown}\n\n---\n\n${extra}` : result.markdown;
    return { contents: { kind: 'markdown', value }, range: toRange(doc, result.span) };
  }

  private async complete(uri: string, position: { line: number; character: number }): Promise<CompletionItem[]> {
    const context = await this.context(uri);
    if (!context) return [];
    const { doc, service } = context;
    const offset = offsetAt(doc, position);
    // The folders are listed only where a model id is being typed.
    const before = doc.text.slice(doc.lineStarts[position.line] ?? 0, offset);
    const onModelLine = /^model\s*:/.test(before);
    const models = onModelLine
      ? listLocalModels(service.settings.modelsDir, service.settings.cacheDir).map((m) => ({
          id: m.id,
          detail: m.source === 'models-dir' ? `models folder: ${m.folder}` : `download cache: ${m.folder}`,
        }))
      : [];
    // The data files' columns only inside `{`, where they are fields.
    const dataColumns = /\{[\p{L}\p{M}\p{N}_]*$/u.test(before)
      ? [...service.dataSets(doc, context.file).values()].flatMap((summary) => (summary.ok ? summary.columns : []))
      : [];
    return completeAt(doc, offset, { models, dataColumns }).map((proposal) => ({
      label: proposal.label,
      kind: completionKind(proposal.kind),
      detail: proposal.detail,
      ...(proposal.documentation ? { documentation: { kind: 'markdown' as const, value: proposal.documentation } } : {}),
      ...(proposal.sortText ? { sortText: proposal.sortText } : {}),
      textEdit: { range: toRange(doc, proposal.replace), newText: proposal.insertText ?? proposal.label },
    }));
  }

  private async codeActions(uri: string, diagnostics: Parameters<typeof fromLspDiagnostic>[1][]): Promise<CodeAction[]> {
    const context = await this.context(uri);
    if (!context) return [];
    const { doc, service, choice, file } = context;
    const ours = diagnostics.map((d) => ({ lsp: d, core: fromLspDiagnostic(doc, d) }));
    const cores = ours.flatMap((d) => (d.core ? [d.core] : []));
    // Hints for better fixes: the preview already there (never waited for), the local models.
    const preview = this.inference?.previews.latest(uri);
    const fixes = quickFixes(doc, cores, service.loadedTokenizer(choice), {
      ...(preview?.ok ? topTokensFromPreview(doc, preview.result) : {}),
      localModels: cores.some((d) => d.code === 'model-unavailable')
        ? listLocalModels(service.settings.modelsDir, service.settings.cacheDir).map((m) => m.id)
        : [],
      dataSets: service.dataSets(doc, file),
    });
    return fixes.map((fix) => ({
      title: fix.title,
      kind: CodeActionKind.QuickFix,
      isPreferred: fix.isPreferred,
      diagnostics: ours.filter((d) => d.core === fix.diagnostic).map((d) => d.lsp),
      ...(fix.edits.length > 0
        ? { edit: { changes: { [uri]: fix.edits.map((edit) => ({ range: toRange(doc, edit.span), newText: edit.newText })) } } }
        : {}),
      // The client's command gets the document, so it knows which file's model to set.
      ...(fix.command ? { command: { title: fix.command.title, command: fix.command.command, arguments: [uri] } } : {}),
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
    if (!settings.preview.enabled) return undefined;
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

function uriToPath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}
