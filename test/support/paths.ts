import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root: the nearest folder above with the extension's package.json. */
export const repoRoot = findRoot(__dirname);

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === 'cloze') return dir;
    if (path.dirname(dir) === dir) throw new Error(`No Cloze package.json above ${start}`);
  }
}

/** The folder of real models the tests load; set by scripts/test.mjs and .ci/run. */
export function modelsDir(): string {
  const dir = process.env['CLOZE_MODELS_DIR'] ?? path.resolve(repoRoot, '..', 'shared', 'models');
  if (!fs.existsSync(dir)) throw new Error(`CLOZE_MODELS_DIR (${dir}) does not exist: these tests need the models of ../shared/models.`);
  return dir;
}

/** Lines [start, end) of ../shared/data/sst2-dev.jsonl (one labelled SST-2 dev sentence each), as in the file. */
export function sst2Lines(start: number, end: number): string[] {
  return fs
    .readFileSync(path.join(path.dirname(modelsDir()), 'data', 'sst2-dev.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(start, end);
}

/** The first `count` SST-2 dev rows, parsed. */
export function sst2Rows(count: number): Array<{ text: string; label: string }> {
  return sst2Lines(0, count).map((line) => JSON.parse(line) as { text: string; label: string });
}

/** Source fixtures live in test/fixtures (not compiled). */
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures');

export const serverMain = path.join(repoRoot, 'server', 'out', 'lsp', 'main.js');
export const cliMain = path.join(repoRoot, 'server', 'out', 'cli', 'main.js');
