// `npm run bundle`: the bundles a packaged extension runs, with esbuild.
//
//   dist/extension.js  client/src/extension.ts   (VS Code loads it; 'vscode' is external)
//   dist/server.js     server/src/lsp/main.ts    (the language server, started by the client)
//   dist/worker.js     server/src/model/worker.ts (the inference process)
//
// server.js and worker.js sit in the same folder, so the server's
// `fork(path.join(__dirname, 'worker.js'))` finds the inference process's script in the bundle
// exactly as it does in server/out/model/ of a checkout.
//
// `onnxruntime-node` stays external (native .node files cannot be bundled) and
// is shipped in the .vsix's node_modules (see scripts/package.mjs). transformers.js
// is bundled; two of its load-time imports are replaced by stubs (scripts/stubs/):
// `sharp` (images only) and `onnxruntime-web` (browsers only).
import * as esbuild from 'esbuild';
import { rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const dist = join(root, 'dist');

const entryPoints = {
  extension: 'client/src/extension.ts',
  server: 'server/src/lsp/main.ts',
  worker: 'server/src/model/worker.ts',
};

rmSync(dist, { recursive: true, force: true });
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints,
  outdir: dist,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Maps stay beside the bundles for debugging; .vscodeignore keeps them out of the .vsix.
  sourcemap: 'linked',
  minify: true,
  // Readable names in stack traces of the language server's log.
  keepNames: true,
  external: ['vscode', 'onnxruntime-node'],
  alias: {
    sharp: './scripts/stubs/sharp.cjs',
    'onnxruntime-web': './scripts/stubs/onnxruntime-web.cjs',
  },
  // transformers.js is ESM and finds its own folder with import.meta.url, which
  // a CommonJS bundle does not have: give it the bundle's own file URL.
  banner: { js: "var __import_meta_url = require('url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__import_meta_url' },
  metafile: true,
  logLevel: 'warning',
});

for (const [file, output] of Object.entries(result.metafile.outputs)) {
  if (file.endsWith('.js')) console.log(`bundle: ${relative(root, resolve(root, file))} ${(output.bytes / 1024).toFixed(0)} KB`);
}
