// 4. Start and memory.
// - First diagnostics: a fresh server (child process over stdio) per run; the
//   time from sending initialize to the first publishDiagnostics of a document
//   opened right after initialized, and to the publish with the tokenizer's
//   diagnostics (the tokenizer loads lazily, on first need).
// - Model load: a fresh process and inference worker per run (load-model.mjs);
//   the time until loadModel answers for review-bert-small (worker start,
//   transformers.js import, files, graph rewrite, session), and the engine's
//   own load time inside it.
// - Memory: peak RSS (VmHWM) of the server process after the document is
//   checked, before any preview; then, after a 256-pair preview with
//   review-bert-small, the peak RSS of the inference process (a child process
//   of the server, whose pid `cloze/stats` gives): what loading and running the
//   model costs.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileUri, startServer } from './lsp.mjs';
import { sentences } from './preview.mjs';
import { preview, previewDocument } from './responsiveness.mjs';
import { median, memoryOf, round } from './stats.mjs';

export async function benchStartup({ modelsDir, cacheDir, dataFile, model, quick, log }) {
  const runs = quick ? 1 : 5;
  const first = [];
  const tokenizer = [];
  const initialize = [];
  const serverPeak = [];
  const workerPeak = [];
  const texts = sentences(dataFile, quick ? 2 : 64);
  for (let run = 0; run < runs + (quick ? 0 : 1); run++) {
    const client = await startServer({ modelsDir, allowRemoteModels: false });
    try {
      const uri = fileUri(`startup-${run}.cloze`);
      const sent = client.times.initializeSent;
      // The label word `fantastically` is two tokens: that error needs the tokenizer.
      const text = previewDocument(model, texts).replace('positive: great', 'positive: great, fantastically');
      const firstPublish = client.nextDiagnostics(uri);
      const tokenPublish = client.nextDiagnostics(uri, (d) => d.some((x) => x.code === 'label-word-multi-token'));
      await client.open(uri, text);
      const a = await firstPublish;
      const b = await tokenPublish;
      const before = memoryOf(client.process.pid);
      await preview(client, uri);
      const stats = await client.connection.sendRequest('cloze/stats');
      const worker = stats?.pid ? memoryOf(stats.pid) : undefined;
      if (run === 0 && !quick) continue; // warm-up: the file system cache
      initialize.push(client.times.initialized - sent);
      first.push(a.at - sent);
      tokenizer.push(b.at - sent);
      serverPeak.push(before.peakRssMb);
      if (worker) workerPeak.push(worker.peakRssMb);
    } finally {
      await client.close();
    }
  }

  const load = [];
  const engineLoad = [];
  for (let run = 0; run < runs + (quick ? 0 : 1); run++) {
    const child = spawnSync(process.execPath, [join(import.meta.dirname, 'load-model.mjs'), modelsDir, model, cacheDir], {
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`load-model.mjs failed: ${child.stderr}`);
    const { wallMs, engineLoadMs } = JSON.parse(child.stdout);
    if (run === 0 && !quick) continue; // warm-up: the file system cache
    load.push(wallMs);
    engineLoad.push(engineLoadMs);
  }

  const result = {
    startup: {
      initializeMs: median(initialize),
      firstDiagnosticsMs: median(first),
      tokenizerDiagnosticsMs: median(tokenizer),
      modelLoadMs: median(load),
      engineLoadMs: median(engineLoad),
      runs,
    },
    memory: {
      serverPeakRssMb: median(serverPeak),
      workerPeakRssMb: median(workerPeak),
      previewPairs: texts.length * 4,
      runs,
    },
  };
  log?.(
    `startup: first diagnostics ${round(result.startup.firstDiagnosticsMs)} ms, tokenizer ${round(result.startup.tokenizerDiagnosticsMs)} ms, model load ${round(result.startup.modelLoadMs)} ms; RSS server ${round(result.memory.serverPeakRssMb)} MB + worker ${round(result.memory.workerPeakRssMb)} MB`,
  );
  return result;
}
