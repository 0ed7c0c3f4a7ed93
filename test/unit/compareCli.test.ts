// `cloze preview` with several models (issue 13, item 4), as a user runs it: the built CLI in a
// child process over three tokenizer families from ../shared/models. Each model's numbers in the
// comparison must be exactly those of a single-model preview of that model (the same path the
// lenses use), and the text puts the models side by side.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixturesDir } from '../support/paths';
import { runPreview, scratchCache, type Run } from '../support/previewCli';

const cacheDir = scratchCache('cloze-compare-cache-');
const preview = (...args: string[]): Promise<Run> => runPreview(cacheDir, ...args);

const file = path.join(fixturesDir, 'models', 'three-families.cloze');
const THREE = ['tiny-random-bert-uncased', 'tiny-random-roberta', 'tiny-random-albert-xenova'];

interface Preview {
  model: string;
  examples: Array<{ prediction: string | null; results: Array<{ pattern: string; labels: Record<string, number>; prediction: string }> }>;
  summary: unknown;
}

describe('cloze preview with several models', () => {
  test('--model a --model b --model c: JSON with each model’s preview, equal to its single preview', async () => {
    const [compared, ...singles] = await Promise.all([
      preview(file, ...THREE.flatMap((id) => ['--model', id]), '--format', 'json'),
      ...THREE.map((id) => preview(file, '--model', id, '--format', 'json')),
    ]);
    assert.equal(compared.code, 0, compared.stderr);
    const result = JSON.parse(compared.stdout) as { file: string; models: string[]; previews: Preview[] };
    assert.deepEqual(result.models, THREE);
    assert.equal(result.previews.length, 3);
    singles.forEach((single, i) => {
      assert.equal(single.code, 0, single.stderr);
      const alone = JSON.parse(single.stdout) as Preview & { file?: string };
      delete alone.file;
      assert.deepEqual(result.previews[i], alone, `${THREE[i]} differs from its own preview`);
    });
    // Three families really give three different distributions.
    const first = result.previews.map((p) => p.examples[0].results[0].labels['positive']);
    assert.equal(new Set(first).size, 3, String(first));
  });

  test('a file with a models: line is compared without --model; the text is a column per model', async () => {
    const [text, json] = await Promise.all([preview(file), preview(file, '--format', 'json')]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    assert.match(lines[0], /^models tiny-random-bert-uncased · tiny-random-roberta · tiny-random-albert-xenova · /);
    const header = lines.find((line) => line.trimStart().startsWith('pattern'))!;
    const columns = THREE.map((id) => header.indexOf(id));
    assert.ok(
      columns.every((c, i) => c > 0 && (i === 0 || c > columns[i - 1])),
      header,
    );
    // Each row's cells start under their model's name and hold that model's prediction.
    const { previews } = JSON.parse(json.stdout) as { previews: Preview[] };
    const short = lines.find((line) => line.trimStart().startsWith('short'))!;
    previews.forEach((p, i) => {
      const cell = short.slice(columns[i]).split(/\s+/)[0];
      assert.equal(cell, p.examples[0].results[0].prediction, short);
    });
    assert.ok(
      lines.some((line) => line.startsWith('  tiny-random-roberta (2 examples): short ')),
      text.stdout,
    );
    // One --model: the single preview of that model, as before.
    const single = await preview(file, '--model', 'tiny-random-roberta');
    assert.match(single.stdout.split('\n')[0], /^model tiny-random-roberta \(/);
  });

  test('a model that cannot be loaded fails the run (exit 1) but the others are still shown', async () => {
    const run = await preview(file, '--model', 'tiny-random-roberta', '--model', 'no-such-model');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /model-unavailable Model no-such-model is unavailable/);
    assert.match(run.stdout, /tiny-random-roberta/);
  });

  test('--format json lists a model that cannot be loaded under `unavailable`, with why, as cloze eval does', async () => {
    const [some, none] = await Promise.all([
      preview(file, '--model', 'tiny-random-roberta', '--model', 'no-such-model', '--format', 'json'),
      preview(file, '--model', 'no-such-model', '--model', 'no-other-model', '--format', 'json'),
    ]);
    assert.equal(some.code, 1);
    const result = JSON.parse(some.stdout) as {
      models: string[];
      previews: Preview[];
      unavailable: Array<{ model: string; message: string }>;
    };
    assert.deepEqual(result.models, ['tiny-random-roberta']);
    assert.equal(result.previews.length, 1);
    assert.deepEqual(
      result.unavailable.map((u) => u.model),
      ['no-such-model'],
    );
    assert.match(result.unavailable[0].message, /^Model no-such-model is unavailable/);
    // No model loaded: still one JSON document naming each model and why.
    assert.equal(none.code, 1);
    const empty = JSON.parse(none.stdout) as { file: string; models: string[]; previews: Preview[]; unavailable: Array<{ model: string }> };
    assert.equal(empty.file, file);
    assert.deepEqual(empty.models, []);
    assert.deepEqual(empty.previews, []);
    assert.deepEqual(
      empty.unavailable.map((u) => u.model),
      ['no-such-model', 'no-other-model'],
    );
  });

  test('a label word one model skips in some patterns only is said with the model and those patterns', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-compare-'));
    const contexts = path.join(dir, 'contexts.cloze');
    // RoBERTa splits `terrible` at the start of the input (`[MASK]!`), not after a space; BERT reads it whole.
    fs.writeFileSync(
      contexts,
      'model: tiny-random-bert-uncased\nmodels: tiny-random-roberta\npattern lead: [MASK]! {text}\npattern short: {text} It was [MASK].\n' +
        'verbalizer:\n  positive: great\n  negative: terrible, bad\nexample negative: Dull.\n',
    );
    const run = await preview(contexts);
    assert.equal(run.code, 0, run.stderr);
    const skipped = run.stdout.split('\n').filter((line) => line.includes('skipped label word'));
    assert.deepEqual(
      skipped.map((line) => line.replace(/: it .*/, '')),
      ['tiny-random-roberta: skipped label word `terrible` (negative) in pattern lead'],
    );
  });

  test('a file that cannot be previewed with any model (no verbalizer) is said once, not once per model', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-compare-'));
    const broken = path.join(dir, 'no-verbalizer.cloze');
    fs.writeFileSync(broken, 'model: tiny-random-bert-uncased\nmodels: tiny-random-roberta\npattern: {review} It was [MASK].\n');
    const run = await preview(broken);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.match(/verbalizer-missing/g)?.length, 1, run.stderr);
    assert.equal(run.stderr.match(/cannot be previewed/g)?.length, 1, run.stderr);
  });
});
