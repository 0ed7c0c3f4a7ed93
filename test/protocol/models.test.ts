import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Hover } from 'vscode-languageserver-protocol';
import { renderPanel } from '../../client/src/panel/render';
import type { ComparedModel, PreviewData } from '../../server/src/protocol/messages';
import { startServer, type TestClient } from '../support/lsp';
import { cliMain, fixturesDir, modelsDir } from '../support/paths';

/**
 * Several models at once (issue 13, item 4) as an editor sees them: a file with `models:` over three
 * tokenizer families gets each model's label-word diagnostics (naming the model), the label-word
 * hover is a model × token matrix, and `cloze/previewData` carries every model's preview — equal to
 * `cloze preview --model <id> --format json` — which the panel renders side by side.
 */

const THREE = ['tiny-random-bert-uncased', 'tiny-random-roberta', 'tiny-random-albert-xenova'];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-models-test-'));
const file = path.join(dir, 'three.cloze');
const text = fs
  .readFileSync(path.join(fixturesDir, 'models', 'three-families.cloze'), 'utf8')
  .replace('positive: great, good', 'positive: great, good, unbelievable');

describe('several models over stdio', () => {
  let client: TestClient;
  let uri: string;

  before(async () => {
    fs.writeFileSync(file, text);
    client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    uri = pathToFileURL(file).href;
  });
  after(async () => {
    await client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('diagnostics: the word SentencePiece splits is reported for that model only', async () => {
    const published = client.diagnostics(uri, (d) => d.some((x) => x.message.includes('tiny-random-albert-xenova')));
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
    const diagnostics = await published;
    const line = text.split('\n').findIndex((l) => l.includes('unbelievable'));
    const onWord = diagnostics.filter((d) => d.range.start.line === line);
    assert.deepEqual(
      onWord.map((d) => [d.code, /in (tiny-random-[\w-]+)/.exec(d.message)?.[1]]),
      [['label-word-multi-token', 'tiny-random-albert-xenova']],
    );
  });

  test('the label-word hover is a model × token matrix', async () => {
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('unbelievable'));
    const hover = (await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line, character: lines[line].indexOf('unbelievable') + 2 },
    })) as Hover;
    const value = (hover.contents as { value: string }).value;
    assert.match(value, /one token in 2 of 3 models/);
    for (const id of THREE) assert.match(value, new RegExp(`\\| ${id} \\|`));
    assert.match(value, /▁un be liev able` ✗ 4 tokens/);
  });

  test('a model id’s hover says its role, where it was found and its tokenizer', async () => {
    const hoverAt = async (line: number, character: number): Promise<string> => {
      const hover = (await client.connection.sendRequest('textDocument/hover', {
        textDocument: { uri },
        position: { line, character },
      })) as Hover;
      return (hover.contents as { value: string }).value;
    };
    const lines = text.split('\n');
    const listed = await hoverAt(1, lines[1].indexOf('tiny-random-roberta') + 3);
    assert.match(listed, /^\*\*tiny\\-random\\-roberta\*\* — checked against/);
    assert.match(listed, /In the models folder: .*tiny\\-random\\-roberta/);
    assert.match(listed, /Mask `<mask>` \(id \d+\)/);
    const main = await hoverAt(0, 'model: '.length + 2);
    assert.match(main, /the file's model: the lenses, hovers and fixes score with it/);
    assert.match(main, /Mask `\[MASK\]`/);
  });

  test('cloze/previewData carries each model’s preview, equal to the CLI’s, and the panel shows them side by side', async () => {
    const data = (await client.connection.sendRequest('cloze/previewData', { uri })) as PreviewData;
    assert.ok(data.ok, JSON.stringify(data));
    assert.deepEqual(
      data.models?.map((m) => m.model),
      THREE,
    );
    for (const [i, id] of THREE.entries()) {
      const model: ComparedModel = data.models![i];
      assert.ok(model.ok, JSON.stringify(model));
      const expected = JSON.parse(
        execFileSync(
          process.execPath,
          [cliMain, 'preview', file, '--model', id, '--format', 'json', '--models-dir', modelsDir(), '--offline'],
          {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
          },
        ),
      ) as Record<string, unknown>;
      for (const key of ['file', 'quantized', 'engine']) delete expected[key];
      assert.deepEqual(JSON.parse(JSON.stringify(model.preview)), expected, id);
    }
    const html = renderPanel(data, undefined, 'three.cloze');
    assert.match(html, /<h2>Models side by side<\/h2>/);
    for (const [i, id] of THREE.entries()) {
      const model: ComparedModel = data.models![i];
      if (!model.ok) continue;
      const example = model.preview.examples[0];
      const p = example.ensemble[example.prediction!];
      assert.ok(html.includes(`data-model="${id}" data-prediction="${example.prediction}" data-p="${p}"`), `${id} cell`);
    }
  });
});

describe('several models with support calibration', () => {
  test('each model beside the default divides by its own mean over the examples, as the default does', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-models-support-'));
    const supportFile = path.join(folder, 'three.cloze');
    fs.writeFileSync(supportFile, text);
    const settings = { modelsDir: modelsDir(), allowRemoteModels: false, preview: { calibrate: true, calibration: 'support' } };
    const client = await startServer(settings, {}, { initializationOptions: { settings } });
    try {
      const supportUri = pathToFileURL(supportFile).href;
      await client.connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri: supportUri, languageId: 'cloze', version: 1, text },
      });
      const data = (await client.connection.sendRequest('cloze/previewData', { uri: supportUri })) as PreviewData;
      assert.ok(data.ok, JSON.stringify(data));
      // `models` holds every model of the file, the default first.
      const previews = (data.models ?? []).flatMap((m) => (m.ok ? [m.preview] : []));
      assert.equal(previews.length, 3, JSON.stringify(data.models));
      for (const preview of previews) {
        assert.equal(preview.calibration, 'support', preview.model);
        // The support prior is the mean of P(L | x) over the file's examples, per pattern.
        preview.patterns.forEach((pattern, p) => {
          for (const label of preview.labels) {
            const scored = preview.examples.map((e) => e.results[p]).filter((r) => r.maskFound);
            const mean = scored.reduce((sum, r) => sum + r.labels[label], 0) / scored.length;
            assert.ok(Math.abs(preview.priors[pattern][label] - mean) < 1e-9, `${preview.model} ${pattern} ${label}`);
          }
        });
      }
    } finally {
      await client.close();
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('the label-word matrix when a model cannot be loaded', () => {
  test('a listed model that is not there is said unavailable, not "not loaded yet"; a missing default keeps the matrix', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-models-missing-'));
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    const hoverOn = async (source: string, name: string): Promise<string> => {
      const missingUri = pathToFileURL(path.join(folder, name)).href;
      await client.connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri: missingUri, languageId: 'cloze', version: 1, text: source },
      });
      // The missing model's problem is published once the other tokenizers are loaded too.
      await client.diagnostics(missingUri, (d) => d.some((x) => /tiny-random-roberta/.test(x.message)));
      const lines = source.split('\n');
      const line = lines.findIndex((l) => l.includes('terrible'));
      const hover = (await client.connection.sendRequest('textDocument/hover', {
        textDocument: { uri: missingUri },
        position: { line, character: lines[line].indexOf('terrible') + 2 },
      })) as Hover;
      return (hover.contents as { value: string }).value;
    };
    try {
      const body = ['pattern lead: [MASK]! {review}', 'verbalizer:', '  positive: great', '  negative: terrible', ''];
      const listed = await hoverOn(
        ['model: review-bert-small', 'models: no-such-model, tiny-random-roberta', ...body].join('\n'),
        'a.cloze',
      );
      assert.match(listed, /one token in 1 of 2 models/);
      assert.match(listed, /_Unavailable \(see the problem on its line\): no-such-model\._/);
      assert.doesNotMatch(listed, /Not loaded yet/);
      const noDefault = await hoverOn(
        ['model: no-such-default', 'models: review-bert-small, tiny-random-roberta', ...body].join('\n'),
        'b.cloze',
      );
      for (const id of ['review-bert-small', 'tiny-random-roberta']) assert.match(noDefault, new RegExp(`\\| ${id} \\|`));
      assert.match(noDefault, /_Unavailable \(see the problem on its line\): no-such-default\._/);
    } finally {
      await client.close();
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
