/* global fetch */
// code-server 4.100.3 (VS Code 1.100.3) for the editor tests: installed once
// into a cache folder outside this project's dependencies, started on a free
// port of 127.0.0.1 with its own user-data and extensions folders, and stopped
// with its whole process tree. Also the headless Chromium that drives it.
//
// 4.100.3 is the last code-server that runs on Node 20. Installing it as root,
// offline except for the npm registry, needs (see ../../shared/design/real-clients.md):
//   - npm_config_unsafe_perm=true: its postinstall refuses root otherwise;
//   - libkrb5-dev and pkg-config (apt): the kerberos module compiles;
//   - npm_config_yes=true: node-pty's postinstall runs `npx node-gyp`;
//   - @vscode/ripgrep's download cache seeded with Debian's rg (apt: ripgrep);
//   - npm_config_dangerously_allow_all_scripts=true: npm 11.19 skips dependency
//     install scripts unless approved, and code-server's postinstall runs
//     nested `npm install`s (lib/vscode, its extensions) whose native modules
//     must build. This applies only to this pinned install in the cache folder.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const codeServerVersion = '4.100.3';
export const chromiumPath = process.env.CLOZE_CHROMIUM ?? '/usr/bin/chromium';

const cacheRoot = process.env.CLOZE_TEST_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cloze-test');
const installDir = join(cacheRoot, `code-server-${codeServerVersion}`);
const entry = join(installDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const installedMarker = join(installDir, '.installed');

const aptHint = 'apt-get update && apt-get install -y --no-install-recommends chromium libkrb5-dev pkg-config ripgrep';

function missingPrerequisites() {
  const missing = [];
  if (!existsSync('/usr/bin/rg')) missing.push('ripgrep (/usr/bin/rg)');
  if (!existsSync('/usr/bin/pkg-config')) missing.push('pkg-config');
  if (!existsSync('/usr/bin/krb5-config') && !existsSync('/usr/bin/krb5-config.mit')) missing.push('libkrb5-dev (krb5-config)');
  return missing;
}

/** The code-server entry script, installing code-server first when the cache has none. */
export function ensureCodeServer() {
  if (existsSync(installedMarker) && existsSync(entry)) return entry;
  const missing = missingPrerequisites();
  if (missing.length > 0) {
    throw new Error(`Installing code-server ${codeServerVersion} needs ${missing.join(', ')}. Run (as root): ${aptHint}`);
  }
  const started = Date.now();
  console.log(`code-server: installing ${codeServerVersion} into ${installDir} (once; about a minute)`);
  rmSync(installDir, { recursive: true, force: true });
  mkdirSync(installDir, { recursive: true });
  writeFileSync(join(installDir, 'package.json'), JSON.stringify({ name: 'cloze-test-code-server', private: true }, null, 2));

  // @vscode/ripgrep 1.15.11 would download ripgrep from GitHub; it looks in this cache first.
  const seed = mkdtempSync(join(tmpdir(), 'rgseed-'));
  const rgCache = join(tmpdir(), 'vscode-ripgrep-cache-1.15.11');
  mkdirSync(rgCache, { recursive: true });
  copyFileSync('/usr/bin/rg', join(seed, 'rg'));
  execFileSync('tar', ['czf', join(rgCache, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz'), '-C', seed, 'rg']);
  rmSync(seed, { recursive: true, force: true });

  execFileSync('npm', ['install', `code-server@${codeServerVersion}`, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: installDir,
    stdio: 'inherit',
    env: {
      ...process.env,
      npm_config_unsafe_perm: 'true',
      npm_config_yes: 'true',
      npm_config_dangerously_allow_all_scripts: 'true',
    },
  });
  if (!existsSync(entry)) throw new Error(`code-server install finished but ${entry} is missing`);
  writeFileSync(installedMarker, `${new Date().toISOString()}\n`);
  console.log(`code-server: installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return entry;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Every descendant PID of `pid` (children first found through /proc, deepest last). */
function descendants(pid) {
  let out = '';
  try {
    out = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  } catch {
    return [];
  }
  const children = new Map();
  for (const line of out.trim().split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(child);
  }
  const result = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift();
    for (const child of children.get(next) ?? []) {
      result.push(child);
      queue.push(child);
    }
  }
  return result;
}

/**
 * Kills `pid` and every process below it. Extension hosts and language servers
 * are grandchildren of code-server and would otherwise outlive it; they are
 * collected before the first signal, because a child whose parent dies is
 * re-parented and no longer found under `pid`.
 */
export function killTree(pid) {
  if (!pid) return;
  const pids = [pid, ...descendants(pid)];
  for (const target of pids) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Polls `check` every `intervalMs` until it returns a truthy value or the deadline passes. */
export async function until(what, check, timeoutMs, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Starts code-server for `folder` with fresh state under `stateDir` and waits
 * for /healthz. Returns { url, port, child, log() }; stop it with killTree(child.pid).
 */
export async function startCodeServer({ stateDir, folder, env = {} }) {
  const codeServer = ensureCodeServer();
  const port = await freePort();
  for (const dir of ['user/User', 'ext', 'config', 'data']) mkdirSync(join(stateDir, dir), { recursive: true });
  // No welcome page or walkthrough tabs over the editors a test looks at.
  writeFileSync(
    join(stateDir, 'user', 'User', 'settings.json'),
    JSON.stringify({ 'workbench.startupEditor': 'none', 'workbench.welcomePage.walkthroughs.openOnInstall': false }, null, 2),
  );
  const child = spawn(
    process.execPath,
    [
      codeServer,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--user-data-dir',
      join(stateDir, 'user'),
      '--extensions-dir',
      join(stateDir, 'ext'),
      folder,
    ],
    {
      env: { ...process.env, XDG_CONFIG_HOME: join(stateDir, 'config'), XDG_DATA_HOME: join(stateDir, 'data'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  child.stdout.on('data', (chunk) => (log += chunk));
  child.stderr.on('data', (chunk) => (log += chunk));
  let exited = false;
  child.on('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  await until(
    'code-server /healthz',
    async () => {
      if (exited) throw new Error(`code-server exited:\n${log}`);
      try {
        return (await fetch(`${url}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    30_000,
  );
  return { url, port, child, log: () => log };
}

/** Installs a .vsix into the extensions folder code-server of `stateDir` uses. */
export function installExtension({ stateDir, vsix }) {
  const codeServer = ensureCodeServer();
  for (const dir of ['user', 'ext', 'config', 'data']) mkdirSync(join(stateDir, dir), { recursive: true });
  return execFileSync(
    process.execPath,
    [codeServer, '--user-data-dir', join(stateDir, 'user'), '--extensions-dir', join(stateDir, 'ext'), '--install-extension', vsix],
    { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: join(stateDir, 'config'), XDG_DATA_HOME: join(stateDir, 'data') } },
  );
}

/** Headless Debian Chromium through playwright-core, with a fresh profile in `profileDir`. */
export async function launchChromium(profileDir) {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing. Run (as root): ${aptHint}`);
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A workspace folder with a copy of examples/ and settings that point at local models only. */
export function makeWorkspace(dir, { repoRoot, modelsDir, extraFiles = {} }) {
  mkdirSync(join(dir, '.vscode'), { recursive: true });
  execFileSync('cp', ['-r', join(repoRoot, 'examples'), join(dir, 'examples')]);
  writeFileSync(
    join(dir, '.vscode', 'settings.json'),
    JSON.stringify(
      {
        'cloze.modelsDir': modelsDir,
        'cloze.allowRemoteModels': false,
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'security.workspace.trust.enabled': false,
        'extensions.ignoreRecommendations': true,
        'telemetry.telemetryLevel': 'off',
      },
      null,
      2,
    ),
  );
  for (const [name, text] of Object.entries(extraFiles)) writeFileSync(join(dir, name), text);
  return dir;
}

export function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * A run's state folder and its clean-up: close the browser, kill code-server's
 * whole process tree (extension hosts of closed windows otherwise live on) and
 * remove the folder — also when the run is interrupted. Set `session.codeServer`
 * and `session.browser` as they start; call `session.cleanUp()` at the end.
 */
export function testSession(prefix) {
  const session = {
    state: mkdtempSync(join(tmpdir(), prefix)),
    codeServer: undefined,
    browser: undefined,
    async cleanUp() {
      await session.browser?.close().catch(() => undefined);
      killTree(session.codeServer?.child.pid);
      rmSync(session.state, { recursive: true, force: true });
    },
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      void session.cleanUp().then(() => process.exit(130));
    });
  }
  return session;
}
