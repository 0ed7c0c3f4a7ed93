import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The model ids this machine can load without a download: the folders of the
 * models folder and of the download cache that hold a `tokenizer.json`, at
 * `<root>/<name>/` or `<root>/<organisation>/<name>/` (as hub ids are laid
 * out). Completion and the quick fix for an unavailable model offer them; the
 * pure core receives them as data.
 */

export interface LocalModel {
  readonly id: string;
  /** Where `resolveModel` would find it; the models folder wins over the cache, as in resolution. */
  readonly source: 'models-dir' | 'cache';
  readonly folder: string;
}

/** At most this many folders are looked at per root, so a huge or wrong folder cannot stall completion. */
const MAX_ENTRIES = 2000;

export function listLocalModels(modelsDir: string, cacheDir: string): LocalModel[] {
  const found = new Map<string, LocalModel>();
  const roots: Array<[string, LocalModel['source']]> = [
    [modelsDir, 'models-dir'],
    [cacheDir, 'cache'],
  ];
  for (const [root, source] of roots) {
    if (root === '') continue;
    for (const id of modelIdsIn(root)) {
      if (!found.has(id)) found.set(id, { id, source, folder: path.join(root, id) });
    }
  }
  return [...found.values()].sort((a, b) => a.id.localeCompare(b.id));
}

function modelIdsIn(root: string): string[] {
  const ids: string[] = [];
  for (const name of subfolders(root)) {
    const folder = path.join(root, name);
    if (hasTokenizer(folder)) {
      ids.push(name);
      continue;
    }
    // `Xenova/bert-base-uncased` is kept as `<root>/Xenova/bert-base-uncased/`.
    for (const inner of subfolders(folder)) {
      if (hasTokenizer(path.join(folder, inner))) ids.push(`${name}/${inner}`);
    }
  }
  return ids;
}

function subfolders(folder: string): string[] {
  try {
    return fs
      .readdirSync(folder, { withFileTypes: true })
      .slice(0, MAX_ENTRIES)
      .filter((entry) => (entry.isDirectory() || entry.isSymbolicLink()) && !entry.name.startsWith('.'))
      .map((entry) => entry.name);
  } catch {
    // A models folder that does not exist (yet) simply holds no models.
    return [];
  }
}

function hasTokenizer(folder: string): boolean {
  return fs.existsSync(path.join(folder, 'tokenizer.json'));
}
