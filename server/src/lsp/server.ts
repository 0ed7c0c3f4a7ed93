import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  CodeActionKind,
  type CancellationToken,
  type CodeLens,
  DidChangeConfigurationNotification,
  DidChangeWatchedFilesNotification,
  DiagnosticSeverity,
  ErrorCodes,
  LSPErrorCodes,
  MessageType,
  ResponseError,
  ShowMessageNotification,
  ShowMessageRequest,
  TextDocuments,
  TextDocumentSyncKind,
  type CodeAction,
  type CompletionItem,
  type CompletionList,
  type Connection,
  type Diagnostic as LspDiagnostic,
  type Hover,
  type InitializeParams,
  type InitializeResult,
  type Range,
  type WorkDoneProgressReporter,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import {
  completeAt,
  documentSymbols,
  hoverAt,
  labelWordMatrix,
  modelHover,
  modelLineEdit,
  modelRefAt,
  parse,
  patternDisplayName,
  quickFixes,
  type ClozeDocument,
  type DataSetSummary,
  type Diagnostic,
} from '../language';
import { nodeAt } from '../language/find';
import { isCancelled } from '../model/cancelled';
import { InferenceWorker } from '../model/inferenceWorker';
import type { LoadEvent } from '../model/messages';
import { cacheState, hubOptionsFromEnv, onnxFile, TOKENIZER_FILES, type DownloadProgress } from '../model/download';
import { ModelDownloads } from '../model/downloads';
import { describeEngine, engineReport, type ModelInfo } from '../model/engine';
import { listLocalModels } from '../model/localModels';
import { defaultCacheDir, effectiveModelsDir, locationKey, withModelsDirNote } from '../model/resolve';
import { TokenizerCache } from '../model/tokenizers';
import { findClozeSettings, mergeRawSettings, readSettings, settingsProblems, type ClozeSettings } from '../protocol/settings';
import type { DataLimits } from '../service/dataSets';
import { ClozeLanguageService, type ModelChoice } from '../service/languageService';
import {
  AvailableModelsRequest,
  DataEvaluationRequest,
  DataFileGlob,
  EvaluateRequest,
  ModelStateNotification,
  PreviewDataRequest,
  type AvailableModels,
  type AvailableModelsParams,
  type DataEvaluationData,
  type DataEvaluationParams,
  type EvaluateParams,
  type EvaluateResult,
  type PreviewData,
  type PreviewDataParams,
} from '../protocol/messages';
import { completionKind, toDocumentSymbol, toLspDiagnostic, toOffset, toRange, toSpan } from './convert';
import { evaluateDocument, previewData } from './customRequests';
import { ModelComparisons } from './modelComparison';
import { DataLenses } from './dataLenses';
import { topTokensFromPreview } from './fixHints';
import { labelWordProposals, oneTokenIn, verbalizerEntryAt } from '../language/labelWordCompletion';
import { LabelWordRankings } from './labelWordRankings';
import { exampleProblems } from '../language/exampleProblems';
import {
  lensAnchors,
  lensContent,
  loadingLens,
  staleLens,
  staleResult,
  pendingModelLens,
  placeholderLens,
  EvaluateCommand,
  OpenPreviewCommand,
  SelectModelCommand,
  withPlainIcons,
  type LensAnchor,
  type LensContent,
  type LensContext,
} from './lenses';
import { collectGarbage } from './memory';
import { ModelStates } from './modelState';
import { offsetInDocument, recentTree } from './recentTree';
import { TrustNotification, untrustedDiagnostic } from './trust';
import { ValidationScheduler } from './validation';
import { TOKENIZER_PENDING } from '../language/tokenizer';
import { escapeCode } from '../language/hover';
import { customUri, documentUri, isPosition, isRange, malformedChange, unorderedVersion } from './checkedParams';
import { labelWordHover, maskHover } from './previewHover';
import { PreviewManager, type PreviewRequest } from './previews';
import { previewText } from '../service/previewReport';

/** How old a syntax tree may be and still answer hovers and completions while the user types (see onRecentTree). */
const RECENT_TREE_MS = 500;
/** How long a document waits for the client's answer to workspace/configuration before going on without it. */
const CONFIGURATION_WAIT_MS =
  Number(process.env['CLOZE_CONFIGURATION_WAIT_MS']) > 0 ? Number(process.env['CLOZE_CONFIGURATION_WAIT_MS']) : 3000;

/** What a code lens carries between `textDocument/codeLens` and `codeLens/resolve`. */
interface LensData {
  readonly uri: string;
  readonly version: number;
  readonly anchor: LensAnchor;
}

/** Custom request: the inference worker's counters (computed vs cached pairs), for tests and benchmarks. */
export const StatsRequest = 'cloze/stats';

/** Custom request: the model ids whose download started, in order (what went to the network), for tests. */
export const DownloadsRequest = 'cloze/downloads';

/**
 * Downloads for clients that asked for them (initializationOptions `downloadNotifications`, the
 * VS Code client): `cloze/download` `{ id, kind: begin|report|end, message?, percentage? }` from
 * the server, `cloze/cancelDownload` `{ id }` from the client (client/src/downloads.ts).
 */
export const DownloadNotification = 'cloze/download';
export const CancelDownloadNotification = 'cloze/cancelDownload';

/**
 * How long the `model:` id must stay unchanged before it is looked up on the
 * network: a prefix typed on the way to the real id is never fetched.
 * `CLOZE_RESOLVE_DELAY_MS` changes it.
 */
const RESOLVE_DELAY_MS = Number(process.env['CLOZE_RESOLVE_DELAY_MS']) > 0 ? Number(process.env['CLOZE_RESOLVE_DELAY_MS']) : 1000;

/** Never a URL from what cannot be a hub id (empty, `org/`, spaces): the id's own diagnostic says why. */
function isHubId(id: string): boolean {
  return /^[\w.-]+(\/[\w.-]+)?$/.test(id);
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0);
}

/** "12.3 of 438 MB", "0.4 MB": what a download has done. */
export function describeProgress(progress: DownloadProgress | undefined): string {
  if (!progress) return '';
  return progress.totalBytes
    ? `${megabytes(progress.receivedBytes)} of ${megabytes(progress.totalBytes)} MB`
    : `${megabytes(progress.receivedBytes)} MB`;
}

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
  private canRegisterConfiguration = false;
  private canShowProgress = false;
  /** The VS Code client shows downloads as notifications with Cancel (client/src/downloads.ts). */
  private wantsDownloadNotifications = false;
  /** `cloze.*` from initializationOptions, overridden by the latest didChangeConfiguration push. */
  private initialSettings: unknown;
  private readonly downloads = new ModelDownloads(this.cacheDir, hubOptionsFromEnv(), {
    onStart: (id, cancel) => this.showDownload(id, cancel),
    onProgress: (id, progress) => this.downloadProgress.get(id)?.report(progress),
    onTokenizerReady: (id) => this.revalidateNaming(id),
    onEnd: (id) => {
      this.downloadProgress.get(id)?.done();
      this.downloadProgress.delete(id);
      this.revalidateNaming(id);
      this.refreshLenses();
    },
  });
  private readonly downloadProgress = new Map<string, { report(progress: DownloadProgress): void; done(): void }>();
  /** Cancel of each download shown through `cloze/download`, for `cloze/cancelDownload`. */
  private readonly downloadCancels = new Map<string, () => void>();
  /** Per document: the model id it names now, and the pending network look-up of it. */
  private readonly named = new Map<string, string>();
  private readonly lookupTimers = new Map<string, { id: string; timer: NodeJS.Timeout }>();
  private canRefreshLenses = false;
  /** `shutdown` was received: the server only stops now; requests err (InvalidRequest), as the LSP says. */
  private shuttingDown = false;
  /** Documents whose client sent a version that did not increase (said once each in the log). */
  private readonly unorderedVersions = new Set<string>();
  /** Setting values already said to be unusable: settings are read per document, the log says each once. */
  private readonly settingsSaid = new Set<string>();
  /** The client watches files for the server when asked (VS Code, Neovim 0.10): data files edited outside the document. */
  private canWatchFiles = false;
  /** The VS Code client says it draws `$(codicon)`s in lens titles (initializationOptions.codicons); others get ✓/✗. */
  private codicons = false;
  /**
   * The client shows a completion item that inserts nothing ("scoring…") without inserting its label
   * (initializationOptions.completionNotes, sent by the VS Code extension). Neovim 0.7 takes an empty
   * `newText` as absent and wrote "scoring…" into the file; other clients get no such items.
   */
  private completionNotes = false;
  /**
   * The client implements the lenses' and quick fixes' `cloze.*` commands itself
   * (initializationOptions.clientCommands, sent by the VS Code extension, which has the panel and
   * pickers). Other clients get them from the server (`workspace/executeCommand`): without it a
   * lens or the "Select a model…" fix failed in Neovim and Emacs with "Unhandled method".
   */
  private clientCommands = false;
  /** The client applies workspace edits the server sends (`workspace.applyEdit`): the picked model is written so. */
  private canApplyEdit = false;
  /** Created on the first preview: the model loads lazily, on first need. */
  private inference: { worker: InferenceWorker; previews: PreviewManager } | undefined;
  /** Created with the inference process, on the first completion at a verbalizer entry. */
  private labelWordRankings: LabelWordRankings | undefined;
  private comparisons: ModelComparisons | undefined;
  private dataLenses: DataLenses | undefined;
  private readonly loadProgress = new Map<string, Promise<{ done(): void } | undefined>>();
  /** What each loaded engine runs (file, graph, precision), by model folder and precision, for the [MASK] hover. */
  private readonly engines = new Map<string, ModelInfo>();
  /** Debounced validation per document; the diagnostics last computed, per version (for code actions). */
  private readonly scheduler = new ValidationScheduler((uri) => {
    const document = this.documents.get(uri);
    return document && !this.shuttingDown ? this.validate(document) : Promise.resolve();
  });
  private readonly lastDiagnostics = new Map<string, { version: number; diagnostics: readonly Diagnostic[] }>();
  /** Workspace trust, as the client reports it (a client that has none is trusted). */
  private trusted = true;
  /** Each document's model and its state, sent to the client as `cloze/modelState`. */
  private readonly modelStates: ModelStates;
  private evaluations = 0;
  /** How to stop each running `cloze/evaluate`, per document: closing it stops them. */
  private readonly runningEvaluations = new Map<string, Set<(why: string) => void>>();
  /** The garbage collection after the last document closed (see `collectGarbage`). */
  private idleCollection: NodeJS.Timeout | undefined;

  constructor(private readonly connection: Connection) {
    this.tokenizers = new TokenizerCache(this.cacheDir);
    // After `shutdown` nothing is reported: the previews the disposed inference process rejects would
    // otherwise tell the client every model is "unavailable" while the user restarts the server.
    this.modelStates = new ModelStates((state) => {
      if (!this.shuttingDown) void connection.sendNotification(ModelStateNotification, state).catch(() => undefined);
    });
    connection.onInitialize((params) => this.initialize(params));
    connection.onInitialized(() => {
      // Only a client that says it can take a dynamic registration gets one (eglot warns otherwise).
      if (this.canPullConfiguration && this.canRegisterConfiguration)
        void connection.client.register(DidChangeConfigurationNotification.type, { section: 'cloze' }).catch(() => undefined);
      // Data files change outside the documents (fixed in another tab, regenerated by a script): their
      // diagnostics and evaluation lenses must follow. Watched where the client can do it for us.
      if (this.canWatchFiles)
        void connection.client
          .register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: DataFileGlob }] })
          .catch(() => undefined);
    });
    connection.onDidChangeWatchedFiles((params) => {
      if (!this.shuttingDown)
        void this.safely(() => this.dataFilesChanged(Array.isArray(params?.changes) ? params.changes : []), undefined);
    });
    connection.onDidChangeConfiguration((change) => {
      this.settings.clear();
      // A push that carries settings (Neovim, eglot) is kept; one without (VS Code's signal to pull) changes nothing.
      const pushed = findClozeSettings((change as { settings?: unknown } | null)?.settings);
      if (pushed) this.initialSettings = mergeRawSettings(this.initialSettings, pushed);
      for (const document of this.documents.all()) this.scheduler.now(document.uri);
      // Preview settings (model, calibration, top-k) change what every lens says.
      if (this.canRefreshLenses) void connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
    });
    // Saving is a deliberate act: the id is looked up now, also after a failure.
    this.documents.onDidSave((event) => {
      // A save is when a model that was missing is looked for again: its diagnostics are checked now, not at the next edit.
      this.scheduler.now(event.document.uri);
      void this.lookUpNow(event.document.uri);
      // The lenses ask again: a data file changed since (a client that watches no files) is read anew.
      this.refreshLenses();
    });
    this.documents.onDidChangeContent((change) => {
      this.inference?.previews.focus(change.document.uri);
      this.scheduler.changed(change.document.uri);
    });
    connection.onNotification(TrustNotification, (params: { trusted?: unknown } | null) => {
      // Only a yes or a no changes trust: a malformed notification (`{}`, null) is not a "no".
      if (typeof params?.trusted !== 'boolean') return;
      this.trusted = params.trusted;
      for (const document of this.documents.all()) this.scheduler.now(document.uri);
      if (this.canRefreshLenses) void connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
    });
    this.documents.onDidClose((event) => this.closed(event.document.uri));
    // A request whose document or position is malformed gets the empty answer (checkedParams.ts), not a logged stack trace.
    connection.onHover((params) =>
      this.safely(() => {
        const uri = documentUri(params);
        return uri && isPosition(params.position) ? this.hover(uri, params.position) : null;
      }, null),
    );
    connection.onCompletion((params) =>
      this.safely(async () => {
        const uri = documentUri(params);
        if (!uri || !isPosition(params.position)) return [];
        return (await this.completeLabelWords(uri, params.position)) ?? this.complete(uri, params.position);
      }, []),
    );
    connection.onCodeAction((params) =>
      this.safely(() => {
        const uri = documentUri(params);
        return uri && isRange(params.range) ? this.codeActions(uri, params.range) : [];
      }, []),
    );
    connection.onDocumentSymbol((params) =>
      this.safely(() => {
        const uri = documentUri(params);
        const doc = uri ? this.parsedDocument(uri) : undefined;
        return doc ? documentSymbols(doc).map((symbol) => toDocumentSymbol(doc, symbol)) : [];
      }, []),
    );
    connection.onCodeLens((params) =>
      this.safely(() => {
        const uri = documentUri(params);
        return uri ? this.codeLenses(uri) : [];
      }, []),
    );
    connection.onCodeLensResolve((lens, token) => this.safely(() => this.resolveLens(lens, token), lens));
    connection.onRequest(StatsRequest, () =>
      this.safely(
        async () =>
          this.inference
            ? { ...(await this.inference.worker.stats()), previews: this.inference.previews.size, serverMemory: process.memoryUsage() }
            : null,
        null,
      ),
    );
    connection.onRequest(DownloadsRequest, () => this.safely(() => [...this.downloads.started], []));
    connection.onNotification(CancelDownloadNotification, (params: { id?: unknown }) => {
      if (typeof params?.id === 'string') this.downloadCancels.get(params.id)?.();
    });
    connection.onRequest(PreviewDataRequest, (params: PreviewDataParams | null) =>
      this.safely(() => {
        const uri = customUri(params);
        return uri ? this.previewData(uri) : null;
      }, null),
    );
    connection.onRequest(AvailableModelsRequest, (params: AvailableModelsParams | null) =>
      this.safely(() => {
        const uri = customUri(params);
        return uri ? this.availableModels(uri) : null;
      }, null),
    );
    connection.onRequest(EvaluateRequest, (params: EvaluateParams | null, token: CancellationToken) =>
      this.safely(
        () => {
          const uri = customUri(params);
          if (!uri || !params) return { ok: false, reason: 'the request names no document (`uri`)' } as EvaluateResult;
          const limit: unknown = params.limit ?? undefined;
          // As `cloze eval --limit`: a whole number of rows, at least 1 (a negative one cut rows from the end).
          if (limit !== undefined && !(typeof limit === 'number' && Number.isSafeInteger(limit) && limit >= 1))
            return { ok: false, reason: '`limit` must be a whole number of rows, 1 or more' } as EvaluateResult;
          // A progress token is a string or a number (LSP); anything else is ignored, not attached.
          const workDoneToken: unknown = params.workDoneToken;
          const progress = typeof workDoneToken === 'string' || typeof workDoneToken === 'number' ? { workDoneToken } : {};
          return this.evaluate({ uri, ...(limit !== undefined ? { limit } : {}), ...progress }, token);
        },
        { ok: false, reason: 'the evaluation failed; see the Cloze log' } as EvaluateResult,
      ),
    );
    connection.onExecuteCommand((params, token) =>
      this.safely(() => (this.clientCommands ? null : this.executeCommand(params.command, params.arguments ?? [], token)), null),
    );
    connection.onRequest(DataEvaluationRequest, (params: DataEvaluationParams | null) =>
      this.safely(() => {
        const uri = customUri(params);
        return uri ? this.dataEvaluation(uri) : null;
      }, null),
    );
    connection.onShutdown(async () => {
      this.shuttingDown = true;
      this.downloads.dispose();
      this.inference?.previews.dispose();
      await this.inference?.worker.dispose();
    });
    // A malformed didChange is not applied (the library would corrupt the text or throw): it is said once in the log.
    const checked = Object.create(connection) as Connection;
    checked.onDidChangeTextDocument = (handler) =>
      connection.onDidChangeTextDocument((params) => {
        const problem = malformedChange(params);
        const uri = documentUri(params) ?? 'a document';
        if (problem !== undefined) {
          connection.console.warn(
            `Ignored a textDocument/didChange for ${uri}: ${problem}. The document may be out of step until it is closed and opened again.`,
          );
          return;
        }
        // No change at all (Neovim 0.7 sends one after some edits, at the version it already sent): nothing to apply,
        // and no version to warn about.
        if (Array.isArray(params.contentChanges) && params.contentChanges.length === 0) return;
        // The text is the client's and is applied; the version is the server's to keep increasing (the
        // previews, diagnostics and caches are keyed by it). Said once per document.
        const current = this.documents.get(uri)?.version;
        const unordered = unorderedVersion(params, current);
        if (unordered === undefined) return handler(params);
        const newest = (current ?? 0) + 1;
        if (!this.unorderedVersions.has(uri)) {
          this.unorderedVersions.add(uri);
          connection.console.warn(
            `A textDocument/didChange for ${uri} has ${unordered}: versions must increase with every change (LSP). Its changes are applied as version ${newest}, and later ones so too.`,
          );
        }
        return handler({ ...params, textDocument: { ...params.textDocument, version: newest } });
      });
    this.documents.listen(checked);
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
    this.named.delete(uri);
    this.unorderedVersions.delete(uri);
    clearTimeout(this.lookupTimers.get(uri)?.timer);
    this.lookupTimers.delete(uri);
    this.downloads.cancelExcept(new Set(this.named.values()));
    this.scheduler.forget(uri);
    this.lastDiagnostics.delete(uri);
    this.parsed.delete(uri);
    this.inference?.previews.forget(uri);
    this.labelWordRankings?.forget(uri);
    this.comparisons?.forget(uri);
    this.dataLenses?.forget(uri);
    for (const cancel of this.runningEvaluations.get(uri) ?? []) cancel('its document was closed');
    this.settings.delete(uri);
    this.modelStates.forget(uri);
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
    this.canRegisterConfiguration = params.capabilities.workspace?.didChangeConfiguration?.dynamicRegistration === true;
    this.canShowProgress = params.capabilities.window?.workDoneProgress === true;
    this.canRefreshLenses = params.capabilities.workspace?.codeLens?.refreshSupport === true;
    this.canWatchFiles = params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
    this.initialSettings = findClozeSettings(params.initializationOptions);
    this.trusted = (params.initializationOptions as Record<string, unknown> | undefined)?.['trusted'] !== false;
    this.wantsDownloadNotifications =
      (params.initializationOptions as { downloadNotifications?: unknown } | null | undefined)?.downloadNotifications === true;
    this.codicons = (params.initializationOptions as Record<string, unknown> | undefined)?.['codicons'] === true;
    this.completionNotes = (params.initializationOptions as Record<string, unknown> | undefined)?.['completionNotes'] === true;
    this.clientCommands = (params.initializationOptions as Record<string, unknown> | undefined)?.['clientCommands'] === true;
    this.canApplyEdit = params.capabilities.workspace?.applyEdit === true;
    const folder = params.workspaceFolders?.[0]?.uri ?? params.rootUri ?? undefined;
    this.workspaceRoot = folder ? uriToPath(folder) : undefined;
    return {
      capabilities: {
        // Saves are wanted: saving looks the model id up at once.
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        hoverProvider: true,
        completionProvider: { triggerCharacters: ['{', ' ', '['] },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        documentSymbolProvider: true,
        codeLensProvider: { resolveProvider: true },
        ...(this.clientCommands ? {} : { executeCommandProvider: { commands: [...SERVER_COMMANDS] } }),
      },
      serverInfo: { name: 'cloze-language-server', version: '0.1.0' },
    };
  }

  private parsedDocument(uri: string): ClozeDocument | undefined {
    const document = this.documents.get(uri);
    if (!document) return undefined;
    const cached = this.parsed.get(uri);
    const text = document.getText();
    // The text is compared too: a client that sends two edits under one version number must not get the older parse.
    if (cached && cached.version === document.version && cached.doc.text === text) return cached.doc;
    const doc = parse(text);
    this.parsed.set(uri, { version: document.version, doc, at: performance.now() });
    return doc;
  }

  /** `readSettings`, with each value it cannot use said once in the log (the editor's own schema may not have checked it). */
  private readSettings(raw: unknown): ClozeSettings {
    for (const problem of settingsProblems(raw)) {
      if (this.settingsSaid.has(problem)) continue;
      this.settingsSaid.add(problem);
      this.connection.console.warn(`Setting ignored: ${problem}`);
    }
    return readSettings(raw);
  }

  private settingsFor(uri: string): Promise<ClozeSettings> {
    let settings = this.settings.get(uri);
    if (!settings) {
      settings = this.canPullConfiguration ? this.pulledSettings(uri) : Promise.resolve(this.readSettings(this.initialSettings));
      // Kept for open documents only: closing one forgets its entry, and a request that arrives after would add it back for good.
      if (this.documents.get(uri)) this.settings.set(uri, settings);
    }
    return settings;
  }

  /**
   * The settings of `uri` pulled from the client. A pull answered with nothing (a client with no
   * `cloze` section, e.g. eglot without eglot-workspace-configuration) leaves the initializationOptions
   * and pushes in force. A client that declares the capability but never answers (or answers late)
   * must not hold every diagnostic and lens: after CONFIGURATION_WAIT_MS the document goes on with
   * those, and a late answer replaces them and checks the document again.
   */
  private pulledSettings(uri: string): Promise<ClozeSettings> {
    const fallback = (): ClozeSettings => this.readSettings(this.initialSettings);
    const pulled = this.connection.workspace
      .getConfiguration({ scopeUri: uri, section: 'cloze' })
      .then((answer: unknown) => this.readSettings(mergeRawSettings(this.initialSettings, findClozeSettings({ cloze: answer }))), fallback);
    // `pending` is read by the timer's callback, which runs after it is assigned.
    const pending = new Promise<ClozeSettings>((resolve) => {
      const timer = setTimeout(() => {
        this.connection.console.log(
          `workspace/configuration for ${uri} unanswered after ${CONFIGURATION_WAIT_MS / 1000} s: using the initialization options until it is.`,
        );
        resolve(fallback());
        void pulled.then((late) => {
          // Only if nothing replaced the pending pull since (a configuration change clears it).
          if (this.settings.get(uri) !== pending) return;
          this.settings.set(uri, Promise.resolve(late));
          if (this.documents.get(uri)) this.scheduler.now(uri);
          this.refreshLenses();
        });
      }, CONFIGURATION_WAIT_MS);
      void pulled.then((answer) => {
        // In time: the fallback never comes.
        clearTimeout(timer);
        resolve(answer);
      });
    });
    return pending;
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
          defaultModelOrigin: 'the cloze.model setting chose it',
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
    // Closed while its settings were read: nothing is computed (or kept) for it any more.
    if (!this.documents.get(uri)) return undefined;
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
    try {
      const context = await this.context(uri);
      if (!context || !this.isCurrent(document, version)) return;
      const { doc, service, choice, file } = context;
      if (!this.trusted) {
        // Nothing the workspace names is read: no data file, no model folder, no download.
        this.modelStates.report(uri, choice.id, 'unavailable', 'this workspace is not trusted: previews are off');
        this.publish(uri, version, doc, [
          ...(await service.checkStructure(doc, undefined, undefined, false)),
          untrustedDiagnostic(choice.span),
        ]);
        return;
      }
      const structural = await service.checkStructure(doc, file, dataLimits(await this.settingsFor(uri)));
      if (!this.isCurrent(document, version)) return;
      // A quiet start: a file without a pattern gets no model diagnostics and starts no download.
      if (doc.patterns.length === 0) {
        this.noteModel(uri, undefined);
        this.publish(uri, version, doc, structural);
        return;
      }
      this.noteModel(uri, choice.id);
      const settings = await this.settingsFor(uri);
      // A models: entry that names a folder named already (another spelling of the same model) is said here.
      const listed = service.otherModelsOf(doc, file, choice, settings.models);
      const checked = [...structural, ...listed.duplicates];
      const needed = this.filesToFetch(choice, settings);
      if (needed) this.scheduleLookUp(uri, choice.id, needed);
      // A failed download of what is still missing: of everything, or of the ONNX file alone once the
      // tokenizer's files are in the cache (then the label words are still checked, and the failure said beside them).
      const download = needed ? this.downloads.state(choice.id) : undefined;
      // A models folder that does not hold the model (or does not exist) leads: the download was only the fallback.
      const downloadFailure = download?.state === 'failed' ? withModelsDirNote(download.error.message, choice.location) : undefined;
      const failure = downloadFailure !== undefined ? [service.modelUnavailable(choice, downloadFailure)] : [];
      // Each model is checked on its own: the other models' checks never wait for the default's state.
      const others = listed.choices;
      if (choice.location.ok && choice.location.source === 'remote') {
        // Not in the cache yet: the default's tokenizer checks wait for its download (of this model only).
        if (downloadFailure !== undefined) this.modelStates.report(uri, choice.id, 'unavailable', downloadFailure);
        else this.modelStates.report(uri, choice.id, 'loading', 'downloading');
        await this.publishWithOtherModels(document, version, doc, service, others, [...checked, ...failure]);
        return;
      }
      const loaded = service.loadedTokenizer(choice);
      if (loaded) {
        if (downloadFailure !== undefined) this.modelStates.report(uri, choice.id, 'unavailable', downloadFailure);
        else this.reportTokenizerReady(uri, choice);
        await this.publishWithOtherModels(document, version, doc, service, others, [
          ...checked,
          ...service.tokenChecks(doc, choice, loaded),
          ...failure,
        ]);
        return;
      }
      this.publish(uri, version, doc, checked);
      // Worded as the check's diagnostic will be (and reported again below): the status item's tooltip
      // changed its first words between the two reports (seen in test:vscode).
      if (!choice.location.ok)
        this.modelStates.report(uri, choice.id, 'unavailable', service.modelUnavailable(choice, choice.location.reason).message);
      else this.modelStates.report(uri, choice.id, 'loading', 'tokenizer');
      const tokens = await service.checkTokens(doc, choice);
      if (!this.isCurrent(document, version)) return;
      const failed = tokens.find((d) => d.code === 'model-unavailable') ?? failure[0];
      if (failed) this.modelStates.report(uri, choice.id, 'unavailable', failed.message);
      else this.reportTokenizerReady(uri, choice);
      const weights = tokens.some((d) => d.code === 'model-unavailable') ? [] : failure;
      await this.publishWithOtherModels(document, version, doc, service, others, [...checked, ...tokens, ...weights]);
    } catch (error) {
      this.connection.console.error(
        `Validation of ${uri} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
  }

  /**
   * Publishes `diagnostics` with the checks of the file's other models
   * (`models:`, `cloze.models`): at once when their tokenizers are loaded,
   * else in a second publish when they are, if the version is still current.
   */
  private async publishWithOtherModels(
    document: TextDocument,
    version: number,
    doc: ClozeDocument,
    service: ClozeLanguageService,
    others: readonly ModelChoice[],
    diagnostics: readonly Diagnostic[],
  ): Promise<void> {
    // The settings were read since the last check: the document may have been closed and opened again.
    if (!this.isCurrent(document, version)) return;
    const now = service.loadedOtherChecks(doc, others);
    this.publish(document.uri, version, doc, [...diagnostics, ...(now ?? [])]);
    if (now) return;
    const later = await service.otherChecks(doc, others);
    if (this.isCurrent(document, version)) this.publish(document.uri, version, doc, [...diagnostics, ...later]);
  }

  /** The tokenizer is there; the weights may be loading, loaded or failed in the worker already. */
  private reportTokenizerReady(uri: string, choice: ModelChoice): void {
    const engine = this.modelStates.engineState(choice.id);
    if (engine) this.modelStates.report(uri, choice.id, engine.state, engine.detail);
    else this.modelStates.report(uri, choice.id, 'ready', 'tokenizer loaded; the weights load for the first preview');
  }

  /** Publishes the diagnostics of one version, with that version, and keeps them for code actions. */
  private publish(uri: string, version: number, doc: ClozeDocument, diagnostics: readonly Diagnostic[]): void {
    const all = [...diagnostics, ...this.modelProblemDiagnostics(uri, doc, diagnostics)];
    this.lastDiagnostics.set(uri, { version, diagnostics: all });
    void this.connection.sendDiagnostics({ uri, version, diagnostics: publishedDiagnostics(doc, all, uri) });
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

  /**
   * The files of the document's model still to fetch from the hub: all of them when it is
   * not in the cache, the ONNX file of the chosen precision when only that is missing
   * (the preview needs it), none for a model of the models folder or a path.
   */
  private filesToFetch(choice: ModelChoice, settings: ClozeSettings): string[] | undefined {
    const { location } = choice;
    if (!location.ok || (location.source !== 'remote' && location.source !== 'cache') || !settings.allowRemoteModels) return undefined;
    if (!isHubId(choice.id)) return undefined;
    const files = [...TOKENIZER_FILES, onnxFile(settings.quantized)];
    const state = cacheState(this.cacheDir, choice.id, files);
    const todo = files.filter((f) => state.missing.includes(f) || state.damaged.includes(f));
    return todo.length > 0 ? todo : undefined;
  }

  /**
   * Remembers which model a document names now. When it changes, the failure of the new
   * id is forgotten (a new attempt, not a loop), and downloads no open document names any
   * more are cancelled.
   */
  private noteModel(uri: string, id: string | undefined): void {
    const before = this.named.get(uri);
    if (id === undefined) this.named.delete(uri);
    else this.named.set(uri, id);
    if (id !== undefined && id !== before) this.downloads.forgetFailure(id);
    if (id !== before) this.downloads.cancelExcept(new Set(this.named.values()));
  }

  /**
   * A network look-up once the id has stayed the same for RESOLVE_DELAY_MS: edits that
   * change the id restart the wait, edits elsewhere do not.
   */
  private scheduleLookUp(uri: string, id: string, files: readonly string[]): void {
    const state = this.downloads.state(id);
    if (state) return; // running, or failed and not to be retried by itself
    const pending = this.lookupTimers.get(uri);
    if (pending?.id === id) return;
    clearTimeout(pending?.timer);
    const timer = setTimeout(() => {
      this.lookupTimers.delete(uri);
      if (this.named.get(uri) === id) this.downloads.start(id, files);
    }, RESOLVE_DELAY_MS);
    this.lookupTimers.set(uri, { id, timer });
  }

  /** On save: the id is looked up at once, even after a failure. */
  private async lookUpNow(uri: string): Promise<void> {
    const context = await this.context(uri);
    if (!context || context.doc.patterns.length === 0) return;
    clearTimeout(this.lookupTimers.get(uri)?.timer);
    this.lookupTimers.delete(uri);
    const needed = this.filesToFetch(context.choice, await this.settingsFor(uri));
    if (!needed) return;
    if (this.downloads.state(context.choice.id)?.state === 'failed') {
      this.downloads.forgetFailure(context.choice.id);
      const document = this.documents.get(uri);
      if (document) void this.validate(document);
    }
    this.noteModel(uri, context.choice.id);
    this.downloads.start(context.choice.id, needed);
  }

  /** Checks again every open document that names `id` (its files arrived, or its download ended). */
  private revalidateNaming(id: string): void {
    for (const [uri, named] of this.named) {
      const document = named === id ? this.documents.get(uri) : undefined;
      if (document) void this.validate(document);
    }
  }

  /**
   * Data files changed on disk: every open document with a `data:` line naming one is checked
   * again (its summaries are re-read: DataSetSummaries keys them by mtime and size) and its
   * evaluation lenses are asked for again (DataLenses keys its jobs by the same).
   */
  private dataFilesChanged(changes: ReadonlyArray<{ uri?: unknown }>): void {
    const changed = new Set(
      changes.flatMap((change) => (typeof change?.uri === 'string' ? [uriToPath(change.uri)] : [])).filter((p): p is string => !!p),
    );
    if (changed.size === 0) return;
    let affected = false;
    for (const document of this.documents.all()) {
      const file = uriToPath(document.uri);
      if (!file) continue;
      const doc = parse(document.getText());
      if (doc.data.some((data) => changed.has(path.resolve(path.dirname(file), data.path)))) {
        affected = true;
        this.scheduler.now(document.uri);
      }
    }
    if (affected) this.refreshLenses();
  }

  private refreshLenses(): void {
    if (this.canRefreshLenses) void this.connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
  }

  /**
   * A cancellable progress notification with the bytes received, while a model downloads:
   * `cloze/download` for the VS Code client (a notification with Cancel), else LSP
   * work-done progress (cancellable) where the client supports it.
   */
  private showDownload(id: string, cancel: () => void): void {
    let lastLensRefresh = 0;
    let lastReport = 0;
    let reporter: { report(percentage: number, message: string): void; done(): void } | undefined;
    let finished = false;
    if (this.wantsDownloadNotifications) {
      const send = (event: { kind: 'begin' | 'report' | 'end'; message?: string; percentage?: number }) =>
        void this.connection.sendNotification(DownloadNotification, { id, ...event });
      send({ kind: 'begin' });
      reporter = { report: (percentage, message) => send({ kind: 'report', percentage, message }), done: () => send({ kind: 'end' }) };
      this.downloadCancels.set(id, cancel);
    } else if (this.canShowProgress) {
      void this.connection.window.createWorkDoneProgress().then(
        (progress) => {
          if (finished) return progress.done();
          reporter = progress;
          progress.begin(`Downloading ${id}`, 0, 'from the Hugging Face hub…', true);
          progress.token.onCancellationRequested(cancel);
        },
        () => undefined,
      );
    }
    this.downloadProgress.set(id, {
      report: (progress) => {
        const now = Date.now();
        if (reporter && now - lastReport >= 250) {
          lastReport = now;
          const percentage = progress.totalBytes ? Math.min(100, Math.floor((100 * progress.receivedBytes) / progress.totalBytes)) : 0;
          reporter.report(percentage, describeProgress(progress));
        }
        // The lenses say how far it is ("loading … 12 of 438 MB"), every few seconds.
        if (now - lastLensRefresh >= 2000) {
          lastLensRefresh = now;
          this.refreshLenses();
        }
      },
      done: () => {
        finished = true;
        reporter?.done();
        this.downloadCancels.delete(id);
      },
    });
  }

  /** The lens title while the document's model is not ready for scoring: its download's state. */
  private pendingModelTitle(choice: ModelChoice, settings: ClozeSettings): { title: string; waiting: boolean } | undefined {
    if (choice.location.ok && choice.location.source === 'remote' && !isHubId(choice.id))
      return { title: `no preview: ${choice.id} is not a model id`, waiting: false };
    if (!this.filesToFetch(choice, settings)) return undefined;
    const state = this.downloads.state(choice.id);
    if (state?.state === 'failed')
      return {
        title: `${choice.id} is unavailable: ${withModelsDirNote(state.error.message, choice.location).split('. ')[0]}`,
        waiting: false,
      };
    const progress = state?.state === 'running' ? describeProgress(state.progress) : '';
    return { title: `loading ${choice.id}…${progress ? ` ${progress}` : ''}`, waiting: true };
  }

  private async hover(uri: string, position: { line: number; character: number }): Promise<Hover | null> {
    this.inference?.previews.focus(uri);
    const settings = await this.settingsFor(uri);
    const service = this.serviceFor(settings);
    const file = uriToPath(uri);
    // The data files' summaries (cached since the last check), so a placeholder's hover names only
    // the files whose rows fill it; from the last tree parsed, as data paths rarely change while typing.
    const latest = this.parsed.get(uri)?.doc;
    const dataSets =
      this.trusted && latest && latest.data.length > 0 ? await service.dataSets(latest, file, dataLimits(settings)) : undefined;
    const answer = this.onRecentTree(uri, position, (doc, offset) => {
      const choice = this.trusted ? service.modelChoice(doc, file) : untrustedChoice(doc);
      const tokenizer = service.loadedTokenizer(choice);
      let result = service.boundedByTokenizer(
        choice,
        () => hoverAt(doc, offset, tokenizer, dataSets),
        () => hoverAt(doc, offset, undefined, dataSets),
      );
      // A model id (`model:`, `models:`): its role, where it was found, its tokenizer.
      const ref = this.trusted ? modelRefAt(doc, offset) : undefined;
      if (!result && ref) {
        const isDefault = ref.id === choice.id;
        const target = isDefault ? choice : service.otherModelChoices(doc, file, choice).find((c) => c.id === ref.id);
        if (target) {
          const where = describeLocation(target.location, isDefault);
          const loaded = service.loadedTokenizer(target);
          result = {
            span: ref.idSpan,
            markdown: modelHover(ref, { role: isDefault ? 'default' : 'checked', where, ...(loaded ? { tokenizer: loaded } : {}) }),
          };
        }
      }
      // Several models: a label word's hover is a model × token matrix (of the tokenizers loaded now).
      const wordNode = nodeAt(doc, offset);
      const others = this.trusted ? service.otherModelChoices(doc, file, choice, settings.models) : [];
      if (wordNode?.kind === 'label-word' && others.length > 0) {
        const { loaded, missing } = service.loadedTokenizers(others);
        const tokenizers = tokenizer ? [tokenizer, ...loaded] : loaded;
        // A model that cannot be loaded (its problem is published, or it is not on this machine and is not
        // downloaded for a check) is not "not loaded yet": it never will be while the file stays as it is.
        const published = this.lastDiagnostics.get(uri)?.diagnostics ?? [];
        const said = (id: string): boolean =>
          published.some((d) => d.code === 'model-unavailable' && d.message.startsWith(`Model ${id} is `));
        const failed = [...(tokenizer ? [] : [choice.id]), ...missing.filter(said)];
        const waiting = missing.filter((id) => !said(id));
        const notes = [
          ...(failed.length > 0 ? [`_Unavailable (see the problem on its line): ${failed.join(', ')}._`] : []),
          ...(waiting.length > 0 ? [`_Not loaded yet: ${waiting.join(', ')}._`] : []),
        ];
        const matrix =
          tokenizers.length > 0
            ? service.boundedByTokenizer(
                choice,
                () => labelWordMatrix(doc, wordNode.word, wordNode.entry, tokenizers),
                () => undefined,
              )
            : undefined;
        if (matrix) result = { span: wordNode.word.span, markdown: [matrix, ...notes].join('\n\n') };
      }
      return result ? { span: result.span, value: { result, doc, offset, choice } } : undefined;
    });
    if (!answer) return null;
    const { result, doc, offset, choice } = answer.value;
    const hovered = nodeAt(doc, offset)?.kind;
    // "Not loaded yet" would wait for ever where the model cannot be loaded: its reason instead.
    const unavailable = (this.lastDiagnostics.get(uri)?.diagnostics ?? []).some(
      (d) => d.code === 'model-unavailable' && d.span.start === choice.span.start && d.span.end === choice.span.end,
    );
    // A client that asks for no lenses (eglot) had no preview to show here, ever: the hover starts it
    // and says so, and the next hover has the numbers. It never waits for the model (a preview of a
    // large file takes seconds; the tokenizer's answer is here now).
    let computing = false;
    let stale = false;
    if (!unavailable && (hovered === 'mask' || hovered === 'label-word')) {
      const request = await this.previewRequest(uri);
      if (request && !this.pendingModelTitle(request.choice, request.settings) && !this.inferenceFor().previews.ready(request)) {
        void this.trackPreview(request);
        computing = !this.inferenceFor().previews.latest(uri);
        stale = !computing;
      }
    }
    const preview = this.inference?.previews.latest(uri);
    let extra = computing ? "_The model's numbers are being computed; hover again in a moment._" : '';
    // Never the numbers of a model other than the one the document names now.
    if (preview?.ok && preview.result.model === choice.id) {
      const node = nodeAt(doc, offset);
      if (node?.kind === 'mask') {
        const quantized = settings.quantized;
        const engine = choice.location.ok ? this.engines.get(`${locationKey(choice.location)}|${quantized}`) : undefined;
        extra = maskHover(preview.result, patternDisplayName(node.pattern), engine && describeEngine(engine));
      }
      if (node?.kind === 'label-word') extra = labelWordHover(preview.result, node.entry.label.text, node.word.text);
      // The last version's numbers, as the lenses show them meanwhile (`· updating…`): said so.
      if (extra && stale) extra = `${extra}\n\n_Updating: these are the numbers of the file before its last edit._`;
    }
    const markdown = unavailable
      ? result.markdown.replace(
          TOKENIZER_PENDING,
          `_No tokenizer: model_ \`${escapeCode(choice.id)}\` _is unavailable (see the problem on ${choice.origin === 'file' ? 'its `model:` line' : 'the first line'})._`,
        )
      : result.markdown;
    const value = extra ? `${markdown}\n\n---\n\n${extra}` : markdown;
    return { contents: { kind: 'markdown', value }, range: answer.range };
  }

  /**
   * Completion at a verbalizer entry: label words ranked on the file's
   * labelled rows (lsp/labelWordRankings.ts). Never waits for the model; the
   * list is incomplete while the ranking is computed, so the editor asks again.
   */
  private async completeLabelWords(uri: string, position: { line: number; character: number }): Promise<CompletionList | undefined> {
    const context = await this.context(uri);
    if (!context || !this.trusted) return undefined;
    const { doc, service, choice, file } = context;
    const site = verbalizerEntryAt(doc, toOffset(doc, position));
    if (!site) return undefined;
    const settings = await this.settingsFor(uri);
    this.labelWordRankings ??= new LabelWordRankings(() => this.inferenceFor().worker, this.cacheDir);
    const ranking = await this.labelWordRankings.current({
      uri,
      doc,
      file,
      service,
      choice,
      quantized: settings.quantized,
      limits: dataLimits(settings),
    });
    // The ranking is the default model's; the file's other models, as far as their tokenizers are loaded
    // (the diagnostics load them), must take each proposed word as one token too.
    const { loaded } = service.loadedTokenizers(service.otherModelChoices(doc, file, choice, settings.models));
    const others = {
      models: loaded.map((tokenizer) => tokenizer.modelId),
      accepts: (word: string) => loaded.every((tokenizer) => oneTokenIn(doc, site.label, word, tokenizer)),
    };
    const items = labelWordProposals(site, ranking, others)
      .filter((proposal) => this.completionNotes || proposal.insertText !== '')
      .map((proposal) => ({
        label: proposal.label,
        kind: completionKind(proposal.kind),
        detail: proposal.detail,
        ...(proposal.documentation ? { documentation: { kind: 'markdown' as const, value: proposal.documentation } } : {}),
        ...(proposal.sortText ? { sortText: proposal.sortText } : {}),
        textEdit: { range: toRange(doc, proposal.replace), newText: proposal.insertText ?? proposal.label },
      }));
    return { isIncomplete: ranking.state === 'scoring', items };
  }

  private async complete(uri: string, position: { line: number; character: number }): Promise<CompletionItem[]> {
    const document = this.documents.get(uri);
    if (!document) return [];
    const settings = await this.settingsFor(uri);
    const service = this.serviceFor(settings);
    // What the core cannot know comes in as data: the local model ids where a model id is being
    // typed, the data files' columns inside `{` (never in an untrusted workspace).
    const before = document.getText({ start: { line: position.line, character: 0 }, end: position });
    const models =
      this.trusted && /^models?\s*:/.test(before)
        ? listLocalModels(service.settings.modelsDir, service.settings.cacheDir).map((m) => ({
            id: m.id,
            detail: m.source === 'models-dir' ? `models folder: ${m.folder}` : `download cache: ${m.folder}`,
          }))
        : [];
    const parsed = this.trusted && /\{[\p{L}\p{M}\p{N}_]*$/u.test(before) ? this.parsedDocument(uri) : undefined;
    const dataColumns = parsed
      ? [...(await service.dataSets(parsed, uriToPath(uri), dataLimits(settings))).values()].flatMap((summary) =>
          summary.ok ? summary.columns : [],
        )
      : [];
    // The proposals' spans as one span: if it maps into the current version, each of them does, by the same shift.
    const answer = this.onRecentTree(uri, position, (doc, offset) => {
      const proposals = completeAt(doc, offset, { models, dataColumns });
      const starts = proposals.map((p) => p.replace.start);
      const ends = proposals.map((p) => p.replace.end);
      const span = proposals.length === 0 ? { start: offset, end: offset } : { start: Math.min(...starts), end: Math.max(...ends) };
      return { span, value: proposals };
    });
    const current = this.documents.get(uri);
    if (!current || !answer) return [];
    return answer.value.map((proposal) => ({
      label: proposal.label,
      kind: completionKind(proposal.kind),
      detail: proposal.detail,
      ...(proposal.documentation ? { documentation: { kind: 'markdown' as const, value: proposal.documentation } } : {}),
      ...(proposal.sortText ? { sortText: proposal.sortText } : {}),
      textEdit: {
        range: {
          start: current.positionAt(proposal.replace.start + answer.shift),
          end: current.positionAt(proposal.replace.end + answer.shift),
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
    const limits = dataLimits(await this.settingsFor(uri));
    if (!diagnostics) {
      const structural = this.trusted
        ? await service.checkStructure(doc, file, limits)
        : await service.checkStructure(doc, undefined, undefined, false);
      diagnostics = tokenizer ? [...structural, ...service.tokenChecks(doc, choice, tokenizer)] : structural;
      // Computed once per version: the editor asks again as the cursor moves.
      if (this.documents.get(uri)?.version === version) this.lastDiagnostics.set(uri, { version, diagnostics });
    }
    const dataSets = this.trusted ? await service.dataSets(doc, file, limits) : new Map<string, DataSetSummary>();
    if (this.documents.get(uri)?.version !== version) return [];
    const wanted = toSpan(doc, range);
    // Fixes are verified with the default model's tokenizer: other models' word problems get none (their entries' unavailability does).
    const touching = diagnostics.filter(
      (d) => d.span.start <= wanted.end && wanted.start <= d.span.end && (d.model === undefined || d.code === 'model-unavailable'),
    );
    // Hints for better fixes: the preview already there (never waited for), the local models.
    const preview = this.inference?.previews.latest(uri);
    const localModels =
      this.trusted && touching.some((d) => d.code === 'model-unavailable')
        ? listLocalModels(service.settings.modelsDir, service.settings.cacheDir).map((m) => m.id)
        : [];
    const fixes = service.boundedByTokenizer(
      choice,
      () =>
        quickFixes(doc, touching, tokenizer, {
          ...(preview?.ok ? topTokensFromPreview(doc, preview.result) : {}),
          localModels,
          dataSets,
        }),
      () => [],
    );
    return fixes.map((fix) => ({
      title: fix.title,
      kind: CodeActionKind.QuickFix,
      isPreferred: fix.isPreferred,
      diagnostics: [toLspDiagnostic(doc, fix.diagnostic, uri)],
      ...(fix.edits.length > 0
        ? { edit: { changes: { [uri]: fix.edits.map((edit) => ({ range: toRange(doc, edit.span), newText: edit.newText })) } } }
        : {}),
      // The client's command gets the document, so it knows which file's model to set.
      ...(fix.command ? { command: { title: fix.command.title, command: fix.command.command, arguments: [uri] } } : {}),
    }));
  }

  /** The evaluation lenses of `data:` lines (lsp/dataLenses.ts). */
  private dataLensesFor(): DataLenses {
    this.dataLenses ??= new DataLenses(this.inferenceFor().worker, this.cacheDir, () => {
      if (this.canRefreshLenses) void this.connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
    });
    return this.dataLenses;
  }

  /** The previews of the other models of `models:`, for the panel (lsp/modelComparison.ts). */
  private comparisonsFor(): ModelComparisons {
    this.comparisons ??= new ModelComparisons(this.inferenceFor().worker, this.cacheDir);
    return this.comparisons;
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
    this.modelStates.onLoadEvent(event);
    // The "Cloze" output of VS Code (and any client's log) says what was loaded, from where, how fast.
    if (event.type === 'load-start') this.connection.console.info(`Loading ${event.id} (${event.modelKey})…`);
    else if (!event.ok) this.connection.console.error(`Could not load ${event.id}: ${event.message}`);
    const key = `${event.modelKey}|${event.quantized}`;
    if (event.type === 'load-end' && event.ok) {
      this.engines.set(key, event.info);
      this.connection.console.info(`Loaded ${event.id} for previews in ${Math.round(event.info.loadMs)} ms: ${describeEngine(event.info)}`);
    }
    if (!this.canShowProgress) return;
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
    // Closed (or closed and opened again) while the settings were read: a preview started now would be kept for no document.
    if (this.documents.get(uri) !== document) return undefined;
    if (!settings.preview.enabled || !this.trusted) return undefined;
    const others = context.service.otherModelChoices(context.doc, context.file, context.choice, settings.models);
    return { uri, version: document.version, doc: context.doc, settings, service: context.service, choice: context.choice, others };
  }

  /**
   * The lenses' and quick fixes' commands, for clients without the VS Code extension: the preview
   * and the evaluation report as a message (the text `cloze preview` and `cloze eval --errors 10`
   * print), and the model picked from a message's buttons and written into the `model:` line
   * through an edit the client applies.
   */
  private async executeCommand(command: string, args: readonly unknown[], token: CancellationToken): Promise<null> {
    // A client sends only the commands the server offered; another one (a typo in a user's key map) is said, not ignored.
    if (!(SERVER_COMMANDS as readonly string[]).includes(command))
      throw new ResponseError(
        ErrorCodes.InvalidParams,
        `Cloze runs no command ${JSON.stringify(command)}; its commands are ${SERVER_COMMANDS.join(', ')}.`,
      );
    const uri = customUri({ uri: args[0] });
    const show = (type: MessageType, message: string): void =>
      void this.connection.sendNotification(ShowMessageNotification.type, { type, message });
    if (!uri || !this.documents.get(uri)) {
      show(MessageType.Warning, `Cloze: ${command} needs an open .cloze document.`);
      return null;
    }
    const name = path.basename(uriToPath(uri) ?? uri);
    if (command === OpenPreviewCommand) {
      const data = await this.previewData(uri);
      if (!data) return null;
      if (!data.ok) show(MessageType.Warning, `Cloze: no preview of ${name}: ${data.reason}`);
      else {
        // The engine line of `cloze preview` (file, graph, precision), as the `[MASK]` hover's footer has it.
        const context = await this.context(uri);
        const settings = await this.settingsFor(uri);
        const location = context?.choice.location;
        const info = location?.ok ? this.engines.get(`${locationKey(location)}|${settings.quantized}`) : undefined;
        show(MessageType.Info, previewText(data.preview, info && describeEngine(info), 'set cloze.preview.calibrate for calibrated'));
      }
    } else if (command === EvaluateCommand) {
      const result = await this.evaluate({ uri }, token);
      // Data files that could not be read come first, as `cloze eval` says them before its report.
      const problems = result.ok ? result.problems.map((problem) => `Cloze: ${problem}\n`).join('') : '';
      show(
        result.ok ? MessageType.Info : MessageType.Warning,
        result.ok ? problems + result.report : `Cloze: no evaluation of ${name}: ${result.reason}`,
      );
    } else if (command === SelectModelCommand) {
      await this.selectModel(uri, name);
    }
    return null;
  }

  /** Offers the local models as a message's buttons; the one picked goes into the `model:` line. */
  private async selectModel(uri: string, name: string): Promise<void> {
    const show = (type: MessageType, message: string): void =>
      void this.connection.sendNotification(ShowMessageNotification.type, { type, message });
    if (!this.trusted) {
      show(MessageType.Warning, 'Cloze: the workspace is not trusted, so no models folder is looked at; trust it to pick a model.');
      return;
    }
    const settings = await this.settingsFor(uri);
    const service = this.serviceFor(settings);
    const models = listLocalModels(service.settings.modelsDir, service.settings.cacheDir);
    if (models.length === 0) {
      const where = service.settings.modelsDir ? `the models folder (${service.settings.modelsDir}) or ` : '';
      show(
        MessageType.Warning,
        `Cloze: no model in ${where}the download cache (${service.settings.cacheDir}). Set modelsDir to a folder of models, or allowRemoteModels to download the one a \`model:\` line names.`,
      );
      return;
    }
    if (!this.canApplyEdit) {
      // Nothing to write with: the ids, for the user to type.
      show(MessageType.Info, `Cloze: write \`model: <id>\` into ${name}; local models: ${models.map((m) => m.id).join(', ')}.`);
      return;
    }
    const offered = models.slice(0, MAX_MODEL_BUTTONS).map((m) => m.id);
    const answer: unknown = await this.connection.sendRequest(ShowMessageRequest.type, {
      type: MessageType.Info,
      message: `Cloze: the model for ${name} (written into its \`model:\` line)`,
      actions: offered.map((id) => ({ title: id })),
    });
    // Only one of the buttons offered is written into the file: a client (or plugin) that answers with
    // another title, a number or text with a line break must not put it in the user's file.
    const title = (answer as { title?: unknown } | null | undefined)?.title;
    const picked = typeof title === 'string' && offered.includes(title) ? { title } : undefined;
    const doc = this.parsedDocument(uri);
    if (!picked || !doc) return;
    const { start, end, newText } = modelLineEdit(doc.text, picked.title);
    await this.connection.workspace.applyEdit({
      label: `model: ${picked.title}`,
      edit: { changes: { [uri]: [{ range: toRange(doc, { start, end }), newText }] } },
    });
  }

  /** Lenses at once from the syntax tree; their text now if the preview is ready, else at resolve. */
  private async codeLenses(uri: string): Promise<CodeLens[]> {
    const request = await this.previewRequest(uri);
    if (!request) return [];
    const pending = this.pendingModelTitle(request.choice, request.settings);
    if (pending) {
      // The reason once, on the first lens; the others short.
      const anchors = lensAnchors(request.doc);
      const context = this.lensContext(uri, request.doc, anchors);
      return anchors.flatMap((anchor) => {
        const content = pendingModelLens(anchor, request.doc, pending, context);
        return content ? [{ range: toRange(request.doc, anchor.span), command: lensCommand(content, this.codicons) }] : [];
      });
    }
    const { previews } = this.inferenceFor();
    previews.focus(uri);
    const ready = previews.ready(request);
    if (!ready) void this.trackPreview(request);
    const anchors = lensAnchors(request.doc);
    const context = this.lensContext(uri, request.doc, anchors);
    // With a refresh to come, the last preview's numbers stay (marked) while this version is scored.
    const last = !ready && this.canRefreshLenses ? previews.latest(uri) : undefined;
    const stale = last?.ok && last.result.model === request.choice.id ? staleResult(last.result, request.doc) : undefined;
    const waiting = this.modelStates.waitingText(uri) ?? `scoring with ${request.choice.id}…`;
    const lenses: CodeLens[] = [];
    for (const anchor of anchors) {
      const data: LensData = { uri, version: request.version, anchor };
      const lens: CodeLens = { range: toRange(request.doc, anchor.span), data };
      // With a refresh to come, a lens says what it waits for rather than stay blank;
      // without one, it is resolved when shown (`codeLens/resolve` waits for the preview).
      const content = ready
        ? lensContent(anchor, ready, request.doc, context)
        : stale
          ? staleLens(anchor, stale, request.doc, waiting, context)
          : this.canRefreshLenses
            ? loadingLens(anchor, request.doc, waiting, context)
            : anchor.kind === 'label'
              ? undefined
              : null;
      if (content === undefined) continue;
      if (content) lens.command = lensCommand(content, this.codicons);
      lenses.push(lens);
    }
    // The evaluation lenses of the `data:` lines, for the default model and the others of `models:`.
    const file = uriToPath(uri);
    const choices = [request.choice, ...request.service.otherModelChoices(request.doc, file, request.choice, request.settings.models)];
    for (const data of this.dataLensesFor().lenses(uri, request.version, request.doc, file, request.service, choices, request.settings)) {
      lenses.push({
        range: toRange(request.doc, data.span),
        command: { title: data.title, command: data.command, arguments: data.arguments },
      });
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
  private trackPreview(request: PreviewRequest) {
    const promise = this.inferenceFor().previews.preview(request);
    void promise.then((outcome) => {
      // A model that cannot be found is reported by the check, in its diagnostic's words (`validate`); reported
      // here too, in the preview's, the status item's tooltip changed wording with the order they finished in.
      if (outcome && !outcome.ok && request.choice.location.ok)
        this.modelStates.report(request.uri, request.choice.id, 'unavailable', outcome.reason);
    });
    return promise;
  }

  private async previewData(uri: string): Promise<PreviewData | null> {
    const document = this.documents.get(uri);
    const context = await this.context(uri);
    if (!document || !context) return null;
    const settings = await this.settingsFor(uri);
    // The panel asks for it explicitly, so it is computed even with the lenses turned off.
    const others = this.trusted ? context.service.otherModelChoices(context.doc, context.file, context.choice, settings.models) : [];
    const request = {
      uri,
      version: document.version,
      doc: context.doc,
      settings,
      service: context.service,
      choice: context.choice,
      others,
    };
    const outcome = await this.trackPreview(request);
    const engine = context.choice.location.ok
      ? this.engines.get(`${locationKey(context.choice.location)}|${settings.quantized}`)
      : undefined;
    const compared =
      outcome?.ok && others.length > 0
        ? await this.comparisonsFor().compare(uri, document.version, context.doc, context.service, others, settings)
        : undefined;
    return previewData(uri, document.version, context.doc, context.choice, settings, outcome, engine && engineReport(engine), compared);
  }

  private async availableModels(uri: string): Promise<AvailableModels | null> {
    const context = await this.context(uri);
    if (!context) return null;
    const { modelsDir, cacheDir, allowRemoteModels } = context.service.settings;
    // One listing for the quick pick, completion and the quick fix (`model/localModels.ts`).
    const models = this.trusted ? listLocalModels(modelsDir, cacheDir) : [];
    return { current: { id: context.choice.id, origin: context.choice.origin }, modelsDir, cacheDir, allowRemoteModels, models };
  }

  /**
   * `cloze eval` on the document's data files. Stopped when nobody waits for the answer any more:
   * the client cancels the request (`$/cancelRequest`, or Cancel on its progress) or the document
   * closes. Left running, it went on scoring chunk after chunk for a closed document.
   */
  private async evaluate(params: EvaluateParams, token: CancellationToken): Promise<EvaluateResult> {
    const context = await this.context(params.uri);
    if (!context) return { ok: false, reason: 'the document is not open' };
    const settings = await this.settingsFor(params.uri);
    const key = `${params.uri}#evaluation-${++this.evaluations}`;
    const { worker } = this.inferenceFor();
    const controller = new AbortController();
    const cancel = (why: string): void => {
      if (controller.signal.aborted) return;
      controller.abort(why);
      // A chunk already running stops at its next batch; the next one is never sent.
      worker.forget(key);
    };
    const running = this.runningEvaluations.get(params.uri) ?? new Set();
    this.runningEvaluations.set(params.uri, running.add(cancel));
    const onCancel = token.onCancellationRequested(() => cancel('the request was cancelled'));
    // Closed while its settings were read.
    if (!this.documents.get(params.uri)) cancel('its document was closed');
    // The progress is not waited for: a client that never answers window/workDoneProgress/create (or answers
    // late) must not hold the evaluation, nor its cancellation. It shows from when the client answers.
    let progress: WorkDoneProgressReporter | undefined;
    let finished = false;
    const title = `Evaluating ${path.basename(context.file ?? params.uri)}…`;
    if (params.workDoneToken !== undefined) {
      // The client's token: its own cancel button cancels the request itself (above).
      progress = this.connection.window.attachWorkDoneProgress(params.workDoneToken);
      progress.begin('Cloze', 0, title, true);
    } else if (this.canShowProgress) {
      void this.connection.window.createWorkDoneProgress().then(
        (created) => {
          if (finished) return created.done();
          progress = created;
          created.begin('Cloze', 0, title, true);
          created.token.onCancellationRequested(() => cancel('it was cancelled'));
        },
        () => undefined,
      );
    }
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
        controller.signal,
        this.dataLensesFor().memo,
      );
    } catch (error) {
      if (isCancelled(error) && controller.signal.aborted)
        return { ok: false, reason: `the evaluation stopped: ${String(controller.signal.reason)}.` };
      throw error;
    } finally {
      onCancel.dispose();
      running.delete(cancel);
      if (running.size === 0 && this.runningEvaluations.get(params.uri) === running) this.runningEvaluations.delete(params.uri);
      finished = true;
      progress?.done();
      worker.forget(key);
    }
  }

  /** The evaluation lens's figures for the panel (`cloze/dataEvaluation`); starts them as the lenses would. */
  private async dataEvaluation(uri: string): Promise<DataEvaluationData> {
    const version = this.documents.get(uri)?.version ?? 0;
    if (!this.documents.get(uri)) return { uri, version, calibrate: false, files: [], reason: 'the document is not open' };
    const request = await this.previewRequest(uri);
    if (!request) return { uri, version, calibrate: false, files: [], reason: 'previews are off, or the workspace is not trusted' };
    const base = { uri, version: request.version, calibrate: request.settings.preview.calibrate };
    const pending = this.pendingModelTitle(request.choice, request.settings);
    if (pending) return { ...base, files: [], reason: pending.title };
    const file = uriToPath(uri);
    // An untitled document without `data:` lines has nothing to evaluate, as a saved one without them (no reason to show).
    if (!file)
      return request.doc.data.length === 0
        ? { ...base, files: [] }
        : { ...base, files: [], reason: 'save the file first: its `data:` paths are read relative to it' };
    const choices = [request.choice, ...request.service.otherModelChoices(request.doc, file, request.choice, request.settings.models)];
    const lenses = this.dataLensesFor();
    lenses.lenses(uri, request.version, request.doc, file, request.service, choices, request.settings);
    return { ...base, files: lenses.states(uri, request.doc, file) };
  }

  private async resolveLens(lens: CodeLens, token?: CancellationToken): Promise<CodeLens> {
    const data = lens.data as LensData | undefined;
    if (!data) return lens;
    const request = await this.previewRequest(data.uri);
    if (!request || request.version !== data.version) {
      // The document moved on; the client asks for new lenses after an edit.
      return { ...lens, command: { title: '…', command: '' } };
    }
    const pending = this.pendingModelTitle(request.choice, request.settings);
    if (pending) {
      const context = this.lensContext(data.uri, request.doc);
      const content =
        pendingModelLens(data.anchor, request.doc, pending, context) ??
        placeholderLens(data.anchor, request.doc, pending.waiting ? 'waiting' : 'no-preview', context);
      return { ...lens, command: lensCommand(content, this.codicons) };
    }
    this.inferenceFor().previews.focus(data.uri);
    // A lens scrolled away or replaced by an edit is cancelled by the client: it is answered at once. The
    // preview goes on, as the document's other lenses and hovers wait for it too.
    const outcome = await untilCancelled(this.trackPreview(request), token);
    if (outcome === CANCELLED) throw new ResponseError(LSPErrorCodes.RequestCancelled, 'The lens is no longer wanted.');
    if (!outcome) return { ...lens, command: { title: '…', command: '' } };
    const context = this.lensContext(data.uri, request.doc);
    const content =
      lensContent(data.anchor, outcome, request.doc, context) ??
      placeholderLens(data.anchor, request.doc, outcome.ok ? 'nothing' : 'no-preview', context);
    return { ...lens, command: lensCommand(content, this.codicons) };
  }

  /** Runs a request handler so that a bug answers with an empty result, logged, instead of an error. */
  private async safely<T>(handler: () => T | Promise<T>, fallback: T): Promise<T> {
    if (this.shuttingDown) throw shutDownError();
    try {
      return await handler();
    } catch (error) {
      // An error meant for the client (a command it should not have sent) is its answer, not a failure to log.
      if (error instanceof ResponseError) throw error;
      // Shut down while it ran (the inference process disposed under it): that is the answer, not a failure.
      if (this.shuttingDown) throw shutDownError();
      this.connection.console.error(`Request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      return fallback;
    }
  }
}

const CANCELLED = Symbol('cancelled');

/** `work`'s value, or `CANCELLED` as soon as `token` is cancelled (the work itself is not stopped). */
function untilCancelled<T>(work: Promise<T>, token: CancellationToken | undefined): Promise<T | typeof CANCELLED> {
  if (!token) return work;
  if (token.isCancellationRequested) return Promise.resolve(CANCELLED);
  return new Promise((resolve, reject) => {
    const listener = token.onCancellationRequested(() => resolve(CANCELLED));
    work.then(
      (value) => {
        listener.dispose();
        resolve(value);
      },
      (error: unknown) => {
        listener.dispose();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** The answer to every request after `shutdown` (LSP: "should error with InvalidRequest"). */
function shutDownError(): ResponseError<void> {
  return new ResponseError(ErrorCodes.InvalidRequest, 'The Cloze server is shut down: it answers no more requests.');
}

/** The commands the server runs for clients that do not (see `clientCommands`). */
const SERVER_COMMANDS = [OpenPreviewCommand, EvaluateCommand, SelectModelCommand] as const;
/** A message's buttons: more do not fit an editor's prompt. */
const MAX_MODEL_BUTTONS = 20;

/** More than an editor lists usefully; one hostile line (200,000 `{`) gave 400,001 and froze the Problems view. */
export const MAX_PUBLISHED_DIAGNOSTICS = 1000;

/**
 * The diagnostics sent to the editor: all of them, or past the cap the errors first (then warnings,
 * then hints, each in document order) and a note on the first line saying how many are not shown.
 */
export function publishedDiagnostics(doc: ClozeDocument, all: readonly Diagnostic[], uri: string): LspDiagnostic[] {
  if (all.length <= MAX_PUBLISHED_DIAGNOSTICS) return all.map((d) => toLspDiagnostic(doc, d, uri));
  const rank = { error: 0, warning: 1, information: 2, hint: 3 } as const;
  const shown = all
    .map((diagnostic, index) => ({ diagnostic, index }))
    .sort(
      (a, b) =>
        rank[a.diagnostic.severity] - rank[b.diagnostic.severity] || a.diagnostic.span.start - b.diagnostic.span.start || a.index - b.index,
    )
    .slice(0, MAX_PUBLISHED_DIAGNOSTICS)
    .map(({ diagnostic }) => toLspDiagnostic(doc, diagnostic, uri));
  const count = (n: number): string => n.toLocaleString('en-US');
  return [
    ...shown,
    {
      range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
      severity: DiagnosticSeverity.Information,
      source: 'cloze',
      message: `Only ${count(MAX_PUBLISHED_DIAGNOSTICS)} of the file's ${count(all.length)} problems are shown, errors first; \`cloze check\` lists them all.`,
    },
  ];
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

/** Where a model was found, in words, for its hover. */
function describeLocation(location: ModelChoice['location'], isDefault: boolean): string {
  if (!location.ok) return `Not found: ${location.reason}`;
  const folder = path.join(location.root, location.name);
  switch (location.source) {
    case 'path':
      return `The folder ${folder}.`;
    case 'models-dir':
      return `In the models folder: ${folder}.`;
    case 'cache':
      return `In the download cache: ${folder}.`;
    case 'remote':
      // Only the file's own model is fetched (cloze.allowRemoteModels is on, or this would not be 'remote').
      return isDefault
        ? 'Not on this machine yet: it is downloaded from the Hugging Face hub into the download cache (or put it in the models folder, cloze.modelsDir).'
        : "Not on this machine: only the file's model (`model:`) is downloaded. Put this one in the models folder (cloze.modelsDir), or make it the file's model once to download it.";
  }
}
