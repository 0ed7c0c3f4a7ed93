import type { MaskScores } from '../language/scores';
import type { EngineCounters, LoadableModel, ModelInfo } from './engine';
import { locationKey } from './resolve';

/**
 * The messages between the language server and the inference process (a
 * child process started with `child_process.fork`, talking over its IPC
 * channel with `serialization: 'advanced'`). Both sides import these types,
 * so a change to one side that the other does not follow fails to compile.
 * Everything here is structured-clone data: no class instances, no functions.
 */

/** Which engine a request is for: one engine per model folder and precision. */
export interface ModelRequest {
  readonly location: LoadableModel;
  /** Where transformers.js keeps downloads. */
  readonly cacheDir: string;
  readonly quantized: boolean;
}

export type WorkerRequest =
  | { readonly type: 'load'; readonly id: number; readonly model: ModelRequest }
  | {
      readonly type: 'score';
      readonly id: number;
      readonly model: ModelRequest;
      readonly inputs: readonly string[];
      readonly wordIds: readonly number[];
      readonly topK: number;
    }
  /** Stop a running score request at the next batch boundary. */
  | { readonly type: 'cancel'; readonly id: number }
  | { readonly type: 'stats'; readonly id: number }
  /** Drop every engine whose `engineKey` is not listed: no open document uses it any more. */
  | { readonly type: 'retain'; readonly engineKeys: readonly string[] };

/** The counters of one engine. */
export interface EngineStats extends EngineCounters {
  readonly modelKey: string;
  readonly quantized: boolean;
  readonly cacheEntries: number;
}

export interface WorkerStats {
  /** The inference process, or null when none is running (none started yet, or released when idle). */
  readonly pid: number | null;
  readonly engines: readonly EngineStats[];
  /** Sums over the engines. */
  readonly computedPairs: number;
  readonly cachedPairs: number;
}

/** Sent when the worker starts and finishes loading a model, so the editor can show progress. */
export type LoadEvent =
  | { readonly type: 'load-start'; readonly modelKey: string; readonly id: string; readonly quantized: boolean }
  | {
      readonly type: 'load-end';
      readonly modelKey: string;
      readonly id: string;
      readonly quantized: boolean;
      readonly ok: true;
      readonly info: ModelInfo;
    }
  | {
      readonly type: 'load-end';
      readonly modelKey: string;
      readonly id: string;
      readonly quantized: boolean;
      readonly ok: false;
      readonly message: string;
    };

export type WorkerResponse =
  | { readonly type: 'loaded'; readonly id: number; readonly info: ModelInfo }
  | { readonly type: 'scored'; readonly id: number; readonly scores: MaskScores[] }
  | { readonly type: 'stats'; readonly id: number; readonly stats: WorkerStats }
  | { readonly type: 'failed'; readonly id: number; readonly message: string; readonly cancelled: boolean }
  /** Console output of the worker (transformers.js logs warnings), for the host to route. */
  | { readonly type: 'log'; readonly level: 'info' | 'warn' | 'error'; readonly text: string }
  | LoadEvent;

/** The key of one engine in the inference process: one per model folder and precision. */
export function engineKey(model: ModelRequest): string {
  return `${locationKey(model.location)}|${model.quantized ? 'quantized' : 'fp32'}`;
}
