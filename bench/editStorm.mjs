// Edit storm (issue 9): typing at 50 edits/s in a 10,000-line document over the
// real LSP, with hovers and completions going out every 50 ms whether or not
// the previous one was answered. Measures how far the diagnostics lag behind
// the last keystroke of a burst (didChange of the last edit → the publish of
// that version) and the hover/completion latency during the burst.
// Goals: diagnostics current within 1 s of the last keystroke; hovers and
// completions answered within 100 ms at p99 during the burst.
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { generateDocument } from './check.mjs';
import { fileUri, startServer } from './lsp.mjs';
import { median, percentile, round, sleep } from './stats.mjs';

const require = createRequire(import.meta.url);
const protocol = require('vscode-languageserver-protocol/node');

export async function benchEditStorm({ modelsDir, model, quick, log }) {
  const size = quick ? 1000 : 10_000;
  const bursts = quick ? 1 : 3;
  const burstMs = quick ? 1000 : 5000;
  const editsPerSecond = 50;
  const probeMs = 50;
  const client = await startServer({ modelsDir, allowRemoteModels: false, preview: { enabled: false } });
  // Every publish with its version (this replaces lsp.mjs's handler, which cannot see versions).
  const publishes = [];
  const waiters = [];
  client.connection.onNotification(protocol.PublishDiagnosticsNotification.type, (params) => {
    const at = performance.now();
    const publish = { at, uri: params.uri, version: params.version, count: params.diagnostics.length };
    publishes.push(publish);
    for (const waiter of [...waiters]) {
      if (waiter.test(publish)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(at);
      }
    }
  });
  const next = (test, timeoutMs = 120_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`edit storm: no publish within ${timeoutMs} ms\n${client.stderr()}`)), timeoutMs);
      waiters.push({ test, resolve: (at) => (clearTimeout(timer), resolve(at)) });
    });
  try {
    // Load the tokenizer first, on a small document with a label word of two tokens.
    const probe = fileUri('storm-probe.cloze');
    const loaded = next((p) => p.uri === probe && p.count > 0);
    await client.open(probe, `model: ${model}\npattern: {x} It was [MASK].\nverbalizer:\n  positive: fantastically\n  negative: bad\n`);
    await loaded;

    const uri = fileUri(`storm-${size}.cloze`);
    const text = generateDocument(size, model, 0);
    const lines = text.split('\n');
    const opened = next((p) => p.uri === uri && p.version === 1);
    await client.open(uri, text, 1);
    await opened;
    const line = lines.findIndex((l) => l.startsWith('example') && l.includes(`number ${Math.floor(size / 4)} `));
    const verbalizer = lines.findIndex((l) => l.startsWith('  positive:'));
    const hoverAt = { line: verbalizer, character: lines[verbalizer].indexOf('great') + 1 };
    const completionAt = { line, character: 'example'.length };

    let version = 1;
    let column = lines[line].length;
    const lags = [];
    const latencies = { hover: [], completion: [] };
    const publishedDuringBursts = [];
    for (let burst = 0; burst < bursts; burst++) {
      const pending = [];
      const start = performance.now();
      const firstPublish = publishes.length;
      let nextEdit = start;
      let nextProbe = start;
      let i = 0;
      while (performance.now() - start < burstMs) {
        const now = performance.now();
        if (now >= nextEdit) {
          version++;
          const at = { line, character: column };
          column++;
          await client.change(uri, version, { start: at, end: at }, 'x');
          nextEdit += 1000 / editsPerSecond;
        }
        if (now >= nextProbe) {
          const kind = i++ % 2 === 0 ? 'hover' : 'completion';
          const sent = performance.now();
          pending.push(
            client.connection
              .sendRequest(`textDocument/${kind}`, { textDocument: { uri }, position: kind === 'hover' ? hoverAt : completionAt })
              .then(() => latencies[kind].push(performance.now() - sent)),
          );
          nextProbe += probeMs;
        }
        await sleep(Math.max(0, Math.min(nextEdit, nextProbe) - performance.now()));
      }
      const lastEdit = performance.now();
      const last = version;
      const current = publishes.find((p) => p.uri === uri && p.version === last);
      const at = current ? current.at : await next((p) => p.uri === uri && p.version === last);
      lags.push(at - lastEdit);
      publishedDuringBursts.push(publishes.slice(firstPublish).filter((p) => p.uri === uri && p.at <= lastEdit).length);
      await Promise.all(pending);
      log?.(`edit storm burst ${burst + 1}: ${version - 1} edits so far, diagnostics ${round(at - lastEdit)} ms after the last edit`);
      await sleep(500);
    }
    const all = [...latencies.hover, ...latencies.completion];
    return {
      lines: lines.length - 1,
      editsPerSecond,
      burstMs,
      bursts,
      diagnosticsLagMs: median(lags),
      diagnosticsLagMaxMs: Math.max(...lags),
      publishesDuringBurst: median(publishedDuringBursts),
      hoverP50Ms: percentile(latencies.hover, 50),
      hoverP99Ms: percentile(latencies.hover, 99),
      completionP99Ms: percentile(latencies.completion, 99),
      requestsP99Ms: percentile(all, 99),
      requestsMaxMs: Math.max(...all),
      requests: all.length,
    };
  } finally {
    await client.close();
  }
}

/** The section's figures as a Markdown table, with the goals of issue 9. */
export function editStormMarkdown(storm) {
  const n = (value) => round(value).toLocaleString('en-US');
  return [
    `### Edit storm (${storm.lines.toLocaleString('en-US')} lines, ${storm.editsPerSecond} edits/s, ${storm.bursts} bursts of ${storm.burstMs / 1000} s)`,
    '',
    '| figure | value | goal |',
    '| --- | --- | --- |',
    `| diagnostics after the last edit of a burst (median, max) | ${n(storm.diagnosticsLagMs)} ms, ${n(storm.diagnosticsLagMaxMs)} ms | ≤ 1,000 ms |`,
    `| hover p50 / p99 during the burst | ${n(storm.hoverP50Ms)} / ${n(storm.hoverP99Ms)} ms | p99 ≤ 100 ms |`,
    `| completion p99 during the burst | ${n(storm.completionP99Ms)} ms | ≤ 100 ms |`,
    `| all ${storm.requests} requests: p99, max | ${n(storm.requestsP99Ms)} ms, ${n(storm.requestsMaxMs)} ms | |`,
  ].join('\n');
}
