// `npm run package`: cloze-<version>.vsix for linux-x64, offline.
// `npm run package -- --target darwin-arm64`: cloze-<version>-darwin-arm64.vsix
// (any of linux-x64, linux-arm64, darwin-x64, darwin-arm64, win32-x64, win32-arm64).
//
// A .vsix holds the onnxruntime binaries of one platform (3.5–6.5 MB zipped
// each; all six would make it ~31 MB), and is marked with vsce's --target so
// VS Code on another platform refuses to install it instead of installing an
// extension that cannot load a model.
//
// 1. esbuild bundles client, server and worker into dist/ (scripts/bundle.mjs).
// 2. A staging folder (a fresh temporary directory) gets what the packaged
//    extension runs: a copy of package.json whose `main` is ./dist/extension.js
//    and whose only dependency is onnxruntime-node, the grammar, dist/*.js,
//    the icon, snippets and walkthrough, and the native packages that cannot
//    be bundled (onnxruntime-node and what it requires) from node_modules.
//    The Extensions page shows the users' README (docs/marketplace/README.md,
//    staged as README.md with its image links made relative to the .vsix's
//    root) and CHANGELOG.md, not the developers' README of this repository.
//    The checkout keeps `main: ./client/out/extension.js`, so F5 and the
//    extension-host tests run the tsc output without bundling first.
// 3. vsce packages the staging folder; it lists the dependencies with
//    `npm list --production` and filters every file through .vscodeignore.
// 4. The .vsix is unpacked into another temporary folder and its dist/server.js
//    must publish a tokenizer diagnostic (scripts/smoke-server.mjs): that proves
//    the bundle finds transformers.js and onnxruntime-node without this checkout.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '..');
const started = Date.now();
const targets = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-arm64'];
const { values: options } = parseArgs({ options: { target: { type: 'string', default: 'linux-x64' } } });
if (!targets.includes(options.target)) {
  console.error(`package: --target must be one of ${targets.join(', ')}`);
  process.exit(2);
}
const [targetOs, targetArch] = options.target.split('-');
const isDefaultTarget = options.target === 'linux-x64';
const run = (command, args, options = {}) => execFileSync(command, args, { stdio: 'inherit', ...options });

/** Packages the bundles require at run time; they ship in the .vsix's node_modules. */
const nativeExternals = ['onnxruntime-node'];

run(process.execPath, [join(root, 'scripts', 'bundle.mjs')]);

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const vsix = join(root, `${manifest.name}-${manifest.version}${isDefaultTarget ? '' : `-${options.target}`}.vsix`);
const stage = mkdtempSync(join(tmpdir(), 'cloze-vsix-stage-'));
const unpacked = mkdtempSync(join(tmpdir(), 'cloze-vsix-check-'));
try {
  for (const file of ['LICENSE', 'CHANGELOG.md', 'language-configuration.json', 'syntaxes', 'dist', 'images', 'snippets', 'walkthrough']) {
    cpSync(join(root, file), join(stage, file), { recursive: true });
  }
  const userReadme = readFileSync(join(root, 'docs', 'marketplace', 'README.md'), 'utf8');
  writeFileSync(join(stage, 'README.md'), userReadme.replaceAll('](../../images/', '](images/'));
  // .vscodeignore names the linux-x64 binaries; another target gets its own.
  const ignore = readFileSync(join(root, '.vscodeignore'), 'utf8');
  const binaries = '/bin/napi-v3/linux/x64/';
  if (!ignore.includes(binaries)) throw new Error(`.vscodeignore no longer lets in onnxruntime-node${binaries}*`);
  writeFileSync(join(stage, '.vscodeignore'), ignore.replace(binaries, `/bin/napi-v3/${targetOs}/${targetArch}/`));

  // The native packages and, recursively, the packages they require.
  const installedVersion = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  const copied = new Set();
  const copyPackage = (name) => {
    if (copied.has(name)) return;
    copied.add(name);
    const source = join(root, 'node_modules', name);
    mkdirSync(dirname(join(stage, 'node_modules', name)), { recursive: true });
    cpSync(source, join(stage, 'node_modules', name), { recursive: true });
    const { dependencies = {} } = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'));
    Object.keys(dependencies).forEach(copyPackage);
  };
  nativeExternals.forEach(copyPackage);

  const packaged = { ...manifest, main: './dist/extension.js' };
  packaged.dependencies = Object.fromEntries(nativeExternals.map((name) => [name, installedVersion(name)]));
  for (const key of ['bin', 'scripts', 'devDependencies', 'overrides']) delete packaged[key];
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(packaged, null, 2)}\n`);

  rmSync(vsix, { force: true });
  run(
    process.execPath,
    [
      join(root, 'node_modules', '@vscode', 'vsce', 'vsce'),
      'package',
      '--out',
      vsix,
      '--target',
      options.target,
      // The users' README links only to images inside the .vsix: keep those relative.
      '--no-rewrite-relative-links',
    ],
    { cwd: stage },
  );

  if (options.target === `${process.platform}-${process.arch}`) {
    run('unzip', ['-q', vsix, '-d', unpacked]);
    run(process.execPath, [join(root, 'scripts', 'smoke-server.mjs'), join(unpacked, 'extension', 'dist', 'server.js')]);
  } else {
    console.log(`package: not started here (this machine is ${process.platform}-${process.arch})`);
  }
} finally {
  rmSync(stage, { recursive: true, force: true });
  rmSync(unpacked, { recursive: true, force: true });
}
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
console.log(`package: ${vsix} ${mb(statSync(vsix).size)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
