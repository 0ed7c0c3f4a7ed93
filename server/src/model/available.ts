import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The models found in a folder laid out as transformers.js lays out its cache
 * and as `cloze.modelsDir` is documented: `<folder>/<id>/tokenizer.json`,
 * where an id is `name` or `organisation/name`. Unreadable folders give none.
 */
export function modelsIn(folder: string, limit = 500): string[] {
  if (folder === '') return [];
  const found: string[] = [];
  const children = (dir: string): string[] => {
    try {
      return fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
        .map((entry) => entry.name)
        .sort();
    } catch {
      return [];
    }
  };
  for (const first of children(folder)) {
    if (found.length >= limit) break;
    if (fs.existsSync(path.join(folder, first, 'tokenizer.json'))) {
      found.push(first);
      continue;
    }
    for (const second of children(path.join(folder, first))) {
      if (fs.existsSync(path.join(folder, first, second, 'tokenizer.json'))) found.push(`${first}/${second}`);
    }
  }
  return found.slice(0, limit);
}
