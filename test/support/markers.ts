/**
 * Expected diagnostics written inside a fixture, as comment lines (see test/fixtures/README.md):
 *
 *     pattern: {review} It was [MASK] and [MASK].
 *     #                                   ^^^^^^ mask-multiple
 *
 * The carets mark columns of the nearest line above that is not itself a marker, so several
 * markers can stack under one line. Because a marker is a `#` comment, the parser skips it.
 */

/** A diagnostic as a fixture states it or as the service produced it, in 0-based lines and UTF-16 columns. */
export interface LineRange {
  readonly startLine: number;
  readonly startColumn: number;
  readonly endLine: number;
  readonly endColumn: number;
}

export interface ExpectedDiagnostic extends LineRange {
  readonly code: string;
  /** A substring the message must contain, when the marker gives one. */
  readonly message: string | undefined;
  /** 0-based line of the marker itself, for error reports. */
  readonly markerLine: number;
}

export interface ActualDiagnostic extends LineRange {
  readonly code: string;
  readonly message: string;
  readonly severity: string;
}

export interface Fixture {
  readonly expected: readonly ExpectedDiagnostic[];
  /** 0-based lines that are markers (`#  ^^^`, `#@ …`); a diagnostic on one would be a bug. */
  readonly markerLines: ReadonlySet<number>;
  /** `#! cloze.model: <id>`: the `cloze.model` setting the fixture is checked with. */
  readonly settingsModel: string | undefined;
}

const CARET_MARKER = /^#( *)(\^+) +([a-z][a-z-]*)(?: +"(.*)")? *$/;
const EXPLICIT_MARKER = /^#@ *(\d+):(\d+)-(\d+):(\d+) +([a-z][a-z-]*)(?: +"(.*)")? *$/;
const DIRECTIVE = /^#! *cloze\.model: *(\S+) *$/;

/**
 * How many terminal cells a character takes in a monospace editor, so that carets under
 * Chinese text line up on screen: Han, kana, Hangul, full-width forms and emoji take two.
 */
export function cellWidth(char: string): number {
  return /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff01-\uff60\uffe0-\uffe6\p{Extended_Pictographic}]/u.test(
    char,
  )
    ? 2
    : 1;
}

/** The UTF-16 column at which `cell` starts, or undefined when the cell is inside a wide character or past the end. */
export function columnOfCell(line: string, cell: number): number | undefined {
  let cells = 0;
  let column = 0;
  for (const char of line) {
    if (cells === cell) return column;
    if (cells > cell) return undefined;
    cells += cellWidth(char);
    column += char.length;
  }
  return cells === cell ? column : undefined;
}

/** The terminal cell a UTF-16 column starts at (the inverse of `columnOfCell`). */
export function cellOfColumn(line: string, column: number): number {
  let cells = 0;
  let at = 0;
  for (const char of line) {
    if (at >= column) break;
    cells += cellWidth(char);
    at += char.length;
  }
  return cells + Math.max(0, column - at);
}

export function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

export function isMarkerLine(line: string): boolean {
  return /^#\s*\^/.test(line) || line.startsWith('#@');
}

/** Reads the markers and directives of a fixture; a malformed marker is an error, never a silent comment. */
export function readFixture(text: string): Fixture {
  const lines = splitLines(text);
  const expected: ExpectedDiagnostic[] = [];
  const markerLines = new Set<number>();
  let settingsModel: string | undefined;
  let target: number | undefined;
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    const directive = DIRECTIVE.exec(line);
    if (directive) settingsModel = directive[1];
    else if (line.startsWith('#!')) throw new Error(`${where}: unknown directive \`${line}\`; the only one is \`#! cloze.model: <id>\`.`);

    if (!isMarkerLine(line)) {
      target = index;
      return;
    }
    markerLines.add(index);
    const explicit = EXPLICIT_MARKER.exec(line);
    if (explicit) {
      const [, startLine, startColumn, endLine, endColumn, code, message] = explicit;
      expected.push({
        startLine: Number(startLine) - 1,
        startColumn: Number(startColumn) - 1,
        endLine: Number(endLine) - 1,
        endColumn: Number(endColumn) - 1,
        code,
        message,
        markerLine: index,
      });
      return;
    }
    const caret = CARET_MARKER.exec(line);
    if (!caret) throw new Error(`${where}: malformed marker \`${line}\`; write \`#   ^^^ code\` or \`#   ^^^ code "message part"\`.`);
    if (target === undefined) throw new Error(`${where}: a caret marker needs a line above it to point at.`);
    const [, padding, carets, code, message] = caret;
    // `#^^^` starts in column 0: the `#` itself stands for the first caret.
    const startCell = padding === '' ? 0 : 1 + padding.length;
    const endCell = 1 + padding.length + carets.length;
    const targetText = lines[target];
    const startColumn = columnOfCell(targetText, startCell);
    const endColumn = columnOfCell(targetText, endCell);
    if (startColumn === undefined || endColumn === undefined) {
      throw new Error(
        `${where}: the carets (cells ${startCell}–${endCell}) do not start and end on character boundaries of line ${target + 1}: \`${targetText}\`.`,
      );
    }
    expected.push({ startLine: target, startColumn, endLine: target, endColumn, code, message, markerLine: index });
  });
  return { expected, markerLines, settingsModel };
}

/** The marker that would state `diagnostic`: carets when it fits on one line and can be drawn, else the explicit form. */
export function markerFor(lines: readonly string[], diagnostic: LineRange & { code: string }): string {
  const { startLine, startColumn, endLine, endColumn, code } = diagnostic;
  const line = lines[startLine] ?? '';
  const startCell = cellOfColumn(line, startColumn);
  const endCell = cellOfColumn(line, endColumn);
  // Cell 1 cannot be drawn: `#^` starts at cell 0 and `# ^` at cell 2.
  if (startLine === endLine && endCell > startCell && startCell !== 1) {
    const carets = '^'.repeat(endCell - startCell);
    return startCell === 0 ? `#${carets.slice(1)} ${code}` : `#${' '.repeat(startCell - 1)}${carets} ${code}`;
  }
  return `#@ ${startLine + 1}:${startColumn + 1}-${endLine + 1}:${endColumn + 1} ${code}`;
}

function key(d: LineRange & { code: string }): string {
  return `${d.startLine}:${d.startColumn}-${d.endLine}:${d.endColumn} ${d.code}`;
}

export interface Comparison {
  readonly missing: readonly ExpectedDiagnostic[];
  readonly unexpected: readonly ActualDiagnostic[];
  /** Expected diagnostics found at the right place whose message lacks the marker's text. */
  readonly wrongMessage: ReadonlyArray<{ expected: ExpectedDiagnostic; actual: ActualDiagnostic }>;
}

/**
 * Matches markers and diagnostics as multisets of (range, code): two identical diagnostics need
 * two markers. Markers with a message text are matched first, so a plain marker cannot take the
 * diagnostic a message marker needs.
 */
export function compare(expected: readonly ExpectedDiagnostic[], actual: readonly ActualDiagnostic[]): Comparison {
  const remaining = [...actual];
  const missing: ExpectedDiagnostic[] = [];
  const wrongMessage: Array<{ expected: ExpectedDiagnostic; actual: ActualDiagnostic }> = [];
  const ordered = [...expected].sort((a, b) => Number(b.message !== undefined) - Number(a.message !== undefined));
  for (const marker of ordered) {
    const sameKey = remaining.filter((d) => key(d) === key(marker));
    const match = sameKey.find((d) => marker.message === undefined || d.message.includes(marker.message));
    if (match) {
      remaining.splice(remaining.indexOf(match), 1);
    } else if (sameKey.length > 0) {
      wrongMessage.push({ expected: marker, actual: sameKey[0] });
      remaining.splice(remaining.indexOf(sameKey[0]), 1);
    } else {
      missing.push(marker);
    }
  }
  return { missing, unexpected: remaining, wrongMessage };
}

/** A readable report: each affected line of the fixture, with `-` for missing and `+` for unexpected markers. */
export function formatComparison(name: string, text: string, comparison: Comparison): string {
  const lines = splitLines(text);
  const notes = new Map<number, string[]>();
  const add = (line: number, note: string): void => {
    notes.set(line, [...(notes.get(line) ?? []), note]);
  };
  for (const marker of comparison.missing) {
    add(marker.startLine, `  - ${lines[marker.markerLine]}    (expected, not produced)`);
  }
  for (const d of comparison.unexpected) {
    add(d.startLine, `  + ${markerFor(lines, d)} "${d.message}"    (produced, not expected)`);
  }
  for (const { expected, actual } of comparison.wrongMessage) {
    add(expected.startLine, `  ~ ${lines[expected.markerLine]}    (produced with message "${actual.message}")`);
  }
  const out = [`${name}: the diagnostics differ from the markers`];
  for (const line of [...notes.keys()].sort((a, b) => a - b)) {
    const source = lines[line] ?? '';
    out.push(`${String(line + 1).padStart(4)} | ${source.length > 160 ? `${source.slice(0, 159)}…` : source}`, ...(notes.get(line) ?? []));
  }
  return out.join('\n');
}
