import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from '../language/parse';
import { positionAt } from '../language/positions';
import { exportLmBff } from '../interop/lmbff';
import { exportOpenPrompt } from '../interop/openprompt';
import { exportPetPvp, exportPetVerbalizers } from '../interop/pet';
import { fromDocument } from '../interop/pvp';
import { readSourceFile } from './sourceFile';

/**
 * `cloze export <file> --to <format>`: the file's patterns and verbalizers in
 * a framework's own formats, so a user authors in Cloze and trains with the
 * framework. Writes the files into --out-dir, or prints them with a header
 * line each; what the format cannot express is printed as notes.
 * Exit status: 0 written, 1 the file has syntax errors, 2 bad usage or a file
 * that cannot be read or written.
 */

export interface ExportCommandOptions {
  readonly to: 'lmbff' | 'openprompt' | 'pet';
  readonly outDir?: string;
}

/** A refusal said in words; the command prints it after its own name and exits 2. */
class OutputError extends Error {}

export function runExport(file: string, options: ExportCommandOptions): number {
  try {
    return exportFile(file, options);
  } catch (error) {
    // Anything not foreseen still names the command, never a bare `cloze:`.
    process.stderr.write(`cloze export: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
}

function exportFile(file: string, options: ExportCommandOptions): number {
  const source = readSourceFile(file, 'the .cloze file to export');
  if (!source.ok) {
    process.stderr.write(`cloze export: ${source.message}\n`);
    return 2;
  }
  const doc = parse(source.text);
  if (doc.syntaxErrors.length > 0) {
    for (const error of doc.syntaxErrors) {
      const at = positionAt(doc, error.span.start);
      process.stderr.write(`${file}:${at.line + 1}:${at.character + 1} error syntax ${error.message}\n`);
    }
    process.stderr.write(
      'cloze export: fix the syntax errors first; an export of a file that does not parse would not mean what it says.\n',
    );
    return 1;
  }
  const set = fromDocument(doc);
  let files: Record<string, string>;
  let notes: readonly string[];
  switch (options.to) {
    case 'lmbff': {
      const result = exportLmBff(set);
      files = { 'template.txt': `${result.value.templates.join('\n')}\n`, 'mapping.txt': `${result.value.mappings.join('\n')}\n` };
      notes = result.notes;
      break;
    }
    case 'openprompt': {
      const result = exportOpenPrompt(set);
      files = {
        'manual_template.txt': result.value.templates,
        'manual_verbalizer.json': result.value.verbalizers,
        'openprompt_prompt.py': result.value.python,
      };
      notes = result.notes;
      break;
    }
    case 'pet': {
      const verbalizers = exportPetVerbalizers(set);
      const pvp = exportPetPvp(set);
      files = { 'verbalizer.txt': verbalizers.value, 'pvp.py': pvp.value };
      notes = [...new Set([...verbalizers.notes, ...pvp.notes])];
      break;
    }
  }
  if (options.outDir) {
    const written: string[] = [];
    try {
      outputFolder(options.outDir);
      for (const [name, content] of Object.entries(files)) {
        const target = path.join(options.outDir, name);
        writeOutput(target, content);
        written.push(target);
      }
    } catch (error) {
      if (!(error instanceof OutputError)) throw error;
      // Files written before the failure are named, so none is taken for the export's whole output.
      const before = written.length > 0 ? ` (${written.join(', ')} ${written.length === 1 ? 'was' : 'were'} written before it)` : '';
      process.stderr.write(`cloze export: ${error.message}${before}\n`);
      return 2;
    }
    process.stderr.write(`wrote ${written.join(', ')}\n`);
  } else {
    for (const [name, content] of Object.entries(files)) process.stdout.write(`==> ${name} <==\n${content}\n`);
  }
  for (const note of notes) process.stderr.write(`note: ${note}\n`);
  return 0;
}

/**
 * Makes sure `dir` is a folder to write into, creating it if it does not
 * exist, but only it: its parent must exist. The user named this folder, so
 * creating it is what they asked for; a missing parent is more likely a typo
 * (`/tmp/ouput/sst2`) or the wrong current folder, and creating the whole
 * path (`mkdir -p`) would scatter the files somewhere nobody looks, without a
 * word. Throws an `OutputError` in words otherwise.
 */
export function outputFolder(dir: string): void {
  const stat = statOrUndefined(dir);
  if (stat?.isDirectory()) return;
  if (stat) throw new OutputError(`--out-dir ${dir} is a file, not a folder; name a folder to write the files into.`);
  const parent = path.dirname(path.resolve(dir));
  const parentStat = statOrUndefined(parent);
  if (!parentStat) {
    throw new OutputError(
      `the folder ${parent} does not exist; --out-dir creates only its last folder (${path.basename(path.resolve(dir))}). Create ${parent} first, or name another folder.`,
    );
  }
  if (!parentStat.isDirectory()) throw new OutputError(`cannot create ${dir}: ${parent} is a file, not a folder.`);
  try {
    fs.mkdirSync(dir);
  } catch (error) {
    throw new OutputError(`cannot create the folder ${dir}: ${errnoInWords(error)}`);
  }
}

/** Writes `text` to `file`, throwing an `OutputError` that says in words why it cannot. */
export function writeOutput(file: string, text: string): void {
  try {
    fs.writeFileSync(file, text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'EISDIR') throw new OutputError(`cannot write ${file}: it is a folder; name a file.`);
    if (code === 'ENOENT') throw new OutputError(`cannot write ${file}: the folder ${path.dirname(path.resolve(file))} does not exist.`);
    throw new OutputError(`cannot write ${file}: ${errnoInWords(error)}`);
  }
}

export function isOutputError(error: unknown): error is Error {
  return error instanceof OutputError;
}

/** The file's stat, undefined if it is not there; any other failure (permission) in words. */
function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new OutputError(`cannot use ${file}: ${errnoInWords(error)}`);
  }
}

function errnoInWords(error: unknown): string {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOTDIR':
      return 'a part of its path is a file, not a folder.';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied.';
    case 'EROFS':
      return 'the file system is read-only.';
    case 'ENOSPC':
      return 'the disk is full.';
    case 'EEXIST':
      return 'a file of that name is in the way.';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
