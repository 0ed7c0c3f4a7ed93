import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileErrorText } from '../service/fileErrors';

/**
 * Writing the files a command produces (`cloze export --out-dir`, `cloze
 * import -o`), with every refusal in words: the command prints it after its
 * own name and exits 2.
 */

/** A refusal said in words. */
class OutputError extends Error {}

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
    // ENOENT with the parent there: a folder that takes no new entries (/proc, /sys).
    if ((error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      throw new OutputError(`cannot create the folder ${dir}: ${parent} does not take new folders; name a folder elsewhere.`);
    throw new OutputError(`cannot create the folder ${dir}: ${fileErrorText(error)}`);
  }
}

/**
 * Writes `text` to `file`, throwing an `OutputError` that says in words why it cannot.
 * `inputs` are the files the command read (with words for each: `the file of --template-file`): writing over
 * one of them (`cloze import lmbff --template-file t.txt -o t.txt`) would destroy what the
 * text was made from, so it is refused before anything is written.
 */
export function writeOutput(file: string, text: string, inputs: ReadonlyArray<readonly [what: string, path: string]> = []): void {
  const clash = inputs.find(([, input]) => sameFile(file, input));
  if (clash) {
    throw new OutputError(`cannot write ${file}: it is ${clash[0]}, which writing would replace. Name another output file.`);
  }
  try {
    fs.writeFileSync(file, text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'EISDIR') throw new OutputError(`cannot write ${file}: it is a folder; name a file.`);
    const folder = path.dirname(path.resolve(file));
    if (code === 'ENOENT' && !fs.existsSync(folder)) throw new OutputError(`cannot write ${file}: the folder ${folder} does not exist.`);
    // The folder exists and still refuses new files (/proc, /sys): said as such, not as a missing folder.
    if (code === 'ENOENT') throw new OutputError(`cannot write ${file}: ${folder} does not take new files; name a file in another folder.`);
    throw new OutputError(`cannot write ${file}: ${fileErrorText(error)}`);
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
    throw new OutputError(`cannot use ${file}: ${fileErrorText(error)}`);
  }
}

/** Whether two paths name the same existing file (the same inode, so a link or `./x` and `x` count). */
function sameFile(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    // One of them does not exist (or cannot be looked at): writing a new file replaces nothing read.
    return false;
  }
}
