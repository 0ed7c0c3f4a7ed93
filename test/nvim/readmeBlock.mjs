// The editor setups of the README, as the real-editor runners use them: the
// code block after `<!-- test:NAME runs this block -->`, with only the paths a
// user fills in replaced. A runner that used its own copy would let the README
// drift from what is tested.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '..', '..');

/** The README's placeholder paths and what they become here. */
export function readmeBlock(name, { server, modelsDir }) {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const marker = `<!-- test:${name} runs this block -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no "${marker}"`);
  const fence = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!fence) throw new Error(`README.md has no code block after "${marker}"`);
  const block = fence[1];
  for (const placeholder of ['/path/to/cloze/server/out/lsp/main.js', '/path/to/models']) {
    if (!block.includes(placeholder)) throw new Error(`the README's ${name} setup does not name ${placeholder}`);
  }
  return block.replaceAll('/path/to/cloze/server/out/lsp/main.js', server).replaceAll('/path/to/models', modelsDir);
}

/** Lines an editor printed that are warnings or errors (the runners fail on any). */
export function complaints(output) {
  return output.split('\n').filter((line) => /warn|error|unsupported|deprecat/i.test(line) && !/^(ok|FAIL) /.test(line));
}
