// The marker syntax of the diagnostic fixtures (test/fixtures/README.md): what a marker means, and
// that the comparison fails on every kind of difference. The fixture test is only as good as this.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compare, markerFor, readFixture, splitLines, type ActualDiagnostic } from '../support/markers';

function actual(startLine: number, startColumn: number, endColumn: number, code: string, message = ''): ActualDiagnostic {
  return { startLine, startColumn, endLine: startLine, endColumn, code, message, severity: 'error' };
}

describe('markers', () => {
  test('carets mark columns of the nearest line above that is not a marker', () => {
    const text = [
      'pattern: {x} [MASK] [MASK] [MASK]',
      '#                   ^^^^^^ mask-multiple',
      '#                          ^^^^^^ mask-multiple "second"',
    ].join('\n');
    const { expected } = readFixture(text);
    assert.deepEqual(
      expected.map((m) => [m.startLine, m.startColumn, m.endLine, m.endColumn, m.code, m.message]),
      [
        [0, 20, 0, 26, 'mask-multiple', undefined],
        [0, 27, 0, 33, 'mask-multiple', 'second'],
      ],
    );
  });

  test('`#^^^` starts in column 0', () => {
    const { expected } = readFixture('modle: x\n#^^^^^^^ syntax');
    assert.deepEqual([expected[0].startColumn, expected[0].endColumn], [0, 8]);
  });

  test('wide characters take two carets; carets must not cut one', () => {
    const { expected } = readFixture('  正面: 好, 很好\n#           ^^^^ label-word-multi-token');
    assert.deepEqual([expected[0].startColumn, expected[0].endColumn], [9, 11]);
    assert.throws(() => readFixture('  正面: 好\n#    ^ syntax'), /character boundaries/);
    const emoji = readFixture('  a: 😀\n#    ^^ label-word-unknown').expected[0];
    assert.deepEqual([emoji.startColumn, emoji.endColumn], [5, 7]);
  });

  test('explicit ranges, directives, and malformed markers', () => {
    const fixture = readFixture('\n#! cloze.model: some/model\n#@ 1:1-1:1 model-unavailable "setting"');
    assert.equal(fixture.settingsModel, 'some/model');
    assert.deepEqual(
      fixture.expected.map((m) => [m.startLine, m.startColumn, m.endLine, m.endColumn, m.code, m.message]),
      [[0, 0, 0, 0, 'model-unavailable', 'setting']],
    );
    assert.deepEqual([...fixture.markerLines], [2]);
    assert.throws(() => readFixture('x\n#   ^^^'), /malformed marker/);
    assert.throws(() => readFixture('x\n#   ^^^ Syntax'), /malformed marker/);
    assert.throws(() => readFixture('#! cloze.modelsDir: x'), /unknown directive/);
    assert.throws(() => readFixture('#  ^ syntax'), /needs a line above/);
  });

  test('comparison: missing, unexpected, multiset counts and message texts all fail', () => {
    const { expected } = readFixture('a [MASK] [MASK]\n#        ^^^^^^ mask-multiple "second"\n#        ^^^^^^ mask-multiple');
    const found = actual(0, 9, 15, 'mask-multiple', 'A second [MASK]');
    // Two markers, one diagnostic: one is missing.
    assert.equal(compare(expected, [found]).missing.length, 1);
    // Two identical diagnostics match two markers.
    const both = compare(expected, [found, found]);
    assert.deepEqual([both.missing.length, both.unexpected.length, both.wrongMessage.length], [0, 0, 0]);
    // A third is unexpected; a shifted range is both missing and unexpected; a wrong message is reported.
    assert.equal(compare(expected, [found, found, found]).unexpected.length, 1);
    const shifted = compare(expected, [found, actual(0, 8, 15, 'mask-multiple', 'A second [MASK]')]);
    assert.deepEqual([shifted.missing.length, shifted.unexpected.length], [1, 1]);
    const wrong = compare(expected, [actual(0, 9, 15, 'mask-multiple', 'other'), actual(0, 9, 15, 'mask-multiple', 'other')]);
    assert.equal(wrong.wrongMessage.length, 1);
  });

  test('markerFor draws what readFixture reads back', () => {
    const lines = splitLines('  正面: 好, 很好\nmodel: x\n');
    for (const d of [
      { startLine: 0, startColumn: 9, endLine: 0, endColumn: 11, code: 'label-word-multi-token' },
      { startLine: 1, startColumn: 0, endLine: 1, endColumn: 8, code: 'model-unavailable' },
      { startLine: 1, startColumn: 8, endLine: 1, endColumn: 8, code: 'model-unavailable' },
      { startLine: 1, startColumn: 1, endLine: 1, endColumn: 3, code: 'syntax' },
    ]) {
      const text = [...lines.slice(0, d.startLine + 1), markerFor(lines, d)].join('\n');
      const [read] = readFixture(text).expected;
      assert.deepEqual(
        [read.startLine, read.startColumn, read.endLine, read.endColumn, read.code],
        [d.startLine, d.startColumn, d.endLine, d.endColumn, d.code],
      );
    }
  });
});
