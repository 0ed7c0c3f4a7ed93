// `npm run test:vscode`: the mocha suite of test/vscode/suite inside VS Code's
// real extension host (code-server 4.100.3, see scripts/code-server.mjs),
// driven by headless Chromium. The extension under test is this checkout
// (client/out + server/out, so `npm run build` runs first).
//
// The workbench runs the tests because the page URL carries the
// extensionDevelopmentPath/extensionTestsPath payload; it reports through
// window.codeAutomationLog (the mocha output) and window.codeAutomationExit
// (the exit code), which this script exposes to the page. Everything it starts
// is stopped by PID, with its whole process tree, when it ends.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { format } from 'node:util';
import { launchChromium, makeWorkspace, startCodeServer, testSession } from '../../scripts/code-server.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const modelsDir = resolve(process.env.CLOZE_MODELS_DIR ?? join(root, '..', 'shared', 'models'));
const timeoutMs = Number(process.env.CLOZE_VSCODE_TEST_TIMEOUT_MS ?? 300_000);
const started = Date.now();

execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'test', 'vscode')], {
  stdio: 'inherit',
});

const session = testSession('cloze-vscode-test-');
const { state } = session;

let status = 1;
const log = [];
try {
  const workspace = makeWorkspace(join(state, 'workspace'), { repoRoot: root, modelsDir });
  const codeServer = (session.codeServer = await startCodeServer({
    stateDir: join(state, 'code-server'),
    folder: workspace,
    env: { CLOZE_MODELS_DIR: modelsDir },
  }));
  const authority = `127.0.0.1:${codeServer.port}`;
  const payload = [
    ['extensionDevelopmentPath', `vscode-remote://${authority}${root}`],
    ['extensionTestsPath', `vscode-remote://${authority}${join(root, 'test', 'vscode', 'out', 'index.js')}`],
    ['skipWelcome', 'true'],
  ];
  const url = `${codeServer.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;

  const browser = (session.browser = await launchChromium(join(state, 'chromium')));
  const page = browser.pages()[0] ?? (await browser.newPage());
  let exit;
  const exited = new Promise((resolveExit) => (exit = resolveExit));
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    // The extension host's console calls arrive as printf-style argument lists.
    const text = format(...(Array.isArray(args) ? args : [args]));
    log.push(text);
    // The workbench cannot reach the extension gallery offline; that is not news.
    if (text.includes('ENOTFOUND open-vsx.org')) return;
    process.stdout.write(`${text}\n`);
  });
  await page.exposeFunction('codeAutomationExit', (code) => exit(code));
  await page.goto(url);

  let timer;
  const timeout = new Promise((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout('timeout'), timeoutMs);
  });
  const code = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  if (code === 'timeout') {
    console.error(`test:vscode: no result from the extension host within ${timeoutMs} ms`);
    await page.screenshot({ path: join(root, 'test', 'artifacts', 'vscode-timeout.png') }).catch(() => undefined);
    console.error(codeServer.log());
  } else {
    status = Number(code);
  }
} catch (error) {
  console.error(`test:vscode: ${error instanceof Error ? error.stack : error}`);
  if (session.codeServer) console.error(session.codeServer.log());
} finally {
  await session.cleanUp();
}

const text = log.join('\n');
const passing = /(\d+) passing/.exec(text)?.[1] ?? '0';
const failing = /(\d+) failing/.exec(text)?.[1] ?? '0';
console.log(`test:vscode: ${passing} passing, ${failing} failing, exit ${status}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(status === 0 && failing === '0' && passing !== '0' ? 0 : 1);
