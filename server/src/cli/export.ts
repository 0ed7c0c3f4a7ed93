import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from '../language/parse';
import { positionAt } from '../language/positions';
import { exportLmBff } from '../interop/lmbff';
import { exportOpenPrompt } from '../interop/openprompt';
import { exportPetPvp, exportPetVerbalizers } from '../interop/pet';
import { fromDocument } from '../interop/pvp';

/**
 * `cloze export <file> --to <format>`: the file's patterns and verbalizers in
 * a framework's own formats, so a user authors in Cloze and trains with the
 * framework. Writes the files into --out-dir, or prints them with a header
 * line each; what the format cannot express is printed as notes.
 */

export interface ExportCommandOptions {
  readonly to: 'lmbff' | 'openprompt' | 'pet';
  readonly outDir?: string;
}

export function runExport(file: string, options: ExportCommandOptions): number {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    process.stderr.write(`cloze export: cannot read ${file}: ${(error as Error).message}\n`);
    return 2;
  }
  const doc = parse(text);
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
    fs.mkdirSync(options.outDir, { recursive: true });
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(options.outDir, name), content);
    process.stderr.write(
      `wrote ${Object.keys(files)
        .map((name) => path.join(options.outDir ?? '', name))
        .join(', ')}\n`,
    );
  } else {
    for (const [name, content] of Object.entries(files)) process.stdout.write(`==> ${name} <==\n${content}\n`);
  }
  for (const note of notes) process.stderr.write(`note: ${note}\n`);
  return 0;
}
