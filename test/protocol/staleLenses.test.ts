import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { CodeLens } from 'vscode-languageserver-protocol';
import { eventually } from '../support/eventually';
import { startServer, type TestClient } from '../support/lsp';
import { modelsDir } from '../support/paths';

/**
 * While the new version of a document is scored, a client that refreshes its lenses (VS Code) keeps
 * the last numbers, marked "updating…", on the examples that did not change, even where an edit above
 * moved them to other lines; only the new example waits. An edit used to turn every lens into a
 * spinner, for as long as the user typed.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-stale-lenses-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A client that refreshes its lenses (as VS Code does), with `text` open as `name`; `titles` are its lens titles by line. */
async function opened(
  name: string,
  text: string,
): Promise<{ client: TestClient; uri: string; titles: () => Promise<Record<number, string>> }> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  const client = await startServer(
    { modelsDir: modelsDir(), allowRemoteModels: false },
    {},
    { capabilities: { workspace: { configuration: true, codeLens: { refreshSupport: true } }, textDocument: { codeLens: {} } } },
  );
  const uri = pathToFileURL(file).href;
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
  const titles = async (): Promise<Record<number, string>> => {
    const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
    return Object.fromEntries(lenses.map((lens) => [lens.range.start.line, lens.command?.title ?? '']));
  };
  return { client, uri, titles };
}

describe('lenses while a new version is scored', () => {
  test('unchanged examples keep their numbers (marked updating…) on the lines they moved to; the new one waits', async () => {
    const text = [
      'model: review-bert-small',
      'pattern: {text} It was [MASK].',
      'verbalizer:',
      '  positive: great',
      '  negative: terrible',
      'example positive: A moving, beautiful film.',
      'example negative: Dull and far too long.',
      '',
    ].join('\n');
    const { client, uri, titles } = await opened('stale.cloze', text);
    try {
      const scored = /^[✓✗] pattern 1: (positive|negative) [<>]?\d+%/;
      const settled = await eventually(
        'the preview',
        async () => {
          const t = await titles();
          return scored.test(t[5] ?? '') && scored.test(t[6] ?? '') && t;
        },
        60_000,
        100,
      );

      // The new example is long, so that its scoring leaves a window wide enough for the requests
      // below, which are sent together, with no wait between them and the edit.
      const added = `Brand new. ${'The plot wanders from one scene to the next and the actors seem lost in it. '.repeat(20)}`;
      await client.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [
          { range: { start: { line: 5, character: 0 }, end: { line: 5, character: 0 } }, text: `example positive: ${added}\n` },
        ],
      });
      const [during, hover] = await Promise.all([
        titles(),
        client.connection.sendRequest('textDocument/hover', {
          textDocument: { uri },
          position: { line: 1, character: 25 },
        }) as Promise<{ contents: { value: string } } | null>,
      ]);
      assert.equal(during[6], `${settled[5]} · updating…`, JSON.stringify(during));
      assert.equal(during[7], `${settled[6]} · updating…`, JSON.stringify(during));
      assert.doesNotMatch(during[5] ?? '', /%|updating/, 'the new example has no numbers yet');
      // The [MASK] hover meanwhile shows the last numbers (of two examples) too, and says so. (Served
      // after the new version was scored, it shows the new numbers, of three, and no such note.)
      const shown = hover?.contents.value ?? '';
      assert.match(shown, /, [23] examples: /, shown);
      if (/, 3 examples: /.test(shown)) assert.doesNotMatch(shown, /Updating:/, shown);
      else assert.match(shown, /Updating: these are the numbers of the file before its last edit/, shown);

      const after = await eventually(
        'the new preview',
        async () => {
          const t = await titles();
          return [5, 6, 7].every((line) => scored.test(t[line] ?? '') && !/updating/.test(t[line] ?? '')) && t;
        },
        60_000,
        100,
      );
      assert.equal(after[6], settled[5]);
      assert.equal(after[7], settled[6]);
    } finally {
      await client.close();
    }
  });

  test('a pattern that cannot be previewed keeps its own warning when an edit above moves it', async () => {
    const text = [
      '# a comment',
      'model: review-bert-small',
      'pattern bad: {text} It was good.',
      'pattern good: {text} It was [MASK].',
      'verbalizer:',
      '  positive: great',
      '  negative: terrible',
      'example positive: A moving, beautiful film.',
      '',
    ].join('\n');
    const { client, uri, titles } = await opened('excluded.cloze', text);
    try {
      await eventually(
        'the preview',
        async () => {
          const t = await titles();
          return /^[✓✗] good:/.test(t[7] ?? '') && t;
        },
        60_000,
        100,
      );
      // The comment goes: every line moves up one.
      await client.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } }, text: '' }],
      });
      const during = await titles();
      assert.match(during[1] ?? '', /no \[MASK\]/, JSON.stringify(during));
      assert.doesNotMatch(during[2] ?? '', /no \[MASK\]/, JSON.stringify(during));
    } finally {
      await client.close();
    }
  });
});
