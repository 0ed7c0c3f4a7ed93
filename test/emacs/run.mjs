// `npm run test:emacs`: the language server in Emacs 28 with eglot 1.9 (Debian's
// `emacs-nox` and `elpa-eglot`), in batch mode, set up with the README's Emacs
// block as written (only its two paths filled in; no CLOZE_MODELS_DIR, a fresh
// HOME), on examples/mistakes.cloze. The checks are in test/emacs/cloze-test.el.
// This runner starts Emacs with a deadline, stops it and the server it started
// by PID, and fails on any warning or error Emacs printed.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { killTree } from '../../scripts/code-server.mjs';
import { complaints, readmeBlock, root } from '../nvim/readmeBlock.mjs';

const here = join(root, 'test', 'emacs');
const server = join(root, 'server', 'out', 'lsp', 'main.js');
const file = join(root, 'examples', 'mistakes.cloze');
const modelsDir = resolve(process.env.CLOZE_MODELS_DIR ?? join(root, '..', 'shared', 'models'));
const deadlineMs = 120_000;
const started = Date.now();

try {
  execFileSync('emacs', ['--version'], { stdio: 'ignore' });
} catch {
  console.error(
    'test:emacs: emacs is not installed. Run (as root): apt-get update && apt-get install -y --no-install-recommends emacs-nox elpa-eglot',
  );
  process.exit(1);
}
if (!existsSync(server)) {
  console.error(`test:emacs: ${server} is missing: run \`npm run build\` first.`);
  process.exit(1);
}

const home = mkdtempSync(join(tmpdir(), 'cloze-emacs-'));
const init = join(home, 'init.el');
writeFileSync(init, readmeBlock('emacs', { server, modelsDir }));
// What a user's shell has: `node` on PATH; not the test suite's CLOZE_* variables.
const env = { ...process.env, HOME: home, CLOZE_TEST_FILE: file };
for (const name of Object.keys(env)) if (name.startsWith('CLOZE_') && name !== 'CLOZE_TEST_FILE') delete env[name];
env.PATH = `${dirname(process.execPath)}${delimiter}${env.PATH ?? ''}`;

// --batch skips the user's init file but not the site start files, which is where
// Debian's elpa-eglot puts eglot on the load path (as for an interactive Emacs).
const emacs = spawn('emacs', ['--batch', '-l', init, '-l', join(here, 'cloze-test.el')], {
  cwd: root,
  env,
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
for (const stream of [emacs.stdout, emacs.stderr]) {
  stream.on('data', (chunk) => {
    output += chunk;
    process.stdout.write(chunk);
  });
}
const stop = () => killTree(emacs.pid);
const cleanUp = () => rmSync(home, { recursive: true, force: true });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => (stop(), cleanUp(), process.exit(130)));
const timer = setTimeout(() => {
  console.error(`test:emacs: Emacs did not finish within ${deadlineMs / 1000} s`);
  stop();
}, deadlineMs);
emacs.on('exit', (code, signal) => {
  clearTimeout(timer);
  stop(); // The language server, if Emacs left it behind.
  let status = code ?? 1;
  const printed = complaints(output);
  if (printed.length > 0) {
    console.error(`test:emacs: Emacs printed warnings or errors:\n${printed.join('\n')}`);
    status = 1;
  }
  cleanUp();
  console.log(
    `test:emacs: ${status === 0 ? 'passed' : `failed (${signal ?? `exit ${code}`})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  process.exit(status);
});
