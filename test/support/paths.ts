import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root (test files compile to test/out/<folder>/). */
export const repoRoot = path.resolve(__dirname, '..', '..', '..');

/** The folder of real models the tests load; set by scripts/test.mjs and .ci/run. */
export function modelsDir(): string {
  const dir = process.env['CLOZE_MODELS_DIR'] ?? path.resolve(repoRoot, '..', 'shared', 'models');
  if (!fs.existsSync(dir)) throw new Error(`CLOZE_MODELS_DIR (${dir}) does not exist: these tests need the models of ../shared/models.`);
  return dir;
}

/** Source fixtures live in test/fixtures (not compiled). */
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures');

export const serverMain = path.join(repoRoot, 'server', 'out', 'lsp', 'main.js');
export const cliMain = path.join(repoRoot, 'server', 'out', 'cli', 'main.js');
