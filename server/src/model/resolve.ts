import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { invalidModelIdReason } from './modelId';
import { cacheState, TOKENIZER_FILES } from './download';
import { allowDownloadsHint, setModelsDirFix, type UserInterface } from './wording';

/**
 * Where a model id is found: the models folder first, then Cloze's download
 * cache, then the Hugging Face hub when downloads are allowed. A path in
 * `model:` (`./models/mine`) is taken relative to the `.cloze` file.
 */

export interface ModelSettings {
  /** `cloze.modelsDir`, `--models-dir` or `CLOZE_MODELS_DIR`; empty when none. */
  readonly modelsDir: string;
  readonly allowRemoteModels: boolean;
  /** Where downloads are kept and looked up (Cloze's download cache, in the layout transformers.js reads). */
  readonly cacheDir: string;
  /** The interface whose settings or flags messages name (default: the editor). */
  readonly userInterface?: UserInterface;
}

/**
 * A model ready to be loaded by transformers.js: `root` is given to it as
 * `env.localModelPath` and `name` as the model id, so the files are read from
 * `<root>/<name>/`. `remote` means neither place has it and it will be
 * downloaded into the cache.
 */
export type ModelLocation =
  | {
      readonly ok: true;
      readonly source: 'path' | 'models-dir' | 'cache';
      readonly root: string;
      readonly name: string;
      readonly id: string;
    }
  | {
      readonly ok: true;
      readonly source: 'remote';
      readonly root: string;
      readonly name: string;
      readonly id: string;
      /** Why the models folder did not have it, when one is set ("the models folder /x does not exist"): said if the download fails. */
      readonly notInModelsDir?: string;
    }
  | { readonly ok: false; readonly id: string; readonly reason: string };

export function defaultCacheDir(): string {
  const fromEnv = process.env['CLOZE_CACHE_DIR'];
  if (fromEnv) return fromEnv;
  const xdg = process.env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'cloze', 'models');
}

/** The models folder from settings, else from `CLOZE_MODELS_DIR`. */
export function effectiveModelsDir(configured: string | undefined): string {
  const dir = configured && configured.trim() !== '' ? configured : (process.env['CLOZE_MODELS_DIR'] ?? '');
  // `~/models` as a `model:` line's path is: a setting or a quoted variable gets no shell to expand it.
  return dir === '~' || dir.startsWith('~/') || dir.startsWith('~\\') ? path.join(os.homedir(), dir.slice(1)) : dir;
}

export function isModelPath(id: string): boolean {
  return (
    id.startsWith('./') ||
    id.startsWith('../') ||
    id.startsWith('~/') ||
    path.isAbsolute(id) ||
    id.startsWith('.\\') ||
    id.startsWith('..\\')
  );
}

function hasTokenizer(folder: string): boolean {
  return fs.existsSync(path.join(folder, 'tokenizer.json'));
}

/**
 * Why `<modelsDir>/<id>` is not a model, in words: a models folder that does
 * not exist (a typo in the setting or flag) or a model folder without its
 * tokenizer would otherwise surface only as a failed download.
 */
function whyNotInModelsDir(modelsDir: string, id: string): string {
  let stat: fs.Stats;
  // A relative folder is relative to the process's current folder, which the user may not know.
  const shown = path.isAbsolute(modelsDir) ? modelsDir : `${modelsDir} (${path.resolve(modelsDir)})`;
  try {
    stat = fs.statSync(modelsDir);
  } catch {
    return `the models folder ${shown} does not exist`;
  }
  if (!stat.isDirectory()) return `the models folder ${shown} is a file, not a folder`;
  const folder = path.join(modelsDir, id);
  if (!fs.existsSync(folder)) return `${folder} does not exist`;
  return `${folder} has no tokenizer.json`;
}

function isFolder(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Why a path that `existsSync` calls absent cannot be reached, when it is not simply missing. */
function whyUnreachable(file: string): string | undefined {
  try {
    fs.statSync(file);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'its symbolic links form a loop';
    if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
    if (code === 'ENOTDIR') return 'a part of its path is a file, not a folder';
    return undefined;
  }
}

/**
 * `pathBase` names, for messages, what a relative path written there is relative to (the CLI's
 * `--model` paths arrive absolute, made so against the current folder).
 */
export function resolveModel(
  id: string,
  documentDir: string | undefined,
  settings: ModelSettings,
  pathBase = 'the .cloze file',
): ModelLocation {
  if (isModelPath(id)) {
    const expanded = id.startsWith('~/') ? path.join(os.homedir(), id.slice(2)) : id;
    const folder = path.resolve(documentDir ?? process.cwd(), expanded);
    if (!fs.existsSync(folder)) {
      // A link loop or a folder without access exists but cannot be reached: that, not "does not exist", is the fix.
      const unreachable = whyUnreachable(folder);
      if (unreachable) return { ok: false, id, reason: `the folder ${folder} cannot be opened: ${unreachable}.` };
      // A relative path comes from a `model:` line (the CLI makes a --model path absolute against the current folder).
      const relative = path.isAbsolute(expanded) ? '' : '; it is relative to the .cloze file';
      return { ok: false, id, reason: `the folder ${folder} does not exist. Check the path${relative}.` };
    }
    if (!hasTokenizer(folder)) {
      return {
        ok: false,
        id,
        reason: `${folder} has no tokenizer.json. A model folder holds tokenizer.json, config.json and onnx/model.onnx (as exported for transformers.js).`,
      };
    }
    return { ok: true, source: 'path', root: path.dirname(folder), name: path.basename(folder), id };
  }
  // Checked before the id becomes part of any path (models folder, cache, download target).
  const invalid = invalidModelIdReason(id, pathBase);
  if (invalid) return { ok: false, id, reason: invalid };
  if (settings.modelsDir !== '' && hasTokenizer(path.join(settings.modelsDir, id))) {
    return { ok: true, source: 'models-dir', root: settings.modelsDir, name: id, id };
  }
  // The cache counts only when the tokenizer's files are all there and none is damaged
  // (a size other than the one recorded when it was downloaded): else it is fetched again.
  const cached = cacheState(settings.cacheDir, id, TOKENIZER_FILES);
  if (cached.missing.length === 0 && cached.damaged.length === 0) {
    return { ok: true, source: 'cache', root: settings.cacheDir, name: id, id };
  }
  const notInModelsDir = settings.modelsDir !== '' ? whyNotInModelsDir(settings.modelsDir, id) : undefined;
  if (settings.allowRemoteModels) {
    return { ok: true, source: 'remote', root: settings.cacheDir, name: id, id, ...(notInModelsDir ? { notInModelsDir } : {}) };
  }
  const ui = settings.userInterface ?? 'editor';
  if (cached.damaged.length > 0) {
    return {
      ok: false,
      id,
      reason: `the cached copy in ${path.join(settings.cacheDir, id)} is damaged (${cached.damaged.join(', ')} changed since it was downloaded), and downloads are off. Allow downloads (${allowDownloadsHint(ui)}) to fetch it again, or delete that folder.`,
    };
  }
  const cache = `the download cache (${path.join(settings.cacheDir, id)})`;
  const places =
    notInModelsDir !== undefined
      ? `is neither in the models folder (${notInModelsDir}) nor in ${cache}`
      : `is not in ${cache} and no models folder is set`;
  // A models folder that is missing or a file cannot take the model: the setting or flag is what to fix.
  const fix =
    settings.modelsDir === '' || !isFolder(settings.modelsDir)
      ? setModelsDirFix(ui)
      : `Put the model in ${path.join(settings.modelsDir, id)}, fix the id, or allow downloads (${allowDownloadsHint(ui)}).`;
  return { ok: false, id, reason: `\`${id}\` ${places}, and downloads are off. ${fix}` };
}

/**
 * A download failure's message, led by why the models folder did not have the
 * model when one is set: a typo in the folder is the likelier cause, and after
 * a network error it read as an afterthought.
 */
export function withModelsDirNote(message: string, location: ModelLocation): string {
  if (!location.ok || location.source !== 'remote' || !location.notInModelsDir) return message;
  return `${location.notInModelsDir}, and the download failed: ${message}`;
}

/** A stable key for caches: the same files give the same key. */
export function locationKey(location: Extract<ModelLocation, { ok: true }>): string {
  return path.join(location.root, location.name);
}

/**
 * The model file's, config's and tokenizer's sizes and modification times: a folder fixed or
 * replaced while the server runs gives another stamp, so the inference process loads it again and
 * what was remembered of the old files' numbers is not reused. A remote model has none (its
 * download lands in the cache under the same id).
 */
export function modelFileStamp(location: Extract<ModelLocation, { ok: true }>, quantized: boolean): string {
  if (location.source === 'remote') return '';
  const root = locationKey(location);
  return [
    path.join(root, quantized ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx'),
    path.join(root, 'config.json'),
    path.join(root, 'tokenizer.json'),
  ]
    .map((name) => {
      try {
        const stat = fs.statSync(name);
        return `${stat.size}:${stat.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}
