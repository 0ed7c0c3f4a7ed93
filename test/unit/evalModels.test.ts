// `cloze eval` with several models (issue 13, items 2 and 4), as a CI runs it: the built CLI in a
// child process, three tokenizer families from ../shared/models (review-bert-small's BERT WordPiece,
// RoBERTa's byte-level BPE, ALBERT's SentencePiece) through the real loading code. Each model's
// figures in the several-model run must be exactly those of a single-model `cloze eval` of that
// model (the same evaluation path), and the gate must fail for exactly the models below it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { parseStringPromise } from 'xml2js';
import { cliMain, fixturesDir, modelsDir, repoRoot } from '../support/paths';
import type { Run } from '../support/previewCli';

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-eval-models-cache-'));

/** `cloze eval …` as a user runs it: the built CLI, the shared models, downloads off. */
function evaluate(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliMain, 'eval', ...args, '--models-dir', modelsDir(), '--offline'],
      { cwd: repoRoot, env: { ...process.env, CLOZE_CACHE_DIR: cacheDir } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** review-bert-small (the file's `model:`) and the two of its `models:` line; data: 24 labelled reviews. */
const file = path.join(fixturesDir, 'eval', 'three-models.cloze');
const THREE = ['review-bert-small', 'tiny-random-roberta', 'tiny-random-albert-xenova'];

interface FigureSet {
  name: string;
  kind: string;
  raw: { accuracy: number; macroF1: number };
}
interface Evaluation {
  model: string;
  evaluated: number;
  figures: FigureSet[];
  errors?: Array<{ label: string; predicted: string }>;
  engine: { file: string; graph: string; precision: string };
  gate?: { passed: boolean; checks: Array<{ target: string; accuracy: number; passed: boolean }> };
  file?: string;
}
interface Several {
  file: string;
  models: string[];
  evaluations: Evaluation[];
  unavailable: Array<{ model: string; message: string }>;
  gate?: { minAccuracy: number; passed: boolean; failed: string[] };
}

describe('cloze eval with several models', () => {
  test("the file's models: line: each model's figures equal its own single-model cloze eval, with --errors per model", async () => {
    const [several, ...singles] = await Promise.all([
      evaluate(file, '--errors', '3', '--format', 'json'),
      ...THREE.map((id) => evaluate(file, '--model', id, '--errors', '3', '--format', 'json')),
    ]);
    assert.equal(several.code, 0, several.stderr);
    const result = JSON.parse(several.stdout) as Several;
    assert.deepEqual(Object.keys(result), ['file', 'models', 'evaluations', 'unavailable', 'notEvaluated']);
    assert.deepEqual(result.models, THREE);
    assert.deepEqual(
      result.evaluations.map((e) => e.model),
      THREE,
    );
    assert.deepEqual(result.unavailable, []);
    singles.forEach((single, i) => {
      assert.equal(single.code, 0, single.stderr);
      // One model keeps the single-model shape: the evaluation itself, with its file.
      const alone = JSON.parse(single.stdout) as Evaluation & { evaluations?: unknown };
      assert.equal(alone.evaluations, undefined);
      assert.equal(alone.file, file);
      delete alone.file;
      assert.deepEqual(result.evaluations[i], alone, `${THREE[i]} differs from its own cloze eval`);
      assert.equal(result.evaluations[i].engine.file, 'onnx/model_quantized.onnx');
      assert.equal(result.evaluations[i].evaluated, 24);
      assert.ok((result.evaluations[i].errors?.length ?? 0) <= 3);
    });
    // Three families really give three different evaluations: review-bert-small reads reviews, the random ones do not.
    const ensemble = (e: Evaluation): number => e.figures.find((f) => f.kind === 'ensemble')!.raw.accuracy;
    assert.ok(ensemble(result.evaluations[0]) >= 0.9, String(ensemble(result.evaluations[0])));
    assert.ok(result.evaluations.slice(1).every((e) => ensemble(e) < 0.75));
  });

  test('the gate applies to every model: exit 1 and the message name exactly the models below it', async () => {
    const [gated, passing] = await Promise.all([
      evaluate(file, '--min-accuracy', '60%', '--gate', 'short', '--format', 'json'),
      evaluate(file, '--min-accuracy', '0', '--gate', 'all'),
    ]);
    assert.equal(gated.code, 1, gated.stderr);
    const result = JSON.parse(gated.stdout) as Several;
    // The models whose `short` accuracy is below 60 %, from their own figures.
    const below = result.evaluations
      .filter((e) => e.figures.find((f) => f.kind === 'pattern' && f.name === 'short')!.raw.accuracy < 0.6)
      .map((e) => e.model);
    assert.ok(below.length > 0 && below.length < 3, `the fixture should split the models: ${below.join(', ')}`);
    assert.deepEqual(result.gate?.failed, below);
    assert.equal(result.gate?.passed, false);
    for (const e of result.evaluations) assert.equal(e.gate?.passed, !below.includes(e.model), e.model);
    assert.match(gated.stderr, new RegExp(`the gate failed for ${below.join(', ')} \\(${below.length} of the 3 models evaluated\\)`));
    for (const id of THREE) {
      assert.equal(gated.stderr.includes(`cloze eval: ${id}: short accuracy`), below.includes(id), gated.stderr);
    }

    assert.equal(passing.code, 0, passing.stderr);
    // The text: a table per model, then the side-by-side summary with each model's gate.
    const tables = passing.stdout.split('\n').filter((line) => line.startsWith('model '));
    assert.deepEqual(
      tables.map((line) => line.split(' ')[1]),
      THREE,
    );
    const side = passing.stdout.slice(passing.stdout.indexOf('side by side: accuracy · macro-F1 on the same 24 rows'));
    assert.ok(side.length > 0, passing.stdout);
    const header = side.split('\n')[1];
    const columns = THREE.map((id) => header.indexOf(id));
    assert.ok(
      columns.every((c, i) => c > 0 && (i === 0 || c > columns[i - 1])),
      header,
    );
    assert.match(side, /\n {2}ensemble +\d+\.\d% · \d\.\d{3} +\d+\.\d% · \d\.\d{3} +\d+\.\d% · \d\.\d{3}\n/);
    assert.match(side, /\n {2}gate ≥ 0\.0% +passed +passed +passed\n/);
  });

  test('--format junit: one test suite per model, test cases named with the model, failures where its gate failed', async () => {
    const [run, jsonRun] = await Promise.all([
      evaluate(file, '--min-accuracy', '60%', '--gate', 'short', '--format', 'junit'),
      evaluate(file, '--min-accuracy', '60%', '--gate', 'short', '--format', 'json'),
    ]);
    assert.equal(run.code, 1, run.stderr);
    const parsed = (await parseStringPromise(run.stdout)) as {
      testsuites: {
        $: Record<string, string>;
        testsuite: Array<{ $: Record<string, string>; testcase: Array<{ $: Record<string, string>; failure?: unknown[] }> }>;
      };
    };
    const suites = parsed.testsuites.testsuite;
    assert.deepEqual(
      suites.map((s) => s.$['name']),
      THREE.map((id) => `cloze eval three-models.cloze · ${id}`),
    );
    suites.forEach((suite, i) => {
      assert.equal(suite.$['tests'], '4'); // short, lead, ensemble, weighted ensemble
      for (const c of suite.testcase) assert.ok(c.$['name'].includes(`(${THREE[i]})`), c.$['name']);
    });
    const failed = suites.flatMap((s) => s.testcase.filter((c) => c.failure !== undefined).map((c) => c.$['name']));
    const json = JSON.parse(jsonRun.stdout) as Several;
    assert.deepEqual(
      failed,
      (json.gate?.failed ?? []).map((id) => `short (${id}): accuracy at least 60.0%`),
    );
    assert.equal(parsed.testsuites.$['failures'], String(failed.length));
    assert.equal(parsed.testsuites.$['tests'], '12');
  });

  test('a model that cannot be loaded: named with the flag to set, no stack trace, exit 1; the others are still evaluated', async () => {
    const [text, junit, json, single] = await Promise.all([
      evaluate(file, '--model', 'tiny-random-roberta', '--model', 'no-such-model'),
      evaluate(file, '--model', 'tiny-random-roberta', '--model', 'no-such-model', '--format', 'junit'),
      evaluate(file, '--model', 'no-such-model', '--model', 'tiny-random-roberta', '--min-accuracy', '0', '--format', 'json'),
      evaluate(file, '--model', 'no-such-model'),
    ]);
    // One model alone: the same exit code, and where models are looked for.
    assert.equal(single.code, 1);
    assert.match(single.stderr, /model-unavailable Model no-such-model is unavailable/);
    assert.match(single.stderr, /cloze eval: models are looked for in --models-dir or CLOZE_MODELS_DIR \(now .+\)/);
    assert.doesNotMatch(single.stderr, /\n\s+at /);
    assert.equal(single.stdout, '');
    assert.equal(text.code, 1);
    assert.match(text.stderr, /model-unavailable Model no-such-model is unavailable/);
    assert.match(
      text.stderr,
      /cloze eval: no-such-model could not be evaluated \(the other models were\); models are looked for in --models-dir or CLOZE_MODELS_DIR/,
    );
    assert.doesNotMatch(text.stderr, /\n\s+at /);
    assert.match(text.stdout, /^model tiny-random-roberta /);
    assert.match(text.stdout, /not evaluated \(could not be loaded or scored\): no-such-model/);
    assert.equal(junit.code, 1);
    const parsed = (await parseStringPromise(junit.stdout)) as {
      testsuites: { $: Record<string, string>; testsuite: Array<{ $: Record<string, string>; testcase: Array<{ error?: unknown[] }> }> };
    };
    assert.equal(parsed.testsuites.$['errors'], '1');
    const missing = parsed.testsuites.testsuite.find((s) => s.$['name'].endsWith('· no-such-model'));
    assert.ok(missing?.testcase[0].error, junit.stdout);
    assert.match(junit.stdout, /<error message="Model no-such-model is unavailable \(chosen by --model\): /);
    // JSON: the reason per model; the gate did not pass although every evaluated model did.
    assert.equal(json.code, 1, json.stderr);
    const result = JSON.parse(json.stdout) as Omit<Several, 'unavailable'> & { unavailable: Array<{ model: string; message: string }> };
    assert.deepEqual(result.models, ['tiny-random-roberta']);
    assert.deepEqual(
      result.unavailable.map((u) => u.model),
      ['no-such-model'],
    );
    assert.match(result.unavailable[0].message, /^Model no-such-model is unavailable/);
    assert.deepEqual(result.gate?.failed, []);
    assert.equal(result.gate?.passed, false);
  });

  test('a file that cannot be evaluated with any model (no verbalizer) is said once, not blamed on each model', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-eval-models-'));
    const broken = path.join(dir, 'no-verbalizer.cloze');
    fs.writeFileSync(broken, 'model: review-bert-small\nmodels: tiny-random-roberta\npattern: {review} It was [MASK].\n');
    const run = await evaluate(broken, '--data', path.join(fixturesDir, 'eval', 'reviews-24.jsonl'));
    assert.equal(run.code, 1);
    assert.equal(run.stderr.match(/verbalizer-missing/g)?.length, 1, run.stderr);
    assert.doesNotMatch(run.stderr, /could not be evaluated/);
  });

  test('side by side: models that left out rows (their own mask token in the text) are not said to be on the same rows', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-eval-models-'));
    const data = path.join(dir, 'rows.jsonl');
    // One row RoBERTa cannot score (`<mask>` is its mask token), one BERT cannot (`[MASK]`): 21 rows each, not the same 21.
    const rows = [
      ...fs
        .readFileSync(path.join(path.dirname(modelsDir()), 'data', 'sst2-dev.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(0, 20),
      JSON.stringify({ text: 'the <mask> was great fun', label: 'positive' }),
      JSON.stringify({ text: 'a [MASK] of a movie, dull', label: 'negative' }),
    ];
    fs.writeFileSync(data, rows.join('\n'));
    const two = path.join(dir, 'two.cloze');
    fs.writeFileSync(
      two,
      'model: review-bert-small\nmodels: review-bert-small, tiny-random-roberta\npattern short: {text} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\n',
    );
    const run = await evaluate(two, '--data', data);
    assert.equal(run.code, 0, run.stderr);
    const side = run.stdout.slice(run.stdout.indexOf('side by side:'));
    assert.doesNotMatch(side, /the same/);
    assert.match(side, /^side by side: accuracy · macro-F1 on the rows each model scored, of 22 /);
    assert.match(
      side,
      /\nrows each model scored, of 22:\n {2}review-bert-small +short 21 \(left out: 1 whose text holds its mask token\)\n/,
    );
    assert.match(side, /\n {2}tiny-random-roberta +short 21 \(left out: 1 whose text holds its mask token\)\n/);
  });
});
