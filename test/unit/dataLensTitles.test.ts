// The data lens's titles (server/src/lsp/dataLenses.ts): one line's lenses share a row that the
// editor cuts at its width, so above the `data:` line come this model's ensemble (or its only
// pattern) and the other models' ensembles; each pattern's figures go above that pattern.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { patternTitles, titles } from '../../server/src/lsp/dataLenses';
import type { DataEvaluation, DataFigures } from '../../server/src/service/dataEvaluation';

function figures(name: string, accuracy: number): DataFigures {
  return {
    name,
    rows: 10,
    accuracy,
    calibratedAccuracy: accuracy,
    macroF1: accuracy,
    calibratedMacroF1: accuracy,
    meanGold: accuracy,
    meanGoldCalibrated: accuracy,
    perLabel: {},
    calibratedPerLabel: {},
    swapAccuracy: null,
    calibratedSwapAccuracy: null,
    confusion: {},
    calibratedConfusion: {},
  };
}

function evaluation(model: string, patterns: string[], calibration: 'content-free' | 'support' = 'content-free'): DataEvaluation {
  return {
    model,
    labels: ['positive', 'negative'],
    rows: 10,
    patterns: patterns.map((name, i) => figures(name, 0.5 + i / 10)),
    ensemble: figures('ensemble', 0.9),
    problems: [],
    skipped: {},
    reused: 0,
    misclassified: { raw: [], calibrated: [] },
    misclassifiedCount: { raw: 0, calibrated: 0 },
    calibration,
    supportSize: calibration === 'support' ? 12 : 0,
  };
}

const names = (lines: string[]): string[] => lines.map((line) => line.split(' ').slice(0, 2).join(' '));

describe('the data lens titles', () => {
  test('two patterns: heading, ensemble and the other model’s ensemble; each pattern’s figures named by the file', () => {
    const outcomes = [
      { model: 'a', ok: true, evaluation: evaluation('a', ['short', 'long']) },
      { model: 'b', ok: true, evaluation: evaluation('b', ['short', 'long']) },
    ] as const;
    // The figures first, the legend last: beside the preview panel only the start of the row is in view.
    assert.deepEqual(names(titles(outcomes)), ['ensemble 90.0%', 'b: accuracy', '10 rows']);
    assert.equal(titles(outcomes)[1], 'b: accuracy 90.0% (90.0%)');
    // The default prior (the empty input) goes unnamed; the support prior is named.
    assert.match(titles(outcomes).at(-1)!, /raw \(calibrated\)$/);
    const support = [{ model: 'a', ok: true, evaluation: evaluation('a', ['short', 'long'], 'support') }] as const;
    assert.match(titles(support).at(-1)!, /raw \(calibrated by the mean over rows and examples\)$/);
    const perPattern = patternTitles(outcomes, 'dev.jsonl');
    assert.deepEqual(
      perPattern.map((p) => [p.name, p.title.split(' ').slice(0, 2).join(' ')]),
      [
        ['short', 'dev.jsonl 50.0%'],
        ['long', 'dev.jsonl 60.0%'],
      ],
    );
    // Rows a pattern could not score (its mask cut off, NaN logits) are said, on the heading and the pattern.
    const partly = evaluation('a', ['short', 'long']);
    const cut = {
      ...partly,
      patterns: [partly.patterns[0], { ...partly.patterns[1], rows: 7 }],
      ensemble: { ...partly.ensemble, rows: 9 },
    };
    assert.match(titles([{ model: 'a', ok: true, evaluation: cut }]).at(-1)!, /^10 rows \(1 not scored\) · /);
    const cutTitles = patternTitles([{ model: 'a', ok: true, evaluation: cut }], 'dev.jsonl').map((p) => p.title);
    assert.ok(!cutTitles[0].includes('not scored') && cutTitles[1].endsWith(' · 3 not scored'), JSON.stringify(cutTitles));
    // Figures of an older version say so.
    assert.ok(patternTitles(outcomes, 'dev.jsonl', 'updating…').every((p) => p.title.endsWith(' · updating…')));
  });

  test('several data files: each pattern’s lens per file holds its accuracy alone, so the row of lenses fits', () => {
    const outcomes = [{ model: 'a', ok: true, evaluation: evaluation('a', ['short', 'long']) }] as const;
    const full = patternTitles(outcomes, 'dev.jsonl').map((p) => p.title);
    const compact = patternTitles(outcomes, 'dev.jsonl', '', true).map((p) => p.title);
    assert.deepEqual(compact, ['dev.jsonl accuracy 50.0% (50.0%)', 'dev.jsonl accuracy 60.0% (60.0%)']);
    // Two files' compact lenses together are shorter than one file's full figures were.
    assert.ok(compact[0].length * 2 < full[0].length + 25, `${compact[0]} vs ${full[0]}`);
  });

  test('one pattern: its figures are this model’s and come before the other model’s', () => {
    const lines = titles([
      { model: 'a', ok: true, evaluation: evaluation('a', ['short']) },
      { model: 'b', ok: false, reason: 'b is unavailable' },
    ]);
    assert.deepEqual(names(lines), ['short 50.0%', 'b: no', '10 rows']);
    // A failure shown while a newer version is evaluated says so.
    assert.deepEqual(titles([{ model: 'a', ok: false, reason: 'a is unavailable' }], 'updating…'), [
      'no evaluation: a is unavailable · updating…',
    ]);
    // No pattern could be evaluated: the heading alone, no row of empty figures.
    assert.deepEqual(names(titles([{ model: 'a', ok: true, evaluation: evaluation('a', []) }])), ['10 rows']);
    assert.deepEqual(patternTitles([{ model: 'a', ok: true, evaluation: evaluation('a', ['short']) }], 'dev.jsonl'), []);
  });
});
