// Memory returned after closing every document (issue 9): the server's RSS at
// start, with several previewed documents open (and the inference process's
// RSS then), and after closing them all, once the inference process has been
// released. Ratios of one run, not a timed test.
//
//   node bench/memory-after-close.mjs [models dir]  → one JSON line
//
// Stand-alone on purpose (bench/run.mjs may call it as a section); it needs a
// built server (npm run build) and review-bert-small-xenova in the models dir.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { previewDocument, preview } from './responsiveness.mjs';
import { sentences } from './preview.mjs';
import { fileUri, repoRoot, startServer } from './lsp.mjs';
import { round, sleep } from './stats.mjs';

/** Resident set size of a process in MB, from /proc (Linux). */
function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export async function benchMemoryAfterClose({
  modelsDir,
  dataFile,
  documents = 4,
  examples = 200,
  idleMs = 20_000,
  log = () => undefined,
}) {
  const client = await startServer({ modelsDir, allowRemoteModels: false }, { codeLensRefresh: false });
  try {
    await sleep(500);
    const start = rssMb(client.process.pid);
    // One document checked against one model (its tokenizer and transformers.js loaded), no preview yet: what "one loaded model" costs the server.
    const probeUri = fileUri('memory-probe.cloze');
    const checked = client.nextDiagnostics(
      probeUri,
      (diagnostics) => diagnostics.length === 0 || diagnostics.some((d) => d.source === 'cloze'),
    );
    await client.open(probeUri, previewDocument('review-bert-small-xenova', ['A probe.']));
    await checked;
    await sleep(500);
    const oneModel = rssMb(client.process.pid);
    await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri: probeUri } });
    const texts = sentences(dataFile, examples * documents);
    const uris = [];
    for (let d = 0; d < documents; d++) {
      const uri = fileUri(`memory-${d}.cloze`);
      uris.push(uri);
      // Two models, as a workspace may mix them; each document its own examples.
      const model = d % 2 === 0 ? 'review-bert-small-xenova' : 'tiny-random-bert-uncased';
      await client.open(uri, previewDocument(model, texts.slice(d * examples, (d + 1) * examples)));
      await preview(client, uri);
      log(`  previewed ${uri}`);
    }
    const open = await client.connection.sendRequest('cloze/stats');
    const withDocuments = rssMb(client.process.pid);
    const child = open?.pid ? rssMb(open.pid) : null;
    for (const uri of uris) await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
    let stats = await client.connection.sendRequest('cloze/stats');
    for (let i = 0; i < 100 && stats?.pid; i++) {
      await sleep(50);
      stats = await client.connection.sendRequest('cloze/stats');
    }
    // RSS is what the system sees. The server collects once 1 s after the last close; V8 then gives
    // the heap pages it no longer uses back to the system on its own schedule (its memory reducer,
    // after some idle seconds), so the figure is taken once the server has been idle for `idleMs`.
    await sleep(3000);
    const afterCloseSoon = rssMb(client.process.pid);
    await sleep(Math.max(0, idleMs - 3000));
    stats = await client.connection.sendRequest('cloze/stats');
    const afterClose = rssMb(client.process.pid);
    return {
      documents,
      examplesPerDocument: examples,
      serverStartRssMb: round(start, 1),
      serverOneModelRssMb: round(oneModel, 1),
      serverOpenRssMb: round(withDocuments, 1),
      inferenceProcessRssMb: child === null ? null : round(child, 1),
      serverAfterCloseSoonRssMb: round(afterCloseSoon, 1),
      idleSeconds: idleMs / 1000,
      serverAfterCloseRssMb: round(afterClose, 1),
      afterCloseOverStart: round(afterClose / start, 2),
      // The bound: 1.5 × start RSS plus one loaded model (what one checked document added).
      boundMb: round(1.5 * start + (oneModel - start), 1),
      inferenceProcessReleased: stats?.pid === null,
      previewsLeft: stats?.previews ?? null,
      serverHeapAfterCloseMb: stats?.serverMemory ? round(stats.serverMemory.heapUsed / 2 ** 20, 1) : null,
      serverExternalAfterCloseMb: stats?.serverMemory ? round(stats.serverMemory.external / 2 ** 20, 1) : null,
    };
  } finally {
    await client.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const modelsDir = resolve(process.argv[2] ?? process.env.CLOZE_MODELS_DIR ?? join(repoRoot, '..', 'shared', 'models'));
  const dataFile = join(modelsDir, '..', 'data', 'sst2-dev.jsonl');
  console.log(JSON.stringify(await benchMemoryAfterClose({ modelsDir, dataFile, log: (text) => process.stderr.write(`${text}\n`) })));
}
