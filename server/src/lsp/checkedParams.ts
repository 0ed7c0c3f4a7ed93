import type { Position, Range } from 'vscode-languageserver';

/**
 * The parts of a request's params the server reads, checked: a client (or a
 * plugin speaking for one) can send `null`, leave out `textDocument`, or give a
 * number for a uri. Such a request gets the empty answer; without these checks
 * each one put a TypeError's stack trace in the log.
 */

/** `params.textDocument.uri` of a standard request, if it is a string. */
export function documentUri(params: unknown): string | undefined {
  const uri = (params as { textDocument?: { uri?: unknown } } | null | undefined)?.textDocument?.uri;
  return typeof uri === 'string' ? uri : undefined;
}

/** `params.uri` of a `cloze/*` request, if it is a string. */
export function customUri(params: unknown): string | undefined {
  const uri = (params as { uri?: unknown } | null | undefined)?.uri;
  return typeof uri === 'string' ? uri : undefined;
}

/** A position with whole-number line and character (positions past the text are the handlers' to clamp). */
export function isPosition(value: unknown): value is Position {
  const position = value as { line?: unknown; character?: unknown } | null | undefined;
  return Number.isInteger(position?.line) && Number.isInteger(position?.character);
}

export function isRange(value: unknown): value is Range {
  const range = value as { start?: unknown; end?: unknown } | null | undefined;
  return isPosition(range?.start) && isPosition(range?.end);
}

/**
 * Why a `textDocument/didChange` cannot be applied, or undefined when it can: every change needs
 * its `text`, and a `range` (when it has one) of whole-number positions. The text-document library
 * applies what it is given: a line of 0.5 duplicated the whole text on every edit, and a `null`
 * range threw inside its handler.
 */
export function malformedChange(params: unknown): string | undefined {
  const changes = (params as { contentChanges?: unknown } | null | undefined)?.contentChanges;
  if (!Array.isArray(changes)) return 'it has no contentChanges list';
  for (const change of changes as unknown[]) {
    const { range, text } = (change ?? {}) as { range?: unknown; text?: unknown };
    if (typeof text !== 'string') return 'a change has no text';
    if (range !== undefined && !isRange(range)) return 'a change has a range that is not two positions of whole numbers';
  }
  return undefined;
}

/**
 * Why a `textDocument/didChange`'s version cannot be taken as it is, or undefined when it can: the
 * LSP has versions increase with every change. A client that counts again from 1 (a plugin that
 * restarted) or sends none would otherwise have its previews rejected as older than the version the
 * inference process saw last, and the lenses said "…" until the count passed it again.
 */
export function unorderedVersion(params: unknown, current: number | undefined): string | undefined {
  const version = (params as { textDocument?: { version?: unknown } } | null | undefined)?.textDocument?.version;
  if (!Number.isSafeInteger(version)) return `it has no version (${JSON.stringify(version) ?? 'undefined'})`;
  if (current !== undefined && (version as number) <= current) return `version ${String(version)} after ${current}`;
  return undefined;
}
