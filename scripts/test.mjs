// Runs every compiled test file (test/out/**/*.test.js) with Node's test runner.
// CLOZE_MODELS_DIR defaults to ../shared/models, where this project's tests find
// their real models; a missing model makes the tests that need it fail, not skip.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
if (!process.env.CLOZE_MODELS_DIR) {
  process.env.CLOZE_MODELS_DIR = resolve(root, '..', 'shared', 'models');
}
if (!existsSync(process.env.CLOZE_MODELS_DIR)) {
  console.error(`CLOZE_MODELS_DIR=${process.env.CLOZE_MODELS_DIR} does not exist: the tests need the models of ../shared/models.`);
  process.exit(1);
}

// The tests start their own hubs and proxies on loopback and set the proxy variables
// themselves where they test them; a proxy of the machine running them must not catch
// the loopback hubs (127.0.0.1 is not in every NO_PROXY).
for (const name of ['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy']) {
  delete process.env[name];
  delete process.env[name.toUpperCase()];
}

function find(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.test.js') ? [path] : [];
  });
}

// `npm test -- grammar` runs only the files whose path contains "grammar".
const filters = process.argv.slice(2);
const files = find(join(root, 'test', 'out')).filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)));
if (files.length === 0) {
  console.error('No test files found under test/out: did `tsc -b` run?');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env: process.env });
process.exit(result.status ?? 1);
