import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

import * as path from 'node:path';
import { describe, test } from 'node:test';
import { parseStringPromise } from 'xml2js';
import { escapeXmlAttribute, escapeXmlText, junitXml } from '../../server/src/cli/junit';
import { parse } from '../../server/src/language/parse';
import { classificationFigures, swapLabelWords, weightedEnsemble, supportPrior, calibrate } from '../../server/src/language/scores';
import { createService } from '../../server/src/cli/check';
import { MaskedLmEngine } from '../../server/src/model/engine';
import { evaluate, evaluationRows } from '../../server/src/service/evaluate';
import { computePreview } from '../../server/src/service/preview';
import { readSettings } from '../../server/src/protocol/settings';
import { cliMain, fixturesDir, modelsDir } from '../support/paths';

/**
 * `cloze eval` as a CI gate (issue 13, items 2 and 6): the figures it adds
 * (macro-F1, per-label, swap test, wmean, support calibration), the gate's
 * exit codes and the JUnit report, through review-bert-small.
 */

function cloze(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [cliMain, ...args, '--models-dir', modelsDir(), '--offline'], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const sst2 = path.join(path.dirname(modelsDir()), 'data', 'sst2-dev.jsonl');
const short = path.join(fixturesDir, 'eval', 'sst2-short.cloze');

interface Figures {
  accuracy: number;
  macroF1: number;
  swapAccuracy: number;
  perLabel: Record<string, { precision: number; recall: number; f1: number; support: number }>;
}
interface EvalJson {
  evaluated: number;
  labels: string[];
  patterns: Array<{ pattern: string; accuracy: number; calibratedAccuracy: number }>;
  ensemble: { accuracy: number; calibratedAccuracy: number };
  weightedEnsemble: { accuracy: number };
  confusion: Record<string, Record<string, number>>;
  figures: Array<{ name: string; kind: string; raw: Figures; calibrated: Figures }>;
  errors: Array<{ line: number; label: string; predicted: string; goldProbability: number; probabilities: Record<string, number> }>;
  gate?: { passed: boolean; checks: Array<{ target: string; accuracy: number; passed: boolean }> };
}

describe('the figures of cloze eval, by hand', () => {
  test('accuracy, per-label precision/recall/F1 and macro-F1 as scikit-learn counts them', () => {
    // gold:      0 0 0 1 1 2 ; predicted: 0 0 1 1 0 0
    const f = classificationFigures([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 0, 0], 3);
    assert.equal(f.accuracy, 3 / 6);
    assert.deepEqual(
      f.perLabel.map((l) => [l.precision, l.recall, l.support]),
      [
        [2 / 4, 2 / 3, 3],
        [1 / 2, 1 / 2, 2],
        [0, 0, 1],
      ],
    );
    const f1 = (p: number, r: number): number => (2 * p * r) / (p + r);
    assert.ok(Math.abs((f.macroF1 ?? NaN) - (f1(0.5, 2 / 3) + f1(0.5, 0.5) + 0) / 3) < 1e-12);
  });

  test('wmean weights patterns by accuracy, the swap test rotates the labels, the support prior is the mean', () => {
    assert.deepEqual(
      weightedEnsemble(
        [
          [1, 0],
          [0, 1],
        ],
        [3, 1],
      ),
      [0.75, 0.25],
    );
    assert.deepEqual(
      weightedEnsemble(
        [
          [1, 0],
          [0, 1],
        ],
        [0, 0],
      ),
      [0.5, 0.5],
    );
    assert.deepEqual(swapLabelWords([0.7, 0.2, 0.1]), [0.2, 0.1, 0.7]);
    assert.deepEqual(
      supportPrior([
        [0.8, 0.2],
        [0.4, 0.6],
      ]),
      [0.6000000000000001, 0.4],
    );
  });

  test('JUnit escaping survives quotes, markup, line breaks and characters XML cannot hold', async () => {
    const nasty = `a "quoted" <b>&'x'</b>\nline\u0001\uD800 end`;
    const xml = junitXml({
      name: nasty,
      timeSeconds: 1,
      timestamp: '2026-01-01T00:00:00',
      properties: [['p', nasty]],
      cases: [
        { classname: 'c', name: nasty, failure: { message: nasty, type: 't', details: nasty }, systemOut: nasty },
        { classname: 'c', name: 'ok' },
      ],
    });
    const parsed = (await parseStringPromise(xml)) as {
      testsuites: { $: Record<string, string>; testsuite: Array<{ testcase: Array<{ $: Record<string, string> }> }> };
    };
    assert.equal(parsed.testsuites.$['tests'], '2');
    assert.equal(parsed.testsuites.$['failures'], '1');
    const name = parsed.testsuites.testsuite[0].testcase[0].$['name'];
    assert.equal(name, 'a "quoted" <b>&\'x\'</b>\nline\uFFFD\uFFFD end');
    assert.equal(escapeXmlText('<&>'), '&lt;&amp;&gt;');
    assert.equal(escapeXmlAttribute('"\t'), '&quot;&#9;');
  });
});

describe('cloze eval as a CI gate, on review-bert-small', () => {
  test('the new figures agree with the existing ones; --errors lists the worst misclassified rows', () => {
    const run = cloze('eval', short, '--data', sst2, '--limit', '160', '--errors', '5', '--format', 'json');
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as EvalJson;
    const pattern = result.figures.find((f) => f.kind === 'pattern');
    const ensemble = result.figures.find((f) => f.kind === 'ensemble');
    assert.ok(pattern && ensemble);
    assert.equal(pattern.raw.accuracy, result.patterns[0].accuracy);
    assert.equal(pattern.calibrated.accuracy, result.patterns[0].calibratedAccuracy);
    assert.equal(ensemble.raw.accuracy, result.ensemble.accuracy);
    // Per-label figures from the confusion matrix (the ensemble's, raw).
    const c = result.confusion;
    const precision = c.positive.positive / (c.positive.positive + c.negative.positive);
    const recall = c.positive.positive / (c.positive.positive + c.positive.negative);
    assert.ok(Math.abs(ensemble.raw.perLabel.positive.precision - precision) < 1e-12);
    assert.ok(Math.abs(ensemble.raw.perLabel.positive.recall - recall) < 1e-12);
    assert.equal(ensemble.raw.perLabel.positive.support + ensemble.raw.perLabel.negative.support, 160);
    const f1 = (label: string): number => ensemble.raw.perLabel[label].f1;
    assert.ok(Math.abs(ensemble.raw.macroF1 - (f1('positive') + f1('negative')) / 2) < 1e-12);
    // Two labels: exchanging the words flips every prediction (no exact ties on real data).
    assert.ok(Math.abs(pattern.raw.swapAccuracy - (1 - pattern.raw.accuracy)) < 1e-12);
    // One pattern and no labelled example: wmean is the mean.
    assert.equal(result.weightedEnsemble.accuracy, result.ensemble.accuracy);
    // The errors: misclassified, worst first, as many as asked.
    const wrong = 160 - Math.round(result.ensemble.accuracy * 160);
    assert.equal(result.errors.length, Math.min(5, wrong));
    for (const e of result.errors) {
      assert.notEqual(e.label, e.predicted);
      assert.equal(e.goldProbability, e.probabilities[e.label]);
      assert.ok(e.goldProbability < 0.5);
    }
    for (let i = 1; i < result.errors.length; i++) assert.ok(result.errors[i - 1].goldProbability <= result.errors[i].goldProbability);
  });

  test("wmean weights each pattern by its accuracy on the file's labelled examples, as cloze preview reports it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-wmean-'));
    const data = path.join(dir, 'rows.jsonl');
    fs.writeFileSync(data, fs.readFileSync(sst2, 'utf8').split('\n').slice(0, 30).join('\n'));
    const file = path.join(dir, 'two.cloze');
    fs.writeFileSync(
      file,
      [
        'model: review-bert-small',
        'pattern short: {text} It was [MASK].',
        'pattern odd: {text} The [MASK] one.',
        'verbalizer:',
        '  positive: great',
        '  negative: terrible',
        'example positive: A quiet, patient film that rewards attention.',
        'example negative: Two hours I will never get back.',
        'example negative: Dull, slow and badly acted.',
        'example positive: I like the Disney films very much.',
        'example: The soundtrack had its moments.',
        '',
      ].join('\n'),
    );
    const run = cloze('eval', file, '--data', data, '--format', 'json');
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as EvalJson & { weights: { examples: number; raw: Record<string, number> } };
    const preview = cloze('preview', file, '--format', 'json');
    assert.equal(preview.status, 0, preview.stderr);
    const summary = (JSON.parse(preview.stdout) as { summary: { patterns: Array<{ pattern: string; accuracy: number }> } }).summary;
    assert.equal(result.weights.examples, 4);
    for (const p of summary.patterns) assert.equal(result.weights.raw[p.pattern], p.accuracy);
  });

  test('--min-accuracy exits 1 below the threshold and 0 at it; bad gates are usage errors', () => {
    const below = cloze('eval', short, '--data', sst2, '--limit', '40', '--min-accuracy', '99%', '--gate', 'all', '--format', 'json');
    assert.equal(below.status, 1, below.stderr);
    const result = JSON.parse(below.stdout) as EvalJson;
    assert.equal(result.gate?.passed, false);
    assert.deepEqual(
      result.gate?.checks.map((c) => c.target),
      ['short', 'ensemble'],
    );
    assert.match(below.stderr, /short accuracy \d+\.\d% is below --min-accuracy 99\.0%/);
    const accuracy = result.ensemble.accuracy;
    const at = cloze('eval', short, '--data', sst2, '--limit', '40', '--min-accuracy', String(accuracy), '--gate', 'short');
    assert.equal(at.status, 0, at.stderr);
    assert.equal(cloze('eval', short, '--data', sst2, '--limit', '5', '--min-accuracy', '0.5', '--gate', 'nosuch').status, 2);
    assert.equal(cloze('eval', short, '--data', sst2, '--limit', '5', '--gate', 'short').status, 2);
    assert.equal(cloze('eval', short, '--data', sst2, '--min-accuracy', '1.5').status, 2);
    // Number() reads these as 1: an accuracy nobody means is refused, not a gate no model passes.
    for (const odd of ['0x1', '1e0', '']) {
      const run = cloze('eval', short, '--data', sst2, '--min-accuracy', odd);
      assert.equal(run.status, 2, odd);
      assert.match(run.stderr, /expected a share from 0 to 1 \(0\.75\) or a percentage \(75%\)/);
    }
    const empty = cloze('eval', short, '--data', sst2, '--model', '');
    assert.equal(empty.status, 2);
    assert.match(empty.stderr, /--model <id>' argument '' is invalid\. expected a model id/);
  });

  test('--format junit parses as XML with a test case per pattern and ensemble and the gate failures', async () => {
    const run = cloze(
      'eval',
      short,
      '--data',
      sst2,
      '--limit',
      '40',
      '--min-accuracy',
      '0.99',
      '--calibrate',
      '--errors',
      '2',
      '--format',
      'junit',
    );
    assert.equal(run.status, 1, run.stderr);
    const parsed = (await parseStringPromise(run.stdout)) as {
      testsuites: { testsuite: Array<{ $: Record<string, string>; testcase: Array<{ $: Record<string, string>; failure?: unknown[] }> }> };
    };
    const [suite] = parsed.testsuites.testsuite;
    assert.equal(suite.$['tests'], '3'); // short, ensemble, weighted ensemble
    assert.equal(suite.$['failures'], '1'); // the ensemble, the default gate
    const failed = suite.testcase.filter((c) => c.failure !== undefined).map((c) => c.$['name']);
    assert.deepEqual(failed, ['ensemble: calibrated accuracy at least 99.0%']);
  });
});

describe('cloze eval as a CI gate, on part of the data or at its edges', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-eval-gate-'));
  const write = (name: string, text: string): string => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const rows = (n: number, label: string, text = 'a great film'): string =>
    Array.from({ length: n }, () => JSON.stringify({ text, label })).join('\n');
  const cloze1 = (extra = ''): string =>
    write(
      'one.cloze',
      `model: review-bert-small\npattern short: {text} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\n${extra}`,
    );

  test('a data file that is not evaluated fails the run, in the JSON (gate, notEvaluated) and in JUnit (an error case)', async () => {
    write('good.jsonl', `${rows(8, 'positive')}\n${rows(2, 'negative')}\n`);
    write('nocolumn.csv', 'Text,Label\ngreat movie,positive\n');
    // Read, but every label is one the verbalizer lacks: not one row is scored.
    write('otherlabels.jsonl', `${rows(3, 'pos')}\n${rows(2, 'neg')}\n`);
    const file = cloze1('data: good.jsonl\ndata: gone.jsonl\ndata: nocolumn.csv\ndata: otherlabels.jsonl\n');
    const json = cloze('eval', file, '--min-accuracy', '0.5', '--format', 'json');
    assert.equal(json.status, 1, json.stderr);
    const result = JSON.parse(json.stdout) as EvalJson & { notEvaluated: Array<{ file: string; reason: string }> };
    assert.equal(result.gate?.passed, false);
    assert.ok(
      result.gate?.checks.every((c) => c.passed),
      'the figures of good.jsonl pass',
    );
    assert.deepEqual(
      result.notEvaluated.map((n) => path.basename(n.file)),
      ['gone.jsonl', 'nocolumn.csv', 'otherlabels.jsonl'],
    );
    assert.match(result.notEvaluated[1].reason, /has no column `text`/);
    assert.match(
      result.notEvaluated[2].reason,
      /none of the 5 rows of otherlabels\.jsonl has a label of the verbalizer \(they have `pos`, `neg`\)/,
    );
    assert.match(json.stderr, /gone\.jsonl, nocolumn\.csv, otherlabels\.jsonl were not evaluated/);
    const junit = cloze('eval', file, '--min-accuracy', '0.5', '--format', 'junit');
    assert.equal(junit.status, 1);
    const parsed = (await parseStringPromise(junit.stdout)) as {
      testsuites: { testsuite: Array<{ $: Record<string, string>; testcase: Array<{ $: Record<string, string>; error?: unknown[] }> }> };
    };
    const [suite] = parsed.testsuites.testsuite;
    assert.equal(suite.$['errors'], '3');
    assert.deepEqual(
      suite.testcase.filter((c) => c.error !== undefined).map((c) => c.$['name']),
      ['data gone.jsonl', 'data nocolumn.csv', 'data otherlabels.jsonl'],
    );
    // With several models, the models' own gates pass (their figures do); the run's gate does not, and no model
    // is named as below it.
    const several = cloze(
      'eval',
      file,
      '--model',
      'review-bert-small',
      '--model',
      'review-bert-small-xenova',
      '--min-accuracy',
      '0.5',
      '--format',
      'json',
    );
    assert.equal(several.status, 1, several.stderr);
    const both = JSON.parse(several.stdout) as { gate: { passed: boolean; failed: string[] }; notEvaluated: unknown[] };
    assert.deepEqual([both.gate.passed, both.gate.failed, both.notEvaluated.length], [false, [], 3]);
    assert.doesNotMatch(several.stderr, /the gate failed for/);
    // The same file given with --data is evaluated on its own: exit 1 too, not a pass on nothing.
    const flagged = cloze(
      'eval',
      cloze1(),
      '--data',
      path.join(dir, 'good.jsonl'),
      path.join(dir, 'nocolumn.csv'),
      '--min-accuracy',
      '0.5',
    );
    assert.equal(flagged.status, 1, flagged.stderr);
  });

  test('the report says which label words were not scored and which examples the wmean weights left out', () => {
    write('words.jsonl', `${rows(3, 'positive')}\n${rows(3, 'negative', 'a dull film')}\n`);
    const text =
      'model: review-bert-small\npattern a: {text} It was [MASK].\npattern b: {text} All in all, it was [MASK].\n' +
      'verbalizer:\n  positive: great, marvellousness\n  negative: terrible\ndata: words.jsonl\n' +
      'example positive: A wonderful film.\nexample nosuch: Dull.\nexample negative: Dull and long.\n';
    const file = write('words.cloze', text);
    const plain = cloze('eval', file);
    assert.equal(plain.status, 1, plain.stderr);
    assert.match(
      plain.stdout,
      /^skipped label word `marvellousness` \(positive\): it is not one token: marvellousness → marvel ##lous ##ness$/m,
    );
    assert.match(
      plain.stdout,
      /wmean weights \(accuracy on the file's 2 labelled examples; left out, with an error: the example on line 9\): a /,
    );
    const json = JSON.parse(cloze('eval', file, '--format', 'json').stdout) as {
      skippedWords: Array<{ word: string; label: string }>;
      excludedExamples: Array<{ line: number }>;
    };
    // A word split in one pattern's mask context only is said with that pattern (RoBERTa: no space before `[MASK]!`).
    const partial = write(
      'partial.cloze',
      'model: tiny-random-roberta\npattern lead: [MASK]! {text}\npattern short: {text} It was [MASK].\n' +
        'verbalizer:\n  positive: great\n  negative: terrible, bad\ndata: words.jsonl\n',
    );
    assert.match(cloze('eval', partial).stdout, /^skipped label word `terrible` \(negative\) in pattern lead: it is not one token/m);
    assert.deepEqual(
      json.skippedWords.map((w) => [w.word, w.label]),
      [['marvellousness', 'positive']],
    );
    assert.deepEqual(
      json.excludedExamples.map((e) => e.line),
      [9],
    );
    // A --data path typed relative to the working folder is reported absolute, as a data: line's is.
    const relative = path.relative(process.cwd(), path.join(dir, 'words.jsonl'));
    const given = JSON.parse(cloze('eval', file, '--data', relative, '--format', 'json').stdout) as {
      sources: Array<{ path: string }>;
    };
    assert.deepEqual(
      given.sources.map((source) => source.path),
      [path.join(dir, 'words.jsonl')],
    );
  });

  test('the sources are the files rows were taken from, with the rows taken; a file none of whose rows is scored is not one', () => {
    write('wrong.jsonl', `${rows(2, 'pos')}\n`);
    write('some.jsonl', `${rows(1, 'pos')}\n${rows(2, 'positive')}\n${rows(1, 'negative', 'a dull film')}\n`);
    const file = cloze1('data: wrong.jsonl\ndata: some.jsonl\n');
    const text = cloze('eval', file);
    assert.match(text.stdout, /· 3 labelled rows from some\.jsonl\n/);
    const json = JSON.parse(cloze('eval', file, '--format', 'json').stdout) as {
      sources: Array<{ path: string; rows: number }>;
      notEvaluated: Array<{ file: string }>;
    };
    assert.deepEqual(
      json.sources.map((s) => [path.basename(s.path), s.rows]),
      [['some.jsonl', 3]],
    );
    assert.deepEqual(
      json.notEvaluated.map((n) => path.basename(n.file)),
      ['wrong.jsonl'],
    );
  });

  test('the wmean line gives the calibrated weights too when they differ from the raw ones (the table shows both ensembles)', () => {
    const lines = fs.readFileSync(sst2, 'utf8').split('\n');
    write('d40.jsonl', lines.slice(0, 40).join('\n'));
    const examples = lines
      .slice(40, 52)
      .map((line) => JSON.parse(line) as { text: string; label: string })
      .map((row) => `example ${row.label}: ${row.text}`);
    const file = write(
      'weights.cloze',
      ['model: tiny-random-bert-uncased', 'data: d40.jsonl', 'pattern a: {text} It was [MASK].', 'pattern b: Just [MASK]! {text}']
        .concat(['verbalizer:', '  positive: great', '  negative: terrible', ...examples, ''])
        .join('\n'),
    );
    const json = JSON.parse(cloze('eval', file, '--format', 'json').stdout) as {
      weights: { raw: Record<string, number>; calibrated: Record<string, number> };
    };
    const text = (record: Record<string, number>): string =>
      Object.entries(record)
        .map(([name, w]) => `${name} ${w.toFixed(2)}`)
        .join(', ');
    // The random-weight model's raw and calibrated accuracies on the 12 examples differ (else this checks nothing).
    assert.notEqual(text(json.weights.raw), text(json.weights.calibrated));
    assert.ok(
      cloze('eval', file).stdout.includes(
        `wmean weights (accuracy on the file's 12 labelled examples): ${text(json.weights.raw)} (calibrated: ${text(json.weights.calibrated)})\n`,
      ),
    );
  });

  test('rows scored on an input cut to fit the model are counted per pattern, in the text and the JSON', () => {
    write('cut.jsonl', `${rows(3, 'positive')}\n${rows(3, 'negative', 'a dull film')}\n`);
    // About 170 tokens between the text and the mask: review-bert-small reads 128, so the text is cut away.
    const filler = Array.from({ length: 13 }, () => 'the plot of the film was set in a small town near the sea').join(' ');
    const file = write(
      'cut.cloze',
      `model: review-bert-small\npattern tail: {text} ${filler} It was [MASK].\npattern short: {text} It was [MASK].\n` +
        'verbalizer:\n  positive: great\n  negative: terrible\ndata: cut.jsonl\n',
    );
    assert.match(cloze('eval', file).stdout, /^cut to fit review-bert-small, scored on what was left: tail 6 rows /m);
    const json = JSON.parse(cloze('eval', file, '--format', 'json').stdout) as { truncated: Record<string, number> };
    assert.deepEqual(json.truncated, { tail: 6 });
  });

  test('a file with errors is evaluated as far as it can be, and fails the run: text, JSON, JUnit and --gate', async () => {
    write('fine.jsonl', `${rows(8, 'positive')}\n${rows(2, 'negative')}\n`);
    const text =
      'model: review-bert-small\npattern short: {text} It was [MASK] [MASK].\npattern plain: {text} It was [MASK].\n' +
      'verbalizer:\n  positive: great\n  negative: terrible\n  negative: bad\ndata: fine.jsonl\n';
    const file = write('broken.cloze', text);
    // The valid pattern alone passes the gate: the run fails for the file's errors only.
    const plain = cloze('eval', file, '--min-accuracy', '0.5');
    assert.equal(plain.status, 1, plain.stderr);
    assert.match(plain.stdout, /not evaluated: short \(line 2\): the pattern has 2 masks; the model fills one \(mask-multiple\)/);
    assert.match(plain.stdout, /^ {2}plain {2,}80\.0%/m);
    assert.match(plain.stderr, /exit 1: .*broken\.cloze has 2 errors/);
    assert.doesNotMatch(plain.stderr, /below --min-accuracy/);

    const json = cloze('eval', file, '--min-accuracy', '0.5', '--format', 'json');
    assert.equal(json.status, 1);
    const result = JSON.parse(json.stdout) as EvalJson & {
      excluded: Array<{ pattern: string; line: number; code: string }>;
      fileErrors: Array<{ line: number; column: number; code: string }>;
    };
    assert.deepEqual(
      result.excluded.map((e) => [e.pattern, e.line, e.code]),
      [['short', 2, 'mask-multiple']],
    );
    assert.deepEqual(result.fileErrors.map((e) => [e.line, e.code]).sort(), [
      [2, 'mask-multiple'],
      [7, 'label-duplicate'],
    ]);
    assert.equal(result.gate?.passed, false);

    // Gating the pattern that was not evaluated fails it by name; before, it was "no such pattern" (bad usage).
    const gated = cloze('eval', file, '--min-accuracy', '0.5', '--gate', 'short,plain', '--format', 'junit');
    assert.equal(gated.status, 1, gated.stderr);
    assert.match(gated.stderr, /short was not evaluated \(line 2: the pattern has 2 masks; the model fills one\)/);
    const parsed = (await parseStringPromise(gated.stdout)) as {
      testsuites: {
        testsuite: Array<{
          testcase: Array<{ $: Record<string, string>; error?: Array<{ $: Record<string, string> }>; failure?: unknown[] }>;
        }>;
      };
    };
    const cases = parsed.testsuites.testsuite[0].testcase;
    assert.deepEqual(
      cases.filter((c) => c.error).map((c) => [c.$['name'], c.error?.[0].$['type']]),
      [['broken.cloze: errors', 'file-errors']],
    );
    assert.deepEqual(
      cases.filter((c) => c.failure).map((c) => c.$['name']),
      ['short: accuracy at least 50.0%'],
    );

    // Fixed, the same file passes.
    fs.writeFileSync(file, text.replace(' [MASK] [MASK].', ' [MASK].').replace('  negative: bad\n', ''));
    const fixed = cloze('eval', file, '--min-accuracy', '0.5', '--gate', 'short,plain');
    assert.equal(fixed.status, 0, fixed.stderr);
  });

  test('--min-accuracy 70.4% passes at an accuracy of exactly 70.4% (88 of 125), as 0.704 does', () => {
    write('g125.jsonl', `${rows(88, 'positive')}\n${rows(37, 'negative')}\n`);
    const file = cloze1('data: g125.jsonl\n');
    const json = JSON.parse(cloze('eval', file, '--format', 'json').stdout) as EvalJson;
    assert.equal(json.ensemble.accuracy, 88 / 125, 'the model calls every row positive');
    for (const threshold of ['70.4%', '0.704']) {
      const run = cloze('eval', file, '--min-accuracy', threshold);
      assert.equal(run.status, 0, `${threshold}: ${run.stderr}`);
    }
    assert.equal(cloze('eval', file, '--min-accuracy', '70.5%').status, 1);
  });

  test('--errors 0 lists no rows and does not say there are none', () => {
    write('mixed.jsonl', `${rows(3, 'positive')}\n${rows(2, 'negative')}\n`);
    const run = cloze('eval', cloze1('data: mixed.jsonl\n'), '--errors', '0');
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /no misclassified rows|worst misclassified/);
  });

  test('a pattern may not be named as an ensemble (`ensemble`, `all`, `wmean`, `weighted`)', () => {
    const file = write('named.cloze', 'pattern ensemble: {text} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\n');
    const run = cloze('check', file);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /`ensemble` names the patterns' ensemble in `cloze eval`/);
  });
});

describe('support calibration (OpenPrompt) on review-bert-small', () => {
  test('the prior is the mean P(L | x) over the data rows, and calibrated figures divide by it', async () => {
    const text = fs.readFileSync(short, 'utf8');
    const doc = parse(text);
    const service = createService({ modelsDir: modelsDir(), offline: true });
    const choice = service.modelChoice(doc, short);
    const tokenizer = await service.tokenizer(choice);
    assert.ok(tokenizer.ok && choice.location.ok);
    const engine = await MaskedLmEngine.load(choice.location, service.settings.cacheDir, { quantized: true });
    const scorer = (inputs: readonly string[], ids: readonly number[], k: number) => engine.score(inputs, ids, k);
    const { rows, rowFiles, sources, skipped } = await evaluationRows(doc, [sst2], ['positive', 'negative']);
    const some = rows.slice(0, 48);
    const result = await evaluate(doc, tokenizer.tokenizer, scorer, some, sources, skipped, {
      calibrate: true,
      calibration: 'support',
      rowFiles,
    });
    const preview = await computePreview(doc, tokenizer.tokenizer, scorer, { topK: 1, calibrate: false, rows: some });
    const raw = preview.examples.map((e) => [e.results[0].labels.positive, e.results[0].labels.negative]);
    const mean = [0, 1].map((i) => raw.reduce((s, d) => s + d[i], 0) / raw.length);
    assert.ok(Math.abs(result.priors.short.positive - mean[0]) < 1e-12);
    assert.equal(result.supportSize, 48);
    const right = preview.examples.filter((e, r) => {
      const cal = calibrate(raw[r], mean);
      return (cal[0] >= cal[1] ? 'positive' : 'negative') === e.label;
    }).length;
    assert.equal(result.patterns[0].calibratedAccuracy, right / 48);
    assert.equal(result.calibration, 'support');
    // The content-free figures of the same rows are the preview's own.
    const contentFree = await evaluate(doc, tokenizer.tokenizer, scorer, some, sources, skipped, { calibrate: false });
    assert.deepEqual(contentFree.priors, preview.priors);

    // The editor's cloze.preview.calibration = support: the mean over the previewed examples.
    const lenses = await computePreview(doc, tokenizer.tokenizer, scorer, { topK: 1, calibrate: true, rows: some, calibration: 'support' });
    assert.equal(lenses.calibration, 'support');
    assert.ok(Math.abs(lenses.priors.short.positive - mean[0]) < 1e-12);
    lenses.examples.forEach((e, r) => {
      const cal = calibrate(raw[r], mean);
      assert.ok(Math.abs(e.results[0].calibrated.positive - cal[0]) < 1e-12);
    });
    assert.equal(readSettings({ preview: { calibration: 'support' } }).preview.calibration, 'support');
    assert.equal(readSettings({ preview: { calibration: 'other' } }).preview.calibration, 'content-free');
    await engine.dispose();
  });
});
