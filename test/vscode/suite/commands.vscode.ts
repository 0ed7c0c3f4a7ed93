import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { codeOf, diagnosticsWhen, open, repoRoot, until, workspaceRoot } from './helpers';

/**
 * Every command of package.json, the model's status-bar item in its three
 * states, the preview panel's following of lenses and cursor, through the
 * real `vscode` API in a real VS Code (code-server) with real models. The
 * extension's `activate` returns the objects these tests look into.
 */

interface ModelState {
  readonly uri: string;
  readonly model: string;
  readonly state: 'loading' | 'ready' | 'unavailable';
  readonly detail: string;
}

interface ClozeApi {
  client(): { isRunning(): boolean; initializeResult?: unknown } | undefined;
  readonly modelStatus: {
    readonly item: vscode.StatusBarItem;
    stateOf(uri: vscode.Uri): ModelState | undefined;
    historyOf(uri: vscode.Uri): readonly ModelState[];
  };
  readonly panel: {
    readonly isOpen: boolean;
    readonly state: { uri: string; version: number; line: number | undefined } | undefined;
    readonly evaluationState: { readonly files: ReadonlyArray<{ readonly file: string }> } | undefined;
    readonly focusReturns: number;
    openRow(file: string, row: number): Promise<void>;
  };
  modelItems(uri: vscode.Uri): Promise<Array<{ label: string; model?: string }>>;
  readonly log: vscode.OutputChannel;
}

/** The process ids below `pid` (its children, theirs, …), from ps. */
function descendantsOf(pid: number): number[] {
  const rows = spawnSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).stdout.trim().split('\n');
  const children = new Map<number, number[]>();
  for (const row of rows) {
    const [child, parent] = row.trim().split(/\s+/).map(Number);
    children.set(parent!, [...(children.get(parent!) ?? []), child!]);
  }
  const found: number[] = [];
  for (let queue = [pid]; queue.length > 0;) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return ''; // Gone already (ps itself, say).
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim()[0] !== 'Z';
  } catch {
    return false;
  }
}

async function api(): Promise<ClozeApi> {
  const extension = vscode.extensions.getExtension<ClozeApi>('cloze.cloze');
  assert.ok(extension, 'extension cloze.cloze is not installed');
  return extension.isActive ? extension.exports : extension.activate();
}

function tooltipText(item: vscode.StatusBarItem): string {
  const tooltip = item.tooltip;
  return typeof tooltip === 'string' ? tooltip : (tooltip?.value ?? '');
}

function write(name: string, lines: string[]): string {
  const file = path.join(workspaceRoot(), name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return name;
}

const sentimentLines = [
  'model: review-bert-small',
  '',
  'pattern short: {review} It was [MASK].',
  'pattern long: {review} All in all, it was [MASK].',
  '',
  'verbalizer:',
  '  positive: great, good',
  '  negative: terrible, bad',
  '',
  'example positive: I like the Disney films very much.',
  'example negative: The plot was dull and the acting was worse.',
  'example positive: The plot was dull and the acting was worse.',
];

suite('Cloze commands, status item and panel', () => {
  test('every command in package.json is registered, and the palette shows them for .cloze files', async () => {
    await open('examples/sentiment.cloze');
    await api();
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      contributes: { commands: Array<{ command: string }>; menus: Record<string, Array<{ command: string }>> };
    };
    const registered = new Set(await vscode.commands.getCommands(true));
    const declared = manifest.contributes.commands.map((c) => c.command);
    assert.deepEqual(
      declared.filter((c) => !registered.has(c)),
      [],
    );
    for (const command of [
      'cloze.selectModel',
      'cloze.openPreview',
      'cloze.toggleCalibration',
      'cloze.evaluate',
      'cloze.restartServer',
      'cloze.showLog',
      'cloze.showMisclassified',
    ]) {
      assert.ok(declared.includes(command), `${command} is not in contributes.commands`);
    }
    assert.ok(manifest.contributes.menus['editor/title'].some((m) => m.command === 'cloze.openPreview'));
  });

  test('status item: loading, then ready, with the model of the active file; unavailable with the reason in the tooltip', async () => {
    const { modelStatus } = await api();
    const readyDoc = await open(write('status/ready.cloze', ['model: tiny-random-distilbert-xenova', ...sentimentLines.slice(1)]));
    // The preview loads the weights; the lenses and the status say so, then the status says ready.
    const first = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', readyDoc.uri, 1000);
    assert.match(
      first[0]?.command?.title ?? '',
      /^\$\(loading~spin\) (loading tiny-random-distilbert-xenova \(.+\)|scoring with tiny-random-distilbert-xenova)…$/,
    );
    const ready = await until(
      'the model state ready with the weights loaded',
      () => {
        const state = modelStatus.stateOf(readyDoc.uri);
        return state?.state === 'ready' && /onnx.* loaded$/.test(state.detail) && state;
      },
      90_000,
    );
    assert.equal(ready.model, 'tiny-random-distilbert-xenova');
    const states = modelStatus.historyOf(readyDoc.uri).map((s) => `${s.state}: ${s.detail}`);
    assert.ok(
      states.some((s) => s.startsWith('loading: tokenizer')),
      states.join(' | '),
    );
    assert.ok(
      states.some((s) => s.startsWith('loading: model weights')),
      states.join(' | '),
    );
    assert.match(states.at(-1) ?? '', /^ready: .*onnx.* loaded$/);
    await until('the item to show the ready model', () => modelStatus.item.text === '$(check) tiny-random-distilbert-xenova');
    assert.equal(modelStatus.item.command, 'cloze.selectModel');

    const missing = await open(write('status/missing.cloze', ['model: no-such-model', ...sentimentLines.slice(1)]));
    await until('the model state unavailable', () => modelStatus.stateOf(missing.uri)?.state === 'unavailable', 30_000);
    await until('the item to say unavailable', () => modelStatus.item.text === '$(error) no-such-model: unavailable');
    assert.match(tooltipText(modelStatus.item), /^Model no-such-model is unavailable: .*downloads are off.*Click to select a model\.$/s);
    assert.ok(modelStatus.item.backgroundColor instanceof vscode.ThemeColor);

    // Back to the first file: the item follows the active editor.
    await vscode.window.showTextDocument(readyDoc);
    await until('the item to follow the active editor', () => modelStatus.item.text === '$(check) tiny-random-distilbert-xenova');
  });

  test('cloze.selectModel lists the models folder and writes the `model:` line (undoable) or the setting', async () => {
    const cloze = await api();
    const doc = await open(write('select/model.cloze', ['# a comment', 'pattern: {x} It was [MASK].', 'verbalizer:', '  yes: great', '']));
    const items = await cloze.modelItems(doc.uri);
    const models = items.flatMap((item) => (item.model ? [item.model] : []));
    for (const expected of ['review-bert-small', 'tiny-random-bert-uncased', 'tiny-random-roberta']) {
      assert.ok(models.includes(expected), `${expected} not offered: ${models.join(', ')}`);
    }
    // No `model:` line: added after the leading comments.
    await vscode.commands.executeCommand('cloze.selectModel', doc.uri, { model: 'tiny-random-bert-uncased', target: 'file' });
    assert.equal(doc.lineAt(1).text, 'model: tiny-random-bert-uncased');
    await until('the status to name the new model', () => cloze.modelStatus.stateOf(doc.uri)?.model === 'tiny-random-bert-uncased', 30_000);
    // An existing line: its value is replaced.
    await vscode.commands.executeCommand('cloze.selectModel', doc.uri, { model: 'tiny-random-roberta', target: 'file' });
    assert.equal(doc.lineAt(1).text, 'model: tiny-random-roberta');
    assert.equal(doc.isDirty, true, 'the edit is the user’s to save or undo');
    await vscode.commands.executeCommand('undo');
    await until('undo to restore the line', () => doc.lineAt(1).text === 'model: tiny-random-bert-uncased');
    // `model:` with no value: filled, with the space other editors' edit (language/models.ts) writes too.
    const emptied = new vscode.WorkspaceEdit();
    emptied.replace(doc.uri, doc.lineAt(1).range, 'model:');
    await vscode.workspace.applyEdit(emptied);
    await vscode.commands.executeCommand('cloze.selectModel', doc.uri, { model: 'tiny-random-roberta', target: 'file' });
    assert.equal(doc.lineAt(1).text, 'model: tiny-random-roberta');
    // The id selected to type over (the starter file's snippet does so): afterwards the cursor is after the new
    // id, not a selection the edit cut short (`eview-bert-small`, which the next key replaced).
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(1, 7, 1, doc.lineAt(1).text.length);
    await vscode.commands.executeCommand('cloze.selectModel', doc.uri, { model: 'review-bert-small', target: 'file' });
    assert.equal(doc.lineAt(1).text, 'model: review-bert-small');
    assert.ok(editor.selection.isEmpty, `selection ${JSON.stringify(editor.selection)}`);
    assert.deepEqual([editor.selection.active.line, editor.selection.active.character], [1, 'model: review-bert-small'.length]);
    // A cursor elsewhere stays where it is.
    editor.selection = new vscode.Selection(2, 3, 2, 3);
    await vscode.commands.executeCommand('cloze.selectModel', doc.uri, { model: 'tiny-random-roberta', target: 'file' });
    assert.deepEqual([editor.selection.active.line, editor.selection.active.character], [2, 3]);

    const configuration = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('cloze', doc.uri);
    await vscode.commands.executeCommand('cloze.selectModel', doc.uri, { model: 'tiny-random-bert-cased', target: 'workspace' });
    try {
      assert.equal(configuration().inspect('model')?.workspaceValue, 'tiny-random-bert-cased');
    } finally {
      await configuration().update('model', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('cloze.openPreview opens the panel at the example of a lens, and it follows the cursor and edits', async () => {
    const cloze = await api();
    const doc = await open(write('panel/follow.cloze', sentimentLines));
    const lenses = await until(
      'example lenses with the open-preview command',
      async () => {
        const list = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 1000);
        const onExample = list.filter((lens) => lens.range.start.line === 11 && lens.command?.command === 'cloze.openPreview');
        return onExample.some((lens) => /wrong/.test(lens.command!.title)) ? onExample : undefined;
      },
      90_000,
    );
    const lens = lenses[0];
    assert.match(lens.command!.title, /^\$\(error\) wrong · all patterns: negative \d+%, the label is positive$/);
    await vscode.commands.executeCommand(lens.command!.command, ...(lens.command!.arguments ?? []));
    assert.ok(cloze.panel.isOpen);
    await until('the panel to show line 12', () => cloze.panel.state?.line === 12 && cloze.panel.state, 60_000);

    // The cursor moves to the first example: the panel follows.
    const editor = await vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
    editor.selection = new vscode.Selection(9, 3, 9, 3);
    await until('the panel to follow the cursor to line 10', () => cloze.panel.state?.line === 10, 30_000);

    // An edit: the panel shows the new version.
    await editor.edit((builder) => builder.insert(new vscode.Position(12, 0), 'example negative: Dull.\n'));
    await until('the panel to show the edited version', () => cloze.panel.state?.version === doc.version, 60_000);
  });

  test('switched to another file, the panel shows the example under its cursor', async () => {
    const cloze = await api();
    assert.ok(cloze.panel.isOpen, 'the test above leaves the panel open');
    // Examples on lines 8–16 (1-based): the last file's examples (lines 10–13) are at other lines.
    const lines = [
      'model: review-bert-small',
      'pattern: {review} It was [MASK].',
      'verbalizer:',
      '  positive: great',
      '  negative: terrible',
      '',
      '',
      ...Array.from({ length: 9 }, (_, i) => `example ${i % 2 ? 'negative' : 'positive'}: Review number ${i + 1} of this file.`),
    ];
    const other = await vscode.workspace.openTextDocument(path.join(workspaceRoot(), write('panel/other.cloze', lines)));
    await vscode.window.showTextDocument(other, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(15, 2, 15, 2) });
    await until(
      'the panel to show line 16 of other.cloze',
      () => cloze.panel.state?.uri === other.uri.toString() && cloze.panel.state.line === 16,
      60_000,
    );
  });

  test('cloze.toggleCalibration flips cloze.preview.calibrate and the lenses say calibrated', async () => {
    const doc = await open('examples/sentiment.cloze');
    const configuration = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('cloze', doc.uri);
    const before = configuration().get<boolean>('preview.calibrate');
    try {
      const after = await vscode.commands.executeCommand<boolean>('cloze.toggleCalibration');
      assert.equal(after, !before);
      assert.equal(configuration().get<boolean>('preview.calibrate'), !before);
      await until(
        'lenses with calibrated numbers',
        async () => {
          const list = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 1000);
          return list.some((lens) => /\(calibrated\)/.test(lens.command?.title ?? '')) === !before;
        },
        60_000,
      );
    } finally {
      await vscode.commands.executeCommand('cloze.toggleCalibration');
    }
    assert.equal(configuration().get<boolean>('preview.calibrate'), before);
  });

  test('a data file rewritten on disk: its evaluation lens follows without an edit of the .cloze file', async () => {
    const rows = fs
      .readFileSync(path.join(path.dirname(modelsDir()), 'data', 'sst2-dev.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean);
    const data = path.join(workspaceRoot(), 'watched', 'rows.jsonl');
    fs.mkdirSync(path.dirname(data), { recursive: true });
    fs.writeFileSync(data, `${rows.slice(0, 10).join('\n')}\n`);
    const doc = await open(write('watched/watched.cloze', [...sentimentLines.slice(0, 8), 'data: rows.jsonl']));
    const dataLens = (count: number) =>
      until(
        `the data lens to say ${count} rows`,
        async () => {
          const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 100);
          return lenses.some((lens) => lens.command?.title.startsWith(`${count} rows`));
        },
        60_000,
      );
    await dataLens(10);
    // VS Code's file watcher (registered by the server) tells it; the document is not touched.
    fs.writeFileSync(data, `${rows.slice(0, 16).join('\n')}\n`);
    await dataLens(16);
    assert.equal(doc.isDirty, false);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('cloze.evaluate gives the accuracies of `cloze eval` on the file’s data', async () => {
    const rows = fs
      .readFileSync(path.join(path.dirname(modelsDir()), 'data', 'sst2-dev.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .slice(0, 24);
    fs.mkdirSync(path.join(workspaceRoot(), 'eval'), { recursive: true });
    fs.writeFileSync(path.join(workspaceRoot(), 'eval', 'dev.jsonl'), `${rows.join('\n')}\n`);
    const name = write('eval/sentiment.cloze', [sentimentLines[0], 'data: dev.jsonl', ...sentimentLines.slice(1)]);
    const doc = await open(name);
    const result = await vscode.commands.executeCommand<{
      ok: boolean;
      evaluation: { evaluated: number; patterns: Array<{ pattern: string; accuracy: number }> };
    }>('cloze.evaluate', doc.uri);
    assert.ok(result?.ok, JSON.stringify(result));
    const cli = spawnSync(
      process.execPath,
      [
        path.join(repoRoot, 'server', 'out', 'cli', 'main.js'),
        'eval',
        doc.uri.fsPath,
        '--format',
        'json',
        '--models-dir',
        modelsDir(),
        '--offline',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(cli.status, 0, cli.stderr);
    const expected = JSON.parse(cli.stdout) as { evaluated: number; patterns: Array<{ pattern: string; accuracy: number }> };
    assert.equal(result.evaluation.evaluated, 24);
    assert.equal(result.evaluation.evaluated, expected.evaluated);
    for (const [i, summary] of result.evaluation.patterns.entries()) {
      assert.equal(summary.pattern, expected.patterns[i].pattern);
      assert.ok(
        Math.abs(summary.accuracy - expected.patterns[i].accuracy) < 1e-9,
        `${summary.pattern}: ${summary.accuracy} vs ${expected.patterns[i].accuracy}`,
      );
    }
    // A file without data: the command says why instead of failing.
    const none = await vscode.commands.executeCommand<{ ok: boolean; reason?: string }>(
      'cloze.evaluate',
      (await open('examples/nli.cloze')).uri,
    );
    assert.equal(none?.ok, false);
    assert.match(none?.reason ?? '', /no `data:` line/);
  });

  test('a misclassified row opened from the panel keeps the focus when the panel reports its own focus late', async () => {
    // The webview reports the click's focus by polling (every 250 ms); that can arrive after the data file has opened
    // (CI once showed the file at its row but the panel focused). Focusing the panel's group right after the open is
    // that late report.
    const cloze = await api();
    const doc = await open('eval/sentiment.cloze'); // Written by the test above.
    await vscode.commands.executeCommand('cloze.openPreview', doc.uri);
    const data = path.join(workspaceRoot(), 'eval', 'dev.jsonl');
    await until(
      'the panel to show the evaluation of dev.jsonl',
      () => cloze.panel.evaluationState?.files.some((f) => f.file === data),
      120_000,
    );
    const returns = cloze.panel.focusReturns;
    await cloze.panel.openRow(data, 5);
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, data);
    await vscode.commands.executeCommand('workbench.action.focusSecondEditorGroup');
    // Waited for is the panel's giving the focus back, not only dev.jsonl active: the extension host may still
    // report dev.jsonl from before the panel's own focus arrived, and the focus given back later (on a loaded
    // machine, after the 2.2 s below) took it from the user's own click in the panel (seen in CI).
    const editor = await until(
      'the panel to give the focus back to dev.jsonl',
      () =>
        cloze.panel.focusReturns === returns + 1 &&
        vscode.window.activeTextEditor?.document.uri.fsPath === data &&
        vscode.window.activeTextEditor,
      10_000,
    );
    assert.equal(editor.selection.active.line, 4);
    assert.equal(editor.viewColumn, vscode.ViewColumn.One);
    // A click in the panel later on is the user's own: the panel keeps it. On a loaded machine one focus command
    // sometimes left the data file active (about 1 run in 7; which side was late is not known): it is sent again until
    // the panel is active, and then the panel must not give the focus away (below).
    await new Promise((resolve) => setTimeout(resolve, 2200));
    await until(
      'the panel to take the focus',
      async () => {
        if (vscode.window.activeTextEditor === undefined) return true;
        await vscode.commands.executeCommand('workbench.action.focusSecondEditorGroup');
        return false;
      },
      10_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(vscode.window.activeTextEditor, undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('cloze.showLog shows the Cloze output; cloze.restartServer restarts the server, which checks again', async () => {
    const cloze = await api();
    await vscode.commands.executeCommand('cloze.showLog');
    const doc = await open('examples/mistakes.cloze');
    await diagnosticsWhen(doc.uri, (list) => list.some((d) => codeOf(d) === 'label-word-multi-token'));
    const before = cloze.client();
    await until('a model state', () => cloze.modelStatus.stateOf(doc.uri)?.state === 'ready', 60_000);
    const reported = cloze.modelStatus.historyOf(doc.uri).length;
    // The language server (a child of this extension host) and its inference process below it.
    const oldProcesses = descendantsOf(process.pid).filter((pid) =>
      /lsp[/\\]main\.js|dist[/\\]server\.js|model[/\\]worker\.js/.test(commandLine(pid)),
    );
    assert.ok(oldProcesses.length > 0, 'the language server process is found');
    // What the client writes to the Cloze output from here on.
    const written: string[] = [];
    const { append, appendLine } = cloze.log;
    cloze.log.append = (text: string) => (written.push(text), append.call(cloze.log, text));
    cloze.log.appendLine = (text: string) => (written.push(`${text}\n`), appendLine.call(cloze.log, text));
    // What the status item says meanwhile: never "unavailable … run Restart Language Server" for the restart itself.
    const shown = new Set<string>();
    const sampler = setInterval(() => shown.add(cloze.modelStatus.item.text), 5);
    try {
      await vscode.commands.executeCommand('cloze.restartServer');
      // The old server and its inference process end (and the client has seen the server's exit).
      await until(`the old server processes ${oldProcesses.join(', ')} to end`, () => oldProcesses.every((pid) => !alive(pid)), 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      clearInterval(sampler);
      Object.assign(cloze.log, { append, appendLine });
    }
    assert.ok(![...shown].some((text) => /unavailable/.test(text)), [...shown].join(' | '));
    // A restart the user asked for is no crash: the old server exited with code 0, and nothing says [Error].
    const errors = written
      .join('')
      .split('\n')
      .filter((line) => /\[Error|exited with code [1-9]|exited with signal/.test(line));
    assert.deepEqual(errors, [], `the Cloze output after a restart:\n${written.join('')}`);
    await until('the server to run again', () => cloze.client()?.isRunning() === true, 60_000);
    assert.equal(cloze.client(), before, 'the same client, restarted');
    // The new server has the document again and reports its model anew.
    await until(
      'a model state from the new server',
      () => cloze.modelStatus.historyOf(doc.uri).length > reported && cloze.modelStatus.stateOf(doc.uri)?.state === 'ready',
      60_000,
    );
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 1000);
    assert.ok(lenses.length > 0, 'the restarted server answers code lenses');
  });

  test('cloze.newFile opens an untitled .cloze file from the template, which the server checks', async () => {
    const doc = await vscode.commands.executeCommand<vscode.TextDocument>('cloze.newFile');
    assert.equal(doc.languageId, 'cloze');
    assert.equal(doc.isUntitled, true);
    // Named in the workspace folder, so Save offers sentiment.cloze, not the template's first line.
    assert.match(path.basename(doc.uri.path), /^sentiment(-\d+)?\.cloze$/);
    assert.equal(path.dirname(doc.uri.fsPath), workspaceRoot());
    assert.match(doc.getText(), /pattern short: \{review\} It was \[MASK\]\./);
    assert.match(doc.getText(), /^model: /m);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});

suite('Cloze snippets and walkthrough', () => {
  test('typing a file by hand: two-space entries, and a keyword typed on an indented line goes back to the margin', async () => {
    const doc = await vscode.workspace.openTextDocument({ language: 'cloze', content: '' });
    const editor = await vscode.window.showTextDocument(doc);
    // configurationDefaults: two spaces, and no words of other files among the completions (the snippets come first).
    assert.equal(editor.options.tabSize, 2);
    assert.equal(vscode.workspace.getConfiguration('editor', { languageId: 'cloze' }).get('wordBasedSuggestions'), 'off');
    const type = (text: string) => vscode.commands.executeCommand('type', { text });
    for (const key of ['pattern: {review} It was [MASK].', '\n', 'verbalizer:', '\n', 'positive: great', '\n', 'negative: bad', '\n']) {
      await type(key);
    }
    // Before, the keyword stayed indented and was an error ("The line is indented … remove the indentation").
    // Key by key, as a user types it: the editor re-indents a line as it comes to match decreaseIndentPattern.
    for (const key of 'example positive: Fine.') await type(key);
    // On-type re-indenting is done by the editor's typing path, which in this harness does not always run it
    // (it failed once in a fresh-clone run); Reindent Lines applies the same indentation rules, always.
    await vscode.commands.executeCommand('editor.action.reindentlines');
    assert.deepEqual(doc.getText().split('\n'), [
      'pattern: {review} It was [MASK].',
      'verbalizer:',
      '  positive: great',
      '  negative: bad',
      'example positive: Fine.',
    ]);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  test('the sentiment and NLI snippets insert a task the server checks without an error', async () => {
    for (const [name, text] of [
      ['Sentiment task', /pattern short: \{review\} It was \[MASK\]\./],
      ['NLI task', /pattern: \{premise\}\? \[MASK\], \{hypothesis\}/],
    ] as const) {
      const doc = await vscode.workspace.openTextDocument({ language: 'cloze', content: '' });
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('editor.action.insertSnippet', { langId: 'cloze', name });
      assert.match(doc.getText(), text);
      // The snippet's model line names a hub model (unavailable offline); the rest is a valid task.
      // The empty document's diagnostics (pattern-missing, …) come first; wait for those of the snippet's text.
      const diagnostics = await diagnosticsWhen(
        doc.uri,
        (list) => list.some((d) => codeOf(d) === 'model-unavailable') && !list.some((d) => codeOf(d) === 'pattern-missing'),
      );
      assert.deepEqual(
        diagnostics.filter((d) => d.severity === vscode.DiagnosticSeverity.Error && codeOf(d) !== 'model-unavailable').map(codeOf),
        [],
      );
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    }
  });

  test('the walkthrough, icon and users’ README that package.json names exist', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      icon: string;
      repository: { url: string };
      bugs: { url: string };
      contributes: { walkthroughs: Array<{ steps: Array<{ media: { markdown: string }; description: string }> }> };
    };
    assert.ok(fs.existsSync(path.join(repoRoot, manifest.icon)), manifest.icon);
    assert.match(manifest.repository.url, /^https:\/\//);
    assert.match(manifest.bugs.url, /^https:\/\//);
    const steps = manifest.contributes.walkthroughs[0].steps;
    assert.ok(steps.length >= 3);
    for (const step of steps) {
      assert.ok(fs.existsSync(path.join(repoRoot, step.media.markdown)), step.media.markdown);
      // Each step's button runs one of our commands.
      assert.match(step.description, /\(command:cloze\.\w+\)/);
    }
    const readme = fs.readFileSync(path.join(repoRoot, 'docs', 'marketplace', 'README.md'), 'utf8');
    assert.doesNotMatch(readme, /npm ci|shared\/models|npm run bench/);
  });
});

function modelsDir(): string {
  const dir = vscode.workspace.getConfiguration('cloze').get<string>('modelsDir');
  assert.ok(dir, 'the runner sets cloze.modelsDir');
  return dir;
}
