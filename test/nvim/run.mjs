// `npm run test:nvim`: the language server in Neovim 0.7.2 (Debian's `neovim`),
// headless, set up with the README's Neovim block as written (only its two
// paths filled in; no CLOZE_MODELS_DIR, fresh XDG folders), on
// examples/mistakes.cloze. The checks are in test/nvim/cloze_test.lua; Neovim
// exits with :cq (status 1) when one fails. This runner starts it with a
// deadline, stops it and the server it started by PID, and fails on any
// warning or error Neovim printed or logged.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { killTree } from '../../scripts/code-server.mjs';
import { complaints, readmeBlock, root } from './readmeBlock.mjs';

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

const home = mkdtempSync(join(tmpdir(), 'cloze-nvim-'));
const init = join(home, 'init.lua');
writeFileSync(init, readmeBlock('nvim', { server, modelsDir }));
// What a user's shell has: `node` on PATH; not the test suite's CLOZE_* variables.
const env = {
  ...process.env,
  HOME: home,
  XDG_CONFIG_HOME: join(home, 'config'),
  XDG_CACHE_HOME: join(home, 'cache'),
  XDG_STATE_HOME: join(home, 'state'),
  XDG_DATA_HOME: join(home, 'data'),
};
for (const name of Object.keys(env)) if (name.startsWith('CLOZE_')) delete env[name];
env.PATH = `${dirname(process.execPath)}${delimiter}${env.PATH ?? ''}`;

const nvim = spawn('nvim', ['--headless', '--clean', '-u', init, '-c', `luafile ${join(here, 'cloze_test.lua')}`, file], {
  cwd: root,
  env,
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
for (const stream of [nvim.stdout, nvim.stderr]) {
  stream.on('data', (chunk) => {
    output += chunk;
    process.stdout.write(chunk);
  });
}
const stop = () => killTree(nvim.pid);
const cleanUp = () => rmSync(home, { recursive: true, force: true });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => (stop(), cleanUp(), process.exit(130)));
const timer = setTimeout(() => {
  console.error(`test:nvim: Neovim did not finish within ${deadlineMs / 1000} s`);
  stop();
}, deadlineMs);
nvim.on('exit', (code, signal) => {
  clearTimeout(timer);
  stop(); // The language server, if Neovim left it behind.
  let status = code ?? 1;
  const printed = complaints(output);
  const logFile = [join(home, 'cache', 'nvim', 'lsp.log'), join(home, 'state', 'nvim', 'lsp.log')].find((f) => existsSync(f));
  const logged = logFile
    ? readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((line) => /\[ (WARN|ERROR) \]/.test(line))
    : [];
  if (printed.length > 0 || logged.length > 0) {
    console.error(`test:nvim: Neovim printed or logged warnings:\n${[...printed, ...logged].join('\n')}`);
    status = 1;
  }
  cleanUp();
  console.log(
    `test:nvim: ${status === 0 ? 'passed' : `failed (${signal ?? `exit ${code}`})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  process.exit(status);
});
