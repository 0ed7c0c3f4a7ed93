import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { codeOf, diagnosticsWhen, hoverText, open, positionOf, repoRoot, until, workspaceRoot } from './helpers';

/**
 * The extension inside a real VS Code (code-server 4.100.3): the checkout's
 * client (client/out) starts the checkout's server (server/out), and every
 * check goes through the `vscode` API as a user's editor would. The runner
 * (test/vscode/run.mjs) opens a workspace holding a copy of examples/ whose
 * settings point `cloze.modelsDir` at the local models and forbid downloads.
 */

const multiToken = 'label-word-multi-token';

suite('Cloze in VS Code', () => {
  suiteSetup(() => {
    const root = workspaceRoot();
    // One error of each kind that has a fix; `terrible` (the fix for `Terrible`) is no other label's token.
    fs.writeFileSync(
      path.join(root, 'quickfix.cloze'),
      [
        'model: tiny-random-bert-cased',
        '',
        'pattern short: {review} It was [MASK] and [MASK].',
        '',
        'verbalizer:',
        '  positive: great, good',
        '  negative: Terrible, bad',
        '',
        'example positive: I like the Disney films very much.',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(root, 'complete.cloze'),
      [
        'model: tiny-random-bert-cased',
        '',
        'pattern short: {review} It was [MASK].',
        '',
        'verbalizer:',
        '  positive: great',
        '  negative: bad',
        '',
        'example ',
        'pat',
      ].join('\n'),
    );
  });

  test('the language `cloze` is registered for .cloze files and activates the extension', async () => {
    assert.ok((await vscode.languages.getLanguages()).includes('cloze'), 'language cloze is not registered');
    const doc = await open('examples/sentiment.cloze');
    assert.equal(doc.languageId, 'cloze');
    const extension = vscode.extensions.getExtension('cloze.cloze');
    assert.ok(extension, 'extension cloze.cloze is not installed in the extension host');
    await until('the extension to activate', () => extension.isActive);
  });

  test('a file with mistakes gets diagnostics with their codes, label-word-multi-token from the real tokenizer', async () => {
    const doc = await open('examples/mistakes.cloze');
    const diagnostics = await diagnosticsWhen(doc.uri, (list) => list.some((d) => codeOf(d) === multiToken));
    const codes = new Set(diagnostics.map(codeOf));
    for (const code of [
      'mask-multiple',
      'mask-missing',
      'placeholder-none',
      multiToken,
      'label-word-repeated',
      'label-undeclared',
      'syntax',
    ]) {
      assert.ok(codes.has(code), `no ${code} among ${[...codes].join(', ')}`);
    }
    const multi = diagnostics.filter((d) => codeOf(d) === multiToken);
    assert.deepEqual(multi.map((d) => doc.getText(d.range)).sort(), ['Terrible', 'fantastically']);
    for (const d of multi) {
      assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
      assert.match(d.message, /tiny-random-bert-cased/);
    }
    assert.match(multi.find((d) => doc.getText(d.range) === 'fantastically')!.message, /fantastic ##ally/);
  });

  test('hovers answer on a label word and on [MASK]', async () => {
    const doc = await open('examples/mistakes.cloze');
    await diagnosticsWhen(doc.uri, (list) => list.some((d) => codeOf(d) === multiToken));
    const word = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      doc.uri,
      positionOf(doc, 'fantastically', 'positive:', 2),
    );
    const wordText = hoverText(word);
    assert.match(wordText, /label word of `positive`/);
    assert.match(wordText, /2 tokens/);
    assert.match(wordText, /fantastic ##ally/);
    const mask = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      doc.uri,
      positionOf(doc, '[MASK]', 'pattern bare', 2),
    );
    assert.match(hoverText(mask), /the position the model fills in\. In tiny-random-bert-cased it is the token `\[MASK\]` \(id \d+\)/);
  });

  test('completion offers the labels after `example` and keywords at the start of a line', async () => {
    const doc = await open('complete.cloze');
    const exampleLine = doc.lineAt(8);
    const afterExample = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider',
      doc.uri,
      exampleLine.range.end,
    );
    const labels = afterExample.items.map((item) => (typeof item.label === 'string' ? item.label : item.label.label));
    assert.ok(labels.includes('positive') && labels.includes('negative'), `labels offered: ${labels.join(', ')}`);
    const keywordLine = doc.lineAt(9);
    const atStart = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider',
      doc.uri,
      keywordLine.range.end,
    );
    const keywords = atStart.items.map((item) => (typeof item.label === 'string' ? item.label : item.label.label));
    assert.ok(keywords.includes('pattern'), `keywords offered: ${keywords.join(', ')}`);
  });

  test('quick fixes apply and remove their errors: the extra [MASK], a multi-token label word', async () => {
    const doc = await open('quickfix.cloze');
    let diagnostics = await diagnosticsWhen(doc.uri, (list) => list.some((d) => codeOf(d) === multiToken));

    const extraMask = diagnostics.find((d) => codeOf(d) === 'mask-multiple');
    assert.ok(extraMask, 'no mask-multiple diagnostic');
    await applyQuickFix(doc, extraMask, (title) => title === 'Remove this extra [MASK]');
    assert.match(doc.getText(), /pattern short: \{review\} It was \[MASK\] and\./);
    diagnostics = await diagnosticsWhen(
      doc.uri,
      (list) => !list.some((d) => codeOf(d) === 'mask-multiple') && list.some((d) => codeOf(d) === multiToken),
    );

    const terrible = diagnostics.find((d) => codeOf(d) === multiToken && doc.getText(d.range) === 'Terrible');
    assert.ok(terrible, 'no label-word-multi-token diagnostic on `Terrible`');
    await applyQuickFix(doc, terrible, (title) => title.startsWith('Replace with `terrible`'));
    assert.match(doc.lineAt(positionOf(doc, 'negative:').line).text, /negative: terrible, bad/);
    const left = await diagnosticsWhen(doc.uri, (list) => !list.some((d) => d.severity === vscode.DiagnosticSeverity.Error));
    assert.deepEqual(left.map(codeOf), []);
  });

  test('each common mistake has a quick fix through the vscode API, which leaves no error', async () => {
    // One file per mistake (issue 11, item 4), so each fix is judged alone.
    const head = ['model: tiny-random-bert-uncased', '', 'pattern short: {review} It was [MASK].', '', 'verbalizer:'];
    const cases: Array<{ file: string; lines: string[]; code: string; at: string; pick: RegExp }> = [
      {
        file: 'fix-multi.cloze',
        lines: [...head, '  positive: great, fantastically', '  negative: terrible, bad', 'example positive: I liked it.'],
        code: multiToken,
        at: 'fantastically',
        pick: /^Replace with `/,
      },
      {
        file: 'fix-label.cloze',
        lines: [...head, '  positive: great', '  negative: terrible', 'example neutral: The soundtrack had its moments.'],
        code: 'label-undeclared',
        at: 'neutral',
        pick: /^Declare `neutral`/,
      },
      {
        file: 'fix-keyword.cloze',
        lines: [...head, '  positive: great', '  negative: terrible', 'exmaple positive: I liked it.'],
        code: 'syntax',
        at: 'exmaple',
        pick: /^Change `exmaple` to `example`/,
      },
      {
        file: 'fix-indent.cloze',
        lines: [...head, '  positive: great', 'negative: terrible', 'example positive: I liked it.'],
        code: 'syntax',
        at: 'negative: terrible',
        pick: /^Indent/,
      },
    ];
    const root = workspaceRoot();
    for (const c of cases) {
      fs.writeFileSync(path.join(root, c.file), c.lines.join('\n') + '\n');
      const doc = await open(c.file);
      const diagnostics = await diagnosticsWhen(doc.uri, (list) =>
        list.some((d) => codeOf(d) === c.code && doc.getText(d.range).includes(c.at.split(':')[0])),
      );
      const target = diagnostics.find((d) => codeOf(d) === c.code && doc.getText(d.range).includes(c.at.split(':')[0]))!;
      const title = await applyQuickFix(doc, target, (t) => c.pick.test(t));
      const left = await diagnosticsWhen(
        doc.uri,
        (list) => !list.some((d) => d.severity === vscode.DiagnosticSeverity.Error),
        30_000,
      ).catch(() => vscode.languages.getDiagnostics(doc.uri));
      assert.deepEqual(
        left.filter((d) => d.severity === vscode.DiagnosticSeverity.Error).map((d) => `${codeOf(d)}: ${d.message}`),
        [],
        `${c.file}: "${title}" left errors; the text is now:\n${doc.getText()}`,
      );
    }

    // A missing model: the fix runs the select-model command for this document.
    fs.writeFileSync(
      path.join(root, 'fix-model.cloze'),
      ['model: ./no-such-model-folder', ...head.slice(1), '  positive: great', '  negative: bad', ''].join('\n'),
    );
    const doc = await open('fix-model.cloze');
    const diagnostics = await diagnosticsWhen(doc.uri, (list) => list.some((d) => codeOf(d) === 'model-unavailable'));
    const unavailable = diagnostics.find((d) => codeOf(d) === 'model-unavailable')!;
    const actions = await vscode.commands.executeCommand<Array<vscode.CodeAction | vscode.Command>>(
      'vscode.executeCodeActionProvider',
      doc.uri,
      unavailable.range,
      vscode.CodeActionKind.QuickFix.value,
    );
    const select = actions.find(
      (a): a is vscode.CodeAction => 'command' in a && (a as vscode.CodeAction).command?.command === 'cloze.selectModel',
    );
    assert.ok(select, `no Select a model… fix among ${JSON.stringify(actions.map((a) => a.title))}`);
    assert.deepEqual(select.command?.arguments, [doc.uri.toString()]);
  });

  test('preview code lenses resolve to the label probabilities of `cloze preview --format json`', async () => {
    const doc = await open('examples/sentiment.cloze');
    const modelsDir = vscode.workspace.getConfiguration('cloze', doc.uri).get<string>('modelsDir')!;
    const cli = spawnSync(
      process.execPath,
      [
        path.join(repoRoot, 'server', 'out', 'cli', 'main.js'),
        'preview',
        doc.uri.fsPath,
        '--format',
        'json',
        '--models-dir',
        modelsDir,
        '--offline',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(cli.status, 0, `cloze preview failed (${cli.status}): ${cli.stderr}`);
    const preview = JSON.parse(cli.stdout) as PreviewJson;
    assert.ok(preview.examples.length > 0, 'cloze preview returned no examples');

    // Resolved lenses: each example's lens shows numbers once the worker has scored it.
    const lenses = await until(
      'resolved code lenses with probabilities on every example line',
      async () => {
        const list = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 1000);
        const titled = list.filter((lens) => lens.command?.title);
        const ready = preview.examples.every((example) =>
          titled.some((lens) => lens.range.start.line === exampleLine(doc, example) && numbersIn(lens.command!.title).length > 0),
        );
        return ready ? titled : undefined;
      },
      60_000,
    ).catch(async (error: Error) => {
      const list = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 1000);
      const seen = list.map((lens) => `line ${lens.range.start.line + 1}: ${lens.command?.title ?? '(unresolved)'}`);
      throw new Error(
        `${error.message}. ${list.length === 0 ? 'The server returned no code lenses at all.' : `Lenses seen: ${JSON.stringify(seen)}`}`,
      );
    });

    console.log(`      lenses: ${lenses.map((lens) => `line ${lens.range.start.line + 1}: ${lens.command!.title}`).join(' | ')}`);
    let compared = 0;
    for (const example of preview.examples) {
      const line = exampleLine(doc, example);
      const titles = lenses.filter((lens) => lens.range.start.line === line).map((lens) => lens.command!.title);
      const expected = [
        ...Object.values(example.ensemble ?? {}),
        ...example.results.flatMap((result) => [...Object.values(result.labels ?? {}), ...(result.top ?? []).map((token) => token.p)]),
      ];
      assert.ok(
        titles.some((title) => preview.labels.some((label) => title.includes(label))),
        `line ${line + 1}: no lens names a label (${preview.labels.join(', ')}): ${JSON.stringify(titles)}`,
      );
      for (const title of titles) {
        // `pattern: label 68%` (or `ensemble: …`) must be that pattern's probability of that label.
        for (const match of title.matchAll(/([\w-]+): ([\w-]+) (\d+(?:\.\d+)?%)/g)) {
          const [, source, label, text] = match;
          const result = source === 'ensemble' ? example.ensemble : example.results.find((r) => r.pattern === source)?.labels;
          if (!result || !(label in result)) continue;
          const shown = numbersIn(text)[0];
          compared++;
          assert.ok(
            Math.abs(result[label] - shown.value) <= shown.tolerance,
            `line ${line + 1}: the lens shows ${source}: ${label} ${text}, cloze preview says ${(result[label] * 100).toFixed(2)}%`,
          );
        }
        for (const shown of numbersIn(title)) {
          assert.ok(
            expected.some((p) => Math.abs(p - shown.value) <= shown.tolerance),
            `line ${line + 1}: the lens \`${title}\` shows ${shown.text}, which is none of cloze preview's probabilities ${expected.map((p) => p.toFixed(4)).join(', ')}`,
          );
        }
      }
    }
    console.log(`      ${compared} pattern/ensemble probabilities compared one to one with cloze preview`);
  });
});

interface PreviewJson {
  readonly model: string;
  readonly patterns: string[];
  readonly labels: string[];
  readonly examples: Array<{
    readonly line: number;
    readonly label: string | null;
    readonly ensemble?: Record<string, number>;
    readonly results: Array<{
      readonly pattern: string;
      readonly labels?: Record<string, number>;
      readonly top?: Array<{ readonly p: number }>;
    }>;
  }>;
}

/** The 0-based line of an example: `cloze preview` numbers lines from 1 (checked against the text). */
function exampleLine(doc: vscode.TextDocument, example: PreviewJson['examples'][number]): number {
  for (const candidate of [example.line - 1, example.line]) {
    if (candidate >= 0 && candidate < doc.lineCount && /^\s*example\b/.test(doc.lineAt(candidate).text)) return candidate;
  }
  throw new Error(`cloze preview's example line ${example.line} is not an example line of ${doc.uri.fsPath}`);
}

/** Probabilities shown in a lens title: `68.0%` or `0.680`, each with the tolerance of its rounding. */
function numbersIn(title: string): Array<{ text: string; value: number; tolerance: number }> {
  const numbers: Array<{ text: string; value: number; tolerance: number }> = [];
  for (const match of title.matchAll(/(\d+(?:\.(\d+))?)\s*%|\b(0\.(\d+)|1\.0+)\b/g)) {
    if (match[1] !== undefined) {
      const decimals = match[2]?.length ?? 0;
      numbers.push({ text: match[0], value: Number(match[1]) / 100, tolerance: (0.5 * 10 ** -decimals) / 100 + 1e-9 });
    } else {
      const decimals = (match[3].split('.')[1] ?? '').length;
      numbers.push({ text: match[0], value: Number(match[3]), tolerance: 0.5 * 10 ** -decimals + 1e-9 });
    }
  }
  return numbers;
}

/** Applies the quick fix for `diagnostic` whose title satisfies `pick`; returns the title. */
async function applyQuickFix(doc: vscode.TextDocument, diagnostic: vscode.Diagnostic, pick: (title: string) => boolean): Promise<string> {
  const actions = await vscode.commands.executeCommand<Array<vscode.CodeAction | vscode.Command>>(
    'vscode.executeCodeActionProvider',
    doc.uri,
    diagnostic.range,
    vscode.CodeActionKind.QuickFix.value,
  );
  const titles = actions.map((action) => action.title);
  const action = actions.find((candidate): candidate is vscode.CodeAction => 'edit' in candidate && pick(candidate.title));
  assert.ok(action?.edit, `no matching quick fix for ${codeOf(diagnostic)} among ${JSON.stringify(titles)}`);
  assert.ok(await vscode.workspace.applyEdit(action.edit), `applying "${action.title}" failed`);
  return action.title;
}
