// How `cloze suggest` chooses among verbalizers, decided by cross-validation
// inside one labelled file (README, "How the search chooses"): the rows are
// scored once, then split at random in halves many times; each selection
// method searches on one half and its top verbalizer is scored (accuracy) on
// the other. The method whose choice transfers best is the default.
//
//   node scripts/label-search-cv.mjs <file.cloze> <data.jsonl> [--splits N] [--models-dir DIR]
//
// Needs `npm run build`. Never looks at any other data than the file given.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const out = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'server', 'out');
const { openScoringSession } = require(path.join(out, 'cli', 'session.js'));
const { evaluationRows } = require(path.join(out, 'service', 'evaluate.js'));
const { defaultDataLimits } = require(path.join(out, 'service', 'dataSets.js'));
const { buildSearchTable, labelCandidates } = require(path.join(out, 'service', 'suggest.js'));
const { searchVerbalizers, scoreVerbalizer, selectRows } = require(path.join(out, 'language', 'labelSearch.js'));

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { splits: { type: 'string', default: '20' }, 'models-dir': { type: 'string' }, seed: { type: 'string', default: '13' } },
});
const [file, data] = positionals;
const session = await openScoringSession(file, { modelsDir: values['models-dir'], offline: true, quantized: true }, 'searched');
if (typeof session === 'number') process.exit(session);
const { doc, tokenizer, engine } = session;
const labels = [...new Set(doc.verbalizers[0].entries.map((e) => e.label.text))];
const { rows } = await evaluationRows(doc, [path.resolve(data)], labels, defaultDataLimits, 'command-line');
const started = performance.now();
const built = await buildSearchTable(doc, tokenizer, (i, w, k) => engine.score(i, w, k), labels, rows, { candidates: 20 });
await engine.dispose();
console.log(
  `${built.gold.length} rows, ${built.words.length} pooled words, scored in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);

// Mulberry32: a seeded generator, so the splits are the same on every run.
let state = Number(values.seed) >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const methods = {
  'LM-BFF top candidate per label (no search)': null,
  'LM-BFF top 2 candidates per label': 2,
  'LM-BFF top 3 candidates per label': 3,
  'LM-BFF top 4 candidates per label': 4,
  'accuracy, 1 word': { criterion: 'accuracy', words: 1 },
  'accuracy, ≤2 words (the search before)': { criterion: 'accuracy', words: 2 },
  'log-likelihood, 1 word': { criterion: 'log-likelihood', words: 1 },
  'log-likelihood, ≤2 words': { criterion: 'log-likelihood', words: 2 },
  'log-likelihood, ≤3 words': { criterion: 'log-likelihood', words: 3 },
};
const heldOut = Object.fromEntries(Object.keys(methods).map((m) => [m, []]));
const choices = Object.fromEntries(Object.keys(methods).map((m) => [m, new Map()]));
const heldOutLogLikelihood = Object.fromEntries(Object.keys(methods).map((m) => [m, []]));
const all = [...built.gold.keys()];
const splits = [];
for (let split = 0; split < Number(values.splits); split++) {
  const order = [...all];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  splits.push({ kind: 'random', half: order.slice(0, order.length >> 1), rest: order.slice(order.length >> 1) });
}
// A shift inside the file: search on its shorter texts, score on its longer ones (and back), as
// texts of another corpus may be longer (the labelled rows are the file's rows in order).
const length = (r) => [...rows[r].fields.values()].join(' ').length;
const byLength = [...all].sort((a, b) => length(a) - length(b) || a - b);
splits.push({ kind: 'short→long', half: byLength.slice(0, all.length >> 1), rest: byLength.slice(all.length >> 1) });
splits.push({ kind: 'long→short', half: byLength.slice(all.length >> 1), rest: byLength.slice(0, all.length >> 1) });
const shifted = Object.fromEntries(Object.keys(methods).map((m) => [m, []]));
for (const { kind, half, rest } of splits) {
  const searchTable = selectRows(built.table, half);
  const searchGold = half.map((r) => built.gold[r]);
  const testTable = selectRows(built.table, rest);
  const testGold = rest.map((r) => built.gold[r]);
  const { candidates } = labelCandidates(searchTable, searchGold, labels.length, 20);
  for (const [name, method] of Object.entries(methods)) {
    const choice =
      method === null
        ? candidates.map((c) => [c[0]])
        : typeof method === 'number'
          ? candidates.map((c) => c.slice(0, method))
          : searchVerbalizers(searchTable, searchGold, candidates, {
              top: 1,
              maxWordsPerLabel: method.words,
              calibration: 'none',
              criterion: method.criterion,
            }).results[0].verbalizer;
    const scored = scoreVerbalizer(testTable, testGold, choice, 'none');
    const words = choice.map((ws) => ws.map((w) => built.words[w].word).join('+')).join('/');
    if (kind !== 'random') {
      shifted[name].push(`${kind} ${(scored.accuracy * 100).toFixed(1)} % (${words})`);
      continue;
    }
    heldOut[name].push(scored.accuracy);
    heldOutLogLikelihood[name].push(scored.meanLogGold);
    choices[name].set(words, (choices[name].get(words) ?? 0) + 1);
  }
}
const baseline = 'accuracy, ≤2 words (the search before)';
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
console.log(`held-out accuracy over ${values.splits} random half splits (search on one half, score on the other):`);
for (const name of Object.keys(methods)) {
  const top = [...choices[name]]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([w, n]) => `${w} ×${n}`)
    .join(', ');
  const paired = heldOut[name].map((a, i) => a - heldOut[baseline][i]);
  console.log(
    `  ${name.padEnd(44)} ${(mean(heldOut[name]) * 100).toFixed(2)} % ± ${(sd(heldOut[name]) * 100).toFixed(2)}  vs before ${(mean(paired) * 100).toFixed(2)} ± ${(sd(paired) * 100).toFixed(2)}  log P(gold) ${mean(heldOutLogLikelihood[name]).toFixed(4)}   chose ${top}`,
  );
  console.log(`      ${shifted[name].join('   ')}`);
}
