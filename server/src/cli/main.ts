#!/usr/bin/env node
import * as path from 'node:path';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { removePartialDownloads } from '../model/download';
import { isModelPath } from '../model/resolve';
import { logStrayRejections } from '../model/strayRejections';
import { runCheck, type CheckOptions } from './check';
import { runEval, type EvalCommandOptions } from './eval';
import { runExport, type ExportCommandOptions } from './export';
import { runImport, type ImportCommandOptions, type ImportFormat } from './import';
import { JsonFailureGuard, requestedReportFormat } from './jsonOutput';
import { runPreview, type PreviewCommandOptions } from './preview';
import { runSuggest, type SuggestCommandOptions } from './suggest';

/**
 * `cloze`: the language service on the command line, for CI. Argument parsing
 * is commander's (help, errors for unknown flags, `--` handling) so the
 * commands only deal with the work. Exit codes: 0 clean, 1 errors found,
 * 2 bad usage.
 */

const jsonFailure = new JsonFailureGuard();

const program = new Command()
  .name('cloze')
  .description('Check and preview Cloze prompt templates (.cloze) for masked language models.')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) })
  .hook('preAction', (_, command) => {
    // A path given with --model is relative to the current folder, like every other path flag; a
    // `model:` line's path is relative to its .cloze file, which is how the service reads a relative one.
    // (`import --model` is text for the new file's model: line, left as written.)
    if (command.name() === 'import') return;
    const model = command.getOptionValue('model') as string | string[] | undefined;
    const absolute = (id: string): string => (isModelPath(id) && !id.startsWith('~') ? path.resolve(id) : id);
    if (typeof model === 'string') command.setOptionValue('model', absolute(model));
    else if (Array.isArray(model)) command.setOptionValue('model', model.map(absolute));
  });

const modelsDirOption = (): Option =>
  new Option('--models-dir <dir>', 'folder searched first for models (<dir>/<model id>/); default: CLOZE_MODELS_DIR');
/**
 * `--model` where a command runs one model: given twice, the first would be dropped without a word
 * (commander keeps the last), so it is refused, with where several models go.
 */
/** A `--model` value: an id or a path, never empty (`--model ""` was looked for as a model named ""). */
function modelArgument(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('expected a model id (review-bert-small, Xenova/bert-base-uncased) or a folder.');
  return value;
}
/** A repeatable `--model`: every value is checked, and they are collected in order. */
const collectModels = (value: string, previous: string[] = []): string[] => [...previous, modelArgument(value)];

const singleModelOption = (description: string, command: 'check' | 'suggest'): Option =>
  new Option('--model <id>', description).argParser((value: string, previous: string | undefined) => {
    modelArgument(value);
    if (previous !== undefined) {
      throw new InvalidArgumentError(
        command === 'check'
          ? `cloze check runs one model; to check a file against several, write them on its \`models:\` line (${previous}, ${value}).`
          : `cloze suggest searches with one model; run it once per model.`,
      );
    }
    return value;
  });
const offlineOption = (): Option => new Option('--offline', 'never download a model from the Hugging Face hub');
const noQuantizedOption = (): Option =>
  new Option('--no-quantized', 'use onnx/model.onnx (full precision) instead of onnx/model_quantized.onnx');
const dataMaxRowsOption = (): Option =>
  new Option('--data-max-rows <n>', 'rows of a data file read at most (as cloze.data.maxRows)').argParser(parseLimit).default(100_000);
const dataMaxMbOption = (): Option =>
  new Option('--data-max-mb <n>', 'megabytes of a data file read at most (as cloze.data.maxFileSizeMB)').argParser(parseLimit).default(100);
const formatOption = (): Option => new Option('--format <format>', 'output format').choices(['text', 'json']).default('text');

program
  .command('check')
  .description('report the diagnostics of .cloze files (the same as the editor shows)')
  .argument('<files...>', '.cloze files to check')
  .addOption(modelsDirOption())
  .addOption(offlineOption())
  .addOption(singleModelOption("model to check against, instead of each file's `model:` line", 'check'))
  .addOption(dataMaxRowsOption())
  .addOption(dataMaxMbOption())
  .addOption(formatOption())
  .action(async (files: string[], options: CheckOptions) => {
    process.exitCode = await runCheck(files, options);
  });

/** `--top-k`: a whole number from 1 to 100, as the cloze.preview.topK setting (commander turns the throw into a usage error). */
function parseTopK(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1 || n > 100)
    throw new InvalidArgumentError('expected a whole number from 1 to 100.');
  return n;
}

program
  .command('preview')
  .description('show what the model puts at [MASK] for each example: label probabilities per pattern and their ensemble')
  .argument('<file>', '.cloze file to preview')
  .addOption(modelsDirOption())
  .addOption(offlineOption())
  .option(
    '--model <id>',
    "model to preview with, instead of the file's `model:` line; repeat it to compare models side by side (default: the file's `models:` line, if any)",
    collectModels,
  )
  .addOption(dataMaxRowsOption())
  .addOption(dataMaxMbOption())
  .option('--calibrate', "calibrate against each pattern's content-free input (its fields left empty)")
  .addOption(new Option('--top-k <n>', 'most probable tokens listed at the mask').argParser(parseTopK).default(10))
  .addOption(noQuantizedOption())
  .addOption(formatOption())
  .action(async (file: string, options: PreviewCommandOptions) => {
    process.exitCode = await runPreview(file, options);
  });

/** `--limit`: a positive whole number. */
function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1) throw new InvalidArgumentError('expected a positive whole number.');
  return n;
}

/** `--min-accuracy`: a share from 0 to 1, or a percentage (`75%`). */
function parseShare(value: string): number {
  const text = value.trim();
  const percent = text.endsWith('%');
  const digits = percent ? text.slice(0, -1) : text;
  // Decimal only: Number() also reads `0x1` (1) and `1e0`, which nobody means as an accuracy.
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(digits) ? Number(digits) : NaN;
  // `70.4%` is 0.704, not 70.4 / 100 = 0.7040000000000001, which an accuracy of exactly 70.4% fell below.
  const share = percent ? Number((n / 100).toPrecision(15)) : n;
  if (text === '' || text === '%' || !Number.isFinite(share) || share < 0 || share > 1)
    throw new InvalidArgumentError('expected a share from 0 to 1 (0.75) or a percentage (75%).');
  return share;
}

/** `--errors`: a whole number, 0 or more. */
function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number.');
  return Number(value);
}

/** `--gate` repeats and takes comma-separated lists: `--gate short,ensemble`. */
function collectTargets(value: string, previous: string[] | undefined): string[] {
  const targets = value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (targets.length === 0) throw new InvalidArgumentError('expected ensemble, wmean, all or a pattern name.');
  return [...(previous ?? []), ...targets];
}

const calibrationOption = (): Option =>
  new Option(
    '--calibration <prior>',
    "what calibrated figures divide by: each pattern's content-free input, or its mean prediction over the inputs (support)",
  )
    .choices(['content-free', 'support'])
    .default('content-free');

program
  .command('eval')
  .description("accuracy of each pattern and of their ensemble on the labelled rows of the file's data: files")
  .argument('[file]', '.cloze file whose patterns and verbalizer to evaluate')
  .option('--data <files...>', 'labelled JSONL, CSV or TSV files to evaluate on, instead of the `data:` lines')
  .addOption(new Option('--limit <n>', 'score only the first n labelled rows').argParser(parseLimit))
  .addOption(modelsDirOption())
  .addOption(offlineOption())
  .option(
    '--model <id>',
    "model to evaluate with, instead of the file's `model:` line; repeat it to evaluate several models on the same rows (default: the file's `models:` line, if any)",
    collectModels,
  )
  .addOption(dataMaxRowsOption())
  .addOption(dataMaxMbOption())
  .option('--calibrate', 'predict with calibrated probabilities (the prior of --calibration)')
  .addOption(calibrationOption())
  .addOption(new Option('--errors <n>', 'list the n worst misclassified rows (lowest probability of the gold label)').argParser(parseCount))
  .addOption(
    new Option(
      '--min-accuracy <share>',
      'exit 1 when an accuracy --gate names is below this (0.75 or 75%); calibrated with --calibrate',
    ).argParser(parseShare),
  )
  .addOption(
    new Option(
      '--gate <targets>',
      'what --min-accuracy checks: ensemble (default), wmean, all (every pattern and the ensemble) or pattern names; repeatable, comma-separated',
    ).argParser(collectTargets),
  )
  .addOption(noQuantizedOption())
  .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'junit']).default('text'))
  .action(async (file: string | undefined, options: EvalCommandOptions) => {
    const named = clozeFileAfterData('eval', file, options);
    process.exitCode = named === undefined ? 2 : await runEval(named.file, named.options);
  });

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

program
  .command('import')
  .description('write a .cloze file from LM-BFF, OpenPrompt or PET files (what cannot be expressed is printed as notes)')
  .addArgument(new Argument('<format>', 'the framework the files come from').choices(['lmbff', 'openprompt', 'pet']))
  .option('--template <text>', 'an LM-BFF template string or an OpenPrompt template line (repeatable)', collect)
  .option('--template-file <file>', 'LM-BFF auto_template file or OpenPrompt manual_template.txt: one template per line')
  .option('--mapping <dict>', "an LM-BFF label-word mapping, e.g. \"{'0':'terrible','1':'great'}\" (repeatable)", collect)
  .option('--mapping-file <file>', 'LM-BFF auto_label_mapping file: one mapping per line')
  .option('--verbalizer-file <file>', 'OpenPrompt manual_verbalizer.txt|.json or knowledgeable-verbalizer list; PET --verbalizer_file')
  .option('--labels <names>', 'OpenPrompt .txt verbalizer: the class names of its lines, comma-separated')
  .addOption(new Option('--multi-token <handler>', "OpenPrompt's multi_token_handler (default first)").choices(['first', 'mean', 'max']))
  .option('--no-post-log-softmax', 'OpenPrompt ManualVerbalizer with post_log_softmax=False (mean of logits)')
  .addOption(
    new Option('--truncate-method <method>', "OpenPrompt PromptDataLoader's truncate_method (default tail)").choices([
      'tail',
      'head',
      'balanced',
    ]),
  )
  .option('--model <id>', 'the model: line of the new file', modelArgument)
  .option('-o, --output <file>', 'write the .cloze file here instead of stdout')
  .action((format: ImportFormat, options: ImportCommandOptions) => {
    process.exitCode = runImport(format, options);
  });

program
  .command('export')
  .description("write a .cloze file's patterns and verbalizers in LM-BFF, OpenPrompt or PET formats (with Python snippets)")
  .argument('<file>', '.cloze file to export')
  .addOption(new Option('--to <format>', 'the framework').choices(['lmbff', 'openprompt', 'pet']).makeOptionMandatory())
  .option('--out-dir <dir>', 'write the files into this folder instead of printing them')
  .action((file: string, options: ExportCommandOptions) => {
    process.exitCode = runExport(file, options);
  });

/** A whole number from 1 to `max`. */
function wholeNumber(max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < 1 || n > max) throw new InvalidArgumentError(`expected a whole number from 1 to ${max}.`);
    return n;
  };
}

program
  .command('suggest')
  .description('search verbalizers (label words) by their accuracy on labelled data, and print the best')
  .argument('[file]', '.cloze file whose patterns to search label words for (its verbalizer, if any, gives the labels)')
  .option('--data <files...>', 'labelled JSONL, CSV or TSV files to search on, instead of the `data:` lines')
  .addOption(new Option('--top <n>', 'verbalizers printed').argParser(wholeNumber(100)).default(5))
  .addOption(new Option('--candidates <k>', 'candidate words per label, as --ranking ranks them').argParser(wholeNumber(200)).default(20))
  .addOption(
    new Option(
      '--ranking <name>',
      "how candidate words are ranked: LM-BFF's class-conditional log-probability, or PETAL's likelihood ratio",
    )
      .choices(['lm-bff', 'petal'])
      .default('lm-bff'),
  )
  .addOption(new Option('--words <n>', 'most label words per label').argParser(wholeNumber(5)).default(1))
  .addOption(
    new Option('--criterion <name>', 'rank verbalizers by accuracy (LM-BFF) or by mean log P(gold)')
      .choices(['accuracy', 'log-likelihood'])
      .default('accuracy'),
  )
  // The defaults (one word, accuracy, support calibration) are the method chosen by cross-validation inside SST-2.
  .addOption(new Option('--calibrate', 'rank verbalizers by calibrated figures (the prior of --calibration)').default(true))
  .option('--no-calibrate', 'rank verbalizers by raw figures')
  .addOption(
    new Option(
      '--calibration <prior>',
      "the prior calibrated figures divide by: the mean prediction over the rows (support) or each pattern's content-free input",
    )
      .choices(['support', 'content-free'])
      .default('support'),
  )
  .addOption(modelsDirOption())
  .addOption(offlineOption())
  .addOption(singleModelOption("model to search with, instead of the file's `model:` line", 'suggest'))
  .addOption(dataMaxRowsOption())
  .addOption(dataMaxMbOption())
  .addOption(noQuantizedOption())
  .addOption(formatOption())
  .action(async (file: string | undefined, options: SuggestCommandOptions) => {
    const named = clozeFileAfterData('suggest', file, options);
    process.exitCode = named === undefined ? 2 : await runSuggest(named.file, named.options);
  });

/**
 * A reader that stops early (`cloze check *.cloze | head -1`) closes the pipe: the rest of the output
 * has nowhere to go, and Node reports that as an error event that would crash with a stack trace.
 * It is not an error of the run; exit quietly with the status of a command ended by SIGPIPE (128 + 13),
 * as `git log | head` does, since the run did not finish. Any other write error is said in one line.
 */
function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && stream !== process.stderr) {
      try {
        process.stderr.write(`cloze: could not write the output (${error.code ?? error.message}).\n`);
      } catch {
        // stderr is gone too: the exit status says it.
      }
    }
    process.exit(error.code === 'EPIPE' ? 141 : 2);
  });
}

/**
 * `--data` takes several files, so in `cloze eval --data rows.jsonl file.cloze` it takes the .cloze file
 * too and commander reports a missing argument. A last `--data` value that is a .cloze file is the file
 * the user meant; without one, the missing file is said in the command's words.
 */
function clozeFileAfterData<T extends { readonly data?: string[] }>(
  command: string,
  file: string | undefined,
  options: T,
): { file: string; options: T } | undefined {
  if (file !== undefined) return { file, options };
  const data = options.data ?? [];
  const last = data[data.length - 1];
  if (last !== undefined && /\.cloze$/i.test(last)) {
    const rest = data.slice(0, -1);
    if (rest.length > 0) return { file: last, options: { ...options, data: rest } };
  }
  process.stderr.write(`cloze ${command}: name the .cloze file, e.g. cloze ${command} prompts.cloze --data rows.jsonl.\n`);
  return undefined;
}

/** The report formats each command writes on stdout (`--format`). */
const REPORT_FORMATS: Readonly<Record<string, readonly string[]>> = {
  check: ['json'],
  preview: ['json'],
  eval: ['json', 'junit'],
  suggest: ['json'],
};

async function main(): Promise<void> {
  exitQuietlyOnClosedPipe(process.stdout);
  exitQuietlyOnClosedPipe(process.stderr);
  // Started before parsing, so a usage error (an unknown flag, `--data-max-rows 0`) is a report too.
  const args = process.argv.slice(2);
  const subcommand = args.find((arg) => !arg.startsWith('-'));
  const requested = requestedReportFormat(args);
  // Only a format the command writes: `check --format junit` or `export --format json` is a usage error, said on
  // stderr, not a report in a format the command does not have.
  const format = requested && subcommand !== undefined && REPORT_FORMATS[subcommand]?.includes(requested) ? requested : undefined;
  const command = `cloze ${subcommand ?? ''}`.trim();
  if (format) jsonFailure.start(format, command);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      // Stopped (Ctrl-C, a CI job's timeout): a download's part file goes too (else it waits a day in the cache).
      removePartialDownloads();
      // Without a report format the signal's own ending (the listener is gone, so this ends the process).
      if (!format) return void process.kill(process.pid, signal);
      // With one, stdout still gets its one report, with 128 + the signal's number.
      process.stderr.write(`${command}: stopped by ${signal}.\n`);
      jsonFailure.finish(code);
      process.exit(code);
    });
  }
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; everything else commander rejects is bad usage.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
    } else {
      process.stderr.write(`cloze: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 2;
    }
  }
  jsonFailure.finish(Number(process.exitCode ?? 0));
}

logStrayRejections((line) => process.stderr.write(`cloze: ${line}\n`));
void main();
