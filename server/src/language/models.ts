import type { ClozeDocument, Diagnostic, LabelEntry, LabelWord, ModelRef, Span } from './ast';
import { labelWordForms, maskContexts, singleToken } from './labelWords';
import { escapeCode, escapeMarkdown, messageMarkdown } from './hover';
import { formatPieces, type TokenizerView } from './tokenizer';

/**
 * Several models at once: `models: a, b, c`. One model stays the default (the
 * one the lenses and hovers score): the `model:` line, else the first model
 * listed, else the setting. Every listed model's tokenizer checks every label
 * word, and the preview can put the models side by side. A file without a
 * `models:` line has one model, exactly as before.
 */

/** The models of the (first) `models:` line, in the order written, each once. */
export function listedModels(doc: ClozeDocument): ModelRef[] {
  const seen = new Set<string>();
  const out: ModelRef[] = [];
  for (const entry of doc.modelLists[0]?.entries ?? []) {
    if (seen.has(entry.id)) continue;
    seen.add(entry.id);
    out.push(entry);
  }
  return out;
}

/**
 * The models besides the default that a document is checked against: the
 * listed ones (or, when the file lists none, those of a setting), without the
 * default itself.
 */
export function otherModels(
  doc: ClozeDocument,
  defaultId: string,
  fromSettings: readonly string[] = [],
): Array<{ readonly id: string; readonly idSpan: Span | undefined }> {
  // A `models:` line, even one whose every entry is bad, replaces the setting.
  const refs: Array<{ id: string; idSpan: Span | undefined }> =
    doc.modelLists.length > 0
      ? listedModels(doc)
      : [...new Set(fromSettings.map((id) => id.trim()).filter((id) => id !== ''))].map((id) => ({ id, idSpan: undefined }));
  return refs.filter((ref) => ref.id !== defaultId);
}

/** Structural checks of `models:` lines: a second line, a model listed twice. */
export function validateModelLists(doc: ClozeDocument): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const extra of doc.modelLists.slice(1)) {
    out.push({
      code: 'model-duplicate',
      severity: 'error',
      span: extra.span,
      message: 'A file has one `models:` line; this one repeats it. List all the models on the first one.',
    });
  }
  const first = doc.modelLists[0];
  if (!first) return out;
  const seen = new Set<string>();
  for (const entry of first.entries) {
    if (seen.has(entry.id)) {
      out.push({
        code: 'model-duplicate',
        severity: 'warning',
        span: entry.idSpan,
        message: `\`${entry.id}\` is listed twice in \`models:\`; it is checked once. Remove this one.`,
      });
    }
    seen.add(entry.id);
  }
  return out;
}

/**
 * The label-word hover with several models: one row per model, one column
 * per mask context the patterns create, each cell the tokens the word is in
 * that model there and whether it is one known token.
 */
export function labelWordMatrix(doc: ClozeDocument, word: LabelWord, entry: LabelEntry, tokenizers: readonly TokenizerView[]): string {
  const contexts = maskContexts(doc);
  const both = contexts.size > 1;
  const header = both ? '| model | after a space | no space |\n| --- | --- | --- |' : '| model | tokens |\n| --- | --- |';
  const rows = tokenizers.map((tokenizer) => {
    const forms = labelWordForms(word.text, contexts, tokenizer);
    const cells = forms.map((form) => {
      if (form.pieces.length === 0) return '_no token_ ✗';
      const pieces = form.pieces.map((piece) => `\`${escapeCode(piece.token)}\` (${piece.id})`).join(' ');
      if (singleToken(form, tokenizer)) return `${pieces} ✓`;
      return form.pieces.length === 1
        ? `${pieces} ✗ unknown`
        : `\`${escapeCode(formatPieces(form.pieces))}\` ✗ ${form.pieces.length} tokens`;
    });
    return `| ${escapeCode(tokenizer.modelId).replace(/\|/g, '\\|')} | ${cells.join(' | ')} |`;
  });
  const good = tokenizers.filter((tokenizer) =>
    labelWordForms(word.text, contexts, tokenizer).every((form) => singleToken(form, tokenizer)),
  ).length;
  return [
    `**${escapeMarkdown(word.text)}** — label word of \`${entry.label.text}\`: one token in ${good} of ${tokenizers.length} models`,
    '',
    header,
    ...rows,
  ].join('\n');
}

/** The model id under an offset: the `model:` value or an entry of a `models:` line. */
export function modelRefAt(doc: ClozeDocument, offset: number): ModelRef | undefined {
  const refs: ModelRef[] = [...doc.models, ...doc.modelLists.flatMap((list) => list.entries)];
  return refs.find((ref) => ref.idSpan.start <= offset && offset <= ref.idSpan.end);
}

/** What the host found out about a model, for its hover. */
export interface ModelFacts {
  /** Scored by the lenses (the default), or only checked against. */
  readonly role: 'default' | 'checked';
  /** Where it was found ("models folder: /m/x"), or why it was not. */
  readonly where: string;
  /** Its tokenizer, when loaded. */
  readonly tokenizer?: TokenizerView;
}

/** The hover of a model id: its role in the file, where it comes from, its tokenizer's special tokens. */
export function modelHover(ref: ModelRef, facts: ModelFacts): string {
  const role =
    facts.role === 'default'
      ? "the file's model: the lenses, hovers and fixes score with it"
      : 'checked against: every label word must be one token in it too';
  const lines = [`**${escapeMarkdown(ref.id)}** — ${role}`, '', messageMarkdown(facts.where)];
  const tokenizer = facts.tokenizer;
  if (tokenizer) {
    lines.push(
      '',
      `Mask \`${escapeCode(tokenizer.special.mask)}\` (id ${tokenizer.maskTokenId}), separator \`${escapeCode(tokenizer.special.sep)}\`, ` +
        `${tokenizer.vocabulary().length.toLocaleString('en-US')} tokens, inputs up to ${tokenizer.maxLength} tokens.`,
    );
  }
  return lines.join('\n');
}

/**
 * The edit that makes `id` the file's model: the first `model:` line's value replaced (also an
 * empty one, "The model is missing", which the parser records no model for), else a `model:` line
 * added after the file's leading comments, with the file's own line break. Offsets into `text`.
 * The VS Code picker and the server's `cloze.selectModel` (other editors) both write this.
 */
export function modelLineEdit(text: string, id: string): { start: number; end: number; newText: string } {
  const eol = /\r\n/.test(text) ? '\r\n' : /\r/.test(text) ? '\r' : '\n';
  // Each line with its break; a last line without one only if it has text.
  const lines: Array<{ content: string; length: number }> = [];
  for (const match of text.matchAll(/([^\r\n]*)(\r\n|\r|\n)/g)) lines.push({ content: match[1], length: match[0].length });
  const consumed = lines.reduce((sum, line) => sum + line.length, 0);
  if (consumed < text.length) lines.push({ content: text.slice(consumed), length: text.length - consumed });
  let offset = 0;
  let afterComments: number | undefined;
  for (const { content, length } of lines) {
    const header = /^model\s*:[ \t]*/.exec(content);
    if (header) {
      const valueEnd = offset + content.trimEnd().length;
      const valueStart = offset + header[0].length;
      // `model:` alone gets a space before the id; `model: x` keeps its own spacing.
      return valueEnd > valueStart || header[0].length > 'model:'.length
        ? { start: valueStart, end: Math.max(valueStart, valueEnd), newText: id }
        : { start: valueStart, end: valueStart, newText: ` ${id}` };
    }
    if (afterComments === undefined && !content.startsWith('#')) afterComments = offset;
    offset += length;
  }
  if (afterComments !== undefined) return { start: afterComments, end: afterComments, newText: `model: ${id}${eol}` };
  // Comments only (or nothing): at the end, on a line of its own.
  const needsBreak = text.length > 0 && !/[\r\n]$/.test(text);
  return { start: text.length, end: text.length, newText: `${needsBreak ? eol : ''}model: ${id}${eol}` };
}
