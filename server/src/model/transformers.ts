import type * as Transformers from '@xenova/transformers' with { 'resolution-mode': 'import' };
import type { ModelLocation } from './resolve';

/**
 * The one door to `@xenova/transformers`. The library is ESM only and this
 * project compiles to CommonJS (VS Code loads extensions as CommonJS), so it is
 * reached through a dynamic `import()` that TypeScript (module node16) keeps
 * as is. Its settings live in a global `env`, so loads are serialised here and
 * each load sets the folders it reads from.
 */
export type TransformersModule = typeof Transformers;

let modulePromise: Promise<TransformersModule> | undefined;

export function loadTransformers(): Promise<TransformersModule> {
  modulePromise ??= import('@xenova/transformers');
  return modulePromise;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `load` with transformers.js pointed at `location`, one load at a time,
 * because `env.localModelPath` and friends are process-wide.
 */
export function withModelEnv<T>(
  location: Extract<ModelLocation, { ok: true }>,
  cacheDir: string,
  load: (module: TransformersModule) => Promise<T>,
): Promise<T> {
  const run = async (): Promise<T> => {
    const module = await loadTransformers();
    const { env } = module;
    env.cacheDir = cacheDir;
    env.useFSCache = true;
    // transformers.js never goes to the network: its fetch has no timeouts and cannot be
    // cancelled. Cloze's downloader (download.ts) puts a model's files in the cache first;
    // a location still marked remote is read from there like any cached model.
    env.allowLocalModels = true;
    env.allowRemoteModels = false;
    env.localModelPath = location.root.endsWith('/') ? location.root : `${location.root}/`;
    return load(module);
  };
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}
