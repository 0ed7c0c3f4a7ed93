// The order of the data lens's titles (server/src/lsp/dataLenses.ts): one line's lenses share a row
// that the editor cuts at its width, so the figures a reader compares first come first: this
// model's ensemble (or its only pattern), the other models' ensembles, then the patterns.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { titles } from '../../server/src/lsp/dataLenses';
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

function evaluation(model: string, patterns: string[]): DataEvaluation {
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
  };
}

const names = (lines: string[]): string[] => lines.map((line) => line.split(' ').slice(0, 2).join(' '));

describe('the data lens titles', () => {
  test('two patterns: heading, ensemble, the other model’s ensemble, then each pattern', () => {
    const lines = titles([
      { model: 'a', ok: true, evaluation: evaluation('a', ['short', 'long']) },
      { model: 'b', ok: true, evaluation: evaluation('b', ['short', 'long']) },
    ]);
    assert.deepEqual(names(lines), ['10 rows:', 'ensemble 90.0%', 'b: ensemble', 'short 50.0%', 'long 60.0%']);
  });

  test('one pattern: its figures are this model’s and come before the other model’s', () => {
    const lines = titles([
      { model: 'a', ok: true, evaluation: evaluation('a', ['short']) },
      { model: 'b', ok: false, reason: 'b is unavailable' },
    ]);
    assert.deepEqual(names(lines), ['10 rows:', 'short 50.0%', 'b: no']);
  });
});
