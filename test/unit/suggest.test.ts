import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { candidateWord, likelihoodRatio, scoreVerbalizer, selectRows, type WordTable } from '../../server/src/language/labelSearch';
import { parse } from '../../server/src/language';
import type { MaskScores } from '../../server/src/language/scores';
import type { PreviewRow } from '../../server/src/service/preview';
import { suggestVerbalizers } from '../../server/src/service/suggest';
import { cliMain, fixturesDir, modelsDir, sst2Lines } from '../support/paths';
import { loadTokenizer } from '../support/service';

/**
 * `cloze suggest` (issue 13, item 3) through the real engine: on SST-2 rows
 * review-bert-small, PET-trained with sentiment words, must propose sentiment
 * words for the right labels, and a suggestion's accuracy must be what
 * `cloze eval` reports for it.
 */

function cloze(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [cliMain, ...args, '--models-dir', modelsDir(), '--offline'], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** SST-2 rows written to `file` with their labels renamed: positive → `yes`, negative → `no`. */
function relabelled(file: string, lines: readonly string[], yes: string | number, no: string | number): string {
  const rows = lines.map((line) => {
    const row = JSON.parse(line) as { text: string; label: string };
    return JSON.stringify({ text: row.text, label: row.label === 'positive' ? yes : no });
  });
  fs.writeFileSync(file, rows.join('\n'));
  return file;
}

interface SuggestJson {
  rows: number;
  candidates: Record<string, Array<{ word: string; tokens: string[] }>>;
  calibration: string;
  suggestions: Array<{ words: Record<string, string[]>; accuracy: number; rawAccuracy: number }>;
  current: { accuracy: number; rawAccuracy: number } | null;
}

const positive = new Set([
  'great',
  'excellent',
  'good',
  'wonderful',
  'beautiful',
  'fun',
  'funny',
  'well',
  'better',
  'interesting',
  'brilliant',
  'perfect',
]);
const negative = new Set(['terrible', 'horrible', 'bad', 'awful', 'stupid', 'boring', 'worse', 'dull', 'poor', 'too', 'so', 'like']);

describe('cloze suggest', () => {
  test('real words only: no pieces, punctuation, numbers or special tokens', () => {
    assert.equal(candidateWord('great'), 'great');
    assert.equal(candidateWord('Ġgreat'), 'great');
    assert.equal(candidateWord('▁great'), 'great');
    for (const token of ['##ly', '.', '[SEP]', '<mask>', '1990', 'Ġ,', 'a', "'s"]) assert.equal(candidateWord(token), undefined, token);
  });

  test('selectRows: a verbalizer scores on the chosen rows what it scores on a table of only those rows', () => {
    // 2 patterns × 4 rows × 3 words; row 3 unscored under pattern 1.
    const p = Float64Array.from({ length: 24 }, (_, i) => ((i * 7) % 11) / 20 + 0.01);
    const table: WordTable = {
      words: 3,
      rows: 4,
      patterns: 2,
      p,
      scored: Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 0]),
      contentFree: new Float64Array(6).fill(0.1),
    };
    const gold = [0, 1, 1, 0];
    const choice = [[0], [1, 2]];
    const rows = [3, 1];
    const part = selectRows(table, rows);
    const direct = scoreVerbalizer(
      part,
      rows.map((r) => gold[r]),
      choice,
      'none',
    );
    // The same rows scored one at a time in the full table.
    const one = (r: number) => scoreVerbalizer(selectRows(table, [r]), [gold[r]], choice, 'none');
    assert.deepEqual(
      direct.predicted,
      rows.map((r) => one(r).predicted[0]),
    );
    assert.equal(direct.meanLogGold, (one(3).meanLogGold + one(1).meanLogGold) / 2);
    assert.equal(part.scored[1 * 2 + 0], 0);
  });

  test('PETAL’s likelihood ratio: by hand, and petal.py’s llr divided by the other rows, on random tables', () => {
    // One row per label, two words: A is likely on the positive row, B on the negative one.
    const table: WordTable = {
      words: 2,
      rows: 2,
      patterns: 1,
      p: Float64Array.from([0.5, 0.1, 0.1, 0.5]),
      scored: Uint8Array.from([1, 1]),
      contentFree: new Float64Array(2),
    };
    const gap = Math.log(9); // logit 0.5 − logit 0.1
    const positive = likelihoodRatio(table, [0, 1], 0);
    assert.ok(Math.abs(positive[0] - gap) < 1e-12 && Math.abs(positive[1] + gap) < 1e-12, String(positive));
    // petal.py, written out as it is there (one pattern): scale·(Σ⁺ log p − Σ⁺ log(1−p)) + Σ⁻ log(1−p) − Σ⁻ log p, scale = n⁻/n⁺.
    const petalPy = (p: number[], expected: number[]): number => {
      const positives = expected.reduce((a, b) => a + b, 0);
      const scale = (expected.length - positives) / positives;
      let pos = 0;
      let neg = 0;
      p.forEach((q, i) => {
        if (expected[i]) pos += Math.log(q) - Math.log(1 - q);
        else neg += Math.log(1 - q) - Math.log(q);
      });
      return scale * pos + neg;
    };
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.double({ min: 0.001, max: 0.999, noNaN: true }), fc.double({ min: 0.001, max: 0.999, noNaN: true }), fc.boolean()),
          {
            minLength: 2,
            maxLength: 30,
          },
        ),
        (rows) => {
          const gold = rows.map(([, , positiveRow]) => (positiveRow ? 0 : 1));
          const positives = gold.filter((g) => g === 0).length;
          fc.pre(positives > 0 && positives < rows.length);
          const random: WordTable = {
            words: 2,
            rows: rows.length,
            patterns: 1,
            p: Float64Array.from(rows.flatMap(([a, b]) => [a, b])),
            scored: new Uint8Array(rows.length).fill(1),
            contentFree: new Float64Array(2),
          };
          const ours = likelihoodRatio(random, gold, 0);
          const expected = gold.map((g) => (g === 0 ? 1 : 0));
          for (let w = 0; w < 2; w++) {
            const reference =
              petalPy(
                rows.map((row) => row[w] as number),
                expected,
              ) /
              (rows.length - positives);
            assert.ok(Math.abs(ours[w] - reference) < 1e-9 * Math.max(1, Math.abs(reference)), `${ours[w]} ${reference}`);
          }
        },
      ),
    );
  });

  test('on SST-2 rows it proposes sentiment words for the right labels, at least as accurate as great/terrible', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-suggest-'));
    const data = path.join(dir, 'rows.jsonl');
    const sst2 = sst2Lines(0, 120);
    fs.writeFileSync(data, sst2.join('\n'));
    const run = cloze('suggest', path.join(fixturesDir, 'eval', 'sst2-short.cloze'), '--data', data, '--top', '3', '--format', 'json');
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as SuggestJson;
    assert.equal(result.rows, 120);
    // The four best candidates of each label are sentiment words of that label.
    assert.ok(
      result.candidates.positive.slice(0, 4).every((c) => ['great', 'excellent', 'good', 'wonderful'].includes(c.word)),
      JSON.stringify(result.candidates.positive),
    );
    assert.ok(
      result.candidates.negative.slice(0, 4).every((c) => ['terrible', 'horrible', 'bad', 'awful'].includes(c.word)),
      JSON.stringify(result.candidates.negative),
    );
    for (const c of [...result.candidates.positive, ...result.candidates.negative]) assert.match(c.word, /^\p{L}{2,}$/u);
    const [best] = result.suggestions;
    assert.ok(best.words.positive.every((w) => positive.has(w)) && best.words.positive.some((w) => !negative.has(w)), JSON.stringify(best));
    assert.ok(best.words.negative.every((w) => negative.has(w)) && best.words.negative.some((w) => !positive.has(w)), JSON.stringify(best));
    // Ranked by calibrated accuracy (the default), the best is at least as good as great/terrible by that measure.
    assert.equal(result.calibration, 'support');
    assert.ok(result.current && best.accuracy >= result.current.accuracy);

    // The suggestion's raw accuracy is what cloze eval reports for it on the same rows, and its calibrated
    // accuracy what cloze eval --calibrate --calibration support reports.
    const file = path.join(dir, 'suggested.cloze');
    fs.writeFileSync(
      file,
      `model: review-bert-small\npattern short: {review} It was [MASK].\nverbalizer:\n${Object.entries(best.words)
        .map(([label, words]) => `  ${label}: ${words.join(', ')}`)
        .join('\n')}\n`,
    );
    const evaluated = cloze('eval', file, '--data', data, '--calibrate', '--calibration', 'support', '--format', 'json');
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const ensemble = (JSON.parse(evaluated.stdout) as { ensemble: { accuracy: number; calibratedAccuracy: number } }).ensemble;
    assert.equal(ensemble.accuracy, best.rawAccuracy);
    assert.equal(ensemble.calibratedAccuracy, best.accuracy);
  });

  test('--ranking petal: candidates by PETAL’s likelihood ratio, best first, sentiment words of their label', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-suggest-'));
    const data = path.join(dir, 'rows.jsonl');
    fs.writeFileSync(data, sst2Lines(0, 120).join('\n'));
    const file = path.join(fixturesDir, 'eval', 'sst2-short.cloze');
    const run = cloze('suggest', file, '--data', data, '--ranking', 'petal', '--format', 'json');
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as Omit<SuggestJson, 'candidates'> & {
      ranking: string;
      candidates: Record<string, Array<{ word: string; likelihoodRatio?: number }>>;
    };
    assert.equal(result.ranking, 'petal');
    for (const [label, words] of Object.entries(result.candidates)) {
      assert.ok(words.length >= 2, label);
      const ratios = words.map((w) => w.likelihoodRatio ?? Number.NaN);
      // Ranked by the ratio, and each word separates its own label (a positive gap).
      ratios.forEach((ratio, i) => assert.ok(ratio > 0 && (i === 0 || ratios[i - 1] >= ratio), JSON.stringify(words)));
      const own = label === 'positive' ? positive : negative;
      assert.ok(own.has(words[0].word), JSON.stringify(words));
    }
    const text = cloze('suggest', file, '--data', data, '--ranking', 'petal', '--top', '1');
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /candidates per label \(PETAL’s likelihood ratio/);
    // The default ranking is LM-BFF's, whose JSON has no ratio.
    const lmbff = JSON.parse(cloze('suggest', file, '--data', data, '--format', 'json').stdout) as SuggestJson & { ranking: string };
    assert.equal(lmbff.ranking, 'lm-bff');
    // With as many candidates as pass the mass floor the two rankings search the same words; with fewer,
    // each keeps its own best, which here differ.
    const two = (ranking: string): Record<string, string[]> => {
      const out = JSON.parse(
        cloze('suggest', file, '--data', data, '--ranking', ranking, '--candidates', '2', '--format', 'json').stdout,
      ) as SuggestJson;
      return Object.fromEntries(Object.entries(out.candidates).map(([label, words]) => [label, words.map((w) => w.word)]));
    };
    const [petalTwo, lmbffTwo] = [two('petal'), two('lm-bff')];
    for (const label of ['positive', 'negative']) {
      assert.deepEqual(
        petalTwo[label],
        result.candidates[label].slice(0, 2).map((w) => w.word),
        label,
      );
      assert.deepEqual(
        lmbffTwo[label],
        lmbff.candidates[label].slice(0, 2).map((w) => w.word),
        label,
      );
    }
    assert.notDeepEqual(petalTwo, lmbffTwo);
    assert.ok(
      Object.values(lmbff.candidates)
        .flat()
        .every((c) => !('likelihoodRatio' in c)),
    );
  });

  test('a data: file that cannot be read: the suggestions of the other data are printed, and the run exits 1, as eval does', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-suggest-missing-'));
    fs.writeFileSync(path.join(dir, 'rows.jsonl'), sst2Lines(600, 660).join('\n'));
    const file = path.join(dir, 'partial.cloze');
    fs.writeFileSync(file, 'model: review-bert-small\npattern short: {text} It was [MASK].\ndata: rows.jsonl\ndata: gone.jsonl\n');
    const run = cloze('suggest', file, '--top', '1', '--format', 'json');
    assert.equal(run.status, 1, run.stderr);
    const result = JSON.parse(run.stdout) as SuggestJson & { notEvaluated: Array<{ file: string }> };
    assert.equal(result.suggestions.length, 1);
    assert.deepEqual(
      result.notEvaluated.map((n) => path.basename(n.file)),
      ['gone.jsonl'],
    );
    assert.match(run.stderr, /gone\.jsonl was not searched on, so the suggestions come from the other data only/);
  });

  test('it reads the labels from the data: with the labels of the rows exchanged, the words exchange too', () => {
    // The same SST-2 rows twice, once as they are and once with positive and negative swapped:
    // a search that ranked words by anything but the rows' labels (the label names, the file's
    // verbalizer) would propose the same words both times.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-suggest-'));
    const lines = sst2Lines(600, 700);
    const asIs = path.join(dir, 'as-is.jsonl');
    const swapped = path.join(dir, 'swapped.jsonl');
    fs.writeFileSync(asIs, lines.join('\n'));
    const swap = (line: string): string => {
      const row = JSON.parse(line) as { text: string; label: string };
      return JSON.stringify({ ...row, label: row.label === 'positive' ? 'negative' : 'positive' });
    };
    fs.writeFileSync(swapped, lines.map(swap).join('\n'));
    const file = path.join(dir, 'reviews.cloze');
    fs.writeFileSync(file, 'model: review-bert-small\npattern short: {text} It was [MASK].\n');
    const search = (data: string): SuggestJson => {
      const run = cloze('suggest', file, '--data', data, '--top', '1', '--format', 'json');
      assert.equal(run.status, 0, run.stderr);
      return JSON.parse(run.stdout) as SuggestJson;
    };
    const straight = search(asIs);
    const crossed = search(swapped);
    const [best] = straight.suggestions;
    const [other] = crossed.suggestions;
    assert.ok(best.words.positive.every((w) => positive.has(w)) && best.words.negative.every((w) => negative.has(w)), JSON.stringify(best));
    assert.ok(
      other.words.positive.every((w) => negative.has(w)) && other.words.negative.every((w) => positive.has(w)),
      JSON.stringify(other),
    );
    assert.deepEqual(other.words, { positive: best.words.negative, negative: best.words.positive });
    assert.equal(other.rawAccuracy, best.rawAccuracy);
    // Sentiment words separate these rows far better than chance.
    assert.ok(best.rawAccuracy > 0.7, String(best.rawAccuracy));
  });

  test('labels that cannot be names in a .cloze file get no block to paste; the rows are counted by where they came from', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-suggest-names-'));
    const data = relabelled(path.join(dir, 'spaced.jsonl'), sst2Lines(600, 640), 'very good', 'bad news');
    const file = path.join(dir, 'spaced.cloze');
    fs.writeFileSync(file, 'model: review-bert-small\npattern short: {text} It was [MASK].\n');
    const run = cloze('suggest', file, '--data', data, '--top', '1');
    assert.equal(run.status, 0, run.stderr);
    // Pasted, the block did not parse (`very good` is not a valid name) and the verbalizer had no labels.
    assert.doesNotMatch(run.stdout, /as a verbalizer block/);
    assert.match(run.stdout, /no verbalizer block: `(very good|bad news)`, `(very good|bad news)` cannot be label names in a \.cloze file/);
    assert.match(run.stdout, / 40 labelled rows from spaced\.jsonl\n/);
    // With a labelled example in the file it is searched on too, and counted as the file's, not the data's.
    fs.writeFileSync(file, 'model: review-bert-small\npattern short: {text} It was [MASK].\nexample positive: A fine film.\n');
    const positive = path.join(dir, 'plain.jsonl');
    fs.writeFileSync(positive, sst2Lines(600, 640).join('\n'));
    const withExample = cloze('suggest', file, '--data', positive, '--top', '1');
    assert.equal(withExample.status, 0, withExample.stderr);
    assert.match(withExample.stdout, / 41 labelled rows \(40 from plain\.jsonl, 1 from the file's examples\)\n/);
    assert.match(withExample.stdout, /as a verbalizer block:\nverbalizer:\n {2}(positive|negative): /);
  });

  test("numeric labels (`1`, `0`) are listed in the verbalizer's order, in the table and the block to paste", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-suggest-numeric-'));
    const data = relabelled(path.join(dir, 'numeric.jsonl'), sst2Lines(600, 660), 1, 0);
    const file = path.join(dir, 'numeric.cloze');
    fs.writeFileSync(file, 'model: review-bert-small\npattern short: {text} It was [MASK].\nverbalizer:\n  1: great\n  0: terrible\n');
    const run = cloze('suggest', file, '--data', data, '--top', '2');
    assert.equal(run.status, 0, run.stderr);
    const candidates = run.stdout.split('\n').filter((line) => /^ {2}[01]: /.test(line));
    assert.deepEqual(
      candidates.map((line) => line.slice(2, 3)),
      ['1', '0', '1', '0'],
      run.stdout,
    );
    assert.match(run.stdout, /the file's verbalizer: accuracy [\d.]+%.* 1: great · 0: terrible/);
    for (const line of run.stdout.split('\n').filter((l) => /^ +\d+\. accuracy/.test(l))) assert.match(line, / 1: [^·]+ · 0: /);
  });

  test('with two patterns and support calibration, the calibrated accuracy is what cloze eval --calibrate reports', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-suggest-'));
    const data = path.join(dir, 'rows.jsonl');
    const sst2 = fs
      .readFileSync(path.join(path.dirname(modelsDir()), 'data', 'sst2-dev.jsonl'), 'utf8')
      .split('\n')
      .slice(200, 280);
    fs.writeFileSync(data, sst2.join('\n'));
    const patterns = 'model: review-bert-small\npattern short: {text} It was [MASK].\npattern lead: Just [MASK]! {text}\n';
    const file = path.join(dir, 'two.cloze');
    fs.writeFileSync(file, patterns);
    const run = cloze(
      'suggest',
      file,
      '--data',
      data,
      '--calibrate',
      '--calibration',
      'support',
      '--top',
      '1',
      '--words',
      '2',
      '--format',
      'json',
    );
    assert.equal(run.status, 0, run.stderr);
    const [best] = (JSON.parse(run.stdout) as SuggestJson).suggestions;
    fs.writeFileSync(
      file,
      `${patterns}verbalizer:\n${Object.entries(best.words)
        .map(([label, words]) => `  ${label}: ${words.join(', ')}`)
        .join('\n')}\n`,
    );
    const evaluated = cloze('eval', file, '--data', data, '--calibrate', '--calibration', 'support', '--format', 'json');
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.equal((JSON.parse(evaluated.stdout) as { ensemble: { calibratedAccuracy: number } }).ensemble.calibratedAccuracy, best.accuracy);
  });

  test('RoBERTa: every candidate is proposed in the form the mask context scores (Ġ after a space)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-suggest-'));
    const file = path.join(dir, 'roberta.cloze');
    fs.writeFileSync(file, `model: tiny-random-roberta\npattern: {review} It was [MASK].\n`);
    const data = path.join(fixturesDir, 'data', 'reviews.jsonl');
    const run = cloze('suggest', file, '--data', data, '--candidates', '5', '--words', '1', '--format', 'json');
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as SuggestJson;
    // No verbalizer in the file: the labels come from the data.
    assert.deepEqual(Object.keys(result.candidates).sort(), ['negative', 'positive']);
    const all = Object.values(result.candidates).flat();
    assert.ok(all.length > 0);
    for (const c of all) assert.equal(c.tokens[0], `Ġ${c.word}`);
  });

  test('the default ranks by support-calibrated accuracy, --criterion log-likelihood --no-calibrate by raw mean log P(gold), on the same rows', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-suggest-'));
    const data = path.join(dir, 'rows.jsonl');
    const sst2 = fs
      .readFileSync(path.join(path.dirname(modelsDir()), 'data', 'sst2-dev.jsonl'), 'utf8')
      .split('\n')
      .slice(400, 520);
    fs.writeFileSync(data, sst2.join('\n'));
    const file = path.join(fixturesDir, 'eval', 'sst2-short.cloze');
    type Ranked = SuggestJson & {
      criterion: string;
      suggestions: Array<{ words: Record<string, string[]>; accuracy: number; meanGoldProbability: number; meanLogGold: number }>;
    };
    const run = (...extra: string[]): Ranked => {
      const result = cloze('suggest', file, '--data', data, '--top', '8', '--words', '1', '--format', 'json', ...extra);
      assert.equal(result.status, 0, result.stderr);
      return JSON.parse(result.stdout) as Ranked;
    };
    const smooth = run('--criterion', 'log-likelihood', '--no-calibrate');
    const byAccuracy = run('--no-calibrate');
    const byDefault = run();
    assert.equal(smooth.criterion, 'log-likelihood');
    assert.equal(smooth.calibration, 'none');
    assert.equal(byAccuracy.criterion, 'accuracy');
    assert.equal(byAccuracy.calibration, 'none');
    assert.equal(byDefault.criterion, 'accuracy');
    assert.equal(byDefault.calibration, 'support');
    for (let i = 1; i < byDefault.suggestions.length; i++) {
      assert.ok(byDefault.suggestions[i - 1].accuracy >= byDefault.suggestions[i].accuracy, JSON.stringify(byDefault.suggestions));
    }
    // Calibration changes the figures ranked by, not the candidates.
    assert.deepEqual(byDefault.candidates, byAccuracy.candidates);
    assert.ok(smooth.suggestions.length >= 4);
    for (let i = 1; i < smooth.suggestions.length; i++) {
      assert.ok(smooth.suggestions[i - 1].meanLogGold >= smooth.suggestions[i].meanLogGold, JSON.stringify(smooth.suggestions));
      assert.ok(byAccuracy.suggestions[i - 1].accuracy >= byAccuracy.suggestions[i].accuracy, JSON.stringify(byAccuracy.suggestions));
    }
    for (const s of smooth.suggestions) {
      // Jensen: the mean of log P(gold) is at most the log of the mean P(gold), and a log-probability is negative.
      assert.ok(s.meanLogGold < 0 && s.meanLogGold <= Math.log(s.meanGoldProbability) + 1e-12, JSON.stringify(s));
    }
    // Each criterion's winner is the best of the two by its own measure.
    const [first] = smooth.suggestions;
    const [accurate] = byAccuracy.suggestions;
    assert.ok(first.meanLogGold >= accurate.meanLogGold);
    assert.ok(accurate.accuracy >= first.accuracy);
    // Both search the same candidates, and still propose sentiment words for the right labels.
    assert.deepEqual(smooth.candidates, byAccuracy.candidates);
    assert.ok(
      first.words.positive.every((w) => positive.has(w)) && first.words.negative.every((w) => negative.has(w)),
      JSON.stringify(first),
    );
  });

  test('a `models:` line: only words that are one token in every model are proposed, so each suggestion passes cloze check', () => {
    // The field report: review-bert-small proposed wonderful/horrible/awful, which tiny-random-roberta splits
    // where the mask opens the input (`[MASK]! …`), so the block pasted in failed cloze check.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-suggest-'));
    const data = path.join(dir, 'rows.jsonl');
    fs.writeFileSync(data, sst2Lines(0, 300).join('\n'));
    const head =
      'model: review-bert-small\nmodels: review-bert-small, tiny-random-roberta\npattern lead: [MASK]! {text}\npattern short: {text} It was [MASK].\n';
    const file = path.join(dir, 'two.cloze');
    fs.writeFileSync(file, head);
    const run = cloze('suggest', file, '--data', data, '--top', '3', '--format', 'json');
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as SuggestJson & { model: string; checkedModels: string[]; unavailable: unknown[] };
    assert.ok(result.suggestions.length > 0);
    for (const suggestion of result.suggestions) {
      const pasted = path.join(dir, 'pasted.cloze');
      const block = Object.entries(suggestion.words).map(([label, words]) => `  ${label}: ${words.join(', ')}`);
      fs.writeFileSync(pasted, `${head}verbalizer:\n${block.join('\n')}\n`);
      const checked = cloze('check', pasted);
      assert.equal(checked.status, 0, `${JSON.stringify(suggestion.words)}: ${checked.stdout}`);
    }
    // Every candidate too: a verbalizer of all of them has no label word the models do not read as one token.
    const all = path.join(dir, 'all.cloze');
    const block = Object.entries(result.candidates).map(([label, words]) => `  ${label}: ${words.map((c) => c.word).join(', ')}`);
    fs.writeFileSync(all, `${head}verbalizer:\n${block.join('\n')}\n`);
    const checked = cloze('check', all, '--format', 'json');
    const codes = (JSON.parse(checked.stdout) as Array<{ diagnostics: Array<{ code: string }> }>)[0].diagnostics.map((d) => d.code);
    assert.ok(!codes.some((code) => code === 'label-word-multi-token' || code === 'label-word-unknown'), checked.stdout);
    // Scored with the default model; the words checked against both.
    assert.equal(result.model, 'review-bert-small');
    assert.deepEqual(result.checkedModels, ['review-bert-small', 'tiny-random-roberta']);
    assert.deepEqual(result.unavailable, []);
  });

  test('two words that are one token in another model of the file never go to two labels, nor twice to one', async () => {
    // Scored with a cased model, `Great` and `great` are two tokens; in an uncased model of `models:` they are one, and a
    // verbalizer holding both fails `cloze check` there (label-word-ambiguous across labels, label-word-repeated within one).
    const cased = await loadTokenizer('tiny-random-bert-cased');
    const uncased = await loadTokenizer('tiny-random-bert-uncased');
    const id = (word: string): number => {
      const pieces = cased.tokenize(` ${word}`);
      assert.equal(pieces.length, 1, `${word} is one token in tiny-random-bert-cased`);
      return pieces[0].id;
    };
    // The answers a model could give: on positive rows `Great` likeliest, then `good`; on negative rows `great`, then `bad`.
    // So by every criterion the best verbalizer is Great/great, which the uncased model reads as one token.
    const answers: Record<string, Record<string, number>> = {
      positive: { Great: 0.5, good: 0.2, great: 0.05, bad: 0.05 },
      negative: { great: 0.5, bad: 0.2, Great: 0.05, good: 0.05 },
    };
    const scorer = (inputs: readonly string[], wordIds: readonly number[], topK: number): Promise<MaskScores[]> =>
      Promise.resolve(
        inputs.map((input) => {
          const p = answers[input.includes('lovely') ? 'positive' : 'negative'];
          const all = Object.entries(p)
            .sort((a, b) => b[1] - a[1])
            .map(([token, probability]) => ({ token, tokenId: id(token), p: probability }));
          const top = all.slice(0, topK);
          const byId = new Map(all.map((t) => [t.tokenId, t.p]));
          return {
            maskFound: true,
            truncated: false,
            top,
            words: wordIds.map((tokenId) => ({ tokenId, p: byId.get(tokenId) ?? 0, rank: 1 })),
          };
        }),
      );
    const rows: PreviewRow[] = Array.from({ length: 20 }, (_, i) => ({
      line: i + 1,
      label: i % 2 === 0 ? 'positive' : 'negative',
      fields: new Map([['text', i % 2 === 0 ? `a lovely film ${i}` : `a dull film ${i}`]]),
    }));
    const doc = parse('pattern: {text} It was [MASK].\n');
    const options = { top: 10, candidates: 4, maxWordsPerLabel: 2, calibration: 'none' as const, poolSize: 4 };
    const alone = await suggestVerbalizers(doc, cased, scorer, ['positive', 'negative'], rows, options);
    // Without another model the search may use both (the scenario above is real for the scoring model alone).
    assert.deepEqual(alone.suggestions[0].words, { positive: ['Great'], negative: ['great'] });
    const checked = await suggestVerbalizers(doc, cased, scorer, ['positive', 'negative'], rows, { ...options, alsoSingleIn: [uncased] });
    assert.ok(checked.suggestions.length > 0, JSON.stringify(checked.candidates));
    for (const suggestion of checked.suggestions) {
      const lowered = Object.values(suggestion.words)
        .flat()
        .map((word) => word.toLowerCase());
      assert.equal(new Set(lowered).size, lowered.length, JSON.stringify(suggestion.words));
    }
  });

  test("a model of `models:` that cannot be loaded is named on stderr, in the header and in the JSON's `unavailable`, and the run exits 1", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-suggest-'));
    const data = path.join(dir, 'rows.jsonl');
    fs.writeFileSync(data, sst2Lines(0, 60).join('\n'));
    const file = path.join(dir, 'missing.cloze');
    fs.writeFileSync(file, 'model: review-bert-small\nmodels: review-bert-small, no-such-model\npattern short: {text} It was [MASK].\n');
    const text = cloze('suggest', file, '--data', data, '--top', '1');
    assert.equal(text.status, 1, text.stderr);
    assert.match(text.stderr, /could not be checked against no-such-model: Model no-such-model is unavailable/);
    assert.match(
      text.stdout,
      /^scored with review-bert-small only; words proposed only if one token in review-bert-small \(not checked in no-such-model: not loaded\)$/m,
    );
    const json = cloze('suggest', file, '--data', data, '--top', '1', '--format', 'json');
    assert.equal(json.status, 1, json.stderr);
    const result = JSON.parse(json.stdout) as { checkedModels: string[]; unavailable: Array<{ model: string; message: string }> };
    assert.deepEqual(result.checkedModels, ['review-bert-small']);
    assert.deepEqual(
      result.unavailable.map((u) => u.model),
      ['no-such-model'],
    );
    assert.match(result.unavailable[0].message, /no-such-model/);
  });
});
