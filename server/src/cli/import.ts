import type { DiagnosticCode } from '../language/ast';
import { parse } from '../language/parse';
import { positionAt } from '../language/positions';
import { validateStructure } from '../language/validate';
import { importLmBff } from '../interop/lmbff';
import { importOpenPrompt } from '../interop/openprompt';
import { importPetVerbalizers } from '../interop/pet';
import { writeCloze, type Converted, type PvpSet } from '../interop/pvp';
import { isOutputError, writeOutput } from './outputFile';
import { readSourceText } from './sourceFile';

/**
 * `cloze import <format>`: a `.cloze` file from LM-BFF, OpenPrompt or PET
 * files. The conversion is in interop/ (pure); this reads the files, writes
 * the result (stdout or --output), prints what could not be expressed, and
 * checks the result as `cloze check` does without a model.
 * Exit status: 0 imported, 1 imported but the file has errors (the source's:
 * a template without a mask, say), 2 bad usage or a file that cannot be read
 * or written.
 */

export type ImportFormat = 'lmbff' | 'openprompt' | 'pet';

export interface ImportCommandOptions {
  readonly template?: string[];
  readonly templateFile?: string;
  readonly mapping?: string[];
  readonly mappingFile?: string;
  readonly verbalizerFile?: string;
  readonly labels?: string;
  readonly multiToken?: 'first' | 'mean' | 'max';
  readonly postLogSoftmax?: boolean;
  readonly truncateMethod?: 'tail' | 'head' | 'balanced';
  readonly model?: string;
  readonly output?: string;
}

class UsageError extends Error {}

/** The text of a file an option names; a refusal in words (a folder, a FIFO, not UTF-8) is a usage error. */
function read(file: string, what: string): string {
  try {
    return readSourceText(file, what);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function convert(format: ImportFormat, options: ImportCommandOptions): Converted<PvpSet> & { sources: string } {
  switch (format) {
    case 'lmbff': {
      const templates = [
        ...(options.template ?? []),
        ...(options.templateFile ? read(options.templateFile, 'a template file').split(/\r\n|\r|\n/) : []),
      ];
      const mappings = [
        ...(options.mapping ?? []),
        ...(options.mappingFile ? read(options.mappingFile, 'a mapping file').split(/\r\n|\r|\n/) : []),
      ];
      if (templates.every((t) => t.trim() === '')) throw new UsageError('lmbff needs --template or --template-file.');
      if (mappings.every((m) => m.trim() === '')) throw new UsageError('lmbff needs --mapping or --mapping-file.');
      // LM-BFF gives segment ids to BERT-type models only; a RoBERTa-type model sees one sequence.
      const pairs = options.model !== undefined && !/roberta|bart|xlm|camembert|longformer/i.test(options.model);
      return { ...importLmBff(templates, mappings, { pairs }), sources: 'LM-BFF' };
    }
    case 'openprompt': {
      if (!options.templateFile && !options.template)
        throw new UsageError('openprompt needs --template-file (manual_template.txt) or --template.');
      const templates = [...(options.template ?? []), options.templateFile ? read(options.templateFile, 'a template file') : ''].join('\n');
      const verbalizer = options.verbalizerFile
        ? { content: read(options.verbalizerFile, 'a verbalizer file'), json: /\.jsonl?$/i.test(options.verbalizerFile) }
        : undefined;
      const labels = options.labels?.split(',').map((l) => l.trim());
      return {
        ...importOpenPrompt(templates, verbalizer, {
          labels,
          multiToken: options.multiToken,
          postLogSoftmax: options.postLogSoftmax,
          truncateMethod: options.truncateMethod,
          ...(options.verbalizerFile ? { verbalizerSource: options.verbalizerFile } : {}),
        }),
        sources: 'OpenPrompt',
      };
    }
    case 'pet':
      if (!options.verbalizerFile) throw new UsageError('pet needs --verbalizer-file (the file of --verbalizer_file).');
      return { ...importPetVerbalizers(read(options.verbalizerFile, 'a verbalizer file')), sources: 'PET' };
  }
}

export function runImport(format: ImportFormat, options: ImportCommandOptions): number {
  try {
    return importFiles(format, options);
  } catch (error) {
    // Anything not foreseen still names the command, never a bare `cloze:`.
    process.stderr.write(`cloze import: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
}

function importFiles(format: ImportFormat, options: ImportCommandOptions): number {
  let result;
  try {
    result = convert(format, options);
  } catch (error) {
    process.stderr.write(`cloze import: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const set = options.model ? { ...result.value, model: options.model } : result.value;
  const text = writeCloze(set, result.notes, `Imported from ${result.sources} by cloze import ${format}.`);
  if (options.output) {
    // No folder is created: -o names a file, as `>` does, and a missing folder is more likely a typo than a wish.
    try {
      const inputs: Array<[string, string | undefined]> = [
        ['--template-file', options.templateFile],
        ['--mapping-file', options.mappingFile],
        ['--verbalizer-file', options.verbalizerFile],
      ];
      writeOutput(
        options.output,
        text,
        inputs
          .filter((input): input is [string, string] => input[1] !== undefined)
          .map(([option, input]) => [`the file of ${option}`, input]),
      );
    } catch (error) {
      if (!isOutputError(error)) throw error;
      process.stderr.write(`cloze import: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`wrote ${options.output}\n`);
  } else {
    process.stdout.write(text);
  }
  for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
  return reportErrors(text, options.output ?? '<stdout>', expectedGaps(format, options), result.sources);
}

/**
 * What the inputs cannot hold, so the imported file lacks it by design and a
 * note already asks for it: PET's verbalizer file has no patterns (they are
 * Python), and an OpenPrompt template given without a verbalizer file has no
 * verbalizer. Counting these as errors would fail every PET import.
 */
function expectedGaps(format: ImportFormat, options: ImportCommandOptions): ReadonlySet<DiagnosticCode> {
  if (format === 'pet') return new Set(['pattern-missing']);
  if (format === 'openprompt' && !options.verbalizerFile) return new Set(['verbalizer-missing']);
  return new Set();
}

/**
 * The imported text checked as `cloze check` checks it without a model (the
 * structural checks of the core): an import writes what the source says, so a
 * source the model cannot score (a template without `*mask*`, two masks)
 * gives a file with errors. It is written all the same, for the user to fix,
 * but said here and in the exit status, never left for the next tool to find.
 */
function reportErrors(text: string, file: string, expected: ReadonlySet<DiagnosticCode>, sources: string): number {
  const doc = parse(text);
  const errors = validateStructure(doc).filter((d) => d.severity === 'error' && !expected.has(d.code));
  for (const d of errors) {
    const at = positionAt(doc, d.span.start);
    process.stderr.write(`${file}:${at.line + 1}:${at.character + 1} error ${d.code} ${d.message}\n`);
  }
  if (errors.length === 0) return 0;
  process.stderr.write(
    `cloze import: the imported file has ${errors.length} error${errors.length === 1 ? '' : 's'} that the ${sources} source has too (it is written as the source says); fix ${errors.length === 1 ? 'it' : 'them'} before using the file.\n`,
  );
  return 1;
}
