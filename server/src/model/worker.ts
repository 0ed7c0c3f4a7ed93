import * as fs from 'node:fs';
import * as os from 'node:os';
import { format } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import { isCancelled } from './cancelled';
import { MaskedLmEngine, type EngineOptions } from './engine';
import type { EngineStats, ModelRequest, WorkerRequest, WorkerResponse, WorkerStats } from './messages';
import { locationKey } from './resolve';

/**
 * The inference worker: the one thread that owns the models. ONNX Runtime's
 * `run()` computes on the calling thread, so scoring on the language server's
 * main thread would freeze every other request while a batch runs. Engines
 * are loaded lazily, once per model folder and precision, and kept.
 *
 * Every failure becomes a `failed` reply to the request that caused it; the
 * worker itself never exits on a bad model.
 */

if (!parentPort) throw new Error('worker.js is the inference worker; start it with new Worker(), not directly.');
const port = parentPort;

/** Batch size and cache limits chosen by the host (benchmarks tune them). */
const engineOptions: Omit<EngineOptions, 'quantized'> =
  (workerData as { engineOptions?: Omit<EngineOptions, 'quantized'> } | undefined)?.engineOptions ?? {};

/**
 * This thread, and the ONNX Runtime threads it starts, yield the CPU to the
 * language server's thread when both want it: nice +10 (Linux, where a thread
 * has its own nice value and `/proc/thread-self` names it; elsewhere a no-op).
 * On 2 cores a preview otherwise competes with hovers and completions for a
 * core whenever anything else runs.
 */
export const WORKER_NICENESS = 10;
function yieldToTheServer(): void {
  try {
    const thread = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(thread) && thread > 0 && thread !== process.pid) os.setPriority(thread, WORKER_NICENESS);
  } catch {
    // Not Linux, or not allowed: run at the process's priority.
  }
}
yieldToTheServer();

const engines = new Map<string, Promise<MaskedLmEngine>>();
const loaded = new Map<string, MaskedLmEngine>();
const running = new Map<number, AbortController>();

function post(message: WorkerResponse): void {
  port.postMessage(message);
}

// A worker's console writes to the process's stdout, which is the LSP channel
// when the server talks over stdio: a stray console.log from a library would
// corrupt it. Console output goes to the host as messages instead.
const forward =
  (level: 'info' | 'warn' | 'error') =>
  (...args: unknown[]): void =>
    post({ type: 'log', level, text: format(...args) });
console.log = console.info = console.debug = forward('info');
console.warn = forward('warn');
console.error = forward('error');

function engineKey(model: ModelRequest): string {
  return `${locationKey(model.location)}|${model.quantized ? 'quantized' : 'fp32'}`;
}

function engineFor(model: ModelRequest): Promise<MaskedLmEngine> {
  const key = engineKey(model);
  const existing = engines.get(key);
  if (existing) return existing;
  const modelKey = locationKey(model.location);
  const { id } = model.location;
  post({ type: 'load-start', modelKey, id, quantized: model.quantized });
  const load = MaskedLmEngine.load(model.location, model.cacheDir, { ...engineOptions, quantized: model.quantized });
  engines.set(key, load);
  load.then(
    (engine) => {
      loaded.set(key, engine);
      post({ type: 'load-end', modelKey, id, quantized: model.quantized, ok: true, info: engine.info });
    },
    (error: unknown) => {
      // Not cached: the user may fix the folder, and the next request tries again.
      engines.delete(key);
      post({ type: 'load-end', modelKey, id, quantized: model.quantized, ok: false, message: messageOf(error) });
    },
  );
  return load;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function stats(): WorkerStats {
  const list: EngineStats[] = [...loaded.values()].map((engine) => ({
    modelKey: engine.info.modelKey,
    quantized: engine.info.quantized,
    ...engine.stats(),
  }));
  return {
    engines: list,
    computedPairs: list.reduce((sum, engine) => sum + engine.computedPairs, 0),
    cachedPairs: list.reduce((sum, engine) => sum + engine.cachedPairs, 0),
  };
}

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.type) {
    case 'load':
      try {
        const engine = await engineFor(request.model);
        post({ type: 'loaded', id: request.id, info: engine.info });
      } catch (error) {
        post({ type: 'failed', id: request.id, message: messageOf(error), cancelled: false });
      }
      return;
    case 'score': {
      const controller = new AbortController();
      running.set(request.id, controller);
      try {
        const engine = await engineFor(request.model);
        const scores = await engine.score(request.inputs, request.wordIds, request.topK, controller.signal);
        post({ type: 'scored', id: request.id, scores });
      } catch (error) {
        post({ type: 'failed', id: request.id, message: messageOf(error), cancelled: isCancelled(error) });
      } finally {
        running.delete(request.id);
      }
      return;
    }
    case 'cancel':
      running.get(request.id)?.abort();
      return;
    case 'stats':
      post({ type: 'stats', id: request.id, stats: stats() });
      return;
  }
}

port.on('message', (request: WorkerRequest) => {
  void handle(request);
});
