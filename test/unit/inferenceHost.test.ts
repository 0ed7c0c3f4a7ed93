// The inference process (issue 9): it survives being killed any number of times, schedules the
// document the user looks at first in slices, is released when no document needs it, refuses models
// whose output is not vocabulary logits, and recovers when a broken model folder is fixed.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isCancelled } from '../../server/src/model/cancelled';
import { InferenceWorker } from '../../server/src/model/inferenceWorker';
import type { ModelRequest } from '../../server/src/model/messages';
import { brokenModelFolder, fixModelFolder, writeBrokenOnnx } from '../support/brokenModels';
import { engineCacheDir, location } from '../support/directOnnx';
import { cliMain, modelsDir } from '../support/paths';
import { alive } from '../support/processes';

const model: ModelRequest = { location: location('tiny-random-bert-uncased'), cacheDir: engineCacheDir, quantized: true };
const wordIds = [2307, 6659];

function inputs(tag: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `Review ${tag} ${i}: ${'a long and winding story '.repeat(1 + (i % 7))}. It was [MASK].`);
}

function brokenRequest(root: string, name: string): ModelRequest {
  return { location: { ok: true, source: 'path', root, name, id: `./${name}` }, cacheDir: engineCacheDir, quantized: true };
}

const hosts: InferenceWorker[] = [];
function host(options: ConstructorParameters<typeof InferenceWorker>[0] = {}): InferenceWorker {
  const created = new InferenceWorker({ log: () => undefined, ...options });
  hosts.push(created);
  return created;
}
after(async () => Promise.all(hosts.map((h) => h.dispose())));

describe('the inference process', () => {
  test('survives being killed 6 times while scoring: every request is answered, by a fresh process', async () => {
    const worker = host({ sliceInputs: 16 });
    const pids = new Set<number>();
    for (let round = 0; round < 6; round++) {
      const scoring = worker.score({
        model,
        key: 'file:///r.cloze',
        version: round + 1,
        inputs: inputs(`round${round}`, 48),
        wordIds,
        topK: 1,
      });
      // Wait until the process runs (it has loaded and answers), then kill it mid-request.
      const { pid } = await worker.stats();
      assert.ok(pid, 'a process runs');
      pids.add(pid);
      process.kill(pid, 'SIGKILL');
      const scores = await scoring;
      assert.equal(scores.length, 48, `round ${round}: the request was finished after the crash`);
      assert.ok(scores.every((s) => s.maskFound && s.words.length === 2));
    }
    assert.equal(pids.size, 6, 'each round killed a different process');
    assert.ok(worker.processesStarted >= 7, `${worker.processesStarted} processes started`);
    const last = await worker.score({ model, key: 'file:///r.cloze', version: 100, inputs: inputs('after', 3), wordIds, topK: 1 });
    assert.equal(last.length, 3);
  });

  test('the document the user looks at goes first; a long preview yields between slices', async () => {
    const worker = host({ sliceInputs: 32 });
    await worker.loadModel(model);
    const finished: string[] = [];
    worker.focus('file:///big.cloze');
    const big = worker
      .score({ model, key: 'file:///big.cloze', version: 1, inputs: inputs('big', 600), wordIds, topK: 1 })
      .then(() => finished.push('big'));
    const other = worker
      .score({ model, key: 'file:///other.cloze', version: 1, inputs: inputs('other', 8), wordIds, topK: 1 })
      .then(() => finished.push('other (arrived second, never focused)'));
    // The user switches to a small document while the big one runs.
    await new Promise((resolve) => setTimeout(resolve, 50));
    worker.focus('file:///small.cloze');
    const small = worker
      .score({ model, key: 'file:///small.cloze', version: 1, inputs: inputs('small', 8), wordIds, topK: 1 })
      .then(() => finished.push('small'));
    await Promise.all([big, other, small]);
    assert.deepEqual(finished, ['small', 'big', 'other (arrived second, never focused)']);
  });

  test('among documents nobody focused, arrival order', async () => {
    const worker = host({ sliceInputs: 8 });
    const finished: string[] = [];
    const first = worker
      .score({ model, key: 'a', version: 1, inputs: inputs('fifo-a', 40), wordIds, topK: 1 })
      .then(() => finished.push('a'));
    const second = worker
      .score({ model, key: 'b', version: 1, inputs: inputs('fifo-b', 8), wordIds, topK: 1 })
      .then(() => finished.push('b'));
    await Promise.all([first, second]);
    assert.deepEqual(finished, ['a', 'b']);
  });

  test('a newer version cancels the older request, also between its slices', async () => {
    const worker = host({ sliceInputs: 8 });
    const older = worker.score({ model, key: 'k', version: 1, inputs: inputs('cancel-old', 200), wordIds, topK: 1 });
    const newer = worker.score({ model, key: 'k', version: 2, inputs: inputs('cancel-new', 4), wordIds, topK: 1 });
    await assert.rejects(older, (error) => isCancelled(error));
    assert.equal((await newer).length, 4);
    assert.ok((await worker.stats()).computedPairs < 100, 'the old request stopped early');
  });

  test('with no document left, the process is stopped; the next request starts a new one', async () => {
    const worker = host();
    await worker.score({ model, key: 'm', version: 1, inputs: inputs('memory', 4), wordIds, topK: 1 });
    const pid = worker.pid!;
    assert.ok(alive(pid));
    worker.retain([model]);
    assert.equal(worker.pid, pid, 'kept while a document uses the model');
    worker.forget('m');
    worker.retain([]);
    assert.equal(worker.pid, undefined);
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(alive(pid), false, 'the process exited');
    assert.equal((await worker.stats()).pid, null, 'asking for counters starts nothing');
    assert.equal((await worker.score({ model, key: 'm', version: 1, inputs: inputs('memory', 2), wordIds, topK: 1 })).length, 2);
    assert.notEqual(worker.pid, pid);
  });

  test('a request that scores in several calls holds the process between them, though no document is left', async () => {
    // An evaluation scores chunk after chunk: released between two of them, the process was
    // stopped and the next chunk started a new one, loading the model again, for every chunk.
    const worker = host();
    worker.retain([]);
    const release = worker.hold(model);
    await worker.score({ model, key: 'e', version: 1, inputs: inputs('held', 2), wordIds, topK: 1 });
    const pid = worker.pid!;
    worker.retain([]);
    await worker.score({ model, key: 'e', version: 2, inputs: inputs('held', 2), wordIds, topK: 1 });
    assert.equal(worker.pid, pid, 'the same process scored the second call');
    assert.equal(worker.processesStarted, 1);
    release();
    assert.equal(worker.pid, undefined, 'let go with no document left: stopped');
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(alive(pid), false, 'the process exited');
  });

  test('dispose kills the process while it scores, and resolves', async () => {
    const worker = host({ sliceInputs: 2000 });
    const scoring = worker.score({ model, key: 'd', version: 1, inputs: inputs('dispose', 1500), wordIds, topK: 1 }).then(
      () => 'answered',
      (error: Error) => error.message,
    );
    const { pid } = await worker.stats();
    await worker.dispose();
    assert.match(await scoring, /disposed/);
    assert.equal(alive(pid!), false);
  });
});

describe('models that cannot be scored', () => {
  const worker = host();

  test('an output that is not vocabulary-sized is refused at load, with the reason', async () => {
    const { root } = brokenModelFolder('classifier', 'narrow-output');
    await assert.rejects(worker.loadModel(brokenRequest(root, 'classifier')), (error: Error) => {
      assert.match(error.message, /gives 2 scores, not one score per vocabulary token \(30522\)/);
      assert.match(error.message, /masked-LM export/);
      return true;
    });
  });

  test('int64 logits are refused at load, and the message says int64', async () => {
    const { root } = brokenModelFolder('int64', 'int64-logits');
    await assert.rejects(worker.loadModel(brokenRequest(root, 'int64')), (error: Error) => {
      assert.match(error.message, /not float32 logits/);
      assert.match(error.message, /int64 logits of shape \[1, 3, 30522\]/);
      return true;
    });
  });

  test('a model file broken after it loaded fails cleanly, and works again once the folder is fixed, without a restart', async () => {
    const { root, folder } = brokenModelFolder('fixable', 'truncated');
    const request = brokenRequest(root, 'fixable');
    const score = (version: number) =>
      worker.score({ model: request, key: 'fix', version, inputs: inputs(`fix${version}`, 3), wordIds, topK: 1 });
    await assert.rejects(score(1), /not a complete ONNX model|protobuf parsing failed/i);
    fixModelFolder(folder);
    assert.equal((await score(2)).length, 3, 'fixed: it loads now');
    writeBrokenOnnx(folder, 'narrow-output');
    await assert.rejects(score(3), /not one score per vocabulary token/, 'a changed file is loaded again, not the old engine');
    fixModelFolder(folder);
    assert.equal((await score(4)).length, 3);
    assert.ok(fs.existsSync(path.join(folder, 'onnx', 'model_quantized.onnx')));
  });
});

describe('the CLI on models that fail', () => {
  function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [cliMain, ...args], { encoding: 'utf8' }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  test('a tokenizer of another model, or an empty ONNX file, is said as such: no ONNX Runtime log lines, no models-dir hint', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-mismatch-'));
    // The real files of two models put together, as a user copying folders does: [tokenizer donor, ONNX donor].
    const pairs: Record<string, [string, string]> = {
      'roberta-on-chinese': ['tiny-random-roberta', 'tiny-random-bert-chinese'],
      'cased-on-uncased': ['tiny-random-bert-cased', 'tiny-random-bert-uncased'],
      empty: ['tiny-random-bert-uncased', ''],
    };
    for (const [name, [tokenizerDonor, onnxDonor]] of Object.entries(pairs)) {
      fs.mkdirSync(path.join(root, name, 'onnx'), { recursive: true });
      for (const file of fs.readdirSync(path.join(modelsDir(), tokenizerDonor)).filter((f) => f.endsWith('.json')))
        fs.copyFileSync(path.join(modelsDir(), tokenizerDonor, file), path.join(root, name, file));
      const onnx = path.join(root, name, 'onnx', 'model_quantized.onnx');
      if (onnxDonor === '') fs.writeFileSync(onnx, '');
      else fs.copyFileSync(path.join(modelsDir(), onnxDonor, 'onnx', 'model_quantized.onnx'), onnx);
    }
    const file = path.join(root, 'mixed.cloze');
    fs.writeFileSync(
      file,
      'pattern: {text} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\nexample positive: Fine.\n',
    );
    const expected: Record<string, RegExp> = {
      'roberta-on-chinese':
        /its tokenizer has 50,265 tokens but the model's embedding has 21,128 rows, so tokenizer\.json and onnx\/model_quantized\.onnx come from different models/,
      'cased-on-uncased':
        /at the mask its output gives more scores than its tokenizer has tokens \(28,996\), so tokenizer\.json or config\.json \(vocab_size\) come from a different model than onnx\/model_quantized\.onnx/,
      empty: /\(onnx\/model_quantized\.onnx\): the file is empty \(0 bytes\): a download or copy that did not finish\?/,
    };
    for (const [name, said] of Object.entries(expected)) {
      for (const command of ['preview', 'eval']) {
        const data = command === 'eval' ? ['--data', path.join(root, 'rows.jsonl')] : [];
        fs.writeFileSync(path.join(root, 'rows.jsonl'), '{"text":"Fine.","label":"positive"}\n');
        const { code, stderr } = await cli([command, file, '--model', path.join(root, name), ...data, '--offline']);
        assert.equal(code, 1, `${command} ${name}: ${stderr}`);
        assert.match(stderr, said, `${command} ${name}`);
        assert.doesNotMatch(
          stderr,
          /\[E:onnxruntime|sequential_executor|not float32 logits|No graph was found|models are looked for/,
          `${command} ${name}`,
        );
      }
    }
  });

  for (const breakage of ['narrow-output', 'int64-logits', 'truncated'] as const) {
    test(`cloze preview exits 1 with model-unavailable on the model line (${breakage})`, async () => {
      const { root } = brokenModelFolder('m', breakage);
      const file = path.join(root, 'broken.cloze');
      fs.writeFileSync(
        file,
        [
          'model: ./m',
          'pattern: {text} It was [MASK].',
          'verbalizer:',
          '  positive: great',
          '  negative: terrible',
          'example positive: Fine.',
          '',
        ].join('\n'),
      );
      const { code, stdout, stderr } = await cli(['preview', file, '--models-dir', modelsDir(), '--offline', '--format', 'json']);
      assert.equal(code, 1, `exit code; stderr:\n${stderr}`);
      // No numbers for a model that cannot be scored: the failure as JSON, its messages those of stderr.
      assert.deepEqual(JSON.parse(stdout), { ok: false, exitCode: 1, messages: stderr.split('\n').filter((line) => line !== '') });
      assert.match(stderr, /broken\.cloze:1:8 error model-unavailable Model \.\/m is unavailable: /);
      assert.doesNotMatch(stderr, /at .*\.js:\d+/, 'no stack trace');
    });
  }
});
