// `cloze preview` as a user runs it: the built CLI in a child process, the models folder given by
// --models-dir, downloads off. The JSON has the shape of issue 3; the exit codes are 0 (previewed),
// 1 (nothing can be previewed) and 2 (bad usage).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { cliMain, fixturesDir, modelsDir } from '../support/paths';
import { runPreview, scratchCache, type Run } from '../support/previewCli';

const cacheDir = scratchCache('cloze-cli-cache-');
const preview = (...args: string[]): Promise<Run> => runPreview(cacheDir, ...args);

const fixture = (name: string): string => path.join(fixturesDir, 'preview', name);

/** Keys of an object, sorted, to compare shapes. */
const keys = (value: unknown): string[] => Object.keys(value as object).sort();

describe('cloze preview', () => {
  // Started together: the runs are independent and each spends most of its time loading.
  const json = preview(fixture('sentiment.cloze'), '--format', 'json', '--top-k', '3');
  const text = preview(fixture('sentiment.cloze'), '--calibrate');
  const noMask = preview(fixture('no-mask.cloze'), '--format', 'json');
  const badTopK = preview(fixture('sentiment.cloze'), '--top-k', 'many');

  test('--format json has the shape of issue 3', async () => {
    const run = await json;
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as Record<string, unknown> & {
      examples: Array<Record<string, unknown> & { results: Array<Record<string, unknown> & { labelWords: object[]; top: object[] }> }>;
    };
    assert.equal(result['model'], 'review-bert-small');
    assert.deepEqual(result['patterns'], ['short', 'pattern 2']);
    assert.deepEqual(result['labels'], ['positive', 'negative']);
    for (const key of ['examples', 'priors', 'contentFree', 'summary', 'excluded', 'skippedWords', 'calibrate', 'quantized'])
      assert.ok(key in result, key);
    assert.equal(result.examples.length, 3);
    const [first, , unlabelled] = result.examples;
    assert.equal(first['line'], 11);
    assert.equal(first['label'], 'positive');
    assert.equal(unlabelled['label'], null);
    assert.deepEqual(unlabelled['fields'], { review: 'The soundtrack had its moments.' });
    for (const key of ['line', 'label', 'fields', 'results', 'ensemble']) assert.ok(key in first, key);
    const [short] = first.results;
    for (const key of ['pattern', 'input', 'maskToken', 'labels', 'calibrated', 'labelWords', 'top']) assert.ok(key in short, key);
    assert.equal(short['input'], `${(first['fields'] as Record<string, string>)['review']} It was [MASK].`);
    assert.equal(short['maskToken'], '[MASK]');
    assert.deepEqual(keys(short['labels']), ['negative', 'positive']);
    assert.deepEqual(keys(short.labelWords[0]), ['label', 'p', 'rank', 'token', 'tokenId', 'word']);
    assert.equal(short.labelWords.length, 4);
    assert.equal(short.top.length, 3);
    assert.deepEqual(keys(short.top[0]), ['p', 'token', 'tokenId']);
    assert.ok((short['labels'] as Record<string, number>)['positive'] > 0.5);
  });

  test('the text table names the model, says it is calibrated and marks right and wrong', async () => {
    const run = await text;
    assert.equal(run.code, 0, run.stderr);
    const [header] = run.stdout.split('\n');
    assert.match(header, /review-bert-small/);
    assert.match(header, /calibrated/);
    assert.match(run.stdout, /line 11 {2}positive: a gorgeous/);
    assert.match(run.stdout, /ensemble +(positive|negative) +\d+\.\d% [✓✗]/);
    assert.match(run.stdout, /accuracy on 2 labelled examples/);
  });

  test('an example with an error (a label the verbalizer lacks, a field it does not give) is not scored, and the preview says why', async () => {
    const file = path.join(scratchCache('cloze-cli-undeclared-'), 'undeclared.cloze');
    fs.writeFileSync(
      file,
      'model: review-bert-small\npattern: {text} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\nexample neutral: meh\nexample positive: lovely\n',
    );
    const run = await runPreview(cacheDir, file);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /not previewed: the example on line 6: label `neutral` is not in the verbalizer/);
    assert.doesNotMatch(run.stdout, /line 6 {2}neutral: meh/);
    assert.match(run.stdout, /line 7 {2}positive: lovely/);
    assert.match(run.stdout, /accuracy on 1 labelled example:/);
    assert.match(run.stderr, /label-undeclared/);
    // Two patterns, one reading a field a one-line example does not give: before, the example was scored
    // with {other} left empty, at the prior's numbers, and counted in the accuracy.
    fs.writeFileSync(
      file,
      'model: review-bert-small\npattern a: {text} It was [MASK].\npattern b: {text} {other} was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\n' +
        'example positive: I loved this wonderful film.\nexample negative: The plot was dull and awful.\n',
    );
    const fields = await runPreview(cacheDir, file, '--format', 'json');
    const result = JSON.parse(fields.stdout) as { examples: unknown[]; excludedExamples: Array<{ line: number; message: string }> };
    assert.deepEqual(result.examples, []);
    assert.deepEqual(
      result.excludedExamples.map((e) => e.line),
      [7, 8],
    );
    assert.match(result.excludedExamples[0].message, /the patterns use the fields \{text\}, \{other\}/);
  });

  test('a file where no pattern has a mask exits 1 and says why', async () => {
    const run = await noMask;
    assert.equal(run.code, 1);
    // --format json: the reason as one JSON document on stdout, the same lines on stderr.
    assert.deepEqual(JSON.parse(run.stdout), { ok: false, exitCode: 1, messages: run.stderr.split('\n').filter((line) => line !== '') });
    assert.match(run.stderr, /mask-missing/);
    assert.match(run.stderr, /cannot be previewed/);
  });

  test("an example or data row whose text holds the model's mask token is not scored (it would be read at the text's mask)", async () => {
    const dir = fs.mkdtempSync(path.join(cacheDir, 'several-masks-'));
    for (const [model, mask] of [
      ['tiny-random-bert-uncased', '[MASK]'],
      ['tiny-random-roberta', '<mask>'],
    ]) {
      const file = path.join(dir, `${model}.cloze`);
      fs.writeFileSync(
        path.join(dir, 'rows.jsonl'),
        `${JSON.stringify({ x: `fun ${mask} film`, label: 'pos' })}\n${JSON.stringify({ x: 'fine', label: 'pos' })}\n`,
      );
      fs.writeFileSync(
        file,
        `model: ${model}\npattern: {x} It was [MASK].\nverbalizer:\n  pos: great\n  neg: bad\nexample pos: fun ${mask} film\nexample neg: dull\n`,
      );
      const run = await preview(file, '--format', 'json');
      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout) as {
        examples: Array<{ results: Array<{ maskFound: boolean; severalMasks?: boolean; prediction: string | null }> }>;
      };
      assert.deepEqual(result.examples[0].results[0], {
        ...result.examples[0].results[0],
        maskFound: false,
        severalMasks: true,
        prediction: null,
      });
      assert.equal(result.examples[1].results[0].maskFound, true, model);
      const text = await preview(file);
      assert.match(text.stdout, new RegExp(`not scored: the text holds ${mask.replace(/[[\]]/g, '\\$&')}, ${model}'s mask token`));
      const evaluated = await new Promise<{ stdout: string }>((resolve) =>
        execFile(
          process.execPath,
          [cliMain, 'eval', file, '--data', path.join(dir, 'rows.jsonl'), '--models-dir', modelsDir(), '--offline', '--format', 'json'],
          (_, stdout) => resolve({ stdout }),
        ),
      );
      const report = JSON.parse(evaluated.stdout) as { unscored: Record<string, { severalMasks: number; maskCutOff: number }> };
      assert.deepEqual(report.unscored['pattern 1'], { maskCutOff: 0, nonFinite: 0, severalMasks: 1 }, model);
    }
  });

  test('a label word skipped in some patterns only (its mask context splits it) is said with those patterns', async () => {
    const dir = fs.mkdtempSync(path.join(cacheDir, 'skipped-'));
    const file = path.join(dir, 'contexts.cloze');
    // RoBERTa splits `terrible` at the start of the input (`[MASK]!`), not after a space (`It was [MASK].`).
    fs.writeFileSync(
      file,
      'model: tiny-random-roberta\npattern lead: [MASK]! {text}\npattern short: {text} It was [MASK].\n' +
        'verbalizer:\n  positive: great\n  negative: terrible, bad\nexample negative: Dull.\n',
    );
    const [run, json] = await Promise.all([preview(file), preview(file, '--format', 'json')]);
    assert.equal(run.code, 0, run.stderr);
    const { skippedWords } = JSON.parse(json.stdout) as { skippedWords: Array<{ word: string; patterns: string[] }> };
    assert.deepEqual(
      skippedWords.map((s) => [s.word, s.patterns]),
      [['terrible', ['lead']]],
    );
    assert.match(run.stdout, /^skipped label word `terrible` \(negative\) in pattern lead: it is not one token: terrible → /m);
  });

  test('a bad --top-k is a usage error (exit 2)', async () => {
    const run = await badTopK;
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--top-k/);
  });

  test('an unreadable model is exit 1 with model-unavailable', async () => {
    const file = path.join(cacheDir, 'missing-model.cloze');
    fs.writeFileSync(
      file,
      'model: no-such-model\npattern: {text} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\nexample positive: Fine.\n',
    );
    const run = await preview(file);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /model-unavailable/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
});
