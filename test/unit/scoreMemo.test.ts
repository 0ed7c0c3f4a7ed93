import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from '../../server/src/language/parse';
import type { MaskScores, Scorer } from '../../server/src/language/scores';
import { evaluateDocument } from '../../server/src/lsp/customRequests';
import { MaskedLmEngine } from '../../server/src/model/engine';
import { InferenceWorker } from '../../server/src/model/inferenceWorker';
import { defaultSettings } from '../../server/src/protocol/settings';
import { ScoreMemo } from '../../server/src/service/scoreMemo';
import { sentenceDataDocument } from '../support/documents';
import { sst2Lines, sst2Rows } from '../support/paths';
import { loadTokenizer, serviceFor } from '../support/service';

/**
 * The memo between the data evaluations and the model (service/scoreMemo.ts), over review-bert-small
 * through the real engine: what it answers from memory equals what the engine computes, and it scores
 * exactly the inputs, words and top tokens it has not seen.
 */

describe('ScoreMemo', () => {
  let engine: MaskedLmEngine;
  let mask: string;
  let wordIds: number[];
  let otherIds: number[];
  /** Every input the engine was asked for, call by call. */
  const calls: string[][] = [];
  const counted: Scorer = (inputs, ids, topK) => {
    calls.push([...inputs]);
    return engine.score(inputs, ids, topK);
  };

  before(async () => {
    const service = serviceFor('review-bert-small');
    const choice = service.modelChoice(parse('model: review-bert-small\n'), undefined);
    assert.ok(choice.location.ok && choice.location.source !== 'remote');
    engine = await MaskedLmEngine.load(choice.location, service.settings.cacheDir, { quantized: true });
    const tokenizer = await loadTokenizer('review-bert-small');
    mask = tokenizer.special.mask;
    const id = (word: string): number => {
      const found = tokenizer.tokenId(word);
      assert.ok(found !== undefined, word);
      return found;
    };
    wordIds = ['great', 'terrible'].map(id);
    otherIds = ['good', 'bad'].map(id);
  });
  after(async () => {
    await engine?.dispose();
  });

  const inputsOf = (from: number, to: number): string[] =>
    sst2Rows(to)
      .slice(from)
      .map((row) => `${row.text} It was ${mask}.`);

  test('answers a repeated request from memory, equal to what the engine computes', async () => {
    const memo = new ScoreMemo();
    const scorer = memo.scorer(() => 'review-bert-small|int8', counted);
    calls.length = 0;
    const inputs = inputsOf(0, 12);
    const first = await scorer(inputs, wordIds, 3);
    const again = await scorer([...inputs].reverse(), wordIds, 3);
    assert.equal(calls.length, 1);
    assert.deepEqual(again, [...first].reverse());
    assert.deepEqual(first, await engine.score(inputs, wordIds, 3));
    // Fewer top tokens: from memory, the first of them.
    calls.length = 0;
    const fewer = await scorer(inputs, wordIds, 1);
    assert.equal(calls.length, 0);
    assert.deepEqual(fewer, await engine.score(inputs, wordIds, 1));
  });

  test('scores only the inputs it has not seen, and asks again for words or top tokens it lacks', async () => {
    const memo = new ScoreMemo();
    const scorer = memo.scorer(() => 'review-bert-small|int8', counted);
    await scorer(inputsOf(0, 8), wordIds, 1);
    calls.length = 0;
    const mixed = [...inputsOf(4, 12), ...inputsOf(6, 7), ...inputsOf(9, 10)];
    const answer = await scorer(mixed, wordIds, 1);
    assert.deepEqual(calls, [inputsOf(8, 12)], 'the new rows only, each once');
    assert.deepEqual(answer, await engine.score(mixed, wordIds, 1));

    calls.length = 0;
    const both = [...wordIds, ...otherIds];
    const words = await scorer(inputsOf(0, 4), both, 1);
    assert.equal(calls.length, 1, 'other label words are scored');
    assert.deepEqual(words, await engine.score(inputsOf(0, 4), both, 1));
    // Now both sets are remembered, and either alone is answered from memory.
    calls.length = 0;
    assert.deepEqual(await scorer(inputsOf(0, 4), otherIds, 1), await engine.score(inputsOf(0, 4), otherIds, 1));
    assert.deepEqual(await scorer(inputsOf(0, 4), wordIds, 1), await engine.score(inputsOf(0, 4), wordIds, 1));
    assert.equal(calls.length, 0);

    const more = await scorer(inputsOf(0, 2), wordIds, 5);
    assert.equal(calls.length, 1, 'more top tokens than remembered are scored');
    assert.deepEqual(more, await engine.score(inputsOf(0, 2), wordIds, 5));
  });

  test('keeps models apart, remembers nothing of a failed call, and stays within its budget', async () => {
    const memo = new ScoreMemo();
    calls.length = 0;
    await memo.scorer(() => 'model-a', counted)(inputsOf(0, 4), wordIds, 1);
    await memo.scorer(() => 'model-b', counted)(inputsOf(0, 4), wordIds, 1);
    assert.equal(calls.length, 2, 'another model key is another model');

    const failing: Scorer = () => Promise.reject(new Error('the worker stopped'));
    await assert.rejects(memo.scorer(() => 'model-c', failing)(inputsOf(0, 4), wordIds, 1), /the worker stopped/);
    calls.length = 0;
    await memo.scorer(() => 'model-c', counted)(inputsOf(0, 4), wordIds, 1);
    assert.equal(calls.length, 1);

    // A budget of about three entries: the oldest go first, the newest is kept.
    const small = new ScoreMemo(3 * (inputsOf(0, 1)[0].length + 400));
    const scorer = small.scorer(() => 'm', counted);
    await scorer(inputsOf(0, 10), wordIds, 1);
    assert.ok(small.size <= 3 && small.size >= 1, String(small.size));
    calls.length = 0;
    await scorer(inputsOf(9, 10), wordIds, 1);
    assert.equal(calls.length, 0, 'the last input scored is remembered');
    await scorer(inputsOf(0, 1), wordIds, 1);
    assert.equal(calls.length, 1, 'the first was let go');
  });

  test('an input without a visible mask is remembered as such', async () => {
    const memo = new ScoreMemo();
    const scorer = memo.scorer(() => 'm', counted);
    const inputs = ['No mask in this text at all.', ...inputsOf(0, 1)];
    const first: MaskScores[] = await scorer(inputs, wordIds, 1);
    calls.length = 0;
    const again = await scorer(inputs, [...wordIds, ...otherIds], 1);
    assert.deepEqual(calls, [[inputs[1]]], 'the input without a mask has no words to score');
    assert.equal(again[0].maskFound, false);
    assert.deepEqual(again[0], first[0]);
  });

  test('numbers scored while the model files changed, or across a clear, are returned but not remembered', async () => {
    const memo = new ScoreMemo();
    let stamp = 'files-1';
    const replacedMeanwhile: Scorer = async (inputs, ids, topK) => {
      const scores = await counted(inputs, ids, topK);
      stamp = 'files-2';
      return scores;
    };
    const inputs = inputsOf(0, 3);
    const answer = await memo.scorer(() => `m|${stamp}`, replacedMeanwhile)(inputs, wordIds, 1);
    assert.deepEqual(answer, await engine.score(inputs, wordIds, 1));
    assert.equal(memo.size, 0);

    const clearedMeanwhile: Scorer = async (inputs, ids, topK) => {
      const scores = await counted(inputs, ids, topK);
      memo.clear();
      return scores;
    };
    await memo.scorer(() => 'm', clearedMeanwhile)(inputs, wordIds, 1);
    assert.equal(memo.size, 0);
  });
});

describe("Evaluate on the File's Data through the memo", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-memo-evaluate-'));
  const worker = new InferenceWorker({ log: () => undefined });
  after(async () => {
    await worker.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('answered from memory, it still stops when cancelled', async () => {
    const file = path.join(dir, 'memo.cloze');
    const text = sentenceDataDocument('review-bert-small');
    fs.writeFileSync(path.join(dir, 'rows.jsonl'), `${sst2Lines(0, 20).join('\n')}\n`);
    fs.writeFileSync(file, text);
    const service = serviceFor('review-bert-small');
    const doc = parse(text);
    const choice = service.modelChoice(doc, file);
    const memo = new ScoreMemo();
    const run = (signal: AbortSignal) =>
      evaluateDocument(
        doc,
        file,
        service,
        choice,
        defaultSettings,
        worker,
        service.settings.cacheDir,
        'memo-test',
        undefined,
        () => undefined,
        signal,
        memo,
      );
    const first = await run(new AbortController().signal);
    assert.ok(first.ok, JSON.stringify(first).slice(0, 300));
    assert.ok(memo.size >= 20, String(memo.size));
    // Every row is remembered now: a cancelled evaluation must not run on from memory and report.
    const cancelled = new AbortController();
    cancelled.abort('the request was cancelled');
    await assert.rejects(run(cancelled.signal), /cancelled/);
    const again = await run(new AbortController().signal);
    assert.ok(again.ok);
    assert.deepEqual(again.evaluation, first.evaluation);
  });
});
