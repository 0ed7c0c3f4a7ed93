import * as fs from 'node:fs';
import * as path from 'node:path';

/** The JSON files transformers.js reads from a model folder. */
export const MODEL_JSON_FILES = ['tokenizer.json', 'tokenizer_config.json', 'config.json'] as const;

/** Larger than any tokenizer or config file (XLM-R's tokenizer.json is 17 MB); read whole, so bounded. */
const MAX_JSON_BYTES = 256 * 1024 * 1024;

/**
 * Files of a local model folder that must not be opened at all, checked before
 * transformers.js reads them: it reads whatever a name points to, whole, and
 * leaves a failed read as a promise nobody handles. A folder named
 * `tokenizer.json` ended the language server; a link to `/dev/zero` grew it
 * without end; a named pipe blocked every later model load. Existence only
 * costs a `stat`, so this runs on every load; the files' contents are
 * `modelFolderProblem`'s, after a failure. Absent files are left to the loader.
 */
export function modelFileKindProblem(folder: string, files: readonly string[], maxBytes: number = MAX_JSON_BYTES): string | undefined {
  for (const name of files) {
    const file = path.join(folder, name);
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(file, { throwIfNoEntry: false });
    } catch (error) {
      return unreadable(file, error);
    }
    if (!stat) continue;
    if (stat.isDirectory()) return `${file} is a folder, not a file`;
    if (!stat.isFile()) return `${file} is not a regular file (a device, pipe or socket)`;
    // transformers.js would fail on it in a promise nobody handles; said here, by name, before it tries.
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (error) {
      return unreadable(file, error);
    }
    if (stat.size > maxBytes)
      return `${file} is ${(stat.size / 1024 / 1024).toFixed(0)} MB, more than a model's ${name} can be (${maxBytes / 1024 / 1024} MB)`;
  }
  return undefined;
}

/** Why a model file cannot be read, in words (the errno code only when there are none). */
export function unreadable(file: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ELOOP':
      return `${file} cannot be read: its symbolic links form a loop`;
    case 'EACCES':
    case 'EPERM':
      return `${file} cannot be read: permission denied`;
    case 'ENOTDIR':
      return `${file} cannot be read: a part of its path is a file, not a folder`;
    default:
      return `${file} cannot be read (${code ?? (error instanceof Error ? error.message : String(error))})`;
  }
}

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
  files: readonly string[] = MODEL_JSON_FILES,
  /** Files whose absence is the problem: the tokenizer checks without a config.json, scoring needs one. */
  required: readonly string[] = ['tokenizer.json'],
): string | undefined {
  const kind = modelFileKindProblem(folder, files);
  if (kind) return kind;
  for (const name of files) {
    const file = path.join(folder, name);
    let text: string;
    try {
      if (!fs.statSync(file).isFile()) return `${file} is not a file`;
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        if (required.includes(name)) return `${folder} has no ${name}`;
        continue;
      }
      return unreadable(file, error);
    }
    if (text.trim() === '') return `${file} is empty`;
    try {
      const value: unknown = JSON.parse(text);
      if (!value || typeof value !== 'object' || Array.isArray(value)) return `${file} is not a JSON object`;
      // Without it transformers.js fails inside, with a TypeError that names no file.
      const model = (value as { model?: unknown }).model;
      if (name === 'tokenizer.json' && (!model || typeof model !== 'object' || Array.isArray(model)))
        return `${file} has no \`model\` object: it is not a tokenizer file of Hugging Face's tokenizers library`;
    } catch (error) {
      return `${file} is not valid JSON (${(error instanceof Error ? error.message : String(error)).split('\n')[0]}); the file may be cut short`;
    }
  }
  return undefined;
}
