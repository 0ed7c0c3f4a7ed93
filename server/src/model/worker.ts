import * as os from 'node:os';
import { format } from 'node:util';
import { isCancelled } from './cancelled';
import { MaskedLmEngine, type EngineCounters, type EngineOptions } from './engine';
import { engineKey, type EngineStats, type ModelRequest, type WorkerRequest, type WorkerResponse, type WorkerStats } from './messages';
import { checkModelOutput } from './outputCheck';
import { locationKey, modelFileStamp } from './resolve';
import { logStrayRejections } from './strayRejections';

/**
 * The inference process: the one process that owns the models, started by
 * the language server with `child_process.fork` (see `InferenceWorker`).
 * ONNX Runtime's `run()` computes on the calling thread, so scoring in the
 * server would freeze every other request while a batch runs; and
 * onnxruntime-node 1.14 cannot be unloaded from a process, so a worker
 * thread that is terminated (shutdown mid-run, a restart) aborts or crashes
 * the whole server. A process can be killed and started again any number
 * of times.
 *
 * Engines are loaded lazily, once per model folder and precision, checked
 * (`checkModelOutput`), and kept while some open document uses them. Every
 * failure becomes a `failed` reply to the request that caused it; the
 * process itself never exits on a bad model.
 */

const send = process.send?.bind(process);
if (!send) throw new Error('worker.js is the inference process; the language server starts it with child_process.fork().');
logStrayRejections((line) => console.error(`[inference] ${line}`));

/** Batch size and cache limits chosen by the host (benchmarks tune them), as JSON in argv[2]. */
const engineOptions = parseOptions(process.argv[2]);

function parseOptions(text: string | undefined): Omit<EngineOptions, 'quantized'> {
  try {
    return text ? (JSON.parse(text) as Omit<EngineOptions, 'quantized'>) : {};
  } catch {
    return {};
  }
}

/**
 * This process, and the ONNX Runtime threads it starts, yield the CPU to the
 * language server when both want it: nice +10 (on Linux the nice value is
 * per thread and inherited by threads created later, so it is set before
 * ONNX Runtime starts any). On 2 cores a preview otherwise competes with
 * hovers and completions for a core whenever anything else runs.
 */
export const WORKER_NICENESS = 10;
try {
  os.setPriority(WORKER_NICENESS);
} catch {
  // Not allowed: run at the server's priority.
}

// The server owns this process: when its IPC channel closes (the server
// exited, or was killed), nothing can ever ask for a preview again.
process.on('disconnect', () => process.exit(0));

function post(message: WorkerResponse): void {
  // After a disconnect the message has nowhere to go; the 'disconnect' handler exits.
  if (process.connected) send!(message);
}

// The host does not read this process's stdout (it must never reach the LSP
// stream): console output goes to the host as messages instead.
const forward =
  (level: 'info' | 'warn' | 'error') =>
  (...args: unknown[]): void =>
    post({ type: 'log', level, text: format(...args) });
console.log = console.info = console.debug = forward('info');
console.warn = forward('warn');
console.error = forward('error');

interface Loaded {
  readonly engine: MaskedLmEngine;
  /** The counters right after the load's output check, which is not a user's input. */
  readonly baseline: EngineCounters;
}

/** Loads by engine key; each remembers the model file's stamp it was loaded from. */
const engines = new Map<string, { stamp: string; load: Promise<Loaded> }>();
const running = new Map<number, AbortController>();

function engineFor(model: ModelRequest): Promise<Loaded> {
  const key = engineKey(model);
  const stamp = modelFileStamp(model.location, model.quantized);
  const existing = engines.get(key);
  if (existing && existing.stamp === stamp) return existing.load;
  const modelKey = locationKey(model.location);
  const { id } = model.location;
  post({ type: 'load-start', modelKey, id, quantized: model.quantized });
  const load = (async (): Promise<Loaded> => {
    const engine = await MaskedLmEngine.load(model.location, model.cacheDir, { ...engineOptions, quantized: model.quantized });
    await checkModelOutput(engine);
    return { engine, baseline: engine.stats() };
  })();
  const entry = { stamp, load };
  engines.set(key, entry);
  load.then(
    ({ engine }) => post({ type: 'load-end', modelKey, id, quantized: model.quantized, ok: true, info: engine.info }),
    (error: unknown) => {
      // Not cached: the user may fix the folder, and the next request tries again.
      if (engines.get(key) === entry) engines.delete(key);
      post({ type: 'load-end', modelKey, id, quantized: model.quantized, ok: false, message: messageOf(error) });
    },
  );
  return load;
}

/** A model that loaded but failed while scoring is dropped, so the next request loads it again (the folder may be fixed by then). */
function forgetEngine(model: ModelRequest): void {
  engines.delete(engineKey(model));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function stats(): Promise<WorkerStats> {
  const settled = await Promise.all([...engines.values()].map((entry) => entry.load.catch(() => undefined)));
  const list: EngineStats[] = settled.flatMap((loaded) => {
    if (!loaded) return [];
    const { engine, baseline } = loaded;
    const now = engine.stats();
    return [
      {
        modelKey: engine.info.modelKey,
        quantized: engine.info.quantized,
        computedPairs: now.computedPairs - baseline.computedPairs,
        cachedPairs: now.cachedPairs - baseline.cachedPairs,
        batches: now.batches - baseline.batches,
        modelMs: now.modelMs - baseline.modelMs,
        cacheEntries: now.cacheEntries,
      },
    ];
  });
  return {
    pid: process.pid,
    engines: list,
    computedPairs: list.reduce((sum, engine) => sum + engine.computedPairs, 0),
    cachedPairs: list.reduce((sum, engine) => sum + engine.cachedPairs, 0),
  };
}

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.type) {
    case 'load':
      try {
        const { engine } = await engineFor(request.model);
        post({ type: 'loaded', id: request.id, info: engine.info });
      } catch (error) {
        post({ type: 'failed', id: request.id, message: messageOf(error), cancelled: false });
      }
      return;
    case 'score': {
      const controller = new AbortController();
      running.set(request.id, controller);
      let loaded = false;
      try {
        const { engine } = await engineFor(request.model);
        loaded = true;
        const scores = await engine.score(request.inputs, request.wordIds, request.topK, controller.signal);
        post({ type: 'scored', id: request.id, scores });
      } catch (error) {
        const cancelled = isCancelled(error);
        if (loaded && !cancelled) forgetEngine(request.model);
        post({ type: 'failed', id: request.id, message: messageOf(error), cancelled });
      } finally {
        running.delete(request.id);
      }
      return;
    }
    case 'cancel':
      running.get(request.id)?.abort();
      return;
    case 'stats':
      post({ type: 'stats', id: request.id, stats: await stats() });
      return;
    case 'retain': {
      const keep = new Set(request.engineKeys);
      for (const key of [...engines.keys()]) {
        if (keep.has(key)) continue;
        const entry = engines.get(key);
        engines.delete(key);
        void entry?.load.then(({ engine }) => engine.dispose()).catch(() => undefined);
      }
      return;
    }
  }
}

process.on('message', (request: WorkerRequest) => {
  void handle(request);
});
