// `node scripts/smoke-server.mjs SERVER_JS [FILE.cloze]`: starts a language
// server module over stdio (e.g. the dist/server.js of an unpacked .vsix, far
// from this checkout's node_modules), opens a .cloze file and waits for the
// tokenizer diagnostic `label-word-multi-token`, which needs transformers.js and
// onnxruntime-node to load from wherever the server module finds them.
// Exit 0 when it arrives within the deadline, 1 otherwise.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createProtocolConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver-protocol/node.js';

const root = resolve(import.meta.dirname, '..');
const [serverArg, fileArg] = process.argv.slice(2);
if (!serverArg) {
  console.error('usage: node scripts/smoke-server.mjs SERVER_JS [FILE.cloze]');
  process.exit(2);
}
const serverJs = resolve(serverArg);
const file = resolve(fileArg ?? resolve(root, 'examples', 'mistakes.cloze'));
const modelsDir = process.env.CLOZE_MODELS_DIR ?? resolve(root, '..', 'shared', 'models');
// The check needs a real tokenizer: without the models folder it could only time out, naming no cause.
if (!existsSync(modelsDir)) {
  console.error(
    `smoke: no models folder at ${modelsDir}: set CLOZE_MODELS_DIR to ../shared/models, or put this checkout beside ../shared.`,
  );
  process.exit(1);
}
const settings = { modelsDir, allowRemoteModels: false };
const deadlineMs = 30_000;

const child = spawn(process.execPath, [serverJs, '--stdio'], { cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
let stderr = '';
child.stderr.on('data', (chunk) => (stderr += chunk));
const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
const uri = pathToFileURL(file).href;

const found = new Promise((resolveFound) => {
  connection.onNotification('textDocument/publishDiagnostics', (params) => {
    if (params.uri !== uri) return;
    const codes = params.diagnostics.map((d) => d.code);
    if (codes.includes('label-word-multi-token')) resolveFound(codes);
  });
});
connection.onRequest('workspace/configuration', (params) => params.items.map(() => settings));
connection.onRequest('window/workDoneProgress/create', () => null);
connection.listen();

let timer;
const deadline = new Promise((_, reject) => {
  timer = setTimeout(() => reject(new Error(`no label-word-multi-token diagnostic within ${deadlineMs} ms`)), deadlineMs);
  child.on('exit', (code) => reject(new Error(`the server exited with code ${code}`)));
});
let status = 0;
try {
  await Promise.race([
    (async () => {
      await connection.sendRequest('initialize', {
        processId: process.pid,
        rootUri: null,
        capabilities: { workspace: { configuration: true }, window: { workDoneProgress: true } },
        initializationOptions: { settings },
      });
      connection.sendNotification('initialized', {});
      connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri, languageId: 'cloze', version: 1, text: readFileSync(file, 'utf8') },
      });
    })(),
    deadline,
  ]);
  const codes = await Promise.race([found, deadline]);
  console.log(`smoke: ${serverJs} published ${codes.length} diagnostics: ${[...new Set(codes)].join(', ')}`);
} catch (error) {
  console.error(`smoke: ${serverJs}: ${error.message}\nserver stderr:\n${stderr}`);
  status = 1;
} finally {
  clearTimeout(timer);
  child.kill();
}
process.exit(status);
