// `npm run bench`: every benchmark of issue 5 in one run, on this machine.
// Writes bench/results.json (raw figures, core count, Node version) and prints
// Markdown tables. `npm run bench -- --quick` runs every measurement once on
// tiny inputs and writes its results to a temporary file instead: a smoke test
// of the harness for CI, which asserts nothing about speed.
//
//   node bench/run.mjs [--quick] [--only check,preview,responsiveness,startup,editStorm,memory] [--out FILE]
//
// CLOZE_MODELS_DIR (default ../shared/models) must hold review-bert-small, review-bert-small-xenova and
// tiny-random-bert-uncased; nothing is downloaded.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchCheck } from './check.mjs';
import { benchEditStorm, editStormMarkdown } from './editStorm.mjs';
import { benchMemoryAfterClose } from './memory-after-close.mjs';
import { benchPreview } from './preview.mjs';
import { benchResponsiveness } from './responsiveness.mjs';
import { benchStartup } from './startup.mjs';
import { markdown } from './table.mjs';

const require = createRequire(import.meta.url);
const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const only = option('--only')?.split(',');
const sections = ['check', 'preview', 'responsiveness', 'startup', 'editStorm', 'memory'].filter((s) => !only || only.includes(s));

const modelsDir = resolve(process.env.CLOZE_MODELS_DIR ?? join(root, '..', 'shared', 'models'));
const dataFile = resolve(process.env.CLOZE_BENCH_DATA ?? join(modelsDir, '..', 'data', 'sst2-dev.jsonl'));
for (const needed of [
  join(modelsDir, 'review-bert-small'),
  join(modelsDir, 'review-bert-small-xenova'),
  join(modelsDir, 'tiny-random-bert-uncased'),
  dataFile,
]) {
  if (!existsSync(needed)) {
    console.error(`bench: ${needed} does not exist. Set CLOZE_MODELS_DIR to ../shared/models (and CLOZE_BENCH_DATA to sst2-dev.jsonl).`);
    process.exit(2);
  }
}
// Never download: an empty cache of our own, also for the servers this starts.
const cacheDir = process.env.CLOZE_BENCH_CACHE ?? mkdtempSync(join(tmpdir(), 'cloze-bench-cache-'));
process.env.CLOZE_BENCH_CACHE = cacheDir;
process.env.CLOZE_CACHE_DIR = cacheDir;
process.env.CLOZE_MODELS_DIR = modelsDir;
const out = option('--out') ?? (quick ? join(tmpdir(), 'cloze-bench-quick.json') : join(root, 'bench', 'results.json'));

const started = performance.now();
const origin = Number(process.env.CLOZE_BENCH_STARTED ?? Date.now() - started);
const log = (text) => console.error(`[${((Date.now() - origin) / 1000).toFixed(1)} s] ${text}`);
const results = {
  date: new Date().toISOString(),
  quick,
  machine: {
    cores: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverageAtStart: loadavg(),
  },
};

const section = option('--section');
try {
  if (section) {
    // A child of the run below: one section in a process of its own, results to --out.
    writeFileSync(out, JSON.stringify(await runSection(section)) + '\n');
    process.exit(0);
  }
  // Each section runs in a fresh process: no section inherits another's heap,
  // JIT state or native threads (and a worker thread that loaded onnxruntime-node
  // must not be terminated in a process whose main thread uses it too).
  for (const name of sections) {
    const file = join(cacheDir, `${name}.json`);
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', join(root, 'bench', 'run.mjs'), '--section', name, '--out', file, ...(quick ? ['--quick'] : [])],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, CLOZE_BENCH_STARTED: String(Date.now() - (performance.now() - started)) },
      },
    );
    if (child.status !== 0) throw new Error(`bench: the ${name} section failed (exit ${child.status ?? child.signal}).`);
    Object.assign(results, JSON.parse(readFileSync(file, 'utf8')));
  }
} finally {
  if (!section) rmSync(cacheDir, { recursive: true, force: true });
}

async function runSection(name) {
  switch (name) {
    case 'check': {
      const { TokenizerCache } = require('../server/out/model/tokenizers.js');
      const { resolveModel } = require('../server/out/model/resolve.js');
      const location = resolveModel('review-bert-small', undefined, { modelsDir, allowRemoteModels: false, cacheDir });
      const loaded = await new TokenizerCache(cacheDir).get(location);
      if (!loaded.ok) throw new Error(loaded.reason);
      return { check: await benchCheck({ tokenizer: loaded.tokenizer, model: 'review-bert-small', modelsDir, quick, log }) };
    }
    case 'preview':
      return {
        preview: await benchPreview({
          modelsDir,
          cacheDir,
          dataFile,
          // review-bert-small-xenova: the same weights exported the way Xenova/* hub models are (opset 11, dynamic int8).
          models: ['review-bert-small', 'review-bert-small-xenova', 'tiny-random-bert-uncased'],
          quick,
          log,
        }),
      };
    case 'responsiveness':
      return { responsiveness: await benchResponsiveness({ modelsDir, dataFile, model: 'review-bert-small', quick, log }) };
    case 'editStorm':
      return { editStorm: await benchEditStorm({ modelsDir, model: 'review-bert-small', quick, log }) };
    case 'memory':
      // Closing every document gives the memory back (issue 9): server RSS against 1.5 × start + one model.
      return {
        memoryAfterClose: await benchMemoryAfterClose({
          modelsDir,
          dataFile,
          ...(quick ? { documents: 2, examples: 20, idleMs: 3000 } : {}),
          log,
        }),
      };
    case 'startup':
      return benchStartup({ modelsDir, cacheDir, dataFile, model: 'review-bert-small', quick, log });
    default:
      throw new Error(`bench: no section ${name}`);
  }
}

results.machine.loadAverageAtEnd = loadavg();
results.durationSeconds = (performance.now() - started) / 1000;
writeFileSync(out, await formatted(JSON.stringify(results, null, 2) + '\n', out));
console.log(markdown(results));
if (results.editStorm) console.log(`\n${editStormMarkdown(results.editStorm)}`);
if (results.memoryAfterClose) {
  const m = results.memoryAfterClose;
  console.log(
    [
      '',
      `### Memory after closing every document (${m.documents} documents × ${m.examplesPerDocument} examples, two models)`,
      '',
      '| server RSS at start | with one model checked | with the documents open | inference process | after closing all | goal: ≤ 1.5 × start + one model | met |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      `| ${m.serverStartRssMb} MB | ${m.serverOneModelRssMb} MB | ${m.serverOpenRssMb} MB | ${m.inferenceProcessRssMb ?? '–'} MB | ${m.serverAfterCloseRssMb} MB after ${m.idleSeconds} s idle (${m.serverAfterCloseSoonRssMb} MB after 3 s; ${m.afterCloseOverStart}× start; inference process ${m.inferenceProcessReleased ? 'stopped' : 'still running'}) | ${m.boundMb} MB | ${m.serverAfterCloseRssMb <= m.boundMb ? 'yes' : 'no'} |`,
    ].join('\n'),
  );
}
log(`results in ${out}`);

/** The JSON as Prettier (a dev dependency) writes it, so the committed results pass `npm run lint`. */
async function formatted(json, file) {
  try {
    const prettier = await import('prettier');
    return await prettier.format(json, { ...(await prettier.resolveConfig(file)), filepath: file });
  } catch {
    return json;
  }
}
