import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What is wrong with the JSON files of a local model folder, in words that
 * name the file. Asked only after transformers.js has failed to load the
 * folder: its own errors do not name the file, and for an empty file it
 * parses `readFile(…).buffer`, which for a small file is Node's shared buffer
 * pool, so the message quoted bytes of unrelated memory that changed on every
 * run. Reading the file again here gives a message that is about the file.
 */
export function modelFolderProblem(
  folder: string,
  files: readonly string[] = ['tokenizer.json', 'tokenizer_config.json', 'config.json'],
): string | undefined {
  for (const name of files) {
    const file = path.join(folder, name);
    let text: string;
    try {
      if (!fs.statSync(file).isFile()) return `${file} is not a file`;
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        if (name === 'tokenizer.json') return `${folder} has no tokenizer.json`;
        continue;
      }
      return `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    }
    if (text.trim() === '') return `${file} is empty`;
    try {
      const value: unknown = JSON.parse(text);
      if (!value || typeof value !== 'object' || Array.isArray(value)) return `${file} is not a JSON object`;
    } catch (error) {
      return `${file} is not valid JSON (${(error instanceof Error ? error.message : String(error)).split('\n')[0]}); the file may be cut short`;
    }
  }
  return undefined;
}
