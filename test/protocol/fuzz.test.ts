// A property over the real server: random incremental edits to several documents, interleaved
// with every request the server answers (hover, completion, code actions with stale or garbage
// diagnostics, symbols, code lenses and their resolve, stats), positions inside, past the end of
// a line and past the end of the document. Whatever happens: the server never exits, every
// request is answered, every range in every answer and every published diagnostic lies inside
// the document version it answers, publishes never go back to an older version, and once the
// edits stop each document's diagnostics become those of its latest version.
//
// Seeded and bounded (fast-check, a fixed number of runs of a fixed length): about a minute.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { PublishDiagnosticsNotification, type Range } from 'vscode-languageserver-protocol';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { startServer, type TestClient } from '../support/lsp';
import { modelsDir, repoRoot } from '../support/paths';

const SEED = 9_2026;
const RUNS = 3;
const STEPS = 160;

const seedLines = [
  'model: tiny-random-bert-cased',
  'model: tiny-random-roberta',
  'pattern short: {review} It was [MASK].',
  'pattern: [CLS] {review} Just [MASK]!',
  'pattern two: {premise}? [MASK], {hypothesis} [MASK]',
  'verbalizer:',
  '  positive: great, Great, fantastically',
  '  negative: terrible, Terrible, bad',
  '  neutral: 好, 😀',
  'example positive: I liked it a lot.',
  'example negative: Dull, long, and loud [MASK].',
  'data: ../../fixtures/data/reviews.jsonl',
  'data: /dev/zero',
  '# a comment',
  '',
];
const fragments = [
  '[MASK]',
  '[CLS]',
  '<s>',
  '{',
  '}',
  '{review}',
  ':',
  ',',
  ' ',
  '\n',
  '\r\n',
  'é',
  '😀',
  '好',
  'great',
  'pattern: ',
  'example positive: ',
  '  positive: ',
  'x',
];

type Position = { line: number; character: number };
type Op =
  | { kind: 'edit'; doc: number; at: number; length: number; text: string }
  | { kind: 'request'; doc: number; method: string; at: number; past: number }
  | { kind: 'reopen'; doc: number; lines: number[] }
  | { kind: 'pause' };

/** A place in the text, as a fraction of its length. */
const fraction = fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('edit' as const),
      doc: fc.nat(2),
      at: fraction,
      length: fc.nat(12),
      text: fc.array(fc.constantFrom(...fragments), { maxLength: 3 }).map((parts) => parts.join('')),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      doc: fc.nat(2),
      method: fc.constantFrom(
        'textDocument/hover',
        'textDocument/completion',
        'textDocument/codeAction',
        'textDocument/documentSymbol',
        'textDocument/codeLens',
        'codeLens/resolve',
        'cloze/stats',
      ),
      at: fraction,
      // 0: a position inside the text; 1: past the end of its line; 2: past the end of the document.
      past: fc.nat(2),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('reopen' as const),
      doc: fc.nat(2),
      lines: fc.array(fc.nat(seedLines.length - 1), { maxLength: 12 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
);

/** Every range found anywhere in an answer (hover, edits, symbols, lenses, diagnostics). */
function rangesIn(value: unknown, out: Range[] = []): Range[] {
  if (Array.isArray(value)) for (const item of value) rangesIn(item, out);
  else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const start = record['start'] as Position | undefined;
    const end = record['end'] as Position | undefined;
    if (start && end && typeof start.line === 'number' && typeof end.line === 'number') out.push(record as unknown as Range);
    else for (const inner of Object.values(record)) rangesIn(inner, out);
  }
  return out;
}

function assertInside(range: Range, document: TextDocument, what: string): void {
  const lines = document.getText().split(/\r\n|\r|\n/);
  const inside = (p: Position) => p.line >= 0 && p.line < lines.length && p.character >= 0 && p.character <= lines[p.line].length;
  assert.ok(
    inside(range.start) && inside(range.end) && document.offsetAt(range.start) <= document.offsetAt(range.end),
    `${what}: ${JSON.stringify(range)} is not inside version ${document.version} (${lines.length} lines)\n${document.getText()}`,
  );
}

let client: TestClient;
let exited = false;
before(async () => {
  client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false, preview: { enabled: true } });
  client.process.once('exit', () => (exited = true));
});
after(async () => client.close());

test('random edits and requests over the LSP: no exit, every answer, every range inside its version', { timeout: 240_000 }, async () => {
  let life = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: STEPS, maxLength: STEPS }), async (ops) => {
      life++;
      const uris = [0, 1, 2].map((i) => pathToFileURL(path.join(repoRoot, 'test', 'fixtures', 'fuzz', `run${life}-doc${i}.cloze`)).href);
      /** Every version ever sent, per URI, to check publishes and answers against. */
      const versions = new Map<string, Map<number, TextDocument>>();
      const current = new Map<string, TextDocument>();
      let nextVersion = 1;
      const problems: string[] = [];
      const lastPublished = new Map<string, number>();
      const openedAt = new Map<string, number>();
      /** Versions of reopens the server has not yet been seen to act on, per URI, in order. */
      const reopening = new Map<string, number[]>();
      const listener = client.connection.onNotification(PublishDiagnosticsNotification.type, (params) => {
        if (!uris.includes(params.uri)) return;
        if (params.version === undefined) {
          if (params.diagnostics.length > 0) problems.push(`a publish for ${params.uri} without a version`);
          // The server clears a closed document's diagnostics: from here on, it has seen the reopen
          // (a publish sent before it saw the close may still arrive before this one).
          const reopened = reopening.get(params.uri)?.shift();
          if (reopened !== undefined) openedAt.set(params.uri, reopened);
          return;
        }
        const document = versions.get(params.uri)?.get(params.version);
        if (!document) return void problems.push(`a publish for version ${params.version} of ${params.uri}, which was never sent`);
        if (params.version < (openedAt.get(params.uri) ?? 0)) {
          problems.push(
            `a publish for version ${params.version} of ${params.uri}, from before it was reopened at ${openedAt.get(params.uri)}`,
          );
        }
        if ((lastPublished.get(params.uri) ?? 0) > params.version) {
          problems.push(`a publish for version ${params.version} after one for version ${lastPublished.get(params.uri)}`);
        }
        lastPublished.set(params.uri, params.version);
        try {
          for (const diagnostic of params.diagnostics) assertInside(diagnostic.range, document, `diagnostic ${diagnostic.code}`);
        } catch (error) {
          problems.push((error as Error).message);
        }
      });
      const openDoc = async (uri: string, text: string) => {
        const document = TextDocument.create(uri, 'cloze', nextVersion++, text);
        current.set(uri, document);
        if (openedAt.has(uri)) reopening.set(uri, [...(reopening.get(uri) ?? []), document.version]);
        else openedAt.set(uri, document.version);
        if (!versions.has(uri)) versions.set(uri, new Map());
        versions.get(uri)!.set(document.version, document);
        await client.connection.sendNotification('textDocument/didOpen', {
          textDocument: { uri, languageId: 'cloze', version: document.version, text },
        });
      };
      for (const [i, uri] of uris.entries()) await openDoc(uri, seedLines.slice(i, i + 12).join('\n'));

      const pending: Array<Promise<void>> = [];
      const lenses = new Map<string, unknown[]>();
      try {
        for (const op of ops) {
          if (op.kind === 'pause') {
            await new Promise((resolve) => setTimeout(resolve, 250));
            continue;
          }
          const uri = uris[op.doc];
          const document = current.get(uri)!;
          const text = document.getText();
          if (op.kind === 'reopen') {
            await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
            await openDoc(uri, op.lines.map((i) => seedLines[i]).join('\n'));
            continue;
          }
          const offset = Math.floor(op.at * text.length);
          const position = document.positionAt(offset);
          if (op.kind === 'edit') {
            const end = document.positionAt(Math.min(text.length, offset + op.length));
            const change = { range: { start: position, end }, text: op.text };
            // A new object per version (TextDocument.update would change the old version in place).
            const next = TextDocument.create(
              uri,
              'cloze',
              nextVersion++,
              TextDocument.applyEdits(document, [{ range: change.range, newText: change.text }]),
            );
            current.set(uri, next);
            versions.get(uri)!.set(next.version, next);
            await client.connection.sendNotification('textDocument/didChange', {
              textDocument: { uri, version: next.version },
              contentChanges: [change],
            });
            continue;
          }
          const at =
            op.past === 0
              ? position
              : op.past === 1
                ? { line: position.line, character: position.character + 1000 }
                : { line: document.lineCount + 5, character: 3 };
          const range = { start: position, end: at };
          const params: Record<string, unknown> = { textDocument: { uri }, position: at };
          let method = op.method;
          if (method === 'textDocument/codeAction') {
            // Diagnostics as a client might send them back: stale, or with ranges anywhere.
            const garbage = {
              range: { start: { line: 99, character: 0 }, end: { line: 0, character: 500 } },
              message: 'x',
              code: 'special-token-explicit',
              source: 'cloze',
            };
            Object.assign(params, { range, context: { diagnostics: [garbage] } });
          }
          let body: unknown = params;
          if (method === 'codeLens/resolve') {
            const known = lenses.get(uri) ?? [];
            if (known.length === 0) method = 'textDocument/codeLens';
            else body = known[Math.floor(op.at * known.length) % known.length];
          }
          if (method === 'cloze/stats') body = null;
          const sent = method;
          const request = client.connection.sendRequest(sent, body).then((answer) => {
            if (sent === 'textDocument/codeLens') lenses.set(uri, (answer as unknown[]) ?? []);
            // A resolved lens keeps the range of the lens the client sent (of the version it came from).
            if (sent === 'codeLens/resolve' || sent === 'cloze/stats') return;
            for (const found of rangesIn(answer)) assertInside(found, document, `${sent} at ${JSON.stringify(at)}`);
          });
          const timed = Promise.race([
            request,
            new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`${sent} was not answered within 60 s`)), 60_000)),
          ]);
          pending.push(timed.catch((error: Error) => void problems.push(error.message)));
          // Some requests are awaited at once, so edits and requests interleave on the wire.
          if (op.at < 0.3) await timed.catch(() => undefined);
        }
        await Promise.all(pending);
        // Once typing stops, every document's diagnostics become those of its latest version.
        for (const uri of uris) {
          const latest = current.get(uri)!.version;
          if (lastPublished.get(uri) === latest) continue;
          await client.diagnostics(uri, () => true, 20_000).catch(() => undefined);
          const deadline = Date.now() + 20_000;
          while (lastPublished.get(uri) !== latest && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
          if (lastPublished.get(uri) !== latest)
            problems.push(`${uri}: the last publish is for version ${lastPublished.get(uri)}, not ${latest}`);
        }
      } finally {
        listener.dispose();
        for (const uri of uris) await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
      }
      if (exited || problems.length > 0) console.error(`fuzz run ${life}:`, exited ? 'the server exited' : '', problems.slice(0, 10));
      assert.equal(exited, false, `the server exited:\n${client.stderr()}`);
      assert.deepEqual(problems, []);
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  assert.equal(exited, false, `the server exited:\n${client.stderr()}`);
});
