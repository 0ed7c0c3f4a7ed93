import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { resolveModel } from '../../server/src/model/resolve';
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
    assert.ok(!editor.ok && editor.reason.includes('Set cloze.modelsDir (CLI: --models-dir, or CLOZE_MODELS_DIR)'));
    const cli = resolveModel('no-such/model', scratch, { ...settings, userInterface: 'cli' });
    assert.ok(!cli.ok && !cli.reason.includes('cloze.'));
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
    assert.equal(run.status, 1);
    assert.match(
      run.stderr,
      /cloze eval: Cannot read nope\.jsonl: the file does not exist\. Paths given with --data are relative to the current folder/,
    );
    assert.doesNotMatch(run.stderr, /relative to the \.cloze file/);
  });
});
