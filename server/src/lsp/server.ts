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
import { retainDataSets } from '../service/dataSets';
import { ClozeLanguageService, type ModelChoice } from '../service/languageService';
import { completionKind, fromLspDiagnostic, toDocumentSymbol, toLspDiagnostic, toRange } from './convert';
import { lensAnchors, lensContent, type LensAnchor } from './lenses';
import { collectGarbage } from './memory';
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
  /** The garbage collection after the last document closed (see `collectGarbage`). */
  private idleCollection: NodeJS.Timeout | undefined;

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
    this.documents.onDidChangeContent((change) => {
      this.inference?.previews.focus(change.document.uri);
      void this.validate(change.document);
    });
    this.documents.onDidClose((event) => this.closed(event.document.uri));
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
    connection.onRequest(StatsRequest, () =>
      this.safely(
        async () =>
          this.inference
            ? { ...(await this.inference.worker.stats()), previews: this.inference.previews.size, serverMemory: process.memoryUsage() }
            : null,
        null,
      ),
    );
    connection.onShutdown(async () => {
      this.inference?.previews.dispose();
      await this.inference?.worker.dispose();
    });
    this.documents.listen(connection);
  }

  listen(): void {
    this.connection.listen();
  }

  /**
   * A document closed: everything kept for it goes (parsed tree, settings,
   * preview, its data files' rows unless another open document reads them),
   * and the inference process drops the models no open document uses.
   */
  private closed(uri: string): void {
    this.parsed.delete(uri);
    this.inference?.previews.forget(uri);
    this.settings.delete(uri);
    const dataFiles = new Set<string>();
    for (const document of this.documents.all()) {
      const file = uriToPath(document.uri);
      const doc = file && document.uri !== uri ? this.parsedDocument(document.uri) : undefined;
      if (file && doc) for (const data of doc.data) dataFiles.add(path.resolve(path.dirname(file), data.path));
    }
    retainDataSets(dataFiles);
    if (this.documents.all().every((document) => document.uri === uri)) {
      // The last document closed: the tokenizers go too (a vocabulary is tens of MB), and the heap
      // they and the previews filled is given back once things settle (unless a document opens).
      this.tokenizers.clear();
      clearTimeout(this.idleCollection);
      this.idleCollection = setTimeout(() => {
        if (this.documents.all().length === 0) collectGarbage();
      }, 1000);
      this.idleCollection.unref();
    }
    void this.connection.sendDiagnostics({ uri, diagnostics: [] });
  }

  /**
   * Whether a result computed for `document` at `version` is still current.
   * The object is compared too: a document closed and opened again starts
   * again at version 1, and the old text's results must not be published for it.
   */
  private isCurrent(document: TextDocument, version: number): boolean {
    return this.documents.get(document.uri) === document && document.version === version;
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
      if (!context || !this.isCurrent(document, version)) return;
      const { doc, service, choice, file } = context;
      const structural = service.checkStructure(doc, file);
      const loaded = service.loadedTokenizer(choice);
      if (loaded) {
        this.publish(uri, doc, [...structural, ...validateWithTokenizer(doc, loaded)]);
        return;
      }
      this.publish(uri, doc, structural);
      const tokens = await this.withProgress(choice, () => service.checkTokens(doc, choice));
      if (!this.isCurrent(document, version)) return;
      this.publish(uri, doc, [...structural, ...tokens]);
    } catch (error) {
      this.connection.console.error(
        `Validation of ${uri} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
  }

  private publish(uri: string, doc: ClozeDocument, diagnostics: readonly Diagnostic[]): void {
    const all = [...diagnostics, ...this.modelProblemDiagnostics(uri, doc, diagnostics)];
    void this.connection.sendDiagnostics({ uri, diagnostics: all.map((d) => toLspDiagnostic(doc, d)) });
  }

  /**
   * A model whose tokenizer loads but which cannot be scored (a broken ONNX
   * file, an output that is not vocabulary logits, a failure while running)
   * is found by the preview: one `model-unavailable` on the model's line, as
   * when the tokenizer fails, and none when that one is already there.
   */
  private modelProblemDiagnostics(uri: string, doc: ClozeDocument, diagnostics: readonly Diagnostic[]): Diagnostic[] {
    const problem = this.inference?.previews.modelProblem(uri);
    if (!problem || diagnostics.some((d) => d.code === 'model-unavailable')) return [];
    const line = doc.models[0];
    if (line && line.id !== problem.modelId) return [];
    const lineBreak = doc.text.search(/\r|\n/);
    const span = line ? line.idSpan : { start: 0, end: lineBreak < 0 ? doc.text.length : lineBreak };
    return [{ code: 'model-unavailable', severity: 'error', span, message: `Model ${problem.modelId} is unavailable: ${problem.message}` }];
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
    this.inference?.previews.focus(uri);
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
      const previews = new PreviewManager(
        worker,
        this.cacheDir,
        () => {
          if (this.canRefreshLenses) void this.connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
        },
        (uri) => {
          const document = this.documents.get(uri);
          if (document) void this.validate(document);
        },
      );
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
    previews.focus(uri);
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
    const { previews } = this.inferenceFor();
    previews.focus(data.uri);
    const outcome = await previews.preview(request);
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
