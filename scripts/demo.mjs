// `npm run demo`: what Cloze does, on the files in examples/.
// 1. `cloze check` on the clean examples (no diagnostics) and on mistakes.cloze
//    (the errors Cloze catches before a training run would).
// 2. `cloze preview` of examples/sentiment.cloze with review-bert-small: what the
//    model puts at [MASK] for each example, and the label probabilities.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'server', 'out', 'cli', 'main.js');
const env = { ...process.env };
if (!env.CLOZE_MODELS_DIR && existsSync(resolve(root, '..', 'shared', 'models'))) {
  env.CLOZE_MODELS_DIR = resolve(root, '..', 'shared', 'models');
}

function run(title, args, expectedStatus) {
  console.log(`\n$ cloze ${args.join(' ')}    # ${title}`);
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: root, env, stdio: 'inherit' });
  if (result.status !== expectedStatus) {
    console.error(`demo: expected exit ${expectedStatus}, got ${result.status}`);
    process.exit(1);
  }
}

const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.cloze'));
const clean = examples.filter((f) => f !== 'mistakes.cloze').map((f) => `examples/${f}`);
run('the examples: no errors (a warning is not an error), exit 0', ['check', ...clean], 0);
run('a file with mistakes: exit 1', ['check', 'examples/mistakes.cloze'], 1);
if (existsSync(join(root, 'server', 'out', 'cli', 'preview.js'))) {
  run('what review-bert-small puts at [MASK]', ['preview', 'examples/sentiment.cloze', '--model', 'review-bert-small', '--offline'], 0);
}
