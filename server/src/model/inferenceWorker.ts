import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { MaskScores, Scorer } from '../language/scores';
import { CancelledError } from './cancelled';
import type { EngineOptions, ModelInfo } from './engine';
import { engineKey, type LoadEvent, type ModelRequest, type WorkerRequest, type WorkerResponse, type WorkerStats } from './messages';

/**
 * The language server's side of the inference process (`worker.ts`, started
 * with `child_process.fork`): typed promises over its IPC channel, and the
 * policy of what runs when.
 *
 * A process, not a worker thread: onnxruntime-node 1.14 cannot be unloaded
 * from a process, so terminating a worker thread that uses it (shutdown
 * while a preview runs, or a restart after the worker died) aborts or
 * crashes the server. A child process is killed and started again cleanly,
 * any number of times, and when the server exits its IPC channel closes and
 * the child exits with it.
 *
 * Scheduling. Each score request carries the document (`key`) and `version`
 * it was computed for, and is sent to the process in slices of at most
 * `sliceInputs` inputs, one slice at a time. Between slices the next one is
 * chosen by attention: the slices of the document the user touched last
 * (`focus`: an edit, a hover, a lens request) go first; among documents of
 * equal attention, the request that came first. So a small document's
 * preview waits for at most one slice of a 5,000-example one, not all of it.
 * When a newer version of a document asks, the older requests of that
 * document are rejected with `CancelledError` at once: their queued slices
 * never reach the process, and a running slice is told to stop at its next
 * batch. Loads and stats do not queue behind scoring.
 *
 * When the process dies (killed, out of memory, a crash in native code), the
 * slice it was running is tried once more in a fresh process; loads and stats
 * in flight are rejected. Nothing else is lost.
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
  /** Told when the process starts and finishes loading a model (to show progress). */
  readonly onLoadEvent?: (event: LoadEvent) => void;
  /** Batch size and cache limits of the engines. */
  readonly engine?: Omit<EngineOptions, 'quantized'>;
  /** The compiled inference script; defaults to worker.js beside this file. */
  readonly workerPath?: string;
  /**
   * Where the process's console output goes, one message at a time
   * (transformers.js warns on the console). Default: the server's stderr.
   * Never stdout, which carries the LSP messages when the server talks over
   * stdio.
   */
  readonly log?: (text: string) => void;
  /** Most inputs sent to the process at once (default `DEFAULT_SLICE_INPUTS`). */
  readonly sliceInputs?: number;
}

/**
 * Inputs per slice: about a quarter of a second of review-bert-small on
 * 2 cores (473 pairs/s), four batches of the mask-only graph's 32, so
 * batching loses little and another document waits at most that long.
 */
export const DEFAULT_SLICE_INPUTS = 128;

/** How often one slice may be retried after the process died under it. */
const RETRIES_AFTER_CRASH = 1;

interface Pending {
  /** The promise's resolve, typed loosely because one map holds requests of every kind. */
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** A score request: its slices go to the process one at a time. */
interface Job {
  /** Arrival order, the tie-break between documents of equal attention. */
  readonly seq: number;
  readonly request: ScoreRequest;
  /** Answers of the slices done so far, in input order. */
  readonly done: MaskScores[];
  readonly resolve: (scores: MaskScores[]) => void;
  readonly reject: (error: Error) => void;
  settled: boolean;
  crashes: number;
}

export class InferenceWorker {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private nextSeq = 1;
  /** Loads and stats waiting for the process's answer. */
  private readonly pending = new Map<number, Pending>();
  /** Score requests with slices still to run, in arrival order. */
  private readonly jobs: Job[] = [];
  /** The slice the process is running, if any. */
  private active: { id: number; job: Job; size: number } | undefined;
  private disposed = false;
  /** The newest version asked for, per document: anything older is stale on arrival. */
  private readonly latestVersions = new Map<string, number>();
  /** When each document was last touched by the user (a counter, larger is more recent). */
  private readonly attention = new Map<string, number>();
  private attentionClock = 0;
  /** Engines the open documents use; undefined: no policy given yet (keep everything). */
  private retained: Set<string> | undefined;
  /**
   * Engines held by requests that score in several calls (`hold`), with how many hold each: between
   * two calls nothing runs, and without the hold the process looked idle and was stopped, so the next
   * call started a new one and loaded the model again (a loop once the document had closed).
   */
  private readonly held = new Map<string, number>();
  /** How many processes were started, for tests and logs. */
  private starts = 0;

  constructor(private readonly options: InferenceWorkerOptions = {}) {}

  /** The running inference process's id, if one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How many inference processes have been started so far. */
  get processesStarted(): number {
    return this.starts;
  }

  /** Loads a model (or finds it loaded) and says what it is; rejects with the reason it cannot load. */
  loadModel(model: ModelRequest): Promise<ModelInfo> {
    return this.request<ModelInfo>((id) => ({ type: 'load', id, model }));
  }

  /** Scores inputs at their mask; rejects with `CancelledError` when a newer version of the same document supersedes it. */
  score(request: ScoreRequest): Promise<MaskScores[]> {
    if (this.disposed) return Promise.reject(new Error('The inference process has been disposed.'));
    const latest = this.latestVersions.get(request.key);
    if (latest !== undefined && latest > request.version) return Promise.reject(new CancelledError());
    this.latestVersions.set(request.key, request.version);
    this.supersede(request.key, request.version);
    if (request.inputs.length === 0) return Promise.resolve([]);
    const promise = new Promise<MaskScores[]>((resolve, reject) => {
      this.jobs.push({ seq: this.nextSeq++, request, done: [], resolve, reject, settled: false, crashes: 0 });
    });
    this.pump();
    return promise;
  }

  /** A `Scorer` for `computePreview`, bound to one model and one document version. */
  scorer(model: ModelRequest, key: string, version: number): Scorer {
    return (inputs, wordIds, topK) => this.score({ model, key, version, inputs, wordIds, topK });
  }

  /** The user is looking at this document (edited, hovered, asked for its lenses): its slices go first. */
  focus(key: string): void {
    this.attention.set(key, ++this.attentionClock);
  }

  /** Forgets a document (when it closes), so a reopened one may start again from version 1. */
  forget(key: string): void {
    this.latestVersions.delete(key);
    this.attention.delete(key);
    this.supersede(key, Infinity);
  }

  /**
   * Keeps only the engines of these models; the others are dropped from the
   * process. With none left, the process itself is stopped once it has
   * nothing to do: its memory (models, ONNX Runtime's arenas, caches) goes
   * back to the system, and the next request starts a fresh one.
   */
  retain(models: readonly ModelRequest[]): void {
    this.retained = new Set(models.map(engineKey));
    this.applyRetention();
  }

  /**
   * Keeps the process and the engine of `model` while a request that scores in several calls (an
   * evaluation, chunk by chunk) runs, whatever `retain` says; the returned function lets go.
   */
  hold(model: ModelRequest): () => void {
    const key = engineKey(model);
    this.held.set(key, (this.held.get(key) ?? 0) + 1);
    this.applyRetention();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const count = (this.held.get(key) ?? 1) - 1;
      if (count > 0) this.held.set(key, count);
      else this.held.delete(key);
      this.applyRetention();
    };
  }

  /** The engines' counters: what was computed and what came from the cache. Starts no process. */
  stats(): Promise<WorkerStats> {
    if (!this.child) return Promise.resolve({ pid: null, engines: [], computedPairs: 0, cachedPairs: 0 });
    return this.request<WorkerStats>((id) => ({ type: 'stats', id }));
  }

  /** Disposed (the server shutting down): a failure now is the shutdown, not the model's. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Stops the process; whatever is pending is rejected. Resolves when the process is gone. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const error = new Error('The inference process has been disposed.');
    for (const job of this.jobs.splice(0)) this.settle(job, () => job.reject(error));
    this.active = undefined;
    this.rejectPending(error);
    await this.stopChild();
  }

  private request<T>(make: (id: number) => WorkerRequest): Promise<T> {
    if (this.disposed) return Promise.reject(new Error('The inference process has been disposed.'));
    const id = this.nextId++;
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
    this.post(make(id));
    return promise;
  }

  /** Rejects the requests of `key` older than `version`: their queued slices are dropped, a running one is told to stop. */
  private supersede(key: string, version: number): void {
    for (let i = this.jobs.length - 1; i >= 0; i--) {
      const job = this.jobs[i];
      if (job.request.key !== key || job.request.version >= version) continue;
      this.jobs.splice(i, 1);
      this.settle(job, () => job.reject(new CancelledError()));
      if (this.active?.job === job) this.post({ type: 'cancel', id: this.active.id });
    }
  }

  /** The job whose next slice runs: most recent attention first, then arrival order. */
  private nextJob(): Job | undefined {
    let best: Job | undefined;
    let bestAttention = -1;
    for (const job of this.jobs) {
      const attention = this.attention.get(job.request.key) ?? 0;
      if (attention > bestAttention) {
        best = job;
        bestAttention = attention;
      }
    }
    return best;
  }

  /** The engines to keep: those retained and those held; undefined while no policy was given (keep everything). */
  private kept(): Set<string> | undefined {
    return this.retained && new Set([...this.retained, ...this.held.keys()]);
  }

  /** Tells the process which engines to keep, or stops it when none is to be kept and it is idle. */
  private applyRetention(): void {
    const kept = this.kept();
    if (!kept) return;
    if (kept.size === 0) this.releaseIfIdle();
    else if (this.child) this.post({ type: 'retain', engineKeys: [...kept] });
  }

  /** Sends the next slice when the process is free. */
  private pump(): void {
    if (this.active || this.disposed) {
      this.holdWhileWaiting();
      return;
    }
    const job = this.nextJob();
    if (!job) {
      this.holdWhileWaiting();
      if (this.kept()?.size === 0) this.releaseIfIdle();
      return;
    }
    const { request } = job;
    const start = job.done.length;
    const size = Math.min(Math.max(1, this.options.sliceInputs ?? DEFAULT_SLICE_INPUTS), request.inputs.length - start);
    const id = this.nextId++;
    this.active = { id, job, size };
    this.post({
      type: 'score',
      id,
      model: request.model,
      inputs: request.inputs.slice(start, start + size),
      wordIds: request.wordIds,
      topK: request.topK,
    });
  }

  private post(message: WorkerRequest): void {
    const child = this.ensureChild();
    child.send(message);
    this.holdWhileWaiting();
  }

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(this.options.workerPath ?? path.join(__dirname, 'worker.js'), [JSON.stringify(this.options.engine ?? {})], {
      // Never the server's stdout (the LSP stream over stdio), never its debug flags (a second --inspect port).
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
      serialization: 'advanced',
    });
    this.starts++;
    const log = this.options.log ?? ((text: string) => process.stderr.write(`${text}\n`));
    // Native code (ONNX Runtime) writes to the process's own streams.
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (chunk: Buffer) => log(chunk.toString().trimEnd()));
      // Reading them must not keep the server alive (`holdWhileWaiting` decides that).
      (stream as unknown as { unref?: () => void } | null)?.unref?.();
    }
    // The child also exits when its IPC channel closes, but only between two
    // batches: killing it on the way out frees the CPU at once.
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.removeListener('exit', killOnExit));
    child.on('message', (message: WorkerResponse) => {
      if (this.child === child) this.receive(message);
    });
    // A failed send (the channel closed under it) is followed by 'exit', which handles it.
    child.on('error', (error) => log(`The inference process failed: ${error.message}`));
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    this.child = child;
    const kept = this.kept();
    if (kept && kept.size > 0) child.send({ type: 'retain', engineKeys: [...kept] } satisfies WorkerRequest);
    return child;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    const reason = signal ? `it was stopped by ${signal}` : `it exited with code ${code}`;
    const error = new Error(`The inference process stopped unexpectedly (${reason}).`);
    this.rejectPending(error);
    const active = this.active;
    this.active = undefined;
    if (active && !active.job.settled) {
      active.job.crashes++;
      if (active.job.crashes > RETRIES_AFTER_CRASH) {
        this.jobs.splice(this.jobs.indexOf(active.job), 1);
        this.settle(active.job, () => active.job.reject(error));
      }
    }
    // Queued slices start a fresh process.
    this.pump();
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
        this.finishSlice(message.id, message.scores, undefined);
        return;
      case 'failed':
        if (this.pending.has(message.id)) this.answer(message.id, (pending) => pending.reject(new Error(message.message)));
        else this.finishSlice(message.id, undefined, message.cancelled ? new CancelledError() : new Error(message.message));
        return;
    }
  }

  /** A slice came back: the job goes on with its next slice, resolves, or fails. */
  private finishSlice(id: number, scores: MaskScores[] | undefined, error: Error | undefined): void {
    const active = this.active;
    if (active?.id !== id) return;
    this.active = undefined;
    const { job } = active;
    if (!job.settled) {
      if (error || !scores) {
        this.jobs.splice(this.jobs.indexOf(job), 1);
        this.settle(job, () => job.reject(error ?? new Error('No scores came back.')));
      } else {
        job.done.push(...scores);
        job.crashes = 0;
        if (job.done.length >= job.request.inputs.length) {
          this.jobs.splice(this.jobs.indexOf(job), 1);
          this.settle(job, () => job.resolve(job.done));
        }
      }
    }
    this.pump();
  }

  private settle(job: Job, action: () => void): void {
    if (job.settled) return;
    job.settled = true;
    action();
  }

  private answer(id: number, action: (pending: Pending) => void): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    action(pending);
    this.holdWhileWaiting();
  }

  private rejectPending(error: Error): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(error);
    }
  }

  /** Stops the process when no document needs it and nothing is running, waiting or held. */
  private releaseIfIdle(): void {
    if (this.active || this.jobs.length > 0 || this.pending.size > 0 || this.held.size > 0 || !this.child) return;
    void this.stopChild();
  }

  /** Kills the process and resolves when it has exited (SIGKILL if it ignores SIGTERM for a second). */
  private stopChild(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  /**
   * Keeps the server alive while someone waits for an answer, and only then,
   * so a CLI or test that forgets `dispose` still exits.
   */
  private holdWhileWaiting(): void {
    const child = this.child;
    if (!child) return;
    const waiting = this.jobs.length > 0 || this.pending.size > 0;
    const channel = child.channel as { ref?: () => void; unref?: () => void } | undefined;
    if (waiting) {
      child.ref();
      channel?.ref?.();
    } else {
      child.unref();
      channel?.unref?.();
    }
  }
}
