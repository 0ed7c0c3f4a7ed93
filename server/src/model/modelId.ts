/**
 * A model id that is not a path names a Hugging Face hub repository, and it
 * becomes part of file paths: `<modelsDir>/<id>/`, `<cache>/<id>/` (where a
 * download writes). So it is checked as the hub checks repository names
 * before any path is built from it: `name` or `owner/name`, each part of
 * letters, digits, `-`, `_` and `.`, not starting or ending with `-` or `.`,
 * no `--` or `..`, at most 96 characters per part. Anything else (`x/../../y`,
 * `a\b`, `/abs`) is refused; a folder must be written as a path (`./…`,
 * `../…`, `/…`, `~/…`).
 */
const PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;

/**
 * Why `id` is not a valid hub model id, or undefined when it is one. `pathBase` is
 * what a relative path would be relative to where the id was written: its .cloze
 * file for a `model:` line, the current folder for the CLI's `--model`.
 */
export function invalidModelIdReason(id: string, pathBase = 'the .cloze file'): string | undefined {
  const parts = id.split('/');
  const valid =
    id.length > 0 && parts.length <= 2 && parts.every((part) => PART.test(part) && !part.includes('..') && !part.includes('--'));
  if (valid) return undefined;
  return `\`${id}\` is neither a Hugging Face model id (\`name\` or \`owner/name\`: letters, digits, \`-\`, \`_\`, \`.\`, no \`..\`) nor a path. Write a folder as a path: \`./${id}\` is relative to ${pathBase}.`;
}
