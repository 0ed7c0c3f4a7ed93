import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource, type CodeLens } from 'vscode-languageserver-protocol';
import type { EvaluateResult, ModelState, PreviewData } from '../../server/src/protocol/messages';
import { startServer, type TestClient } from '../support/lsp';
import { cliMain, modelsDir, repoRoot, sst2Lines } from '../support/paths';

/**
 * What the VS Code client's panel, status bar and evaluation command get from
 * the server, over the real protocol with real models: `cloze/previewData`
 * equals `cloze preview --format json`, `cloze/evaluate` equals
 * `cloze eval --format json`, `cloze/modelState` says loading, ready and
 * unavailable (with the reason), and the lenses tell the truth about
 * examples with errors, skipped label words and a missing model.
 */

const sentiment = path.join(repoRoot, 'examples', 'sentiment.cloze');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-panel-test-'));

function cli(...args: string[]): unknown {
  return JSON.parse(
    execFileSync(process.execPath, [cliMain, ...args, '--format', 'json', '--models-dir', modelsDir(), '--offline'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
}

async function open(client: TestClient, file: string, text = fs.readFileSync(file, 'utf8')): Promise<string> {
  const uri = pathToFileURL(file).href;
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
  return uri;
}

async function resolvedTitles(client: TestClient, uri: string): Promise<Array<{ line: number; title: string; command: string }>> {
  const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
  const resolved = await Promise.all(
    lenses.map((lens) => (lens.command ? lens : (client.connection.sendRequest('codeLens/resolve', lens) as Promise<CodeLens>))),
  );
  // A client without lens refresh (this one) resolves every lens it was given; those with nothing to say come back empty.
  return resolved
    .map((lens) => ({ line: lens.range.start.line + 1, title: lens.command?.title ?? '', command: lens.command?.command ?? '' }))
    .filter((lens) => lens.title !== '');
}

describe('panel, evaluation and model state over stdio', () => {
  let client: TestClient;
  const states: ModelState[] = [];
  // Answered to every configuration pull; the evaluation test changes it and tells the server.
  const settings: Record<string, unknown> = { modelsDir: modelsDir(), allowRemoteModels: false };

  before(async () => {
    client = await startServer(settings);
    client.connection.onNotification('cloze/modelState', (state: ModelState) => states.push(state));
  });
  after(async () => {
    await client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('cloze/previewData is the preview of `cloze preview --format json`, and the model state goes loading → ready', async () => {
    const uri = await open(client, sentiment);
    const data = (await client.connection.sendRequest('cloze/previewData', { uri })) as PreviewData;
    assert.ok(data.ok, JSON.stringify(data));
    const expected = cli('preview', sentiment) as Record<string, unknown>;
    const quantized = expected['quantized'];
    delete expected['file'];
    delete expected['quantized'];
    // The engine object (file, graph, precision) is beside the preview in the panel's data.
    assert.deepEqual(data.engine, expected['engine']);
    delete expected['engine'];
    assert.deepEqual(JSON.parse(JSON.stringify(data.preview)), expected);
    assert.equal(data.quantized, quantized);
    const mine = states.filter((s) => s.uri === uri).map((s) => `${s.state}: ${s.detail}`);
    assert.ok(
      mine.some((s) => s.startsWith('loading: tokenizer')),
      mine.join('\n'),
    );
    assert.ok(
      mine.some((s) => s.startsWith('loading: model weights')),
      mine.join('\n'),
    );
    assert.match(mine.at(-1) ?? '', /^ready: .*\.onnx loaded$/);
    assert.equal(states.find((s) => s.uri === uri)?.model, 'review-bert-small');
  });

  test('lenses: an example with an error is not scored, skipped label words are listed, wrong ones are marked', async () => {
    const file = path.join(dir, 'truth.cloze');
    const text = [
      'model: review-bert-small',
      'pattern short: {review} It was [MASK].',
      'pattern long: {review} All in all, it was [MASK].',
      'pattern lead: Just [MASK]! {review}',
      'pattern four: {review} Overall [MASK].',
      'verbalizer:',
      '  positive: great, good, fantastically',
      '  negative: terrible, bad',
      'example positive: The plot was dull and the acting was worse.',
      'example negative:',
      '  text: a field no pattern reads',
      'example positive: I like the Disney films very much.',
      '',
    ].join('\n');
    fs.writeFileSync(file, text);
    const uri = await open(client, file, text);
    await resolvedTitles(client, uri);
    // Asked again once the preview is there (as VS Code does on the server's refresh): now with the label lines' lenses.
    const lenses = await resolvedTitles(client, uri);
    const on = (line: number): string[] => lenses.filter((l) => l.line === line).map((l) => l.title);
    assert.match(on(9)[0], /^✗ wrong · all patterns: negative \d+%, the label is positive$/);
    assert.match(on(12)[0], /^✓ right · all patterns: positive \d+%$/);
    // Four patterns: three on one lens, the fourth on the next; none cut off.
    assert.deepEqual(
      on(9)
        .slice(1)
        .map((t) => t.split(' · ').map((p) => p.split(':')[0])),
      [['short', 'long', 'lead'], ['four']],
    );
    assert.match(on(9)[1], /✗/);
    assert.deepEqual(on(10), [
      '⚠ not scored: this example has no field `review`, which pattern `short`, pattern `long`, pattern `lead` and 1 more use as {review}',
    ]);
    assert.match(on(7).join('\n'), /⚠ not scored: fantastically \(it is not one token: fantastically → fantastic ##ally\)/);
    assert.match(on(6).join('\n'), /1 label word is not scored: fantastically/);
    // The pattern lenses count the two examples without errors, not the one with a missing field.
    assert.ok(
      on(2).some((t) => / of 2 examples right/.test(t)),
      on(2).join('\n'),
    );
    assert.ok(lenses.every((l) => l.command === 'cloze.openPreview'));
    const data = (await client.connection.sendRequest('cloze/previewData', { uri })) as PreviewData;
    assert.ok(data.ok);
    assert.deepEqual(
      data.exampleProblems.map((p) => p.line),
      [10],
    );
  });

  test('an example of a file where only one pattern can be scored has one lens, not one per pattern', async () => {
    const mistakes = path.join(path.dirname(sentiment), 'mistakes.cloze');
    const uri = await open(client, mistakes);
    await resolvedTitles(client, uri);
    const lenses = await resolvedTitles(client, uri);
    const example = fs
      .readFileSync(mistakes, 'utf8')
      .split('\n')
      .findIndex((line) => line.startsWith('example positive:'));
    const titles = lenses.filter((l) => l.line === example + 1).map((l) => l.title);
    assert.equal(titles.length, 1, titles.join('\n'));
    assert.match(titles[0], /bare: /);
  });

  test('no model: the reason once on the first lens (it runs the select-model command), the state is unavailable', async () => {
    const file = path.join(dir, 'nomodel.cloze');
    const text = ['model: no-such-model', 'pattern a: {x} It was [MASK].', 'verbalizer:', '  yes: great', 'example yes: fine', ''].join(
      '\n',
    );
    fs.writeFileSync(file, text);
    const uri = await open(client, file, text);
    const lenses = await resolvedTitles(client, uri);
    assert.match(
      lenses[0].title,
      /^⚠ no preview: `no-such-model` is neither in the models folder nor in the download cache, and downloads are off$/,
    );
    assert.equal(lenses[0].command, 'cloze.selectModel');
    for (const lens of lenses.slice(1)) assert.equal(lens.title, `– no preview (why: the lens on line ${lenses[0].line})`);
    // The check's diagnostic is in (it reports the state too), however the lenses and it were ordered.
    const checked = (): boolean => (client.published.get(uri) ?? []).some((list) => list.some((d) => d.code === 'model-unavailable'));
    for (let i = 0; i < 200 && !checked(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(checked(), 'the model-unavailable diagnostic is published');
    const state = states.filter((s) => s.uri === uri).at(-1);
    assert.equal(state?.state, 'unavailable');
    assert.match(state?.detail ?? '', /no-such-model/);
    // Every report says it in the same words, the diagnostic's: the status item's tooltip does not change under the user.
    const reasons = new Set(states.filter((s) => s.uri === uri && s.state === 'unavailable').map((s) => s.detail));
    assert.equal(reasons.size, 1, [...reasons].join('\n'));
    assert.match([...reasons][0], /^Model no-such-model is unavailable: /);
    const data = (await client.connection.sendRequest('cloze/previewData', { uri })) as PreviewData;
    assert.equal(data.ok, false);
    // A label word's hover says why there is no tokenizer, not that it is "not loaded yet".
    const hover = (await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 3, character: 9 },
    })) as { contents: { value: string } };
    assert.match(hover.contents.value, /No tokenizer: model_ `no-such-model` _is unavailable \(see the problem on its `model:` line\)/);
    assert.doesNotMatch(hover.contents.value, /not loaded yet|being computed/);
  });

  test('cloze/evaluate gives the accuracies of `cloze eval --format json` on the data file', async () => {
    const rows = sst2Lines(0, 40);
    fs.writeFileSync(path.join(dir, 'dev.jsonl'), `${rows.join('\n')}\n`);
    const file = path.join(dir, 'eval.cloze');
    const text = fs.readFileSync(sentiment, 'utf8').replace('model: review-bert-small', 'model: review-bert-small\ndata: dev.jsonl');
    fs.writeFileSync(file, text);
    const uri = await open(client, file, text);
    const result = (await client.connection.sendRequest('cloze/evaluate', { uri })) as EvaluateResult;
    assert.ok(result.ok, JSON.stringify(result));
    const expected = cli('eval', file) as { evaluated: number; patterns: unknown; ensemble: unknown; confusion: unknown };
    // The text the editor's output shows is the text `cloze eval --errors 10` prints.
    const report = execFileSync(process.execPath, [cliMain, 'eval', file, '--errors', '10', '--models-dir', modelsDir(), '--offline'], {
      encoding: 'utf8',
    });
    assert.equal(result.report, report);
    assert.equal(result.evaluation.evaluated, 40);
    assert.equal(result.evaluation.evaluated, expected.evaluated);
    const close = (a: unknown, b: unknown): void => {
      const x = a as Array<Record<string, number | string | null>>;
      const y = b as Array<Record<string, number | string | null>>;
      for (const [i, row] of x.entries())
        for (const [key, value] of Object.entries(row)) {
          if (typeof value === 'number') assert.ok(Math.abs(value - (y[i][key] as number)) < 1e-6, `${key}: ${value} vs ${y[i][key]}`);
          else assert.equal(value, y[i][key]);
        }
    };
    close(result.evaluation.patterns, expected.patterns);
    close([result.evaluation.ensemble], [expected.ensemble]);
    assert.deepEqual(result.evaluation.confusion, expected.confusion);

    // `cloze.preview.calibration: support`: the report is `cloze eval --calibration support`'s.
    settings.preview = { calibration: 'support' };
    await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
    const support = (await client.connection.sendRequest('cloze/evaluate', { uri })) as EvaluateResult;
    delete settings.preview;
    await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
    assert.ok(support.ok, JSON.stringify(support));
    assert.equal(support.evaluation.calibration, 'support');
    const supportReport = execFileSync(
      process.execPath,
      [cliMain, 'eval', file, '--errors', '10', '--calibration', 'support', '--models-dir', modelsDir(), '--offline'],
      { encoding: 'utf8' },
    );
    assert.equal(support.report, supportReport);
    assert.notEqual(support.report, report);

    const missing = (await client.connection.sendRequest('cloze/evaluate', {
      uri: await open(client, sentiment.replace('sentiment', 'nli')),
    })) as EvaluateResult;
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.reason, /no `data:` line/);
  });
});

describe('cloze/evaluate stops when nobody waits for it', () => {
  let client: TestClient;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-evaluate-cancel-'));
  const logs: string[] = [];
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const stats = async () => (await client.connection.sendRequest('cloze/stats')) as { pid: number | null; computedPairs: number } | null;
  /** Resolves once the evaluation has scored something, so it is between or inside its chunks. */
  async function scoring(before: number): Promise<void> {
    for (let i = 0; i < 1200 && ((await stats())?.computedPairs ?? 0) <= before; i++) await sleep(25);
  }
  /** The answer, or a marker if it did not come within `ms`. */
  const within = (ms: number, answer: Promise<unknown>) => Promise.race([answer, sleep(ms).then(() => 'no answer in time')]);

  before(async () => {
    client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    client.connection.onNotification('window/logMessage', (params: { message: string }) => logs.push(params.message));
    // All 872 rows: 14 chunks of 64 rows, several seconds of scoring.
    fs.writeFileSync(path.join(dir, 'all.jsonl'), `${sst2Lines(0, 872).join('\n')}\n`);
  });
  after(async () => {
    await client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function openForEvaluation(name: string): Promise<string> {
    const file = path.join(dir, name);
    const text = fs.readFileSync(sentiment, 'utf8').replace('model: review-bert-small', 'model: review-bert-small\ndata: all.jsonl');
    fs.writeFileSync(file, text);
    // No lenses are asked for: the evaluation lens would score the same rows and blur the counts.
    return open(client, file, text);
  }

  test('closing its document cancels it, and the inference process is not started again chunk after chunk', async () => {
    const uri = await openForEvaluation('close-while-evaluating.cloze');
    const evaluating = client.connection.sendRequest('cloze/evaluate', { uri }) as Promise<EvaluateResult>;
    await scoring((await stats())?.computedPairs ?? 0);
    await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
    const result = (await within(5000, evaluating)) as EvaluateResult | string;
    assert.ok(typeof result !== 'string' && !result.ok, JSON.stringify(result));
    assert.match(result.reason, /stopped: its document was closed/);
    await sleep(500);
    assert.equal(logs.filter((line) => line.startsWith('Loading review-bert-small')).length, 1, logs.join('\n'));
    // No document left: the process is stopped, and nothing starts it again.
    assert.equal((await stats())?.pid ?? null, null);
  });

  test('$/cancelRequest cancels it', async () => {
    const uri = await openForEvaluation('cancel-evaluating.cloze');
    const source = new CancellationTokenSource();
    const evaluating = client.connection.sendRequest('cloze/evaluate', { uri }, source.token) as Promise<EvaluateResult>;
    await scoring((await stats())?.computedPairs ?? 0);
    source.cancel();
    // All its rows take several seconds: an answer this soon is the cancellation's.
    const result = (await within(2000, evaluating)) as EvaluateResult | string;
    assert.ok(typeof result !== 'string' && !result.ok, JSON.stringify(result));
    assert.match(result.reason, /stopped: the request was cancelled/);
  });
});
