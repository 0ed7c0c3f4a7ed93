#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { runCheck, type CheckOptions } from './check';
import { runEval, type EvalCommandOptions } from './eval';
import { runPreview, type PreviewCommandOptions } from './preview';
import { runSuggest, type SuggestCommandOptions } from './suggest';

/**
 * `cloze`: the language service on the command line, for CI. Argument parsing
 * is commander's (help, errors for unknown flags, `--` handling) so the
 * commands only deal with the work. Exit codes: 0 clean, 1 errors found,
 * 2 bad usage.
 */

const program = new Command()
  .name('cloze')
  .description('Check and preview Cloze prompt templates (.cloze) for masked language models.')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

const modelsDirOption = (): Option =>
  new Option('--models-dir <dir>', 'folder searched first for models (<dir>/<model id>/); default: CLOZE_MODELS_DIR');
const offlineOption = (): Option => new Option('--offline', 'never download a model from the Hugging Face hub');
const noQuantizedOption = (): Option =>
  new Option('--no-quantized', 'use onnx/model.onnx (full precision) instead of onnx/model_quantized.onnx');
const formatOption = (): Option => new Option('--format <format>', 'output format').choices(['text', 'json']).default('text');

program
  .command('check')
  .description('report the diagnostics of .cloze files (the same as the editor shows)')
  .argument('<files...>', '.cloze files to check')
  .addOption(modelsDirOption())
  .addOption(offlineOption())
  .option('--model <id>', "model to check against, instead of each file's `model:` line")
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
  .option('--model <id>', "model to preview with, instead of the file's `model:` line")
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
  const n = Number(percent ? text.slice(0, -1) : text);
  const share = percent ? n / 100 : n;
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
  .argument('<file>', '.cloze file whose patterns and verbalizer to evaluate')
  .option('--data <files...>', 'labelled JSONL, CSV or TSV files to evaluate on, instead of the `data:` lines')
  .addOption(new Option('--limit <n>', 'score only the first n labelled rows').argParser(parseLimit))
  .addOption(modelsDirOption())
  .addOption(offlineOption())
  .option('--model <id>', "model to evaluate with, instead of the file's `model:` line")
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
  .action(async (file: string, options: EvalCommandOptions) => {
    process.exitCode = await runEval(file, options);
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
  .argument('<file>', '.cloze file whose patterns to search label words for (its verbalizer, if any, gives the labels)')
  .option('--data <files...>', 'labelled JSONL, CSV or TSV files to search on, instead of the `data:` lines')
  .addOption(new Option('--top <n>', 'verbalizers printed').argParser(wholeNumber(100)).default(5))
  .addOption(
    new Option('--candidates <k>', 'candidate words per label, by mean log-probability on its rows')
      .argParser(wholeNumber(200))
      .default(20),
  )
  .addOption(new Option('--words <n>', 'most label words per label').argParser(wholeNumber(5)).default(2))
  .option('--calibrate', 'rank verbalizers by calibrated accuracy (the prior of --calibration)')
  .addOption(calibrationOption())
  .addOption(modelsDirOption())
  .addOption(offlineOption())
  .option('--model <id>', "model to search with, instead of the file's `model:` line")
  .addOption(noQuantizedOption())
  .addOption(formatOption())
  .action(async (file: string, options: SuggestCommandOptions) => {
    process.exitCode = await runSuggest(file, options);
  });

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; everything else commander rejects is bad usage.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`cloze: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  }
}

void main();
