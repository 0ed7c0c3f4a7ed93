import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from '../../server/src/language/parse';
import { resolveModel } from '../../server/src/model/resolve';
import { DataEvaluations } from '../../server/src/service/dataEvaluation';
import { cliMain, fixturesDir, modelsDir } from '../support/paths';

/**
 * The CLI tried as a new user would (issue 13, item 5): errors in words, the
 * exit codes the README gives, and fixes named in the CLI's own terms.
 */

function cloze(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [cliMain, ...args], { encoding: 'utf8', cwd: options.cwd, env: options.env ?? process.env });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-cli-'));

describe('CLI messages', () => {
  test('cloze check missing.cloze: an error in words, exit 2, no "0 files checked"', () => {
    const run = cloze(['check', 'missing.cloze', '--offline'], { cwd: scratch });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /^cloze check: missing\.cloze does not exist \(paths are relative to the current folder, .*\)\.\n$/);
    assert.doesNotMatch(run.stderr, /ENOENT|files? checked/);
    const folder = cloze(['check', scratch, '--offline']);
    assert.equal(folder.status, 2);
    assert.match(folder.stderr, /is a folder; name the \.cloze files in it/);
    // eval takes one file: no glob.
    assert.match(cloze(['eval', scratch, '--offline']).stderr, /^cloze eval: .* is a folder; name one \.cloze file\.\n$/);
  });

  test('a device, a FIFO or a file that is not UTF-8 text is refused in words, without being read to its end', () => {
    const fifo = path.join(scratch, 'pipe.cloze');
    spawnSync('mkfifo', [fifo]);
    // /dev/zero never ends (it grew the process to gigabytes), a FIFO without a writer blocks for ever.
    for (const [file, said] of [
      ['/dev/zero', /^cloze check: \/dev\/zero is not a regular file \(a device\); name a \.cloze file\.\n/],
      [fifo, /is not a regular file \(a FIFO\)/],
    ] as const) {
      for (const command of ['check', 'preview', 'eval']) {
        const run = spawnSync(process.execPath, [cliMain, command, file, '--offline'], { encoding: 'utf8', timeout: 20_000 });
        assert.equal(run.status, 2, `${command} ${file}: ${run.stderr}`);
        assert.match(run.stderr, command === 'check' ? said : /is not a regular file/);
      }
    }
    const latin1 = path.join(scratch, 'latin1.cloze');
    fs.writeFileSync(latin1, Buffer.from('pattern: {text} It was [MASK].\nexample: tr\xe8s bien\n', 'latin1'));
    const run = cloze(['check', latin1, '--offline']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /latin1\.cloze is not UTF-8 text \(line 2 has a byte that is not UTF-8/);
    const binary = path.join(scratch, 'binary.cloze');
    fs.writeFileSync(binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00]));
    assert.match(cloze(['check', binary, '--offline']).stderr, /binary\.cloze is not text \(it has a NUL byte at offset 6\)/);
  });

  test('a data file cut by --data-max-mb: whole rows, and the message names the flag, not the setting', () => {
    const data = path.join(scratch, 'big.jsonl');
    const rows = Array.from({ length: 30_000 }, (_, i) => JSON.stringify({ text: 'x '.repeat(40) + i, label: i % 2 ? 'a' : 'b' }));
    fs.writeFileSync(data, rows.join('\n') + '\n');
    const file = path.join(scratch, 'big.cloze');
    fs.writeFileSync(
      file,
      'model: tiny-random-bert-uncased\npattern: {text} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\ndata: big.jsonl\n',
    );
    const run = cloze(['check', file, '--data-max-mb', '1', '--models-dir', modelsDir(), '--offline']);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /warning data-too-large big\.jsonl is larger than Cloze reads: .* only its first 1\.0 MB were read \(raise --data-max-mb, or point at a sample\)/,
    );
    assert.doesNotMatch(run.stdout, /not valid JSON|cloze\.data\./);
  });

  test('a models folder that does not exist, or a model folder with an empty JSON file, is said so, naming the file', () => {
    const file = path.join(scratch, 'tiny.cloze');
    fs.writeFileSync(file, 'model: tiny\npattern: {text} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\n');
    const env = { ...process.env, CLOZE_MODELS_DIR: '', CLOZE_CACHE_DIR: path.join(scratch, 'cache') };
    const missing = path.join(scratch, 'no-such-folder');
    const run = cloze(['check', file, '--models-dir', missing, '--offline'], { env });
    assert.equal(run.status, 1);
    assert.match(run.stdout, new RegExp(`the models folder ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not exist`));
    // The fix is the flag, not 'put the model in <missing>/tiny' (a folder that cannot exist under a file).
    assert.match(run.stdout, /Pass --models-dir with a folder that holds it/);
    const aFile = path.join(scratch, 'models-is-a-file');
    fs.writeFileSync(aFile, '');
    const onFile = cloze(['check', file, '--models-dir', aFile, '--offline'], { env });
    assert.match(onFile.stdout, /is a file, not a folder\).*Pass --models-dir with a folder that holds it/);
    assert.doesNotMatch(onFile.stdout, /Put the model in/);
    // An empty tokenizer.json: transformers.js parsed Node's shared buffer pool and quoted unrelated bytes.
    const models = path.join(scratch, 'models');
    const tiny = path.join(models, 'tiny');
    fs.mkdirSync(path.join(tiny, 'onnx'), { recursive: true });
    const source = path.join(modelsDir(), 'tiny-random-bert-uncased');
    for (const name of ['tokenizer_config.json', 'config.json', 'onnx/model_quantized.onnx'])
      fs.copyFileSync(path.join(source, name), path.join(tiny, name));
    fs.writeFileSync(path.join(tiny, 'tokenizer.json'), '');
    const empty = cloze(['check', file, '--models-dir', models, '--offline'], { env });
    assert.equal(empty.status, 1);
    assert.match(empty.stdout, /tiny could not be loaded: .*tiny[\\/]tokenizer\.json is empty\./);
    fs.copyFileSync(path.join(source, 'tokenizer.json'), path.join(tiny, 'tokenizer.json'));
    fs.writeFileSync(path.join(tiny, 'config.json'), '{"vocab_size": 30');
    const cut = cloze(['preview', file, '--models-dir', models, '--offline'], { env });
    assert.equal(cut.status, 1);
    assert.match(cut.stdout + cut.stderr, /config\.json is not valid JSON \(.*\); the file may be cut short/);
  });

  test('rows without the field the pattern reads (absent or null) are not scored as empty input: counted as skipped', () => {
    const file = path.join(scratch, 'incomplete.cloze');
    fs.writeFileSync(
      file,
      'model: tiny-random-bert-uncased\npattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\n',
    );
    const data = path.join(fixturesDir, 'data', 'incomplete.jsonl');
    const run = cloze(['eval', file, '--data', data, '--models-dir', modelsDir(), '--offline', '--format', 'json']);
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { evaluated: number; skipped: Record<string, number> };
    assert.equal(report.evaluated, 2);
    assert.deepEqual(report.skipped, { 'no `review`': 2 });
  });

  test('control characters of a data row are shown escaped in --errors, not sent to the terminal; one row is "row"', () => {
    const file = path.join(scratch, 'ansi.cloze');
    fs.writeFileSync(
      file,
      'model: tiny-random-bert-uncased\npattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\n',
    );
    // The same text under both labels: whatever the model predicts, exactly one row is wrong.
    const data = path.join(scratch, 'ansi.jsonl');
    const text = 'clear \u001b[2J screen';
    fs.writeFileSync(
      data,
      [JSON.stringify({ review: text, label: 'positive' }), JSON.stringify({ review: text, label: 'negative' })].join('\n') + '\n',
    );
    const run = cloze(['eval', file, '--data', data, '--errors', '5', '--models-dir', modelsDir(), '--offline']);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(!run.stdout.includes(String.fromCharCode(0x1b)), 'an ESC reached stdout');
    assert.match(run.stdout, /clear \\x1b\[2J screen/);
    assert.match(run.stdout, /^the worst misclassified row \(/m);
    // The same for a message that quotes the file (a model: value with an escape in it).
    const quoted = path.join(scratch, 'escape-model.cloze');
    fs.writeFileSync(
      quoted,
      `model: x${String.fromCharCode(0x1b)}[31mred\npattern: {text} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\n`,
    );
    const check = cloze(['check', quoted, '--offline']);
    assert.ok(!check.stdout.includes(String.fromCharCode(0x1b)), 'an ESC reached stdout');
    assert.match(check.stdout, /Model x\\x1b\[31mred is unavailable/);
    assert.match(run.stdout, / · 2 labelled rows from ansi\.jsonl/);
  });

  test('eval --format json|junit still prints a report when the model cannot be loaded (CI parses it)', () => {
    const file = path.join(scratch, 'unloadable.cloze');
    fs.writeFileSync(
      file,
      'model: tiny-random-bert-uncased\npattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\n',
    );
    const data = path.join(fixturesDir, 'eval', 'reviews-24.jsonl');
    const env = { ...process.env, CLOZE_MODELS_DIR: '', CLOZE_CACHE_DIR: path.join(scratch, 'cache') };
    const args = ['eval', file, '--data', data, '--models-dir', path.join(scratch, 'no-models'), '--offline'];
    const json = cloze([...args, '--format', 'json'], { env });
    assert.equal(json.status, 1);
    const report = JSON.parse(json.stdout) as { models: string[]; unavailable: { model: string; message: string }[] };
    assert.deepEqual(report.models, []);
    assert.equal(report.unavailable[0]?.model, 'tiny-random-bert-uncased');
    assert.match(report.unavailable[0]?.message ?? '', /does not exist/);
    const junit = cloze([...args, '--format', 'junit'], { env });
    assert.equal(junit.status, 1);
    assert.match(
      junit.stdout,
      /^<\?xml[^]*<error message="Model tiny-random-bert-uncased is unavailable: [^"]*" type="model-unavailable">/,
    );
  });

  test('a --model path is relative to the current folder, not to the .cloze file', () => {
    const sub = path.join(scratch, 'sub');
    fs.mkdirSync(sub, { recursive: true });
    const file = path.join(sub, 'nomodel-line.cloze');
    fs.writeFileSync(file, 'pattern: {text} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\n');
    const here = fs.mkdtempSync(path.join(scratch, 'cwd-'));
    fs.symlinkSync(path.join(modelsDir(), 'tiny-random-bert-uncased'), path.join(here, 'tiny'));
    const run = cloze(['check', file, '--model', './tiny', '--offline'], { cwd: here });
    assert.equal(run.status, 0, run.stdout + run.stderr);
  });

  test('a data: file that cannot be read fails eval (exit 1) even when the gate passes on the others', () => {
    const file = path.join(scratch, 'two-data.cloze');
    const good = path.join(fixturesDir, 'eval', 'reviews-24.jsonl');
    fs.writeFileSync(
      file,
      `model: tiny-random-bert-uncased\npattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\ndata: ${good}\ndata: missing.jsonl\n`,
    );
    const run = cloze(['eval', file, '--min-accuracy', '0', '--models-dir', modelsDir(), '--offline']);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /exit 1: missing\.jsonl was not evaluated, so the figures are of the other data files only/);
  });

  test('a byte limit inside the first row: the limit is said, not a missing column; a --model path that is not there is not "relative to the .cloze file"', () => {
    const data = path.join(scratch, 'one-long-row.jsonl');
    fs.writeFileSync(data, `${JSON.stringify({ review: 'x '.repeat(700_000), label: 'positive' })}\n`);
    const file = path.join(scratch, 'long-row.cloze');
    fs.writeFileSync(
      file,
      'model: tiny-random-bert-uncased\npattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\ndata: one-long-row.jsonl\n',
    );
    const run = cloze(['check', file, '--data-max-mb', '1', '--models-dir', modelsDir(), '--offline']);
    assert.match(run.stdout, /warning data-too-large/);
    assert.doesNotMatch(run.stdout, /placeholder-unknown/);
    const model = cloze(['check', file, '--model', './no-such-model', '--offline'], { cwd: scratch });
    assert.match(model.stdout, /does not exist\. Check the path\./);
    assert.doesNotMatch(model.stdout, /relative to the \.cloze file/);
  });

  test('a missing file among good ones still counts: the others are checked, exit 2', () => {
    const run = cloze(
      ['check', path.join(fixturesDir, 'eval', 'sst2-short.cloze'), 'missing.cloze', '--models-dir', modelsDir(), '--offline'],
      { cwd: scratch },
    );
    assert.equal(run.status, 2);
    assert.match(run.stderr, /1 file checked: 0 errors, 0 warnings; 1 could not be read/);
  });

  test('a missing model tells CLI users --models-dir and CLOZE_MODELS_DIR, the editor cloze.modelsDir', () => {
    const file = path.join(scratch, 'nomodel.cloze');
    fs.writeFileSync(file, 'model: no-such/model\npattern: {text} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\n');
    const env = { ...process.env, CLOZE_MODELS_DIR: '', CLOZE_CACHE_DIR: path.join(scratch, 'cache') };
    const run = cloze(['check', file, '--offline'], { env });
    assert.equal(run.status, 1);
    assert.match(run.stdout, /Pass --models-dir with a folder that holds it \(or set CLOZE_MODELS_DIR\), or run without --offline/);
    assert.doesNotMatch(run.stdout, /cloze\.modelsDir|cloze\.allowRemoteModels/);
    const settings = { modelsDir: '', allowRemoteModels: false, cacheDir: path.join(scratch, 'cache') };
    const editor = resolveModel('no-such/model', scratch, settings);
    // Each interface names its own: the editor its settings, and no CLI flag.
    assert.ok(
      !editor.ok && editor.reason.includes('Set cloze.modelsDir to a folder that holds it, or allow downloads (cloze.allowRemoteModels).'),
    );
    assert.ok(!editor.ok && !/--|CLOZE_MODELS_DIR/.test(editor.reason), editor.ok ? '' : editor.reason);
    const cli = resolveModel('no-such/model', scratch, { ...settings, userInterface: 'cli' });
    assert.ok(!cli.ok && !cli.reason.includes('cloze.'));
  });

  test('an empty file is said to lack a pattern and a verbalizer, not to lack the default model', () => {
    const file = path.join(scratch, 'empty.cloze');
    fs.writeFileSync(file, '');
    const env = { ...process.env, CLOZE_MODELS_DIR: '', CLOZE_CACHE_DIR: path.join(scratch, 'cache') };
    const run = cloze(['check', file, '--offline'], { env });
    assert.equal(run.status, 1);
    assert.match(run.stdout, /pattern-missing/);
    assert.match(run.stdout, /verbalizer-missing/);
    // As in the editor, a file without a pattern starts no model: its default's absence is no problem yet.
    assert.doesNotMatch(run.stdout, /model-unavailable/);
    // With a pattern, the model is needed, and its absence is said.
    fs.writeFileSync(file, 'pattern: {text} It was [MASK].\n');
    assert.match(cloze(['check', file, '--offline'], { env }).stdout, /model-unavailable/);
  });

  test('a model path that is a symbolic link loop is said to be one, not a folder that does not exist', () => {
    const loop = path.join(scratch, 'loop-model');
    fs.symlinkSync(loop, loop);
    const found = resolveModel('./loop-model', scratch, { modelsDir: '', allowRemoteModels: false, cacheDir: path.join(scratch, 'cache') });
    assert.ok(!found.ok);
    assert.equal(found.ok ? '' : found.reason, `the folder ${loop} cannot be opened: its symbolic links form a loop.`);
  });

  test('a model folder with only the full-precision file: the CLI says --no-quantized, the editor cloze.quantized', () => {
    // A models folder holding tiny-random-bert-uncased without onnx/model_quantized.onnx.
    const models = path.join(scratch, 'models');
    const source = path.join(modelsDir(), 'tiny-random-bert-uncased');
    const target = path.join(models, 'tiny-random-bert-uncased');
    fs.mkdirSync(path.join(target, 'onnx'), { recursive: true });
    for (const name of fs.readdirSync(source)) if (name !== 'onnx') fs.copyFileSync(path.join(source, name), path.join(target, name));
    fs.copyFileSync(path.join(source, 'onnx', 'model.onnx'), path.join(target, 'onnx', 'model.onnx'));
    const file = path.join(scratch, 'fp32only.cloze');
    fs.writeFileSync(
      file,
      'model: tiny-random-bert-uncased\npattern: {text} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\nexample a: fine\n',
    );
    const run = cloze(['preview', file, '--models-dir', models, '--offline']);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /has no onnx\/model_quantized\.onnx\. It has onnx\/model\.onnx: pass --no-quantized\./);
    assert.doesNotMatch(run.stderr, /cloze\.quantized/);
    assert.equal(cloze(['preview', file, '--models-dir', models, '--offline', '--no-quantized']).status, 0);
  });

  test('a missing --data file is relative to the current folder, not to the .cloze file', () => {
    const run = cloze(
      ['eval', path.join(fixturesDir, 'eval', 'sst2-short.cloze'), '--data', 'nope.jsonl', '--models-dir', modelsDir(), '--offline'],
      {
        cwd: scratch,
      },
    );
    // A --data file that cannot be read is a mistake in the command: exit 2, as the README says, even beside a good file.
    assert.equal(run.status, 2);
    assert.match(
      run.stderr,
      /cloze eval: Cannot read nope\.jsonl: the file does not exist\. Paths given with --data are relative to the current folder/,
    );
    assert.doesNotMatch(run.stderr, /relative to the \.cloze file/);
    const good = path.join(fixturesDir, 'eval', 'reviews-24.jsonl');
    const cloze24 = path.join(fixturesDir, 'eval', 'sst2-short.cloze');
    const both = cloze(['eval', cloze24, '--data', good, '--data', scratch, '--models-dir', modelsDir(), '--offline'], { cwd: scratch });
    assert.equal(both.status, 2, both.stderr);
    assert.match(both.stderr, /is not a regular file \(a folder\); --data must name a JSONL, CSV or TSV file/);
    const suggest = cloze(['suggest', cloze24, '--data', 'nope.jsonl', '--models-dir', modelsDir(), '--offline'], { cwd: scratch });
    assert.equal(suggest.status, 2, suggest.stderr);
  });

  test("eval with nothing to evaluate says why: rows without the verbalizer's labels (which), an empty file, a CSV header alone", () => {
    const file = path.join(scratch, 'labels.cloze');
    fs.writeFileSync(
      file,
      'model: review-bert-small\npattern: {text} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\n',
    );
    const numbered = path.join(scratch, 'numbered.jsonl');
    fs.writeFileSync(numbered, '{"text":"good","label":1}\n{"text":"bad","label":0}\n');
    const run = cloze(['eval', file, '--data', numbered, '--models-dir', modelsDir(), '--offline']);
    assert.equal(run.status, 1);
    assert.equal(
      run.stderr,
      "cloze eval: no labelled row with a label of the verbalizer to evaluate on: skipped 2 (label not in the verbalizer); the data's labels include `1`, `0`, the verbalizer's are `positive`, `negative`.\n",
    );
    const empty = path.join(scratch, 'empty.jsonl');
    fs.writeFileSync(empty, '');
    const header = path.join(scratch, 'header.csv');
    fs.writeFileSync(header, 'text,label\n');
    for (const data of [empty, header]) {
      for (const command of ['eval', 'suggest']) {
        const none = cloze([command, file, '--data', data, '--models-dir', modelsDir(), '--offline']);
        assert.equal(none.status, 1);
        // As the data-empty diagnostic of `cloze check` says it, not "has no column `text`".
        assert.match(
          none.stderr,
          new RegExp(`^cloze ${command}: ${path.basename(data).replace('.', '\\.')} has no rows: there is nothing in it to evaluate\\.\n`),
        );
      }
    }
  });

  test('a models folder that does not exist leads the message when the download fails too, shown as an absolute path', () => {
    const file = path.join(scratch, 'tiny-remote.cloze');
    fs.writeFileSync(file, 'model: tiny\npattern: {text} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\n');
    // A hub that refuses at once (a closed port on loopback), so the download fails fast.
    const env = {
      ...process.env,
      CLOZE_MODELS_DIR: '',
      CLOZE_CACHE_DIR: path.join(scratch, 'cache-remote'),
      HF_ENDPOINT: 'http://127.0.0.1:9',
    };
    const run = cloze(['check', file, '--models-dir', 'no-such-models'], { cwd: scratch, env });
    assert.equal(run.status, 1);
    assert.match(
      run.stdout,
      new RegExp(
        `Model tiny is unavailable: the models folder no-such-models \\(${path.join(fs.realpathSync(scratch), 'no-such-models').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) does not exist, and the download failed: `,
      ),
    );
  });

  test('--model given twice to a one-model command is refused (commander kept the last one without a word)', () => {
    const file = path.join(scratch, 'twice.cloze');
    fs.writeFileSync(file, 'pattern: {text} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\n');
    const check = cloze(['check', file, '--model', 'review-bert-small', '--model', 'tiny-random-roberta', '--offline']);
    assert.equal(check.status, 2);
    assert.match(check.stderr, /cloze check runs one model; to check a file against several, write them on its `models:` line/);
    assert.equal(check.stdout, '');
    const suggest = cloze(['suggest', file, '--model', 'a', '--model', 'b', '--offline']);
    assert.equal(suggest.status, 2);
    assert.match(suggest.stderr, /cloze suggest searches with one model; run it once per model\./);
  });

  test('--format json: stdout is one JSON document also when the command fails, with what stderr said', () => {
    const file = path.join(scratch, 'json-failures.cloze');
    fs.writeFileSync(
      file,
      'model: review-bert-small\npattern: {text} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\n',
    );
    const empty = path.join(scratch, 'json-empty.jsonl');
    fs.writeFileSync(empty, '');
    const env = { ...process.env, CLOZE_MODELS_DIR: '', CLOZE_CACHE_DIR: path.join(scratch, 'cache-json') };
    const models = ['--models-dir', modelsDir(), '--offline'];
    const cases: Array<[string[], number]> = [
      [['preview', file, '--offline'], 1], // the model is nowhere: model-unavailable
      [['preview', path.join(scratch, 'no-such.cloze'), ...models], 2],
      [['suggest', file, '--data', empty, ...models], 1],
      [['eval', file, '--data', path.join(scratch, 'no-such.jsonl'), ...models], 2],
    ];
    for (const [args, status] of cases) {
      const run = cloze([...args, '--format', 'json'], { env });
      assert.equal(run.status, status, `${args.join(' ')}: ${run.stderr}`);
      const printed = JSON.parse(run.stdout) as { ok: boolean; exitCode: number; messages: string[] };
      assert.equal(printed.ok, false);
      assert.equal(printed.exitCode, status);
      assert.deepEqual(
        printed.messages,
        run.stderr.split('\n').filter((line) => line.trim() !== ''),
        args.join(' '),
      );
      assert.ok(printed.messages.length > 0);
    }
    // A command that prints its own JSON keeps it; text output is untouched.
    const check = cloze(['check', file, '--format', 'json', '--offline'], { env });
    assert.ok(Array.isArray(JSON.parse(check.stdout)));
    const text = cloze(['preview', file, '--offline'], { env });
    assert.equal(text.stdout, '');
  });

  test('--format json|junit: a usage error (an unknown flag, a bad number) is a report on stdout too', () => {
    const file = path.join(fixturesDir, 'eval', 'sst2-short.cloze');
    for (const command of ['check', 'preview', 'eval', 'suggest']) {
      for (const bad of [['--no-such-flag'], ['--data-max-rows', '0']]) {
        for (const format of [['--format', 'json'], ['--format=json']]) {
          const run = cloze([command, file, ...bad, ...format, '--offline']);
          assert.equal(run.status, 2, `${command} ${bad.join(' ')}`);
          const printed = JSON.parse(run.stdout) as { ok: boolean; exitCode: number; messages: string[] };
          assert.deepEqual(printed, { ok: false, exitCode: 2, messages: run.stderr.split('\n').filter((l) => l.trim() !== '') });
          assert.match(
            printed.messages.join('\n'),
            bad[0] === '--no-such-flag' ? /unknown option '--no-such-flag'/ : /expected a positive whole number/,
          );
        }
      }
    }
    // JUnit readers get a report with the reason as an error case: a usage error, a data file that is not there.
    for (const args of [
      ['--data-max-rows', '0'],
      ['--data', path.join(scratch, 'no-such.jsonl'), '--models-dir', modelsDir()],
    ]) {
      const run = cloze(['eval', file, ...args, '--format', 'junit', '--offline']);
      assert.equal(run.status, 2, run.stderr);
      assert.match(
        run.stdout,
        /^<\?xml[^]*<testsuites name="cloze eval" tests="1" failures="0" errors="1"[^]*<error message="[^"]+" type="cli-error">/,
      );
      const said = run.stderr.split('\n').find((l) => l.trim() !== '') ?? '';
      assert.ok(said !== '' && run.stdout.includes(said.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')), run.stdout);
    }
    // A format the command does not write is itself the usage error: said on stderr, no report in that format.
    for (const args of [
      ['check', file, '--format', 'junit'],
      ['preview', file, '--format=junit'],
      ['export', file, '--to', 'pet', '--format', 'json'],
    ]) {
      const run = cloze([...args, '--offline']);
      assert.equal(run.status, 2, args.join(' '));
      assert.equal(run.stdout, '', args.join(' '));
      assert.match(run.stderr, /argument 'junit' is invalid|unknown option '--format'/);
    }
  });

  test('--format json|junit: stopped by SIGTERM or SIGINT (a CI timeout, Ctrl-C), stdout still has its one report', async () => {
    const three = path.join(scratch, 'three-patterns.cloze');
    fs.writeFileSync(
      three,
      [
        'model: review-bert-small',
        'pattern a: {review} It was [MASK].',
        'pattern b: {review} All in all, it was [MASK].',
        'pattern c: Just [MASK]! {review}',
        'verbalizer:',
        '  positive: great',
        '  negative: terrible',
        '',
      ].join('\n'),
    );
    const sst2 = path.join(path.dirname(modelsDir()), 'data', 'sst2-dev.jsonl');
    for (const [signal, code, format] of [
      ['SIGTERM', 143, 'json'],
      ['SIGINT', 130, 'junit'],
    ] as const) {
      const child = spawn(process.execPath, [
        cliMain,
        'eval',
        three,
        '--data',
        sst2,
        '--format',
        format,
        '--models-dir',
        modelsDir(),
        '--offline',
      ]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      // Stopped while it scores: 2,616 inputs take seconds; the model loads in about one.
      setTimeout(() => child.kill(signal), 1500);
      const status = await new Promise<number | null>((resolve) => child.on('close', (exit) => resolve(exit)));
      assert.equal(status, code, stderr);
      assert.match(stderr, new RegExp(`cloze eval: stopped by ${signal}\\.`));
      if (format === 'json') {
        const printed = JSON.parse(stdout) as { ok: boolean; exitCode: number; messages: string[] };
        assert.equal(printed.ok, false);
        assert.equal(printed.exitCode, code);
        assert.ok(printed.messages.includes(`cloze eval: stopped by ${signal}.`), JSON.stringify(printed.messages));
      } else {
        assert.match(stdout, /^<\?xml[^]*errors="1"[^]*stopped by SIGINT/);
      }
    }
  });

  test('check --format json lists a file that could not be read, with why, beside the files that could', () => {
    const good = path.join(fixturesDir, 'eval', 'sst2-short.cloze');
    const run = cloze(['check', good, 'missing.cloze', '--format', 'json', '--models-dir', modelsDir(), '--offline'], { cwd: scratch });
    assert.equal(run.status, 2);
    const reports = JSON.parse(run.stdout) as Array<{ file: string; error?: string; diagnostics: unknown[] }>;
    assert.deepEqual(
      reports.map((r) => r.file),
      [good, 'missing.cloze'],
    );
    assert.equal(reports[0].error, undefined);
    assert.match(reports[1].error ?? '', /^missing\.cloze does not exist \(paths are relative to the current folder/);
    assert.deepEqual(reports[1].diagnostics, []);
    const alone = cloze(['check', 'missing.cloze', '--format', 'json', '--offline'], { cwd: scratch });
    assert.equal(alone.status, 2);
    assert.match((JSON.parse(alone.stdout) as Array<{ error?: string }>)[0].error ?? '', /does not exist/);
  });

  test('a reader that closes the pipe early ends the command quietly (status 141), without a stack trace', async () => {
    for (const args of [
      [
        'check',
        ...fs
          .readdirSync(path.join(fixturesDir, 'eval'))
          .filter((f) => f.endsWith('.cloze'))
          .map((f) => path.join(fixturesDir, 'eval', f)),
      ],
      ['preview', path.join(fixturesDir, 'eval', 'sst2-short.cloze'), '--format', 'json'],
    ]) {
      const child = spawn(process.execPath, [cliMain, ...args, '--models-dir', modelsDir(), '--offline'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      // Closed before the command writes anything (it loads a tokenizer first), as `| true` does.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      assert.equal(status, 141, `${args[0]}: ${stderr}`);
      assert.doesNotMatch(stderr, /EPIPE|^\s+at /m, args[0]);
    }
  });

  test('import -o never writes over a file it reads (the template, mapping or verbalizer file)', () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'import-'));
    const template = path.join(dir, 't.txt');
    const mapping = path.join(dir, 'm.txt');
    fs.writeFileSync(template, '*cls**sent_0*_It_was*mask*.*sep+*\n');
    fs.writeFileSync(mapping, "{'0':'terrible','1':'great'}\n");
    fs.symlinkSync(mapping, path.join(dir, 'link.txt'));
    for (const [output, option] of [
      ['./t.txt', '--template-file'],
      ['link.txt', '--mapping-file'],
    ]) {
      const run = cloze(['import', 'lmbff', '--template-file', 't.txt', '--mapping-file', 'm.txt', '-o', output], { cwd: dir });
      assert.equal(run.status, 2, run.stderr);
      assert.equal(
        run.stderr,
        `cloze import: cannot write ${output}: it is the file of ${option}, which writing would replace. Name another output file.\n`,
      );
    }
    assert.equal(fs.readFileSync(template, 'utf8'), '*cls**sent_0*_It_was*mask*.*sep+*\n');
    assert.equal(fs.readFileSync(mapping, 'utf8'), "{'0':'terrible','1':'great'}\n");
    const fine = cloze(['import', 'lmbff', '--template-file', 't.txt', '--mapping-file', 'm.txt', '-o', 'out.cloze'], { cwd: dir });
    assert.equal(fine.status, 0, fine.stderr);
    const pet = path.join(dir, 'verbalizers.txt');
    fs.writeFileSync(pet, '0 terrible\n1 great\n');
    const petRun = cloze(['import', 'pet', '--verbalizer-file', pet, '-o', pet]);
    assert.equal(petRun.status, 2);
    assert.equal(fs.readFileSync(pet, 'utf8'), '0 terrible\n1 great\n');
  });

  test('eval and suggest with --data before the .cloze file: the file is not taken for a data file', () => {
    const file = path.join(fixturesDir, 'eval', 'sst2-short.cloze');
    const rows = path.join(fixturesDir, 'eval', 'reviews-24.jsonl');
    const models = ['--models-dir', modelsDir(), '--offline'];
    const evaluated = cloze(['eval', '--data', rows, file, ...models]);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.match(evaluated.stdout, /24 labelled rows from reviews-24\.jsonl/);
    const suggested = cloze(['suggest', '--data', rows, file, '--candidates', '1', '--top', '1', ...models]);
    assert.equal(suggested.status, 0, suggested.stderr);
    assert.match(suggested.stdout, /^searched 1 verbalizer in /m);
    for (const command of ['eval', 'suggest']) {
      const none = cloze([command, '--data', rows]);
      assert.equal(none.status, 2);
      assert.equal(none.stderr, `cloze ${command}: name the .cloze file, e.g. cloze ${command} prompts.cloze --data rows.jsonl.\n`);
    }
  });

  test('a --model that is neither an id nor a path says a path would be relative to the current folder', () => {
    const file = path.join(fixturesDir, 'eval', 'sst2-short.cloze');
    const run = cloze(['check', file, '--model', 'rob/x/y', '--offline']);
    assert.match(run.stdout, /Write a folder as a path: `\.\/rob\/x\/y` is relative to the current folder\./);
    const line = path.join(scratch, 'bad-id.cloze');
    fs.writeFileSync(line, 'model: rob/x/y\npattern: {text} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\n');
    assert.match(cloze(['check', line, '--offline']).stdout, /`\.\/rob\/x\/y` is relative to the \.cloze file\./);
  });

  test('a data file whose gold column is not called `label` is said so, with its columns', async () => {
    const file = path.join(scratch, 'nolabel.cloze');
    fs.writeFileSync(
      file,
      'model: review-bert-small\npattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n  negative: terrible\ndata: nolabel.csv\n',
    );
    fs.writeFileSync(path.join(scratch, 'nolabel.csv'), 'review,sentiment\ngreat film,positive\nawful,negative\n');
    const run = cloze(['eval', file, '--models-dir', modelsDir(), '--offline']);
    assert.equal(run.status, 1);
    assert.equal(
      run.stderr,
      'cloze eval: nolabel.csv has no `label` column (it has `review`, `sentiment`): the gold labels are read from a column named `label`.\n' +
        'cloze eval: no labelled row with a label of the verbalizer to evaluate on: skipped 2 (no label).\n',
    );
    // The editor's evaluation (the lens and the panel) gives the same reason, alone.
    const source = fs.readFileSync(file, 'utf8');
    await assert.rejects(
      new DataEvaluations().evaluate(
        {
          doc: parse(source),
          files: [path.join(scratch, 'nolabel.csv')],
          tokenizer: undefined as never,
          modelKey: 'none',
          scorerFor: () => () => Promise.reject(new Error('nothing is scored')),
          limits: { maxRows: 100, maxBytes: 1 << 20 },
        },
        {},
      ),
      {
        message: 'nolabel.csv has no `label` column (it has `review`, `sentiment`): the gold labels are read from a column named `label`.',
      },
    );
  });

  test('a model file the user cannot read is said in words (permission denied), with no stray failure logged', () => {
    // The files are made unreadable with chmod; root reads them anyway, so as root the CLI runs as nobody.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-perm-'));
    fs.chmodSync(root, 0o755);
    const folder = path.join(root, 'locked');
    fs.cpSync(path.join(modelsDir(), 'tiny-random-bert-uncased'), folder, { recursive: true });
    for (const entry of fs.readdirSync(folder, { recursive: true, withFileTypes: true }))
      fs.chmodSync(path.join(entry.parentPath, entry.name), entry.isDirectory() ? 0o755 : 0o644);
    fs.chmodSync(folder, 0o755);
    const file = path.join(root, 'locked.cloze');
    fs.writeFileSync(file, 'model: locked\npattern: {text} It was [MASK].\nverbalizer:\n  a: great\n  b: terrible\nexample a: Fine.\n');
    fs.chmodSync(file, 0o644);
    const run = (): ReturnType<typeof spawnSync> =>
      spawnSync(process.execPath, [cliMain, 'preview', file, '--models-dir', root, '--offline', '--format', 'json'], {
        encoding: 'utf8',
        env: { ...process.env, HOME: root },
        ...asNobody,
      });
    for (const locked of ['tokenizer.json', path.join('onnx', 'model_quantized.onnx')]) {
      fs.chmodSync(path.join(folder, locked), 0o000);
      const result = run();
      fs.chmodSync(path.join(folder, locked), 0o644);
      assert.equal(result.status, 1, String(result.stderr));
      const json = JSON.parse(String(result.stdout)) as { messages: string[] };
      const said = [...json.messages, String(result.stderr)].join('\n');
      assert.match(said, new RegExp(`${locked.replace(/[./]/g, '\\$&')} cannot be read: permission denied`), said);
      assert.doesNotMatch(said, /EACCES|nobody waited for/);
    }
  });
});
