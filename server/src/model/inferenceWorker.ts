import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { MaskScores, Scorer } from '../language/scores';
import { CancelledError } from './cancelled';
import type { EngineOptions, ModelInfo } from './engine';
import type { LoadEvent, ModelRequest, WorkerRequest, WorkerResponse, WorkerStats } from './messages';

/**
 * The main-thread side of the inference worker: typed promises over
 * `postMessage`, and the policy of which requests are still worth running.
 *
 * Score requests run one at a time, in arrival order, and each carries the
 * document (`key`) and `version` it was computed for. When a newer version of
 * a document asks, the older requests of that document are rejected with
 * `CancelledError` at once: the queued ones never reach the worker, and the
 * running one is told to stop at its next batch. Loads and stats do not queue
 * behind scoring.
 */

export interface ScoreRequest {
  readonly model: ModelRequest;
  /** Usually the document URI: requests with the same key supersede each other. */
  readonly key: string;
  /** The document version the inputs come from. */
  readonly version: number;
  readonly inputs: readonly string[];
  readonly wordIds: readonly number[];
  readonly topK: number;
}

export interface InferenceWorkerOptions {
  /** Told when the worker starts and finishes loading a model (to show progress). */
  readonly onLoadEvent?: (event: LoadEvent) => void;
  /** Batch size and cache limits of the engines. */
  readonly engine?: Omit<EngineOptions, 'quantized'>;
  /** The compiled worker script; defaults to worker.js beside this file. */
  readonly workerPath?: string;
  /**
   * Where the worker's console output goes, one message at a time
   * (transformers.js warns on the console). Default: the process's stderr.
   * Never stdout, which carries the LSP messages when the server talks over
   * stdio.
   */
  readonly log?: (text: string) => void;
}

interface Pending {
  /** The promise's resolve, typed loosely because one map holds requests of every kind. */
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  settled: boolean;
}

interface QueuedScore {
  readonly id: number;
  readonly request: ScoreRequest;
}

export class InferenceWorker {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly queue: QueuedScore[] = [];
  /** The score request the worker is running, if any. */
  private activeScore: { id: number; key: string; version: number } | undefined;
  private disposed = false;
  /** The newest version asked for, per document: anything older is stale on arrival. */
  private readonly latestVersions = new Map<string, number>();
  /** Why the worker failed, kept until its `exit` event rejects what was in flight. */
  private failure: string | undefined;

  constructor(private readonly options: InferenceWorkerOptions = {}) {}

  /** Loads a model (or finds it loaded) and says what it is; rejects with the reason it cannot load. */
  loadModel(model: ModelRequest): Promise<ModelInfo> {
    return this.request<ModelInfo>((id) => ({ type: 'load', id, model }));
  }

  /** Scores inputs at their mask; rejects with `CancelledError` when a newer version of the same document supersedes it. */
  score(request: ScoreRequest): Promise<MaskScores[]> {
    if (this.disposed) return Promise.reject(new Error('The inference worker has been disposed.'));
    const latest = this.latestVersions.get(request.key);
    if (latest !== undefined && latest > request.version) return Promise.reject(new CancelledError());
    this.latestVersions.set(request.key, request.version);
    this.supersede(request.key, request.version);
    const id = this.nextId++;
    const promise = new Promise<MaskScores[]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, settled: false });
    });
    this.queue.push({ id, request });
    this.pump();
    this.holdWhileWaiting();
    return promise;
  }

  /** A `Scorer` for `computePreview`, bound to one model and one document version. */
  scorer(model: ModelRequest, key: string, version: number): Scorer {
    return (inputs, wordIds, topK) => this.score({ model, key, version, inputs, wordIds, topK });
  }

  /** Forgets a document (when it closes), so a reopened one may start again from version 1. */
  forget(key: string): void {
    this.latestVersions.delete(key);
    this.supersede(key, Infinity);
  }

  /** The engines' counters: what was computed and what came from the cache. */
  stats(): Promise<WorkerStats> {
    return this.request<WorkerStats>((id) => ({ type: 'stats', id }));
  }

  /** Stops the worker; whatever is pending is rejected. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.queue.length = 0;
    this.rejectAll(new Error('The inference worker has been disposed.'));
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private request<T>(make: (id: number) => WorkerRequest): Promise<T> {
    if (this.disposed) return Promise.reject(new Error('The inference worker has been disposed.'));
    const id = this.nextId++;
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, settled: false });
    });
    this.send(make(id));
    return promise;
  }

  /** Rejects the requests of `key` older than `version`: queued ones are dropped, the running one is told to stop. */
  private supersede(key: string, version: number): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const queued = this.queue[i];
      if (queued.request.key !== key || queued.request.version >= version) continue;
      this.queue.splice(i, 1);
      this.cancel(queued.id, false);
    }
    const active = this.activeScore;
    if (active && active.key === key && active.version < version) {
      this.cancel(active.id, true);
      this.worker?.postMessage({ type: 'cancel', id: active.id } satisfies WorkerRequest);
    }
  }

  /** Sends the next queued score request when the worker is free. */
  private pump(): void {
    if (this.activeScore || this.disposed) return;
    const next = this.queue.shift();
    if (!next) return;
    const { id, request } = next;
    this.activeScore = { id, key: request.key, version: request.version };
    this.send({ type: 'score', id, model: request.model, inputs: request.inputs, wordIds: request.wordIds, topK: request.topK });
  }

  private send(message: WorkerRequest): void {
    const worker = this.ensureWorker();
    worker.postMessage(message);
    this.holdWhileWaiting();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.options.workerPath ?? path.join(__dirname, 'worker.js'), {
      workerData: { engineOptions: this.options.engine ?? {} },
    });
    worker.on('message', (message: WorkerResponse) => this.receive(message));
    worker.on('error', (error) => {
      this.failure = error.message;
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.activeScore = undefined;
      const reason = this.failure ?? `it exited with code ${code}`;
      this.failure = undefined;
      // What was in flight is lost; queued scores start a fresh worker.
      this.rejectAll(new Error(`The inference worker stopped unexpectedly: ${reason}`), true);
      this.pump();
    });
    this.worker = worker;
    return worker;
  }

  private receive(message: WorkerResponse): void {
    switch (message.type) {
      case 'load-start':
      case 'load-end':
        this.options.onLoadEvent?.(message);
        return;
      case 'log':
        (this.options.log ?? ((text: string) => process.stderr.write(`${text}\n`)))(message.text);
        return;
      case 'loaded':
        this.answer(message.id, (pending) => pending.resolve(message.info));
        return;
      case 'stats':
        this.answer(message.id, (pending) => pending.resolve(message.stats));
        return;
      case 'scored':
        this.answer(message.id, (pending) => pending.resolve(message.scores));
        this.finishScore(message.id);
        return;
      case 'failed':
        this.answer(message.id, (pending) => pending.reject(message.cancelled ? new CancelledError() : new Error(message.message)));
        this.finishScore(message.id);
        return;
    }
  }

  private finishScore(id: number): void {
    if (this.activeScore?.id !== id) return;
    this.activeScore = undefined;
    this.pump();
  }

  /** The worker answered: settle the request unless it was already cancelled, in which case the answer is dropped. */
  private answer(id: number, action: (pending: Pending) => void): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if (!pending.settled) {
      pending.settled = true;
      action(pending);
    }
    this.holdWhileWaiting();
  }

  /**
   * Rejects a superseded request now. One the worker is running stays known
   * until the worker answers, so the late answer is recognised and dropped.
   */
  private cancel(id: number, sentToWorker: boolean): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    if (!sentToWorker) this.pending.delete(id);
    if (!pending.settled) {
      pending.settled = true;
      pending.reject(new CancelledError());
    }
    this.holdWhileWaiting();
  }

  private rejectAll(error: Error, inFlightOnly = false): void {
    const queuedIds = new Set(this.queue.map((queued) => queued.id));
    for (const [id, pending] of this.pending) {
      if (inFlightOnly && queuedIds.has(id)) continue;
      this.pending.delete(id);
      if (!pending.settled) {
        pending.settled = true;
        pending.reject(error);
      }
    }
    this.holdWhileWaiting();
  }

  /**
   * Keeps the process alive while someone waits for an answer, and only
   * then, so a CLI or test that forgets `dispose` still exits.
   */
  private holdWhileWaiting(): void {
    const waiting = this.queue.length > 0 || [...this.pending.values()].some((pending) => !pending.settled);
    if (waiting) this.worker?.ref();
    else this.worker?.unref();
  }
}
