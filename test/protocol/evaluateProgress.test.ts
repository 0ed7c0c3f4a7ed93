import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import type { EvaluateResult } from '../../server/src/protocol/messages';
import { startServer } from '../support/lsp';
import { modelsDir, sst2Lines } from '../support/paths';

/**
 * `cloze/evaluate` with the client's own progress token (the VS Code extension's "Evaluate on the
 * File's Data" shows it in a notification with a Cancel button): the progress goes to that token, the
 * server creates none of its own, and cancelling the request stops the scoring.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-evaluate-progress-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

type ProgressValue = { kind: string; message?: string; percentage?: number; cancellable?: boolean };

describe("cloze/evaluate with the client's progress token", () => {
  test('begin, reports of rows and end arrive on that token; no window/workDoneProgress/create; a cancel stops it', async () => {
    fs.writeFileSync(path.join(dir, 'dev.jsonl'), `${sst2Lines(0, 400).join('\n')}\n`);
    const text = [
      'model: review-bert-small',
      'pattern: {sentence} It was [MASK].',
      'pattern two: {sentence} All in all, it was [MASK].',
      'verbalizer:',
      '  positive: great',
      '  negative: terrible',
      'data: dev.jsonl',
      '',
    ].join('\n');
    const file = path.join(dir, 'progress.cloze');
    fs.writeFileSync(file, text);
    const client = await startServer({ modelsDir: modelsDir(), allowRemoteModels: false });
    try {
      const uri = pathToFileURL(file).href;
      await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'cloze', version: 1, text } });
      const progress: Array<{ token: unknown; value: ProgressValue }> = [];
      // The second request is cancelled at its first report (one handler: a second would replace the first).
      const source = new CancellationTokenSource();
      client.connection.onNotification('$/progress', (params: { token: unknown; value: ProgressValue }) => {
        progress.push(params);
        if (params.token === 'cancel-1' && params.value.kind === 'report') source.cancel();
      });

      const whole = (await client.connection.sendRequest('cloze/evaluate', { uri, workDoneToken: 'whole-1', limit: 40 })) as EvaluateResult;
      assert.ok(whole.ok, JSON.stringify(whole).slice(0, 300));
      const mine = progress.filter((p) => p.token === 'whole-1').map((p) => p.value);
      assert.equal(mine[0]?.kind, 'begin');
      assert.equal(mine[0]?.cancellable, true);
      assert.ok(
        mine.some((v) => v.kind === 'report' && /^\d+ of \d+ rows$/.test(v.message ?? '')),
        JSON.stringify(mine),
      );
      assert.equal(mine.at(-1)?.kind, 'end');
      assert.deepEqual(
        client.requests.filter((r) => r.method === 'window/workDoneProgress/create'),
        [],
      );

      // Cancelled at its first report: it stops early, with a result that says so.
      const cancelled = (await client.connection
        .sendRequest('cloze/evaluate', { uri, workDoneToken: 'cancel-1' }, source.token)
        .catch((error: unknown) => ({ ok: false, reason: `error: ${String(error)}` }))) as EvaluateResult;
      assert.equal(cancelled.ok, false);
      assert.match(cancelled.ok ? '' : cancelled.reason, /the evaluation stopped: the request was cancelled|cancel/i);
      const reports = progress.filter((p) => p.token === 'cancel-1' && p.value.kind === 'report').map((p) => p.value.message ?? '');
      const [, done, total] = /^(\d+) of (\d+) rows$/.exec(reports.at(-1) ?? '') ?? [];
      assert.ok(Number(done) < Number(total), `it ran to the end: ${reports.join(' | ')}`);
      assert.equal(progress.filter((p) => p.token === 'cancel-1').at(-1)?.value.kind, 'end');
    } finally {
      await client.close();
    }
  });
});
