import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { CodeLens, Hover } from 'vscode-languageserver-protocol';
import { startServer, type TestClient } from '../support/lsp';
import { cliMain, modelsDir, repoRoot, sst2Rows } from '../support/paths';

/**
 * The preview over the real protocol: lenses resolve to the numbers
 * `cloze preview --format json` prints for the same file, an edit recomputes
 * only the pairs it changed, and hovers do not wait for a running preview.
 */

const file = path.join(repoRoot, 'examples', 'sentiment.cloze');
const uri = pathToFileURL(file).href;
const text = fs.readFileSync(file, 'utf8');

interface WorkerStats {
  computedPairs: number;
  cachedPairs: number;
}

interface CliPreview {
  patterns: string[];
  examples: Array<{ line: number; results: Array<{ pattern: string; labels: Record<string, number> }>; ensemble: Record<string, number> }>;
}

interface ExampleNumbers {
  line: number;
  results: Array<{ pattern: string; labels: Record<string, number> }>;
  ensemble: Record<string, number>;
}

async function resolvedLenses(client: TestClient, documentUri: string): Promise<CodeLens[]> {
  const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri: documentUri } })) as CodeLens[];
  return Promise.all(
    lenses.map((lens) => (lens.command ? lens : (client.connection.sendRequest('codeLens/resolve', lens) as Promise<CodeLens>))),
  );
}

describe('preview over stdio', () => {
  let client: TestClient;
  let lenses: CodeLens[];
  let afterOpen: WorkerStats;

  before(async () => {
    client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
    lenses = await resolvedLenses(client, uri);
    afterOpen = (await client.connection.sendRequest('cloze/stats')) as WorkerStats;
  });

  after(async () => client.close());

  test('the example lenses show the numbers of `cloze preview --format json`', () => {
    const json = JSON.parse(
      execFileSync(process.execPath, [cliMain, 'preview', file, '--format', 'json', '--models-dir', modelsDir(), '--offline'], {
        encoding: 'utf8',
      }),
    ) as CliPreview;
    const exampleLenses = lenses.filter((lens) => (lens.data as { anchor: { kind: string } }).anchor.kind === 'example');
    const lines = new Set(exampleLenses.map((lens) => lens.range.start.line));
    assert.equal(lines.size, json.examples.length);
    for (const line of lines) {
      const onLine = exampleLenses.filter((lens) => lens.range.start.line === line);
      // Arguments: the command's (uri, 0-based line), then the numbers behind the title.
      const numbers = onLine[0].command?.arguments?.[2] as ExampleNumbers;
      assert.equal(onLine[0].command?.command, 'cloze.openPreview');
      assert.equal(onLine[0].command?.arguments?.[1], numbers.line - 1);
      const titles = onLine.map((lens) => lens.command!.title).join(' | ');
      const expected = json.examples.find((e) => e.line === numbers.line);
      assert.ok(expected, `an example at line ${numbers.line}`);
      for (const result of expected.results) {
        const shown = numbers.results.find((r) => r.pattern === result.pattern)!;
        for (const [label, p] of Object.entries(result.labels)) {
          assert.ok(Math.abs(shown.labels[label] - p) < 1e-9, `${result.pattern} ${label}: ${shown.labels[label]} vs ${p}`);
        }
        // A title rounds the winning label's probability.
        const winner = Object.entries(result.labels).sort((a, b) => b[1] - a[1])[0];
        assert.ok(titles.includes(`${result.pattern}: ${winner[0]} ${Math.round(winner[1] * 100)}%`), titles);
      }
    }
  });

  test('pattern lenses count the examples predicted right and show the prior of the pattern', () => {
    const titles = lenses.map((lens) => lens.command?.title ?? '');
    const counts = titles.filter((t) => /^[✓✗] \d of 4 examples right · right label \d+% on average$/.test(t));
    assert.equal(counts.length, 3, titles.join('\n'));
    // One lens per pattern on its own line, so four patterns are not cut off in one.
    assert.equal(titles.filter((t) => /^empty input: positive \d+% · negative \d+%$/.test(t)).length, 3, titles.join('\n'));
  });

  test('opening scored every (pattern, example) pair and each content-free input once', () => {
    assert.equal(afterOpen.computedPairs, 3 * 5 + 3);
  });

  test('an edit to one example recomputes only that example’s pairs', async () => {
    const line = text.split('\n').findIndex((l) => l.startsWith('example: The soundtrack'));
    await client.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [{ range: { start: { line, character: 9 }, end: { line, character: 9 } }, text: 'Honestly, ' }],
    });
    const updated = await resolvedLenses(client, uri);
    const stats = (await client.connection.sendRequest('cloze/stats')) as WorkerStats;
    assert.equal(stats.computedPairs - afterOpen.computedPairs, 3, 'three patterns × the one edited example');
    assert.equal(stats.cachedPairs - afterOpen.cachedPairs, 3 * 4 + 3, 'everything else comes from the cache');
    assert.equal(updated.length, lenses.length);
  });

  test('while a large preview runs, a hover on a label word answers without waiting for it', async () => {
    const big = pathToFileURL(path.join(repoRoot, 'test', 'fixtures', 'protocol-big.cloze')).href;
    const reviews = sst2Rows(120);
    const bigText = [
      'model: review-bert-small',
      'pattern a: {review} It was [MASK].',
      'pattern b: {review} All in all, it was [MASK].',
      'verbalizer:',
      '  positive: great, good',
      '  negative: terrible, bad',
      ...reviews.map((r) => `example ${r.label}: ${r.text}`),
      '',
    ].join('\n');
    await client.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: big, languageId: 'cloze', version: 1, text: bigText },
    });
    let previewDone = false;
    const preview = resolvedLenses(client, big).then(() => (previewDone = true));
    const hover = (await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri: big },
      position: { line: 4, character: 14 },
    })) as Hover;
    assert.equal(previewDone, false, 'the hover came back while the preview of 240 pairs was still running');
    assert.match((hover.contents as { value: string }).value, /label word of `positive`/);
    await preview;
  });
});

describe('pattern lenses when every labelled example has an error', () => {
  test('they say so, rather than "no labelled examples to score yet"', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    try {
      const other = pathToFileURL(path.join(path.dirname(file), 'all-errors.cloze')).href;
      const source = [
        'model: review-bert-small',
        'pattern a: {text} It was [MASK].',
        'pattern b: {text} {other} was [MASK].',
        'verbalizer:',
        '  positive: great',
        '  negative: terrible',
        'example positive: A wonderful, moving film.',
        'example negative: Dull, and far too long.',
      ].join('\n');
      await client.connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri: other, languageId: 'cloze', version: 1, text: source },
      });
      // The lenses of each kind, once the preview is done (the pattern lenses no longer spin).
      const byKind = async (): Promise<Record<string, string[]>> => {
        const out: Record<string, string[]> = {};
        for (const lens of await resolvedLenses(client, other)) {
          const kind = (lens.data as { anchor: { kind: string } }).anchor.kind;
          (out[kind] ??= []).push(lens.command?.title ?? '');
        }
        return out;
      };
      let kinds = await byKind();
      for (let i = 0; i < 100 && !(kinds['pattern'] ?? []).every((t) => t !== '' && !t.includes('loading')); i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        kinds = await byKind();
      }
      assert.deepEqual(kinds['pattern'], [
        '⚠ no labelled example without an error: 2 have one (its lens says why)',
        '⚠ no labelled example without an error: 2 have one (its lens says why)',
      ]);
      assert.ok(
        (kinds['example'] ?? []).some((t) => /not scored: the patterns use the fields \{text\}, \{other\}/.test(t)),
        JSON.stringify(kinds),
      );
    } finally {
      await client.close();
    }
  });
});

describe('a client without lens refresh (Neovim)', () => {
  test('resolves every lens it holds to a title, also those with nothing to say', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    try {
      const other = pathToFileURL(path.join(path.dirname(file), 'nothing-to-say.cloze')).href;
      const source = [
        'model: review-bert-small',
        'pattern a: {text} It was [MASK].',
        'pattern b: {text} It was [MASK] and [MASK].',
        'verbalizer:',
        '  positive: great',
        '  negative: terrible',
        'example positive: A wonderful, moving film.',
        'example nosuchlabel: Dull, and far too long.',
      ].join('\n');
      await client.connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri: other, languageId: 'cloze', version: 1, text: source },
      });
      const lenses = await resolvedLenses(client, other);
      const titles = lenses.map(
        (lens) =>
          `${(lens.data as { anchor: { kind: string; line?: number } }).anchor.kind}@${lens.range.start.line}: ${lens.command?.title ?? ''}`,
      );
      // Neovim draws an empty title as a bare ` | `: the prior of the two-mask pattern and the second
      // lens of the example with an error have nothing to say, and say so with a dash.
      assert.ok(
        lenses.every((lens) => (lens.command?.title ?? '') !== ''),
        titles.join('\n'),
      );
      assert.ok(titles.includes('prior@2: –'), titles.join('\n'));
      assert.ok(
        titles.some((t) => /^example@7: ⚠ not scored/.test(t)),
        titles.join('\n'),
      );
      assert.ok(titles.includes('example@7: –'), titles.join('\n'));
    } finally {
      await client.close();
    }
  });
});
