import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { CompletionItem, CompletionList } from 'vscode-languageserver-protocol';
import { startServer, type TestClient } from '../support/lsp';
import { modelsDir } from '../support/paths';

/**
 * Completion at a verbalizer entry (issue 13, item 3) over the real server and
 * a real model: the first answer comes at once and says "scoring…" (the
 * ranking runs in the inference process); asked again, the words come ranked
 * by their class-conditional log-probability on the file's labelled rows.
 */

const sst2 = path.join(path.dirname(modelsDir()), 'data', 'sst2-dev.jsonl');

async function completion(client: TestClient, uri: string, line: number, character: number): Promise<CompletionList> {
  const answer = (await client.connection.sendRequest('textDocument/completion', {
    textDocument: { uri },
    position: { line, character },
  })) as CompletionList | CompletionItem[];
  return Array.isArray(answer) ? { isIncomplete: false, items: answer } : answer;
}

/** Asks until the list is complete, as an editor does while the user types. */
async function ranked(client: TestClient, uri: string, line: number, character: number): Promise<CompletionList> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const list = await completion(client, uri, line, character);
    if (!list.isIncomplete) return list;
    assert.ok(Date.now() < deadline, 'the ranking never became ready');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function open(client: TestClient, dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  const uri = pathToFileURL(file).href;
  void client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
  return uri;
}

describe('label-word completion over LSP', () => {
  const clients: TestClient[] = [];
  after(async () => Promise.all(clients.map((c) => c.close())));

  /** A server (closed after the tests) and a folder whose rows.jsonl holds the first `count` SST-2 rows. */
  async function serverWithRows(count: number, setup?: Parameters<typeof startServer>[2]): Promise<{ client: TestClient; dir: string }> {
    const settings = { modelsDir: modelsDir(), allowRemoteModels: false };
    const client = await startServer(settings, {}, setup);
    clients.push(client);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-label-words-'));
    fs.writeFileSync(path.join(dir, 'rows.jsonl'), fs.readFileSync(sst2, 'utf8').split('\n').slice(0, count).join('\n'));
    return { client, dir };
  }

  test('review-bert-small: sentiment words for each label, best first, never waiting for the model', async () => {
    // As the VS Code extension: it shows the "scoring…" note without inserting it.
    const settings = { modelsDir: modelsDir(), allowRemoteModels: false };
    const { client, dir } = await serverWithRows(120, { initializationOptions: { settings, completionNotes: true } });
    const text = [
      'model: review-bert-small',
      'data: rows.jsonl',
      'pattern short: {review} It was [MASK].',
      'verbalizer:',
      '  positive: great, ',
      '  negative: ',
      'example positive: A wonderful, moving film.',
      '',
    ].join('\n');
    const uri = open(client, dir, 'words.cloze', text);

    const started = Date.now();
    const first = await completion(client, uri, 5, 12);
    assert.ok(Date.now() - started < 5_000, 'the first answer waited for the model');
    assert.equal(first.isIncomplete, true);
    assert.deepEqual(
      first.items.map((i) => i.label),
      ['scoring…'],
    );

    const negative = await ranked(client, uri, 5, 12);
    const words = negative.items.map((i) => i.label);
    assert.ok(words.length >= 3, JSON.stringify(words));
    for (const word of words) assert.match(word, /^\p{L}{2,}$/u, 'real words only');
    assert.ok(
      words.slice(0, 4).some((w) => ['terrible', 'horrible', 'bad', 'awful'].includes(w)),
      JSON.stringify(words),
    );
    assert.ok(!words.slice(0, 4).some((w) => ['great', 'good', 'excellent', 'wonderful'].includes(w)), JSON.stringify(words));
    // The score is in the detail, and the order is the score's.
    const scores = negative.items.map((i) => Number(/mean log P (-?\d+\.\d+)/.exec(i.detail ?? '')?.[1]));
    for (const s of scores) assert.ok(Number.isFinite(s) && s < 0, JSON.stringify(negative.items[0]));
    for (let i = 1; i < scores.length; i++) assert.ok(scores[i - 1] >= scores[i], JSON.stringify(scores));
    assert.equal(negative.items[0].textEdit && 'range' in negative.items[0].textEdit ? negative.items[0].textEdit.newText : '', words[0]);

    // After a comma in positive's list: positive words, without the one already there; the same ranking, no new run.
    const positive = await completion(client, uri, 4, 19);
    assert.equal(positive.isIncomplete, false);
    const positiveWords = positive.items.map((i) => i.label);
    assert.ok(!positiveWords.includes('great'));
    assert.ok(
      positiveWords.slice(0, 4).some((w) => ['excellent', 'good', 'wonderful', 'beautiful', 'fun'].includes(w)),
      JSON.stringify(positiveWords),
    );
  });

  test('a client that did not ask for notes (Neovim 0.7 inserts them) gets no "scoring…" item, then the words', async () => {
    const { client, dir } = await serverWithRows(60);
    const text = [
      'model: review-bert-small',
      'data: rows.jsonl',
      'pattern: {review} It was [MASK].',
      'verbalizer:',
      '  positive: great',
      '  negative: ',
      '',
    ].join('\n');
    const uri = open(client, dir, 'plain.cloze', text);
    const first = await completion(client, uri, 5, 12);
    assert.equal(first.isIncomplete, true);
    assert.deepEqual(first.items, []);
    const words = (await ranked(client, uri, 5, 12)).items;
    assert.ok(
      words.length >= 3 && words.every((w) => w.textEdit && 'newText' in w.textEdit && w.textEdit.newText !== ''),
      JSON.stringify(words[0]),
    );
  });

  test('RoBERTa: each word is proposed in the token form the mask context scores (Ġ after a space)', async () => {
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    clients.push(client);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-label-words-'));
    // A random model separates nothing in general; two fixed, very different texts per label it does tell apart.
    const rows = [
      ...Array.from({ length: 6 }, () => ({ text: 'A bright, warm and generous film about friendship.', label: 'positive' })),
      ...Array.from({ length: 6 }, () => ({ text: 'Nothing here: dull, cold, endless minutes of noise.', label: 'negative' })),
    ];
    fs.writeFileSync(path.join(dir, 'rows.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
    const text = [
      'model: tiny-random-roberta',
      'data: rows.jsonl',
      'pattern: {text} It was [MASK].',
      'verbalizer:',
      '  positive: good',
      '  negative: ',
      '',
    ].join('\n');
    const uri = open(client, dir, 'roberta.cloze', text);
    const list = await ranked(client, uri, 5, 12);
    // A random model ranks arbitrary words, but each is a whole word in its `Ġ` form.
    assert.ok(list.items.length > 0);
    for (const item of list.items) {
      assert.match(item.label, /^\p{L}{2,}$/u);
      assert.ok(item.detail?.endsWith(`Ġ${item.label}`), item.detail);
    }
  });

  test('with models: the words proposed are one token in every model the file lists, not only the default', async () => {
    const { client, dir } = await serverWithRows(120);
    // At the start of the input RoBERTa reads the word without its space, where it splits many of them (`hor rible`).
    const head = [
      'model: review-bert-small',
      'models: tiny-random-roberta',
      'data: rows.jsonl',
      'pattern lead: [MASK]! {review}',
      'verbalizer:',
    ];
    const text = [...head, '  positive: great', '  negative: horrible, ', ''].join('\n');
    const uri = open(client, dir, 'two.cloze', text);
    // Once RoBERTa's tokenizer is loaded, it splits `horrible` where its mask is.
    await client.diagnostics(uri, (d) => d.some((x) => /not one token in tiny-random-roberta/.test(x.message)));
    const words = (await ranked(client, uri, 6, 22)).items.map((i) => i.label);
    assert.ok(words.length >= 3, JSON.stringify(words));
    // Each word, written in, draws no label-word error for either model.
    await client.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [{ text: [...head, '  positive: great', `  negative: ${words.join(', ')}`, ''].join('\n') }],
    });
    const diagnostics = await client.diagnostics(uri);
    const wordErrors = diagnostics.filter((d) => String(d.code).startsWith('label-word') && d.severity === 1);
    assert.deepEqual(
      wordErrors.map((d) => d.message),
      [],
    );
  });
});
