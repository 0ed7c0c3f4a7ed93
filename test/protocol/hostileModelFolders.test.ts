import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { startServer, type TestClient } from '../support/lsp';
import { cliMain, modelsDir } from '../support/paths';

/**
 * Model folders a repository can hold (`model: ./folder` names one): where a
 * tokenizer or config file should be, a folder, a link to /dev/zero or a named
 * pipe. transformers.js read them as they were: the folder ended the language
 * server (a rejection nobody handled), /dev/zero grew it past 6 GB, and the
 * pipe blocked that load and every later one. Each is now a `model-unavailable`
 * diagnostic naming the file, and the server goes on serving the other files.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-hostile-models-'));
const models = path.join(scratch, 'models');
const source = path.join(modelsDir(), 'tiny-random-bert-uncased');

function copyModel(name: string): string {
  const folder = path.join(models, name);
  fs.cpSync(source, folder, { recursive: true });
  return folder;
}

const cases: Array<{ name: string; make: (folder: string) => void; message: RegExp }> = [
  {
    name: 'tokenizer-folder',
    make: (folder) => {
      fs.rmSync(path.join(folder, 'tokenizer.json'));
      fs.mkdirSync(path.join(folder, 'tokenizer.json'));
    },
    message: /tokenizer\.json is a folder, not a file/,
  },
  {
    name: 'config-folder',
    make: (folder) => {
      fs.rmSync(path.join(folder, 'config.json'));
      fs.mkdirSync(path.join(folder, 'config.json'));
    },
    message: /config\.json is a folder, not a file/,
  },
  {
    name: 'tokenizer-zero',
    make: (folder) => {
      fs.rmSync(path.join(folder, 'tokenizer.json'));
      fs.symlinkSync('/dev/zero', path.join(folder, 'tokenizer.json'));
    },
    message: /tokenizer\.json is not a regular file \(a device, pipe or socket\)/,
  },
  {
    name: 'tokenizer-pipe',
    make: (folder) => {
      fs.rmSync(path.join(folder, 'tokenizer.json'));
      assert.equal(spawnSync('mkfifo', [path.join(folder, 'tokenizer.json')]).status, 0);
    },
    message: /tokenizer\.json is not a regular file/,
  },
  {
    name: 'tokenizer-no-model',
    make: (folder) => {
      const tokenizer = JSON.parse(fs.readFileSync(path.join(folder, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
      delete tokenizer['model'];
      fs.writeFileSync(path.join(folder, 'tokenizer.json'), JSON.stringify(tokenizer));
    },
    message: /tokenizer\.json has no `model` object: it is not a tokenizer file/,
  },
];

const fileText = (model: string): string =>
  `model: ${model}\npattern: {text} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\nexample a: fine\n`;

before(() => {
  copyModel('good');
  for (const c of cases) c.make(copyModel(c.name));
});
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('hostile model folders: cloze check and preview', () => {
  for (const c of cases) {
    test(`${c.name}: a diagnostic naming the file, exit 1, no stack trace, in bounded time`, () => {
      const file = path.join(scratch, `${c.name}.cloze`);
      fs.writeFileSync(file, fileText(`./models/${c.name}`));
      for (const command of ['check', 'preview']) {
        const run = spawnSync(process.execPath, [cliMain, command, file, '--offline'], { encoding: 'utf8', timeout: 60_000 });
        assert.equal(run.signal, null, `${command} did not finish: ${run.stderr}`);
        assert.equal(run.status, 1, `${command}: ${run.stdout}${run.stderr}`);
        // check prints its diagnostics on stdout; preview on stderr, its stdout being the predictions.
        assert.match(run.stdout + run.stderr, c.message);
        assert.match(run.stdout + run.stderr, /model-unavailable/);
        assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at |Node\.js v|TypeError/);
      }
    });
  }

  test('a folder without config.json checks (the tokenizer needs none) but says so when scoring', () => {
    fs.rmSync(path.join(copyModel('no-config'), 'config.json'));
    const file = path.join(scratch, 'no-config.cloze');
    fs.writeFileSync(file, fileText('./models/no-config'));
    const check = spawnSync(process.execPath, [cliMain, 'check', file, '--offline'], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout);
    const preview = spawnSync(process.execPath, [cliMain, 'preview', file, '--offline'], { encoding: 'utf8' });
    assert.equal(preview.status, 1);
    assert.match(preview.stdout + preview.stderr, /models[\\/]no-config has no config\.json/);
    assert.doesNotMatch(preview.stdout + preview.stderr, /local_files_only/);
  });
});

describe('hostile model folders: the language server', () => {
  let client: TestClient;
  before(async () => {
    client = await startServer({ modelsDir: models, allowRemoteModels: false });
  });
  after(async () => {
    await client?.close();
  });

  test('every bad folder is a diagnostic; the server lives on and checks a good model opened after them', async () => {
    const opened = cases.map((c, i) => {
      const uri = pathToFileURL(path.join(scratch, `server-${c.name}.cloze`)).href;
      void client.connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri, languageId: 'cloze', version: 1, text: fileText(c.name) },
      });
      return { uri, c, i };
    });
    for (const { uri, c } of opened) {
      const diagnostics = await client.diagnostics(uri, (d) => d.some((x) => x.code === 'model-unavailable'), 30_000);
      const message = diagnostics.find((x) => x.code === 'model-unavailable')?.message ?? '';
      assert.match(message, c.message, `${c.name}: ${message}`);
    }
    // The pipe did not block later loads: a good model from the same folder is checked (a multi-token word found).
    const good = pathToFileURL(path.join(scratch, 'server-good.cloze')).href;
    await client.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: good, languageId: 'cloze', version: 1, text: fileText('good').replace('a: good', 'a: goodish') },
    });
    const diagnostics = await client.diagnostics(good, (d) => d.some((x) => x.code === 'label-word-multi-token'), 30_000);
    assert.ok(!diagnostics.some((x) => x.code === 'model-unavailable'), JSON.stringify(diagnostics));
    assert.equal(client.process.exitCode, null, client.stderr());
    assert.doesNotMatch(client.stderr(), /\n\s+at .*hub\.js|EISDIR/);
  });
});
