import * as path from 'node:path';
import { parse } from '../language/parse';
import { positionAt } from '../language/positions';
import { validateStructure } from '../language/validate';
import type { DiagnosticCode } from '../language/ast';
import { exportLmBff } from '../interop/lmbff';
import { exportOpenPrompt } from '../interop/openprompt';
import { exportPetPvp, exportPetVerbalizers } from '../interop/pet';
import { fromDocument } from '../interop/pvp';
import { isOutputError, outputFolder, writeOutput } from './outputFile';
import { readSourceFile } from './sourceFile';

/**
 * `cloze export <file> --to <format>`: the file's patterns and verbalizers in
 * a framework's own formats, so a user authors in Cloze and trains with the
 * framework. Writes the files into --out-dir, or prints them with a header
 * line each; what the format cannot express is printed as notes.
 * Exit status: 0 written, 1 the file has syntax errors or nothing to export
 * (no pattern or no verbalizer; nothing is written), 2 bad usage or a file
 * that cannot be read or written.
 */

export interface ExportCommandOptions {
  readonly to: 'lmbff' | 'openprompt' | 'pet';
  readonly outDir?: string;
}

/** The structural errors after which no format has anything to write: each needs a pattern and a verbalizer. */
const nothingToExport: ReadonlySet<DiagnosticCode> = new Set(['pattern-missing', 'verbalizer-missing']);

const FORMAT_NAMES: Readonly<Record<ExportCommandOptions['to'], string>> = { lmbff: 'LM-BFF', openprompt: 'OpenPrompt', pet: 'PET' };

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
  // A file without a pattern or a verbalizer (an empty one, say) parses, but every format needs both: its export
  // would be an empty mapping or a PVP whose get_parts always fails, written as if it were one. The same errors as
  // `cloze check` gives it, and nothing written.
  const missing = validateStructure(doc).filter((d) => nothingToExport.has(d.code));
  if (missing.length > 0) {
    for (const d of missing) {
      const at = positionAt(doc, d.span.start);
      process.stderr.write(`${file}:${at.line + 1}:${at.character + 1} error ${d.code} ${d.message}\n`);
    }
    const lacks = missing.map((d) => (d.code === 'pattern-missing' ? 'pattern' : 'verbalizer')).join(' and no ');
    process.stderr.write(
      `cloze export: the file has no ${lacks}, and an export to ${FORMAT_NAMES[options.to]} needs a pattern and a verbalizer; add ${missing.length === 1 ? 'it' : 'them'} first (nothing was written).\n`,
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
        writeOutput(target, content, [['the .cloze file being exported', file]]);
        written.push(target);
      }
    } catch (error) {
      if (!isOutputError(error)) throw error;
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
