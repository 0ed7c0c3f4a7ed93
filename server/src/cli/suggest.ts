import * as path from 'node:path';
import type { SearchCalibration, SelectionCriterion } from '../language/labelSearch';
import { isValidName } from '../language/parse';
import { quotedNames } from '../language/quoting';
import { readDataSet } from '../service/dataSets';
import { dataLimits } from './check';
import { uniquePaths } from './sourceFile';
import { evaluationRows } from '../service/evaluate';
import {
  labelledExampleRows,
  suggestVerbalizers,
  type CandidateRanking,
  type SuggestedVerbalizer,
  type SuggestResult,
} from '../service/suggest';
import { openScoringSession, type ScoringOptions } from './session';
import type { TokenizerView } from '../language/tokenizer';
import type { ClozeLanguageService } from '../service/languageService';
import type { ClozeDocument } from '../language/ast';

/**
 * `cloze suggest <file>`: whole verbalizers searched on the labelled rows of
 * the file's `data:` files (or `--data`) and its labelled examples, best
 * first, with their accuracy (service/suggest.ts has the method). The file
 * needs a pattern; its verbalizer, if any, gives the labels and is scored
 * beside the suggestions; without one, the labels come from the data.
 *
 * Exit codes: 0 suggestions printed, 1 nothing to search on (or no verbalizer could be built), 2 bad usage.
 */

export interface SuggestCommandOptions extends ScoringOptions {
  readonly data?: string[];
  readonly top: number;
  readonly candidates: number;
  readonly words: number;
  readonly calibrate?: boolean;
  readonly calibration?: 'content-free' | 'support';
  readonly criterion: SelectionCriterion;
  readonly ranking: CandidateRanking;
  readonly format: 'text' | 'json';
}

export async function runSuggest(file: string, options: SuggestCommandOptions): Promise<number> {
  const session = await openScoringSession(file, options, 'searched');
  if (typeof session === 'number') return session;
  const { doc, tokenizer, engine } = session;
  try {
    session.report(session.errors.filter((d) => d.code !== 'verbalizer-missing'));
    const others = await otherTokenizers(session.service, doc, file, options.model);
    for (const { model, message } of others.unavailable) {
      process.stderr.write(`cloze suggest: the label words could not be checked against ${model}: ${message}\n`);
    }
    const checkedModels = [tokenizer.modelId, ...others.loaded.map((t) => t.modelId)];
    const fromCommandLine = options.data !== undefined && options.data.length > 0;
    // The same file named twice would count its rows twice.
    const files = [
      ...new Set(fromCommandLine ? uniquePaths(options.data ?? []) : doc.data.map((d) => path.resolve(path.dirname(file), d.path))),
    ];
    let labels = [...new Set(doc.verbalizers[0]?.entries.map((e) => e.label.text) ?? [])];
    if (labels.length === 0) {
      // No verbalizer yet: the labels of the data, in the order they first appear.
      const origin = fromCommandLine ? 'command-line' : 'data-line';
      const dataSets = await Promise.all(files.map((f) => readDataSet(f, dataLimits(options), origin)));
      labels = [...new Set(dataSets.flatMap((data) => (data.ok ? data.rows.map((row) => row['label'] ?? '') : [])))].filter(
        (label) => label !== '',
      );
      labels.push(...labelledExampleRows(doc, [...new Set(doc.examples.map((e) => e.label?.text ?? ''))]).map((r) => r.label ?? ''));
      labels = [...new Set(labels)].filter((label) => label !== '');
    }
    const { rows, sources, problems, notEvaluated, skipped } = await evaluationRows(
      doc,
      files,
      labels,
      dataLimits(options),
      fromCommandLine ? 'command-line' : 'data-line',
    );
    for (const problem of problems) process.stderr.write(`cloze suggest: ${problem}\n`);
    // Rows left out of the search (no label, a label the verbalizer lacks, a field missing), counted as `cloze eval` counts them.
    const left = Object.entries(skipped).filter(([, n]) => n > 0);
    if (left.length > 0) process.stderr.write(`cloze suggest: skipped ${left.map(([reason, n]) => `${n} (${reason})`).join(', ')}\n`);
    // A --data path that cannot be read is a mistake in the command: exit 2, as for a bad flag.
    if (fromCommandLine && notEvaluated.some((file) => file.unreadable)) return 2;
    const all = [...rows, ...labelledExampleRows(doc, labels)];
    if (labels.length < 2 || all.length === 0) {
      process.stderr.write(
        files.length === 0
          ? `cloze suggest: ${file} has no \`data:\` line and no labelled example; name a labelled JSONL, CSV or TSV file with --data.\n`
          : `cloze suggest: no labelled rows with two labels or more to search on.\n`,
      );
      return 1;
    }
    const started = performance.now();
    const calibration: SearchCalibration = options.calibrate ? (options.calibration ?? 'support') : 'none';
    const result = await suggestVerbalizers(doc, tokenizer, (inputs, wordIds, topK) => engine.score(inputs, wordIds, topK), labels, all, {
      top: options.top,
      candidates: options.candidates,
      maxWordsPerLabel: options.words,
      calibration,
      criterion: options.criterion,
      ranking: options.ranking,
      alsoSingleIn: others.loaded,
    });
    const seconds = (performance.now() - started) / 1000;
    if (options.format === 'json') {
      const skippedFiles = notEvaluated.map(({ path: notRead, reason }) => ({ file: notRead, reason }));
      process.stdout.write(
        `${JSON.stringify(
          {
            ...result,
            checkedModels,
            unavailable: others.unavailable,
            file,
            data: sources.map((s) => s.path),
            notEvaluated: skippedFiles,
            seconds,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      process.stdout.write(formatText(result, sources, seconds, checkedModels, others.unavailable));
    }
    // A label without a candidate (its rows unscored, or no word likelier there than elsewhere) leaves nothing to combine.
    const empty = result.labels.filter((label) => (result.candidates[label] ?? []).length === 0);
    if (result.suggestions.length === 0) {
      process.stderr.write(
        `cloze suggest: no verbalizer could be built: ${empty.length > 0 ? `no candidate word for ${empty.join(', ')} (no word of the model's top tokens${checkedModels.length > 1 ? ` that is one token in ${checkedModels.join(', ')}` : ''} is likelier on its rows than on the others', or its rows were not scored)` : 'no candidate words'}.\n`,
      );
      return 1;
    }
    // The words were not checked against a model of the file: pasted in, they may fail `cloze check` there.
    if (others.unavailable.length > 0) {
      process.stderr.write(
        `cloze suggest: exit 1: ${others.unavailable.map((u) => u.model).join(', ')} could not be loaded, so the words may not be one token there.\n`,
      );
      return 1;
    }
    // As `cloze eval`: suggestions from part of the data (a `data:` file unread, empty, without the columns) are no pass.
    if (notEvaluated.length > 0) {
      const names = notEvaluated.map((f) => path.basename(f.path)).join(', ');
      process.stderr.write(
        `cloze suggest: exit 1: ${names} ${notEvaluated.length === 1 ? 'was' : 'were'} not searched on, so the suggestions come from the other data only.\n`,
      );
      return 1;
    }
    return 0;
  } finally {
    await engine.dispose();
  }
}

/**
 * The tokenizers of the file's models besides the one that scores: its `models:` line and, when
 * `--model` scores instead, its own `model:`. A suggestion pasted into the file is checked by
 * `cloze check` against all of them, so its words must be one token in each. Loaded as `cloze check`
 * loads them (the language service); one that cannot be loaded is returned with the reason.
 */
async function otherTokenizers(
  service: ClozeLanguageService,
  doc: ClozeDocument,
  file: string,
  override: string | undefined,
): Promise<{ loaded: TokenizerView[]; unavailable: Array<{ model: string; message: string }> }> {
  const scoring = service.modelChoice(doc, file, override).id;
  const fileDefault = service.modelChoice(doc, file);
  const choices = [...(fileDefault.origin === 'file' ? [fileDefault] : []), ...service.otherModelChoices(doc, file, fileDefault)].filter(
    (choice, i, all) => choice.id !== scoring && all.findIndex((other) => other.id === choice.id) === i,
  );
  const loaded: TokenizerView[] = [];
  const unavailable: Array<{ model: string; message: string }> = [];
  for (const choice of choices) {
    const result = await service.tokenizer(choice);
    if (result.ok) loaded.push(result.tokenizer);
    else unavailable.push({ model: choice.id, message: result.diagnostic.message });
  }
  return { loaded, unavailable };
}

function percent(value: number | null): string {
  return value === null ? '–' : `${(value * 100).toFixed(1)}%`;
}

/**
 * Labels in the verbalizer's order, from `labels`: a record keyed by labels lists integer-like keys
 * (`1`, `0`) first and in numeric order, whatever order they were written in.
 */
function verbalizerText(v: SuggestedVerbalizer, labels: readonly string[]): string {
  return labels.map((label) => `${label}: ${(v.words[label] ?? []).join(', ')}`).join(' · ');
}

/** Where the rows came from: the data files, and the file's own labelled examples when they were searched on too. */
function rowsText(rows: number, sources: ReadonlyArray<{ readonly path: string; readonly rows: number }>): string {
  const examples = rows - sources.reduce((sum, s) => sum + s.rows, 0);
  const total = `${rows} labelled ${rows === 1 ? 'row' : 'rows'}`;
  const names = sources.map((s) => path.basename(s.path));
  if (examples <= 0) return names.length > 0 ? `${total} from ${names.join(', ')}` : total;
  return `${total} (${[...sources.map((s, i) => `${s.rows} from ${names[i]}`), `${examples} from the file's examples`].join(', ')})`;
}

function formatText(
  result: SuggestResult,
  sources: ReadonlyArray<{ readonly path: string; readonly rows: number }>,
  seconds: number,
  checkedModels: readonly string[],
  unavailable: ReadonlyArray<{ readonly model: string }>,
): string {
  const lines: string[] = [];
  const calibrated = result.calibration === 'none' ? '' : ` calibrated (${result.calibration})`;
  const kind = result.criterion === 'accuracy' ? `accuracy${calibrated}` : `mean log P(gold)${calibrated}`;
  lines.push(
    // An unnamed pattern's display name is already "pattern 1".
    `model ${result.model} · ${result.patterns.map((name) => (/^pattern \d+$/.test(name) ? name : `pattern ${name}`)).join(', ')} · ${rowsText(result.rows, sources)}`,
  );
  // Only the scoring model ranks; the file's other models only rule out words they do not read as one token.
  if (checkedModels.length > 1 || unavailable.length > 0) {
    lines.push(
      `scored with ${result.model} only; words proposed only if one token in ${checkedModels.join(', ')}${unavailable.length > 0 ? ` (not checked in ${unavailable.map((u) => u.model).join(', ')}: not loaded)` : ''}`,
    );
  }
  lines.push(`searched ${result.tried} ${result.tried === 1 ? 'verbalizer' : 'verbalizers'} in ${seconds.toFixed(1)} s`);
  lines.push('');
  const petal = result.ranking === 'petal';
  lines.push(
    petal
      ? 'candidates per label (PETAL’s likelihood ratio: mean log-odds of the word on the label’s rows minus on the others’):'
      : 'candidates per label (mean log P(word | x) over the label’s rows, as LM-BFF ranks them):',
  );
  for (const label of result.labels) {
    const words = result.candidates[label] ?? [];
    lines.push(
      `  ${label}: ${words.length === 0 ? '(none)' : words.map((w) => `${w.word} ${(petal ? (w.likelihoodRatio ?? 0) : w.logProbability).toFixed(2)}`).join(', ')}`,
    );
  }
  lines.push('');
  lines.push(`best verbalizers by ${kind} on these rows:${result.suggestions.length === 0 ? ' none (why: below)' : ''}`);
  // The raw accuracy is what `cloze eval` prints in its accuracy column; the calibrated one is what was ranked by.
  const withCalibrated = result.calibration !== 'none';
  result.suggestions.forEach((v, i) => {
    lines.push(
      `  ${String(i + 1).padStart(2)}. accuracy ${percent(v.rawAccuracy).padStart(6)}${withCalibrated ? ` (calibrated ${percent(v.accuracy)})` : ''}  macro-F1 ${v.macroF1 === null ? '–' : v.macroF1.toFixed(3)}  P(gold) ${percent(v.meanGoldProbability)}  log P(gold) ${v.meanLogGold.toFixed(3)}  ${verbalizerText(v, result.labels)}`,
    );
  });
  if (result.current) {
    lines.push('');
    const current = result.current;
    lines.push(
      `the file's verbalizer: accuracy ${percent(current.rawAccuracy)}${withCalibrated ? ` (calibrated ${percent(current.accuracy)})` : ''}  ${verbalizerText(current, result.labels)}`,
    );
  }
  const [best] = result.suggestions;
  // Rows are matched to the verbalizer by label: a label that cannot be written as a name cannot be matched.
  const unwritable = result.labels.filter((label) => !isValidName(label));
  if (best && unwritable.length > 0) {
    lines.push('');
    lines.push(
      `no verbalizer block: ${quotedNames(unwritable)} cannot be ${unwritable.length === 1 ? 'a label name' : 'label names'} in a .cloze file ` +
        '(letters, digits, `_`, `-` or `.`, without spaces); rename them in the data, e.g. `very_good`, and search again.',
    );
  } else if (best) {
    lines.push('');
    lines.push('as a verbalizer block:');
    lines.push('verbalizer:');
    for (const label of result.labels) lines.push(`  ${label}: ${(best.words[label] ?? []).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
