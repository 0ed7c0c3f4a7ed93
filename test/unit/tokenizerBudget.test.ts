// The time budget of tokenizing (model/tokenizers.ts, boundedTokenizing): a check that is long
// for reasons of its own is stopped without blaming the tokenizer, which stays in use; the
// tokenizer is blamed (and then never used again) only by the test of a truly hanging one in
// test/protocol/reliability.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundedTokenizing, TokenizerTimeout } from '../../server/src/model/tokenizers';
import { loadTokenizer, serviceFor } from '../support/service';
import { parse } from '../../server/src/language';

test('a long check is stopped at its budget, the tokenizer is not blamed and stays loaded', async () => {
  const tokenizer = await loadTokenizer('tiny-random-bert-cased');
  const service = serviceFor('tiny-random-bert-cased');
  const choice = service.modelChoice(parse(''), undefined);
  assert.throws(
    () =>
      boundedTokenizing(200, () => {
        tokenizer.tokenize('a few words');
        const until = Date.now() + 2000;
        while (Date.now() < until) tokenizer.tokenId('x'); // slow, but not in the tokenizer
      }),
    (error: unknown) => error instanceof TokenizerTimeout && /the check ran longer than 200 ms/.test(error.message),
  );
  assert.equal(service.loadedTokenizer(choice), tokenizer, 'the tokenizer is still in use');
  assert.deepEqual(
    boundedTokenizing(1000, () => tokenizer.tokenize('great').map((p) => p.token)),
    ['great'],
  );
});
