import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileErrorText } from '../service/fileErrors';
import { firstInvalidUtf8Line, notUtf8Message } from '../service/textEncoding';

/**
 * Reading a text file named on the command line (a `.cloze` file, an LM-BFF
 * template file, an OpenPrompt verbalizer file), bounded the way `data:` files
 * are: only a regular file is read (`/dev/zero` never ends and a FIFO blocks
 * for ever), up to a size no template comes near, and only as UTF-8 (a Latin-1
 * file would otherwise be checked as text full of U+FFFD without a word).
 * Every refusal is a sentence that names the file, never an errno.
 */

/** Larger than any template or template list; a file this size is a mistake (a data file, a model). */
export const MAX_SOURCE_BYTES = 32 * 1024 * 1024;

export type SourceFile = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly message: string };

export function readSourceFile(file: string, what = 'a .cloze file'): SourceFile {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one; its type is refused below.
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (error) {
    return { ok: false, message: describeOpenError(file, error, what) };
  }
  try {
    const stat = fs.fstatSync(fd);
    if (stat.isDirectory()) return { ok: false, message: folderMessage(file, what) };
    if (!stat.isFile()) return { ok: false, message: `${file} is not a regular file (${kindOf(stat)}); name ${what}.` };
    if (stat.size > MAX_SOURCE_BYTES) {
      return {
        ok: false,
        message: `${file} is ${(stat.size / (1024 * 1024)).toFixed(0)} MB, more than Cloze reads as ${what} (${MAX_SOURCE_BYTES / (1024 * 1024)} MB); is it the right file?`,
      };
    }
    const bytes = Buffer.alloc(stat.size);
    let read = 0;
    while (read < bytes.length) {
      const n = fs.readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return decode(file, bytes.subarray(0, read), what);
  } catch (error) {
    return { ok: false, message: describeOpenError(file, error, what) };
  } finally {
    fs.closeSync(fd);
  }
}

function decode(file: string, bytes: Buffer, what: string): SourceFile {
  const nul = bytes.indexOf(0);
  if (nul >= 0) return { ok: false, message: `${file} is not text (it has a NUL byte at offset ${nul}); name ${what}.` };
  try {
    // The BOM, if any, is dropped as editors drop it.
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { ok: false, message: notUtf8Message(file, firstInvalidUtf8Line(bytes) ?? 1) };
  }
}

function folderMessage(file: string, what: string): string {
  return what === 'a .cloze file'
    ? `${file} is a folder; name the .cloze files in it (e.g. ${file.replace(/[\\/]+$/, '')}/*.cloze).`
    : `${file} is a folder; name ${what}.`;
}

function kindOf(stat: fs.Stats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a file';
}

/** Why a file named on the command line cannot be opened, in words (not `ENOENT`). */
export function describeOpenError(file: string, error: unknown, what = 'a .cloze file'): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `${file} does not exist (paths are relative to the current folder, ${process.cwd()}).`;
    case 'EISDIR':
      return folderMessage(file, what);
    case 'ENOTDIR':
      return `${file} does not exist: a part of its path is a file, not a folder.`;
    default:
      return `${file} cannot be read: ${fileErrorText(error)}`;
  }
}

/** `readSourceFile`'s text, or an Error carrying its message (for callers that already catch). */
export function readSourceText(file: string, what?: string): string {
  const source = readSourceFile(file, what);
  if (!source.ok) throw new Error(source.message);
  return source.text;
}

/** Paths as the user wrote them, each file once (`a.jsonl` and `./a.jsonl` are one file). */
export function uniquePaths(paths: readonly string[]): string[] {
  const seen = new Set<string>();
  return paths.filter((p) => {
    const key = path.resolve(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export { printable } from '../service/evaluationReport';
