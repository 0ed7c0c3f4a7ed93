// `npm run test:nvim`: the language server in Neovim 0.7.2 (Debian's `neovim`),
// headless, configured exactly like the README's snippet (test/nvim/init.lua),
// on examples/mistakes.cloze. The checks are in test/nvim/cloze_test.lua; Neovim
// exits with :cq (status 1) when one fails. This runner only starts it, with a
// deadline, and stops it and the server it started by PID.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { killTree } from '../../scripts/code-server.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const here = join(root, 'test', 'nvim');
const server = join(root, 'server', 'out', 'lsp', 'main.js');
const file = join(root, 'examples', 'mistakes.cloze');
const modelsDir = resolve(process.env.CLOZE_MODELS_DIR ?? join(root, '..', 'shared', 'models'));
const deadlineMs = 150_000;
const started = Date.now();

try {
  execFileSync('nvim', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('test:nvim: nvim is not installed. Run (as root): apt-get update && apt-get install -y neovim');
  process.exit(1);
}
if (!existsSync(server)) {
  console.error(`test:nvim: ${server} is missing: run \`npm run build\` first.`);
  process.exit(1);
}

const nvim = spawn('nvim', ['--headless', '--clean', '-u', join(here, 'init.lua'), '-c', `luafile ${join(here, 'cloze_test.lua')}`, file], {
  cwd: root,
  env: { ...process.env, CLOZE_SERVER: server, CLOZE_MODELS_DIR: modelsDir, CLOZE_NODE: process.execPath },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const stop = () => killTree(nvim.pid);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => (stop(), process.exit(130)));
const timer = setTimeout(() => {
  console.error(`test:nvim: Neovim did not finish within ${deadlineMs / 1000} s`);
  stop();
}, deadlineMs);
nvim.on('exit', (code, signal) => {
  clearTimeout(timer);
  stop(); // The language server, if Neovim left it behind.
  const status = code ?? 1;
  console.log(
    `test:nvim: ${status === 0 ? 'passed' : `failed (${signal ?? `exit ${code}`})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  process.exit(status);
});
