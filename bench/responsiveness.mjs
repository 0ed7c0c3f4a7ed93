// 3. Staying responsive: hover and completion latency over the real LSP (the
// server as a child process over stdio), while idle and while a 256-pair
// preview is running. Requests go out at a steady rate whether or not the
// previous one was answered, as a user's keystrokes and mouse moves do; only
// requests sent while the preview was running count as busy.
import { performance } from 'node:perf_hooks';
import { PATTERNS, LABEL_WORDS, sentences } from './preview.mjs';
import { fileUri, startServer } from './lsp.mjs';
import { percentile, round, sleep } from './stats.mjs';

/** A .cloze document with the trained patterns and `texts` as examples: texts × 4 pairs. */
export function previewDocument(model, texts) {
  const lines = [`model: ${model}`, ''];
  PATTERNS.forEach((pattern, i) => lines.push(`pattern p${i}: ${pattern}`));
  lines.push('', 'verbalizer:', `  positive: ${LABEL_WORDS[0]}, ${LABEL_WORDS[1]}`, `  negative: ${LABEL_WORDS[2]}, ${LABEL_WORDS[3]}`, '');
  for (const text of texts) lines.push(`example: ${text.replace(/\s+/g, ' ')}`);
  return lines.join('\n') + '\n';
}

/** Where the requests point: the word `great` of the verbalizer (hover) and the end of `example` on an example line (completion). */
function positions(text) {
  const lines = text.split('\n');
  const verbalizer = lines.findIndex((line) => line.startsWith('  positive:'));
  const example = lines.findIndex((line) => line.startsWith('example'));
  return {
    hover: { line: verbalizer, character: lines[verbalizer].indexOf(LABEL_WORDS[0]) + 1 },
    completion: { line: example, character: 'example'.length },
  };
}

/** Runs a preview through code lenses, as the editor does: codeLens, then codeLens/resolve of the first lens. */
export async function preview(client, uri) {
  const lenses = await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } });
  if (!lenses?.length) throw new Error(`no code lenses for ${uri}:\n${client.stderr()}`);
  const resolved = await client.connection.sendRequest('codeLens/resolve', lenses[0]);
  if (!resolved?.command || resolved.command.title === '…') throw new Error(`the lens did not resolve: ${JSON.stringify(resolved)}`);
  return resolved;
}

/**
 * Sends hovers and completions alternately every `intervalMs` until `until()`
 * is true (checked before each send); resolves with each request's send time
 * and latency.
 */
async function probe(client, uri, at, { intervalMs, until }) {
  const samples = [];
  const pending = [];
  let next = performance.now();
  for (let i = 0; !until(); i++) {
    const kind = i % 2 === 0 ? 'hover' : 'completion';
    const sent = performance.now();
    const method = kind === 'hover' ? 'textDocument/hover' : 'textDocument/completion';
    pending.push(
      client.connection
        .sendRequest(method, { textDocument: { uri }, position: at[kind] })
        .then(() => samples.push({ kind, sent, ms: performance.now() - sent })),
    );
    next += intervalMs;
    await sleep(Math.max(0, next - performance.now()));
  }
  await Promise.all(pending);
  return samples;
}

export async function benchResponsiveness({ modelsDir, dataFile, model, quick, log }) {
  const client = await startServer({ modelsDir, allowRemoteModels: false });
  try {
    const pairsPerPreview = quick ? 8 : 256;
    const texts = sentences(dataFile, 872);
    const perDoc = pairsPerPreview / PATTERNS.length;
    const uri = fileUri('responsiveness.cloze');
    // Warm-up: the tokenizer and the model load, and a first preview.
    let version = 1;
    let text = previewDocument(model, texts.slice(0, perDoc));
    await client.open(uri, text, version);
    await preview(client, uri);
    const at = positions(text);
    const intervalMs = 10;

    // Idle: nothing else runs.
    const idleCount = quick ? 10 : 600;
    let sent = 0;
    const idle = await probe(client, uri, at, { intervalMs, until: () => sent++ >= idleCount });

    // Busy: each round puts new examples in the document (nothing cached) and previews them.
    const rounds = quick ? 1 : 12;
    const busy = [];
    const previewMs = [];
    for (let round = 1; round <= rounds; round++) {
      const slice = texts.slice(round * perDoc, (round + 1) * perDoc);
      text = previewDocument(model, slice);
      version++;
      // The edit's own work (checking the new examples) is over before the preview starts: that is
      // section 1's subject; this one is what a running preview costs other requests.
      const checked = client.nextDiagnostics(uri);
      await client.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version },
        contentChanges: [{ text }],
      });
      await checked;
      const before = await client.connection.sendRequest('cloze/stats');
      let running = true;
      const started = performance.now();
      const done = preview(client, uri).then(() => {
        running = false;
        previewMs.push(performance.now() - started);
      });
      const samples = await probe(client, uri, at, { intervalMs, until: () => !running });
      await done;
      const after = await client.connection.sendRequest('cloze/stats');
      const computed = after.computedPairs - before.computedPairs;
      if (computed < pairsPerPreview)
        throw new Error(`round ${round} computed ${computed} pairs, not ${pairsPerPreview}: the preview was not cold`);
      busy.push(...samples);
      await sleep(quick ? 0 : 200);
    }
    const stats = (list) => ({
      count: list.length,
      p50Ms: percentile(
        list.map((s) => s.ms),
        50,
      ),
      p99Ms: percentile(
        list.map((s) => s.ms),
        99,
      ),
      maxMs: Math.max(...list.map((s) => s.ms)),
    });
    const byKind = (list) => ({
      hover: stats(list.filter((s) => s.kind === 'hover')),
      completion: stats(list.filter((s) => s.kind === 'completion')),
    });
    const idleStats = stats(idle);
    const busyStats = stats(busy);
    log?.(
      `responsiveness: idle p50 ${round(idleStats.p50Ms)} p99 ${round(idleStats.p99Ms)} ms (${idle.length}); busy p50 ${round(busyStats.p50Ms)} p99 ${round(busyStats.p99Ms)} ms (${busy.length})`,
    );
    return {
      model,
      pairsPerPreview,
      intervalMs,
      idleP50Ms: idleStats.p50Ms,
      idleP99Ms: idleStats.p99Ms,
      busyP50Ms: busyStats.p50Ms,
      busyP99Ms: busyStats.p99Ms,
      busyOverIdleP99: busyStats.p99Ms / idleStats.p99Ms,
      idle: byKind(idle),
      busy: byKind(busy),
      previewMs: previewMs.map((ms) => round(ms, 1)),
    };
  } finally {
    await client.close();
  }
}
