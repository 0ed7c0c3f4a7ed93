// The arithmetic of docs/language.md "Meaning of the numbers", on numbers worked out by hand,
// including the degenerate inputs (no scorable word, a zero prior) that must never give NaN.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, calibrate, ensemble, labelProbabilities, labelScores, normalize, toRecord } from '../../server/src/language/scores';

function assertClose(actual: readonly number[], expected: readonly number[], tolerance = 1e-12): void {
  assert.equal(actual.length, expected.length, `length of ${JSON.stringify(actual)}`);
  actual.forEach((value, i) => {
    assert.ok(Number.isFinite(value), `entry ${i} is ${value}`);
    assert.ok(Math.abs(value - expected[i]) <= tolerance, `entry ${i}: ${value} ≠ ${expected[i]} (${JSON.stringify(actual)})`);
  });
}

describe('label probabilities', () => {
  const cases: Array<{ name: string; words: number[][]; scores: number[]; probabilities: number[] }> = [
    {
      name: 'two words per label',
      words: [
        [0.2, 0.1],
        [0.05, 0.15],
      ],
      scores: [0.3, 0.2],
      probabilities: [0.6, 0.4],
    },
    { name: 'three labels', words: [[0.1], [0.3], [0.1]], scores: [0.1, 0.3, 0.1], probabilities: [0.2, 0.6, 0.2] },
    { name: 'a label without scorable words', words: [[0.4], []], scores: [0.4, 0], probabilities: [1, 0] },
    { name: 'nothing scorable: uniform, not NaN', words: [[], []], scores: [0, 0], probabilities: [0.5, 0.5] },
    { name: 'every probability underflowed', words: [[0], [0], [0]], scores: [0, 0, 0], probabilities: [1 / 3, 1 / 3, 1 / 3] },
    { name: 'no labels', words: [], scores: [], probabilities: [] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const scores = labelScores(c.words);
      assertClose(scores, c.scores);
      assertClose(labelProbabilities(scores), c.probabilities);
    });
  }
});

describe('calibration', () => {
  const cases: Array<{ name: string; p: number[]; prior: number[]; expected: number[] }> = [
    // 0.6/0.8 : 0.4/0.2 = 0.75 : 2 → 3/11 : 8/11
    { name: 'divides by the prior and renormalises', p: [0.6, 0.4], prior: [0.8, 0.2], expected: [3 / 11, 8 / 11] },
    { name: 'a uniform prior changes nothing', p: [0.7, 0.2, 0.1], prior: [1 / 3, 1 / 3, 1 / 3], expected: [0.7, 0.2, 0.1] },
    { name: 'the prior itself comes out uniform', p: [0.9, 0.05, 0.05], prior: [0.9, 0.05, 0.05], expected: [1 / 3, 1 / 3, 1 / 3] },
    { name: 'a zero prior takes all the mass it is given', p: [0.5, 0.3, 0.2], prior: [0, 0.5, 0.5], expected: [1, 0, 0] },
    { name: 'zero prior and zero probability stay zero', p: [0, 0.5, 0.5], prior: [0, 0.2, 0.8], expected: [0, 0.8, 0.2] },
    { name: 'all zero: uniform', p: [0, 0], prior: [0, 0], expected: [0.5, 0.5] },
  ];
  for (const c of cases) test(c.name, () => assertClose(calibrate(c.p, c.prior), c.expected));
});

describe('ensemble and decisions', () => {
  test('the ensemble is the mean of the patterns', () => {
    assertClose(
      ensemble([
        [0.6, 0.4],
        [0.8, 0.2],
        [0.1, 0.9],
      ]),
      [0.5, 0.5],
    );
    assertClose(ensemble([[0.25, 0.75]]), [0.25, 0.75]);
    assert.deepEqual(ensemble([]), []);
  });
  test('argmax takes the first of equals', () => {
    assert.equal(argmax([0.2, 0.5, 0.5]), 1);
    assert.equal(argmax([]), -1);
  });
  test('normalize keeps proportions', () => assertClose(normalize([1, 3]), [0.25, 0.75]));
  test('records keep the labels', () => assert.deepEqual(toRecord(['正面', '负面'], [0.25, 0.75]), { 正面: 0.25, 负面: 0.75 }));
});
