// The inference process: one child process owns the engines. Scoring through it equals
// scoring in-process; a newer document version cancels older requests with a recognisable error;
// a broken model comes back as a rejected promise with a clear message, and the process lives on.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isCancelled } from '../../server/src/model/cancelled';
import { DEFAULT_SLICE_INPUTS, InferenceWorker } from '../../server/src/model/inferenceWorker';
import type { LoadEvent, ModelRequest } from '../../server/src/model/messages';
import { engineCacheDir, engineFor, location } from '../support/directOnnx';
import { modelsDir } from '../support/paths';

const events: LoadEvent[] = [];
const worker = new InferenceWorker({ onLoadEvent: (event) => events.push(event) });
after(() => worker.dispose());

// A tiny model: what is tested here is the plumbing, and it loads in a tenth of a second.
const model = 'tiny-random-bert-uncased';
const request: ModelRequest = { location: location(model), cacheDir: engineCacheDir, quantized: true };
const wordIds = [2307, 6659];
const reviews = [
  'I like the Disney films very much. It was [MASK].',
  'The plot was dull and the acting was worse. It was [MASK].',
  'Just [MASK]! A quiet film.',
];

/** Inputs no other test has scored, so the worker must run them. */
function freshInputs(tag: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `Review ${tag} number ${i}: ${'long and winding '.repeat(i % 5)}story. It was [MASK].`);
}

describe('the inference worker', () => {
  test('scores exactly as the engine does in-process', async () => {
    const viaWorker = await worker.score({ model: request, key: 'file:///a.cloze', version: 1, inputs: reviews, wordIds, topK: 5 });
    const inProcess = await (await engineFor(model, { quantized: true })).score(reviews, wordIds, 5);
    assert.deepEqual(viaWorker, inProcess);
  });

  test('reports loading a model', async () => {
    const info = await worker.loadModel(request);
    assert.equal(info.id, model);
    assert.equal(info.file, 'onnx/model_quantized.onnx');
    const mine = events.filter((event) => event.id === model);
    assert.deepEqual(
      mine.map((event) => (event.type === 'load-end' ? `end ${event.ok}` : 'start')),
      ['start', 'end true'],
      'loaded once, however many requests',
    );
  });

  test('counts what the cache answered', async () => {
    const before = await worker.stats();
    await worker.score({ model: request, key: 'file:///a.cloze', version: 2, inputs: reviews, wordIds: [2204], topK: 1 });
    const after = await worker.stats();
    assert.equal(after.computedPairs, before.computedPairs);
    assert.equal(after.cachedPairs, before.cachedPairs + reviews.length);
  });

  test('a newer version of a document cancels the older requests', async () => {
    const key = 'file:///b.cloze';
    // More inputs than one slice (DEFAULT_SLICE_INPUTS): the inference process gets a request a slice at
    // a time, so the newer version stops it between slices. (With fewer, the one slice may already be
    // running in the inference process when the cancel comes, and it is answered whole.)
    const olderCount = DEFAULT_SLICE_INPUTS * 4;
    const older = worker.score({ model: request, key, version: 1, inputs: freshInputs('old', olderCount), wordIds, topK: 1 });
    const queued = worker.score({ model: request, key, version: 2, inputs: freshInputs('queued', 4), wordIds, topK: 1 });
    const otherDocument = worker.score({ model: request, key: 'file:///c.cloze', version: 1, inputs: reviews, wordIds, topK: 1 });
    const newest = worker.score({ model: request, key, version: 3, inputs: reviews, wordIds, topK: 1 });
    await assert.rejects(older, (error) => isCancelled(error));
    await assert.rejects(queued, (error) => isCancelled(error));
    assert.equal((await newest).length, reviews.length);
    assert.equal((await otherDocument).length, reviews.length);
    // A late answer for a version older than one already asked for is stale on arrival.
    await assert.rejects(worker.score({ model: request, key, version: 2, inputs: reviews, wordIds, topK: 1 }), (error) =>
      isCancelled(error),
    );
    const stats = await worker.stats();
    // 3 inputs ran before; had the cancel not stopped the older request between slices, all of its would have run.
    assert.ok(stats.computedPairs < 3 + olderCount, `the cancelled request stopped early (${stats.computedPairs} computed)`);
  });

  test('a broken model file rejects with a clear message and the worker lives on', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-broken-'));
    const folder = path.join(root, 'broken-bert');
    fs.mkdirSync(path.join(folder, 'onnx'), { recursive: true });
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      fs.copyFileSync(path.join(modelsDir(), 'tiny-random-bert-uncased', file), path.join(folder, file));
    }
    fs.writeFileSync(path.join(folder, 'onnx', 'model_quantized.onnx'), 'this is not an ONNX file');
    const broken: ModelRequest = {
      location: { ok: true, source: 'path', root, name: 'broken-bert', id: './broken-bert' },
      cacheDir: engineCacheDir,
      quantized: true,
    };

    await assert.rejects(worker.loadModel(broken), (error: Error) => {
      assert.ok(!isCancelled(error));
      assert.match(error.message, /\.\/broken-bert could not be loaded for scoring from .*broken-bert \(onnx\/model_quantized\.onnx\)/);
      return true;
    });
    await assert.rejects(
      worker.score({ model: { ...broken, quantized: false }, key: 'file:///d.cloze', version: 1, inputs: reviews, wordIds, topK: 1 }),
      /onnx\/model\.onnx/,
    );
    assert.ok(events.some((event) => event.type === 'load-end' && !event.ok && event.id === './broken-bert'));
    // The worker is still there and still answers.
    assert.equal(
      (await worker.score({ model: request, key: 'file:///a.cloze', version: 3, inputs: reviews, wordIds, topK: 1 })).length,
      reviews.length,
    );
  });

  test('after dispose, requests reject instead of hanging', async () => {
    const short = new InferenceWorker();
    await short.dispose();
    await assert.rejects(short.score({ model: request, key: 'k', version: 1, inputs: reviews, wordIds, topK: 1 }), /disposed/);
  });
});
