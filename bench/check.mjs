// 1. Checking cost as documents grow: full parse + validate (tokenizer loaded
// and warm) and the re-check after a one-line edit, for documents of 10 …
// 10,000 patterns+examples, in the core; then the same edit over the real LSP
// (didChange → publishDiagnostics) at the largest size. The server re-parses
// the whole document on every edit, so all of these should grow linearly.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { median, round } from './stats.mjs';
import { fileUri, startServer } from './lsp.mjs';

const require = createRequire(import.meta.url);
const { parse } = require('../server/out/language/parse.js');
const { validateStructure } = require('../server/out/language/validate.js');
const { validateWithTokenizer } = require('../server/out/language/validateTokens.js');
const { boundedTokenizing, checkBudgetMs } = require('../server/out/model/tokenizers.js');

/**
 * A document with `size` statements: half patterns, half examples. `variant`
 * changes every line's words, so a document of another variant shares no text
 * with this one (nothing of it can come from a cache).
 */
export function generateDocument(size, model, variant = 0) {
  const lines = [`model: ${model}`, 'verbalizer:', '  positive: great, good', '  negative: terrible, bad', ''];
  const patterns = Math.max(1, Math.floor(size / 2));
  for (let i = 0; i < patterns; i++) lines.push(`pattern p${i}: {review} All in all, take ${i} of ${variant}, it was [MASK].`);
  for (let i = 0; i < size - patterns; i++) {
    lines.push(
      `example ${i % 2 ? 'positive' : 'negative'}: Review number ${i} (${variant}): the plot was ${i % 2 ? 'gripping' : 'dull'} and the cast did well.`,
    );
  }
  return lines.join('\n') + '\n';
}

/** The line an edit goes to: an example in the middle of the examples. */
function middleExampleLine(size) {
  const header = 5;
  const patterns = Math.max(1, Math.floor(size / 2));
  return header + patterns + Math.floor((size - patterns) / 2);
}

function check(text, tokenizer) {
  // Start from a collected heap (the run has --expose-gc): the garbage of
  // generating the documents is the benchmark's, not the checker's.
  globalThis.gc?.();
  const t0 = performance.now();
  const doc = parse(text);
  const t1 = performance.now();
  const structural = validateStructure(doc).length;
  const t2 = performance.now();
  // Under one time budget, as the server and the CLI run it (model/tokenizers.ts, boundedTokenizing).
  const tokens = boundedTokenizing(checkBudgetMs(text.length), () => validateWithTokenizer(doc, tokenizer)).length;
  const t3 = performance.now();
  return { parseMs: t1 - t0, structureMs: t2 - t1, tokensMs: t3 - t2, totalMs: t3 - t0, diagnostics: structural + tokens };
}

export async function benchCheck({ tokenizer, model, modelsDir, quick, log }) {
  const sizes = quick ? [10, 100] : [10, 100, 1000, 10000];
  // More runs where a run is short: the medians of the small sizes are otherwise at the mercy of one hiccup.
  const runsFor = (size) => (quick ? 1 : size >= 10000 ? 15 : 21);
  const rows = [];
  let variant = 1;
  for (const size of sizes) {
    // Warm-up: JIT, and the tokenizer's own first-use work, on a document of another variant.
    if (!quick) check(generateDocument(size, model, variant++), tokenizer);
    const full = [];
    const edit = [];
    for (let run = 0; run < runsFor(size); run++) {
      // Full check: a document never seen before.
      const text = generateDocument(size, model, variant++);
      full.push(check(text, tokenizer));
      // A one-line edit of that document, as typing makes: the line grows by a word.
      const lines = text.split('\n');
      const line = middleExampleLine(size);
      lines[line] = `${lines[line]} edit`;
      const edited = lines.join('\n');
      edit.push(check(edited, tokenizer));
    }
    const pick = (list, key) => median(list.map((r) => r[key]));
    rows.push({
      size,
      lines: generateDocument(size, model).split('\n').length - 1,
      fullMs: pick(full, 'totalMs'),
      editMs: pick(edit, 'totalMs'),
      full: { parseMs: pick(full, 'parseMs'), structureMs: pick(full, 'structureMs'), tokensMs: pick(full, 'tokensMs') },
      edit: { parseMs: pick(edit, 'parseMs'), structureMs: pick(edit, 'structureMs'), tokensMs: pick(edit, 'tokensMs') },
    });
    log?.(`check ${size}: full ${round(rows.at(-1).fullMs)} ms, edit ${round(rows.at(-1).editMs)} ms`);
  }
  const growth = [];
  const editGrowth = [];
  for (let i = 1; i < rows.length; i++) {
    // Sizes are 10× apart: the ratio of times is the growth per 10× (10 = linear).
    growth.push(rows[i].fullMs / rows[i - 1].fullMs);
    editGrowth.push(rows[i].editMs / rows[i - 1].editMs);
  }
  const shapes = checkShapes(tokenizer, model, quick);
  for (const shape of shapes)
    log?.(`check shape ${shape.shape}: ${round(shape.smallMs)} → ${round(shape.largeMs)} ms, ${round(shape.growth)}× per 10×`);
  const lsp = await lspEdits({ size: sizes.at(-1), model, modelsDir, runs: quick ? 1 : 15 });
  log?.(`check over LSP at ${sizes.at(-1)}: ${round(lsp.editMs)} ms per edit`);
  return {
    sizes: rows,
    growthPer10x: Math.max(...growth),
    editGrowthPer10x: Math.max(...editGrowth),
    editMsAtLargest: rows.at(-1).editMs,
    shapes,
    lsp,
  };
}

/**
 * Documents that grow in one direction a typical file does not: many verbalizer blocks (unnamed,
 * so every block after the first is a duplicate; and named, with a pattern choosing one), one label
 * with many words. Each checked at n and 10·n statements; a check that compares every block with
 * those before it grows 100× per 10× (a 40,000-block file took 36 s to check before it was a lookup).
 */
function checkShapes(tokenizer, model, quick) {
  const small = quick ? 200 : 2000;
  const shapes = {
    'verbalizer blocks': (n) => `model: ${model}\npattern: {x} It was [MASK].\n${'verbalizer:\n  a: b\n'.repeat(n)}`,
    'named verbalizer blocks': (n) =>
      `model: ${model}\npattern verbalizer=v7: {x} It was [MASK].\n${Array.from({ length: n }, (_, i) => `verbalizer v${i}:\n  a: b\n`).join('')}`,
    'label words of one label': (n) =>
      `model: ${model}\npattern: {x} It was [MASK].\nverbalizer:\n  a: ${Array.from({ length: n }, (_, i) => `w${i}`).join(', ')}\n  b: bad\n`,
    // Each told "indent it"; the parser searched the line list for every one (200,000 took 37 s).
    '`name: value` lines at column 1': (n) =>
      `model: ${model}\npattern: {x} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\n${Array.from({ length: n }, (_, i) => `k${i}: v\n`).join('')}`,
    // The second verbalizer's labels were compared with the first's as lists (40,000 took 12 s).
    'labels of two verbalizers': (n) => {
      const entries = Array.from({ length: n }, (_, i) => `  l${i}: w${i}\n`).join('');
      return `model: ${model}\npattern: {x} It was [MASK].\npattern verbalizer=v: {x} Or [MASK].\nverbalizer:\n${entries}verbalizer v:\n${entries.replace('l0:', 'm0:')}`;
    },
    // Each message listed every declared label (8,000 × 8,000: 570 MB of output).
    'examples of an undeclared label': (n) =>
      `model: ${model}\npattern: {x} It was [MASK].\nverbalizer:\n${Array.from({ length: n / 10 }, (_, i) => `  l${i}: w${i}\n`).join('')}${'example nope: text\n'.repeat(n)}`,
  };
  return Object.entries(shapes).map(([shape, make]) => {
    const time = (n) => median(Array.from({ length: quick ? 1 : 5 }, () => check(make(n), tokenizer).totalMs));
    time(small); // warm-up
    const smallMs = time(small);
    const largeMs = time(small * 10);
    return { shape, small, smallMs, largeMs, growth: largeMs / Math.max(smallMs, 0.001) };
  });
}

/**
 * Over the real server: open the largest document, wait until its tokenizer
 * diagnostics are in, then make one-line edits one at a time and time each
 * from didChange to the publish that answers it.
 */
async function lspEdits({ size, model, modelsDir, runs }) {
  const client = await startServer({ modelsDir, allowRemoteModels: false });
  try {
    // A small document with a label word that is two tokens: its error appears once the tokenizer is loaded.
    const probe = fileUri('probe.cloze');
    const loaded = client.nextDiagnostics(probe, (d) => d.some((x) => x.code === 'label-word-multi-token'));
    await client.open(probe, `model: ${model}\npattern: {x} It was [MASK].\nverbalizer:\n  positive: fantastically\n  negative: bad\n`);
    await loaded;
    const uri = fileUri(`check-${size}.cloze`);
    const text = generateDocument(size, model, 0);
    const opened = client.nextDiagnostics(uri);
    await client.open(uri, text);
    await opened;
    const line = middleExampleLine(size);
    const column = text.split('\n')[line].length;
    const times = [];
    for (let run = 0; run < runs + 1; run++) {
      const answered = client.nextDiagnostics(uri);
      const start = performance.now();
      const position = { line, character: column + run * 2 };
      await client.change(uri, run + 2, { start: position, end: position }, ' x');
      const { at } = await answered;
      if (run > 0) times.push(at - start); // the first edit is the warm-up
    }
    return { size, editMs: median(times), runs: times.length };
  } finally {
    await client.close();
  }
}
