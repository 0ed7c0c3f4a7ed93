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
import { defaultCacheDir, effectiveModelsDir } from '../model/resolve';
import { TokenizerCache } from '../model/tokenizers';
import { readSettings, type ClozeSettings } from '../protocol/settings';
import { ClozeLanguageService, type ModelChoice } from '../service/languageService';
import { modelsIn } from '../model/available';
import {
  AvailableModelsRequest,
  EvaluateRequest,
  ModelStateNotification,
  PreviewDataRequest,
  type AvailableModels,
  type AvailableModelsParams,
  type EvaluateParams,
  type EvaluateResult,
  type PreviewData,
  type PreviewDataParams,
} from '../protocol/messages';
import { completionKind, fromLspDiagnostic, toDocumentSymbol, toLspDiagnostic, toRange } from './convert';
import { evaluateDocument, previewData } from './customRequests';
import {
  exampleProblems,
  lensAnchors,
  lensContent,
  loadingLens,
  withPlainIcons,
  type LensAnchor,
  type LensContent,
  type LensContext,
} from './lenses';
import { ModelStates } from './modelState';
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
  /** The VS Code client says it draws `$(codicon)`s in lens titles (initializationOptions.codicons); others get ✓/✗. */
  private codicons = false;
  /** Created on the first preview: the model loads lazily, on first need. */
  private inference: { worker: InferenceWorker; previews: PreviewManager } | undefined;
  private readonly loadProgress = new Map<string, Promise<{ done(): void } | undefined>>();
  /** Each document's model and its state, sent to the client as `cloze/modelState`. */
  private readonly modelStates: ModelStates;
  private evaluations = 0;

  constructor(private readonly connection: Connection) {
    this.tokenizers = new TokenizerCache(this.cacheDir);
    this.modelStates = new ModelStates((state) => void connection.sendNotification(ModelStateNotification, state).catch(() => undefined));
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
      this.modelStates.forget(event.document.uri);
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
    connection.onRequest(PreviewDataRequest, (params: PreviewDataParams) => this.safely(() => this.previewData(params.uri), null));
    connection.onRequest(AvailableModelsRequest, (params: AvailableModelsParams) =>
      this.safely(() => this.availableModels(params.uri), null),
    );
    connection.onRequest(EvaluateRequest, (params: EvaluateParams) =>
      this.safely(() => this.evaluate(params), { ok: false, reason: 'the evaluation failed; see the Cloze log' } as EvaluateResult),
    );
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
    this.codicons = (params.initializationOptions as Record<string, unknown> | undefined)?.['codicons'] === true;
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
        this.reportTokenizerReady(uri, choice);
        return;
      }
      this.publish(uri, doc, structural);
      if (!choice.location.ok) this.modelStates.report(uri, choice.id, 'unavailable', choice.location.reason);
      else this.modelStates.report(uri, choice.id, 'loading', 'tokenizer');
      const tokens = await this.withProgress(choice, () => service.checkTokens(doc, choice));
      if (this.documents.get(uri)?.version !== version) return;
      const failed = tokens.find((d) => d.code === 'model-unavailable');
      if (failed) this.modelStates.report(uri, choice.id, 'unavailable', failed.message);
      else this.reportTokenizerReady(uri, choice);
      this.publish(uri, doc, [...structural, ...tokens]);
    } catch (error) {
      this.connection.console.error(
        `Validation of ${uri} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
  }

  /** The tokenizer is there; the weights may be loading, loaded or failed in the worker already. */
  private reportTokenizerReady(uri: string, choice: ModelChoice): void {
    const engine = this.modelStates.engineState(choice.id);
    if (engine) this.modelStates.report(uri, choice.id, engine.state, engine.detail);
    else this.modelStates.report(uri, choice.id, 'ready', 'tokenizer loaded; the weights load for the first preview');
  }

  private publish(uri: string, doc: ClozeDocument, diagnostics: readonly Diagnostic[]): void {
    void this.connection.sendDiagnostics({ uri, diagnostics: diagnostics.map((d) => toLspDiagnostic(doc, d)) });
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

  private complete(uri: string, position: { line: number; character: number }): CompletionItem[] {
    const doc = this.parsedDocument(uri);
    if (!doc) return [];
    return completeAt(doc, offsetAt(doc, position)).map((proposal) => ({
      label: proposal.label,
      kind: completionKind(proposal.kind),
      detail: proposal.detail,
      textEdit: { range: toRange(doc, proposal.replace), newText: proposal.insertText ?? proposal.label },
    }));
  }

  private async codeActions(uri: string, diagnostics: Parameters<typeof fromLspDiagnostic>[1][]): Promise<CodeAction[]> {
    const context = await this.context(uri);
    if (!context) return [];
    const { doc, service, choice } = context;
    const ours = diagnostics.map((d) => ({ lsp: d, core: fromLspDiagnostic(doc, d) }));
    const fixes = quickFixes(
      doc,
      ours.flatMap((d) => (d.core ? [d.core] : [])),
      service.loadedTokenizer(choice),
    );
    return fixes.map((fix) => ({
      title: fix.title,
      kind: CodeActionKind.QuickFix,
      isPreferred: fix.isPreferred,
      diagnostics: ours.filter((d) => d.core === fix.diagnostic).map((d) => d.lsp),
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
    this.modelStates.onLoadEvent(event);
    // The "Cloze" output of VS Code (and any client's log) says what was loaded, from where, how fast.
    if (event.type === 'load-start') this.connection.console.info(`Loading ${event.id} (${event.modelKey})…`);
    else if (event.ok)
      this.connection.console.info(
        `Loaded ${event.id}: ${event.info.file}, ${event.info.vocabSize} tokens, ${event.info.graph} graph, in ${Math.round(event.info.loadMs)} ms`,
      );
    else this.connection.console.error(`Could not load ${event.id}: ${event.message}`);
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
    if (!ready) void this.trackPreview(request);
    const anchors = lensAnchors(request.doc);
    const context = this.lensContext(uri, request.doc, anchors);
    const lenses: CodeLens[] = [];
    for (const anchor of anchors) {
      const data: LensData = { uri, version: request.version, anchor };
      const lens: CodeLens = { range: toRange(request.doc, anchor.span), data };
      // With a refresh to come, a lens says what it waits for rather than stay blank;
      // without one, it is resolved when shown (`codeLens/resolve` waits for the preview).
      const content = ready
        ? lensContent(anchor, ready, request.doc, context)
        : this.canRefreshLenses
          ? loadingLens(anchor, request.doc, this.modelStates.waitingText(uri) ?? `scoring with ${request.choice.id}…`, context)
          : anchor.kind === 'label'
            ? undefined
            : null;
      if (content === undefined) continue;
      if (content) lens.command = lensCommand(content, this.codicons);
      lenses.push(lens);
    }
    return lenses;
  }

  /** Per document parse: a client without lens refresh resolves every lens, and each asks for the same context. */
  private readonly lensContexts = new WeakMap<ClozeDocument, LensContext>();

  private lensContext(uri: string, doc: ClozeDocument, anchors: readonly LensAnchor[] = lensAnchors(doc)): LensContext {
    const cached = this.lensContexts.get(doc);
    if (cached) return cached;
    const first = anchors.map((a) => ('line' in a ? a.line : toRange(doc, a.span).start.line + 1)).sort((a, b) => a - b)[0] ?? 1;
    const context = { uri, problems: exampleProblems(doc), firstLine: first };
    this.lensContexts.set(doc, context);
    return context;
  }

  /** Starts (or joins) a preview and reports its outcome as the model's state. */
  private trackPreview(request: NonNullable<Awaited<ReturnType<ClozeServer['previewRequest']>>>) {
    const promise = this.inferenceFor().previews.preview(request);
    void promise.then((outcome) => {
      if (outcome && !outcome.ok) this.modelStates.report(request.uri, request.choice.id, 'unavailable', outcome.reason);
    });
    return promise;
  }

  private async previewData(uri: string): Promise<PreviewData | null> {
    const document = this.documents.get(uri);
    const context = await this.context(uri);
    if (!document || !context) return null;
    const settings = await this.settingsFor(uri);
    // The panel asks for it explicitly, so it is computed even with the lenses turned off.
    const request = { uri, version: document.version, doc: context.doc, settings, service: context.service, choice: context.choice };
    const outcome = await this.trackPreview(request);
    return previewData(uri, document.version, context.doc, context.choice, settings, outcome);
  }

  private async availableModels(uri: string): Promise<AvailableModels | null> {
    const context = await this.context(uri);
    if (!context) return null;
    const { modelsDir, cacheDir, allowRemoteModels } = context.service.settings;
    const models = [
      ...modelsIn(modelsDir).map((id) => ({ id, source: 'models-dir' as const, folder: path.join(modelsDir, id) })),
      ...modelsIn(cacheDir).map((id) => ({ id, source: 'cache' as const, folder: path.join(cacheDir, id) })),
    ];
    return { current: { id: context.choice.id, origin: context.choice.origin }, modelsDir, cacheDir, allowRemoteModels, models };
  }

  private async evaluate(params: EvaluateParams): Promise<EvaluateResult> {
    const context = await this.context(params.uri);
    if (!context) return { ok: false, reason: 'the document is not open' };
    const settings = await this.settingsFor(params.uri);
    const key = `${params.uri}#evaluation-${++this.evaluations}`;
    const { worker } = this.inferenceFor();
    const progress = this.canShowProgress ? await this.connection.window.createWorkDoneProgress().catch(() => undefined) : undefined;
    progress?.begin('Cloze', 0, `Evaluating ${path.basename(context.file ?? params.uri)}…`);
    try {
      return await evaluateDocument(
        context.doc,
        context.file,
        context.service,
        context.choice,
        settings,
        worker,
        this.cacheDir,
        key,
        params.limit,
        (done, total) => progress?.report(Math.round((done / Math.max(1, total)) * 100), `${done} of ${total} rows`),
      );
    } finally {
      progress?.done();
      worker.forget(key);
    }
  }

  private async resolveLens(lens: CodeLens): Promise<CodeLens> {
    const data = lens.data as LensData | undefined;
    if (!data) return lens;
    const request = await this.previewRequest(data.uri);
    if (!request || request.version !== data.version) {
      // The document moved on; the client asks for new lenses after an edit.
      return { ...lens, command: { title: '…', command: '' } };
    }
    const outcome = await this.trackPreview(request);
    if (!outcome) return { ...lens, command: { title: '…', command: '' } };
    const content = lensContent(data.anchor, outcome, request.doc, this.lensContext(data.uri, request.doc));
    return { ...lens, command: content ? lensCommand(content, this.codicons) : { title: '', command: '' } };
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

/** The lens's command; its arguments are the command's (uri, line), then the numbers behind the title. */
function lensCommand(content: LensContent, codicons: boolean): { title: string; command: string; arguments: unknown[] } {
  const title = codicons ? content.title : withPlainIcons(content.title);
  return { title, command: content.command, arguments: [...content.arguments, content.numbers] };
}

function uriToPath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}
