/**
 * Text files are read as UTF-8 only, the CLI's source files and the data files
 * alike: a Latin-1 or Windows-1252 file decoded leniently becomes text full of
 * U+FFFD that is then checked, scored or evaluated without a word (an `é` in a
 * review is a different input to the tokenizer). So a byte that is not UTF-8
 * is refused, naming the line it is on.
 */

/**
 * The 1-based line of `bytes` holding the first sequence that is not UTF-8, or
 * undefined when there is none. With `more`, the bytes are a chunk the next one
 * continues, so a character cut at the end is not counted as invalid.
 */
export function firstInvalidUtf8Line(bytes: Uint8Array, more = false, afterCr = false): number | undefined {
  let line = 1;
  // An LF that completes a CRLF begun in the previous chunk ends no line here.
  let start = afterCr && bytes[0] === 0x0a ? 1 : 0;
  for (let i = start; i <= bytes.length; i++) {
    // A line ends at LF, CRLF or a lone CR (an old Mac CSV), as the readers count lines.
    if (i < bytes.length && bytes[i] !== 0x0a && bytes[i] !== 0x0d) continue;
    const last = i === bytes.length;
    try {
      // A fresh decoder per line: a line break is never inside a character, so each line is whole.
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, i), { stream: last && more });
    } catch {
      return line;
    }
    line++;
    if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) i++;
    start = i + 1;
  }
  return undefined;
}

/** The refusal of a file that is not UTF-8, as every reader says it. */
export function notUtf8Message(file: string, line: number): string {
  return `${file} is not UTF-8 text (line ${line} has a byte that is not UTF-8, e.g. Latin-1 or Windows-1252); save it as UTF-8.`;
}
