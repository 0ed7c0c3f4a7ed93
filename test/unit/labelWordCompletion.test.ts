import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from '../../server/src/language/parse';
import { labelWordProposals, verbalizerEntryAt, type LabelWordRanking } from '../../server/src/language/labelWordCompletion';

/** Where label-word completion applies (the ranking itself is tested over LSP with a real model). */

const text = [
  'model: review-bert-small',
  'pattern: {review} It was [MASK].',
  'verbalizer:',
  '  positive: great, go',
  '  # a comment',
  '  negative: ',
  'example positive:',
  '  review: lovely',
  '',
].join('\n');
const doc = parse(text);
const at = (line: number, character: number): number => doc.lineStarts[line] + character;

describe('label-word completion sites', () => {
  test('after `label:` and after a comma in a verbalizer entry, with the word typed so far', () => {
    assert.deepEqual(verbalizerEntryAt(doc, at(5, 12)), { label: 'negative', words: [], replace: { start: at(5, 12), end: at(5, 12) } });
    assert.deepEqual(verbalizerEntryAt(doc, at(3, 21)), {
      label: 'positive',
      words: ['great'],
      replace: { start: at(3, 19), end: at(3, 21) },
    });
  });

  test('not on the label itself, nor in an example’s field lines, nor outside a verbalizer', () => {
    assert.equal(verbalizerEntryAt(doc, at(3, 5)), undefined);
    assert.equal(verbalizerEntryAt(doc, at(7, 16)), undefined);
    assert.equal(verbalizerEntryAt(doc, at(1, 20)), undefined);
  });

  test('proposals skip the words already there and carry their score; “scoring…” while not ready', () => {
    const site = verbalizerEntryAt(doc, at(3, 21))!;
    const ranking: LabelWordRanking = {
      state: 'ready',
      rows: 10,
      byLabel: new Map([
        [
          'positive',
          [
            { word: 'great', token: 'great', logProbability: -1.5, otherLogProbability: -3 },
            { word: 'good', token: 'good', logProbability: -1.8, otherLogProbability: -2.5 },
          ],
        ],
      ]),
    };
    const proposals = labelWordProposals(site, ranking);
    assert.deepEqual(
      proposals.map((p) => p.label),
      ['good'],
    );
    assert.match(proposals[0].detail, /mean log P -1\.80 on positive rows \(0\.70 above/);
    assert.deepEqual(
      labelWordProposals(site, { state: 'scoring' }).map((p) => p.label),
      ['scoring…'],
    );
  });
});
