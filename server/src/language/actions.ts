import { describePattern, type ClozeDocument, type Diagnostic, type LabelWord, type Pattern, type Span, type Verbalizer } from './ast';
import { extensionFixes } from './extensions';
import { labelWordAt } from './find';
import { labelWordForms, maskContexts, singleToken } from './labelWords';
import { BLOCK_HEADER, parse } from './parse';
import { positionAt } from './positions';
import { closest, similarVocabularyWords, withoutWordMarker } from './similar';
import type { MaskContext, TokenPiece, TokenizerView } from './tokenizer';
import { validateStructure, type DataSetSummary } from './validate';
import { labelWordProblems, validateWithTokenizer } from './validateTokens';

/** A text edit as offsets into the document. */
export interface TextEdit {
  readonly span: Span;
  readonly newText: string;
}

/** A command of the editor a fix runs (the client registers it), e.g. the model picker. */
export interface FixCommand {
  readonly title: string;
  readonly command: string;
}

/** A quick fix as plain data: the server turns it into an LSP `CodeAction`. */
export interface QuickFix {
  readonly title: string;
  readonly diagnostic: Diagnostic;
  readonly edits: readonly TextEdit[];
  readonly isPreferred: boolean;
  /** Run by the editor when the fix is chosen (after the edits, if any). */
  readonly command?: FixCommand;
}

/** The client's command that lets the user choose a model (for the `model:` line or the setting). */
export const SELECT_MODEL_COMMAND = 'cloze.selectModel';

/** What the host knows beyond the text that makes better fixes; all optional. */
export interface FixContext {
  /**
   * The model's most probable tokens at the mask (vocabulary strings, best
   * first) per label, over the examples of that label: what the model itself
   * "means" by the label. From the preview, when there is one.
   */
  readonly topTokensByLabel?: ReadonlyMap<string, readonly string[]>;
  /** The same for one example, by the offset of its `example` keyword. */
  readonly topTokensByExample?: ReadonlyMap<number, readonly string[]>;
  /** Model ids found on this machine (models folder, download cache), for a mistyped `model:` value. */
  readonly localModels?: readonly string[];
  /** The data files' summaries, so the validity check sees what the editor reports. */
  readonly dataSets?: ReadonlyMap<string, DataSetSummary>;
}

/** A fix before the validity check; `preferable` becomes `isPreferred` for the first surviving one. */
interface Candidate {
  readonly title: string;
  readonly diagnostic: Diagnostic;
  readonly edits: readonly TextEdit[];
  readonly preferable: boolean;
  readonly command?: FixCommand;
  /** Edits whose effect the text checks cannot see (the model id): not re-validated. */
  readonly unchecked?: boolean;
}

/** How many label words by spelling, and by the model's predictions, one diagnostic offers at most. */
const SPELLING_FIXES = 3;
const PREDICTION_FIXES = 2;

/**
 * Quick fixes for the given diagnostics. Only edits that leave a valid
 * document are offered: each candidate is applied to the text, and the result
 * checked again (structure, and the tokenizer checks when the tokenizer is
 * loaded). A fix must remove its diagnostic and add no problem of any kind.
 * Label words offered are real single tokens of the model's vocabulary,
 * verified with its tokenizer in every mask context of the file.
 */
export function quickFixes(
  doc: ClozeDocument,
  diagnostics: readonly Diagnostic[],
  tokenizer: TokenizerView | undefined,
  context: FixContext = {},
): QuickFix[] {
  const candidates: Candidate[] = [];
  for (const diagnostic of diagnostics) {
    const add = (title: string, edits: readonly TextEdit[], preferable: boolean, extra: Partial<Candidate> = {}): void => {
      candidates.push({ title, diagnostic, edits, preferable, ...extra });
    };
    switch (diagnostic.code) {
      case 'mask-multiple':
        // Only a written second [MASK] is removed; a mask token inside text (an example, an
        // escaped \[MASK\]) is reported on the whole text, which must not be deleted.
        if (isMaskPart(doc, diagnostic.span)) add('Remove this extra [MASK]', [removeWithOneBlank(doc, diagnostic.span)], true);
        break;
      case 'mask-missing': {
        const pattern = doc.patterns.find((p) => p.textSpan.start === diagnostic.span.start || p.span.start === diagnostic.span.start);
        if (!pattern) break;
        // Text that holds the model's mask token (an escaped \[MASK\]) would become a second mask.
        const mask = tokenizer?.special.mask;
        if (mask !== undefined && pattern.parts.some((part) => part.kind === 'text' && part.value.includes(mask))) break;
        const end = pattern.textSpan.end > pattern.textSpan.start ? pattern.textSpan.end : pattern.span.end;
        // `pattern: text [MASK]`, and `pattern: [MASK]` rather than `pattern:[MASK]` when the text is empty.
        const separator = /\s/.test(doc.text[end - 1] ?? ' ') ? '' : ' ';
        add('Append [MASK] to the pattern', [{ span: { start: end, end }, newText: `${separator}[MASK]` }], true);
        break;
      }
      case 'special-token-explicit':
        add(`Remove ${doc.text.slice(diagnostic.span.start, diagnostic.span.end)}`, [removeWithOneBlank(doc, diagnostic.span)], true);
        break;
      case 'label-word-repeated':
        add('Remove the repeated label word', [removeListItem(doc, diagnostic.span)], true);
        break;
      case 'label-word-multi-token':
      case 'label-word-unknown':
        if (tokenizer) candidates.push(...labelWordFixes(doc, diagnostic, tokenizer, context));
        break;
      case 'label-word-summary':
        if (tokenizer) candidates.push(...summaryFixes(doc, diagnostic, tokenizer));
        break;
      case 'label-undeclared':
        candidates.push(...undeclaredLabelFixes(doc, diagnostic, tokenizer, context));
        break;
      case 'syntax':
        candidates.push(...keywordFixes(doc, diagnostic), ...indentationFixes(doc, diagnostic));
        // `model:` with nothing after it: the same picker as for a model that cannot be loaded.
        if (diagnostic.message.startsWith('The model is missing')) candidates.push(selectModel(diagnostic));
        break;
      case 'model-unavailable':
        candidates.push(...modelFixes(doc, diagnostic, context));
        break;
      default:
        break;
    }
  }
  // The fixes of the v2 constructs (extensions.ts) pass the same validity check.
  for (const fix of extensionFixes(doc, diagnostics, tokenizer)) {
    candidates.push({ title: fix.title, diagnostic: fix.diagnostic, edits: fix.edits, preferable: fix.isPreferred });
  }
  return validOnly(doc, candidates, tokenizer, context);
}

/**
 * The diagnostic counts of a document as the validity check saw it, so that
 * code-action requests for one version (one per cursor move in some editors)
 * check the unchanged text once. Keyed by the parsed document, which the
 * server caches per version, then by the tokenizer and data files they were
 * counted with.
 */
const baselines = new WeakMap<ClozeDocument, Map<string, Map<string, number>>>();

/**
 * What a fix may not add more of: a diagnostic code, and for `syntax` (one code for every parse
 * error) the message too: counted by code alone, a fix that traded two empty-word errors for one
 * "not a statement" passed as a fix.
 */
function kindOf(diagnostic: Diagnostic): string {
  return diagnostic.code === 'syntax' ? `syntax\u0000${diagnostic.message}` : diagnostic.code;
}

/** The candidates whose edits leave a valid document, with one preferred fix per diagnostic at most. */
function validOnly(
  doc: ClozeDocument,
  candidates: readonly Candidate[],
  tokenizer: TokenizerView | undefined,
  context: FixContext,
): QuickFix[] {
  const check = (text: string): Map<string, number> => {
    const parsed = text === doc.text ? doc : parse(text);
    const counts = new Map<string, number>();
    for (const d of [...validateStructure(parsed, context.dataSets), ...(tokenizer ? validateWithTokenizer(parsed, tokenizer) : [])]) {
      counts.set(kindOf(d), (counts.get(kindOf(d)) ?? 0) + 1);
    }
    return counts;
  };
  // Keyed by what the check depends on besides the text: the tokenizer and the data files' summaries.
  const key = `${tokenizer ? tokenizer.modelId : ''}\u0000${JSON.stringify([...(context.dataSets ?? [])])}`;
  let before = baselines.get(doc)?.get(key);
  const preferredFor = new Set<Diagnostic>();
  const fixes: QuickFix[] = [];
  for (const candidate of candidates) {
    if (candidate.edits.length > 0 && !candidate.unchecked) {
      if (!before) {
        before = check(doc.text);
        const forDoc = baselines.get(doc) ?? new Map<string, Map<string, number>>();
        forDoc.set(key, before);
        baselines.set(doc, forDoc);
      }
      const after = check(applyEdits(doc.text, candidate.edits));
      const kind = kindOf(candidate.diagnostic);
      if ((after.get(kind) ?? 0) >= (before.get(kind) ?? 0)) continue;
      if ([...after].some(([other, n]) => n > (before?.get(other) ?? 0))) continue;
    }
    const isPreferred = candidate.preferable && !preferredFor.has(candidate.diagnostic);
    if (isPreferred) preferredFor.add(candidate.diagnostic);
    fixes.push({
      title: candidate.title,
      diagnostic: candidate.diagnostic,
      edits: candidate.edits,
      isPreferred,
      ...(candidate.command ? { command: candidate.command } : {}),
    });
  }
  return fixes;
}

/** Applies non-overlapping edits, all against the original text, as an editor does. */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => b.span.start - a.span.start || b.span.end - a.span.end);
  let out = text;
  for (const edit of sorted) out = out.slice(0, edit.span.start) + edit.newText + out.slice(edit.span.end);
  return out;
}

function labelWordFixes(doc: ClozeDocument, diagnostic: Diagnostic, tokenizer: TokenizerView, context: FixContext): Candidate[] {
  const found = labelWordAt(doc, diagnostic.span);
  if (!found) return [];
  const { word, entry } = found;
  // The masks the word meets: those of the patterns that choose its verbalizer.
  const verbalizer = doc.verbalizers.find((v) => v.entries.includes(entry));
  const contexts = maskContexts(doc, verbalizer);
  const fixes: Candidate[] = [];

  // A replacement must be one known token in every context the patterns create,
  // and not a token another label word already is (that would be a new error).
  const taken = tokensOfOtherWords(word, contexts, tokenizer, verbalizer);
  const offered = new Set<string>([word.text]);
  const verify = (text: string): TokenPiece | undefined => {
    if (offered.has(text) || text.trim() !== text || text === '' || text.includes(',')) return undefined;
    let first: TokenPiece | undefined;
    for (const form of labelWordForms(text, contexts, tokenizer)) {
      const token = singleToken(form, tokenizer);
      if (!token || taken.has(token.id)) return undefined;
      first ??= token;
    }
    if (first) offered.add(text);
    return first;
  };
  const replace = (text: string, title: (token: TokenPiece) => string, preferable: boolean): boolean => {
    const token = verify(text);
    if (token) fixes.push({ title: title(token), diagnostic, edits: [{ span: word.span, newText: text }], preferable });
    return token !== undefined;
  };

  // 1. Other casings, and the word without a vocabulary marker (`Ġgreat`, `##ly` copied from a hover).
  const lower = word.text.toLowerCase();
  const unmarked = withoutWordMarker(word.text.replace(/^##/, ''));
  for (const text of [lower, lower.charAt(0).toUpperCase() + lower.slice(1), word.text.toUpperCase(), unmarked]) {
    replace(text, (token) => `Replace with \`${text}\` (the single token ${token.token}, id ${token.id})`, fixes.length === 0);
  }

  // 2. Byte-level BPE: the word may be one token only after a space (`ĠSociety`).
  // Then the fix is in the pattern: a space before its [MASK].
  const forms = labelWordForms(word.text, contexts, tokenizer);
  const spaced = labelWordForms(word.text, new Map([['after-space', []]]), tokenizer)[0];
  const spacedToken = singleToken(spaced, tokenizer);
  if (spacedToken) {
    for (const form of forms) {
      if (form.context !== 'no-space' || singleToken(form, tokenizer)) continue;
      const edits: TextEdit[] = [];
      for (const pattern of form.patterns) {
        const index = pattern.parts.findIndex((part) => part.kind === 'mask');
        // Not at the start of segment B either: `[SEP+] [MASK]` is trimmed as the pattern's start is.
        if (index > 0 && pattern.parts[index - 1].kind !== 'segment')
          edits.push({ span: { start: pattern.parts[index].span.start, end: pattern.parts[index].span.start }, newText: ' ' });
      }
      // A mask that opens a pattern has no context to change (blanks at the start are trimmed),
      // so spacing the other patterns would leave the diagnostic: then this is no fix.
      if (edits.length === 0 || edits.length < form.patterns.length) continue;
      fixes.push({
        title: `Put a space before [MASK] in ${form.patterns.map(describePattern).join(', ')}, where \`${word.text}\` is the single token ${spacedToken.token}`,
        diagnostic,
        edits,
        preferable: fixes.length === 0,
      });
    }
  }

  // 3. What the model itself puts at the mask for examples of this label.
  let predicted = 0;
  for (const token of context.topTokensByLabel?.get(entry.label.text) ?? []) {
    if (predicted >= PREDICTION_FIXES) break;
    if (token.startsWith('##')) continue;
    const text = withoutWordMarker(token);
    if (!/[\p{L}\p{N}]/u.test(text)) continue;
    if (
      replace(
        text,
        (t) => `Replace with \`${text}\`, which the model predicts at the mask for \`${entry.label.text}\` (${t.token}, id ${t.id})`,
        false,
      )
    ) {
      predicted += 1;
    }
  }

  // 4. Single tokens of the vocabulary spelt like the word (`fantastic` for `fantastically`).
  let spelt = 0;
  for (const text of similarVocabularyWords(word.text, tokenizer, 40)) {
    if (spelt >= SPELLING_FIXES) break;
    if (replace(text, (t) => `Replace with \`${text}\`, a single token spelt like it (${t.token}, id ${t.id})`, false)) spelt += 1;
  }
  return fixes;
}

/** A label with many bad words (one summary diagnostic): remove them all at once. */
function summaryFixes(doc: ClozeDocument, diagnostic: Diagnostic, tokenizer: TokenizerView): Candidate[] {
  for (const [entry, problems] of labelWordProblems(doc, tokenizer)) {
    if (entry.label.span.start !== diagnostic.span.start || entry.label.span.end !== diagnostic.span.end) continue;
    const bad = new Set(problems.map((p) => p.span.start));
    const kept = entry.words.filter((w) => !bad.has(w.span.start));
    const [first] = entry.words;
    const last = entry.words[entry.words.length - 1];
    if (!first || kept.length === 0 || kept.length === entry.words.length) return [];
    // Repeats of the same text are reported by the structural check; they go too.
    const unique = kept.filter((w, i) => kept.findIndex((k) => k.text === w.text) === i);
    return [
      {
        title: `Remove the ${entry.words.length - unique.length} label words of \`${entry.label.text}\` that cannot be scored as they are`,
        diagnostic,
        edits: [{ span: { start: first.span.start, end: last.span.end }, newText: unique.map((w) => w.text).join(', ') }],
        preferable: false,
      },
    ];
  }
  return [];
}

/** An example whose label the verbalizer lacks: use a declared label like it, or declare it. */
function undeclaredLabelFixes(
  doc: ClozeDocument,
  diagnostic: Diagnostic,
  tokenizer: TokenizerView | undefined,
  context: FixContext,
): Candidate[] {
  const verbalizer = doc.verbalizers[0];
  if (!verbalizer) return [];
  const sameSpan = (span: Span): boolean => span.start === diagnostic.span.start && span.end === diagnostic.span.end;
  const example = doc.examples.find((e) => e.label && sameSpan(e.label.span));
  if (!example?.label) {
    // A data file's labels: declare them all, each with itself as its word, when each is a free single token.
    const data = doc.data.find((d) => sameSpan(d.pathSpan));
    const summary = data ? context.dataSets?.get(data.path) : undefined;
    if (!tokenizer || !summary?.ok) return [];
    const declared = new Set(verbalizer.entries.map((entry) => entry.label.text));
    const missing = summary.labels.filter((label) => !declared.has(label));
    const declarations = declare(doc, missing, () => [], tokenizer);
    if (!declarations || missing.length === 0) return [];
    return [
      {
        title: `Declare ${missing.map((l) => `\`${l}\``).join(', ')} in the verbalizer, each with itself as its label word`,
        diagnostic,
        edits: [declarations],
        preferable: false,
      },
    ];
  }
  const label = example.label.text;
  const fixes: Candidate[] = [];
  const declared = verbalizer.entries.map((entry) => entry.label.text);
  for (const [i, name] of closestLabels(label, declared).entries()) {
    fixes.push({
      title: `Change to \`${name}\``,
      diagnostic,
      edits: [{ span: example.label.span, newText: name }],
      preferable: i === 0 && name.toLowerCase() === label.toLowerCase(),
    });
  }
  // Declaring needs a label word, which must be a single token no other label has: the label
  // itself when it is one (`neutral`), else what the model predicts for this example.
  const predicted = (context.topTokensByExample?.get(example.keywordSpan.start) ?? []).map(withoutWordMarker);
  const declaration = tokenizer ? declare(doc, [label], () => predicted, tokenizer) : undefined;
  if (declaration) {
    const word = declaration.newText.slice(declaration.newText.lastIndexOf(': ') + 2);
    fixes.push({
      title: `Declare \`${label}\` in the verbalizer, with the label word \`${word}\``,
      diagnostic,
      edits: [declaration],
      preferable: false,
    });
  }
  return fixes;
}

/**
 * The edit that adds `label: word` entries after the verbalizer's last entry,
 * indented like it, in the file's line breaks. Each word is the label itself
 * (or its lower case), else one of `fallback(label)`, that is one token in
 * every mask context and no other label's (nor another new label's) token;
 * undefined when some label has none.
 */
function declare(
  doc: ClozeDocument,
  labels: readonly string[],
  fallback: (label: string) => readonly string[],
  tokenizer: TokenizerView,
): TextEdit | undefined {
  const verbalizer = doc.verbalizers[0];
  if (!verbalizer) return undefined;
  const contexts = maskContexts(doc, verbalizer);
  const taken = tokensOfOtherWords(undefined, contexts, tokenizer, verbalizer);
  const lines: string[] = [];
  const last = verbalizer.entries[verbalizer.entries.length - 1];
  const indent = last ? doc.text.slice(lineStartOf(doc, last.span.start), last.span.start) : '  ';
  for (const label of labels) {
    let ids: number[] = [];
    const word = [label, label.toLowerCase(), ...fallback(label)].find((text) => {
      if (text === '' || text.includes(',') || !/[\p{L}\p{N}]/u.test(text)) return false;
      ids = [];
      for (const form of labelWordForms(text, contexts, tokenizer)) {
        const token = singleToken(form, tokenizer);
        if (token === undefined || taken.has(token.id)) return false;
        ids.push(token.id);
      }
      return true;
    });
    if (word === undefined) return undefined;
    for (const id of ids) taken.add(id);
    lines.push(`${lineBreakOf(doc)}${indent}${label}: ${word}`);
  }
  const at = last ? last.span.end : verbalizer.headerSpan.end;
  return { span: { start: at, end: at }, newText: lines.join('') };
}

/** Declared labels a user may have meant: the same but for case first, then by spelling. */
function closestLabels(label: string, declared: readonly string[]): string[] {
  const sameCase = declared.filter((name) => name.toLowerCase() === label.toLowerCase());
  const prefixed = declared.filter((name) => {
    const [a, b] = [name.toLowerCase(), label.toLowerCase()];
    return Math.min(a.length, b.length) >= 2 && (a.startsWith(b) || b.startsWith(a));
  });
  const spelt = closest(label, declared, 3);
  return [...new Set([...sameCase, ...prefixed, ...spelt])].slice(0, 3);
}

/** `exmaple positive: …` → `example positive: …`, when the parser suggested the keyword. */
function keywordFixes(doc: ClozeDocument, diagnostic: Diagnostic): Candidate[] {
  const keyword = /Did you mean `([a-z]+)`\?/.exec(diagnostic.message)?.[1];
  if (!keyword) return [];
  const written = /^[\p{L}\p{M}\p{N}_-]+/u.exec(doc.text.slice(diagnostic.span.start, diagnostic.span.end))?.[0];
  if (!written || written === keyword) return [];
  return [
    {
      title: `Change \`${written}\` to \`${keyword}\``,
      diagnostic,
      edits: [{ span: { start: diagnostic.span.start, end: diagnostic.span.start + written.length }, newText: keyword }],
      // Also told to indent the line (it follows a block): which was meant is the user's to say.
      preferable: !diagnostic.message.includes(INDENT_IT),
    },
  ];
}

/**
 * Indentation mistakes. An indented line that no block can take: remove the
 * indentation. Lines of a `verbalizer:` or multi-line `example` written at
 * column 1: indent them (all of the run the mistake belongs to, since the
 * first of them ends the block) like the block's other lines.
 */
function indentationFixes(doc: ClozeDocument, diagnostic: Diagnostic): Candidate[] {
  const lines = documentLines(doc);
  const at = lineIndexOf(doc, diagnostic.span.start);
  const line = lines[at];
  if (!line) return [];
  const indent = /^\s*/.exec(line.text)?.[0] ?? '';
  if (indent.length > 0) {
    // Only where the indentation is the mistake (an indented line no block takes, a statement written
    // inside a block): an empty label word or a bad field on an entry is no reason to end the block.
    if (!diagnostic.message.startsWith(UNEXPECTED_INDENT) && !diagnostic.message.includes(REMOVE_THE_INDENTATION)) return [];
    return [
      {
        title: 'Remove the indentation: a statement starts at column 1',
        diagnostic,
        edits: [{ span: { start: line.start, end: line.start + indent.length }, newText: '' }],
        preferable: true,
      },
    ];
  }
  // Only a line the parser could not read as a statement, and the run of such lines it is in.
  const notStatement = new Set(
    // A misspelt keyword (`exmaple:` after no block) is a statement, not an entry: its own fix renames it.
    doc.syntaxErrors
      .filter((d) => d.message.startsWith(NOT_A_STATEMENT) && (!d.message.includes('Did you mean') || d.message.includes(INDENT_IT)))
      .map((d) => lineIndexOf(doc, d.span.start)),
  );
  const mistaken = (i: number): boolean => notStatement.has(i) && looksLikeEntry(lines[i].text);
  // "The verbalizer has no labels" on the header: its entries are the unindented lines below.
  let index = at;
  if (BLOCK_HEADER.verbalizer.test(line.text) || BLOCK_HEADER.example.test(line.text)) {
    let next = index + 1;
    while (next < lines.length && isBlankOrComment(lines[next].text)) next++;
    index = next;
  }
  if (!mistaken(index)) return [];
  let first = index;
  for (let i = index - 1; i >= 0; i--) {
    if (isBlankOrComment(lines[i].text)) continue;
    if (mistaken(i)) first = i;
    else break;
  }
  let last = index;
  for (let i = index + 1; i < lines.length; i++) {
    if (isBlankOrComment(lines[i].text)) continue;
    if (mistaken(i)) last = i;
    else break;
  }
  const block = blockAbove(lines, first);
  if (!block) return [];
  const edits: TextEdit[] = [];
  for (let i = first; i <= last; i++) {
    if (!isBlankOrComment(lines[i].text)) edits.push({ span: { start: lines[i].start, end: lines[i].start }, newText: block.indent });
  }
  const what = block.kind === 'verbalizer' ? 'entr' : 'field';
  const title =
    edits.length === 1
      ? `Indent this line as ${block.kind === 'verbalizer' ? 'an entry of the `verbalizer:`' : 'a field of the example'} above`
      : `Indent these ${edits.length} lines as ${what === 'entr' ? 'entries of the `verbalizer:`' : 'fields of the example'} above`;
  // `date: day` under a verbalizer may be a label or a misspelt `data:`: both fixes, neither preferred.
  return [{ title, diagnostic, edits, preferable: !diagnostic.message.includes('Did you mean') }];
}

/** How the parser's messages that the indentation fixes answer read (parse.ts). */
const NOT_A_STATEMENT = 'This line is not a statement.';
const UNEXPECTED_INDENT = 'Unexpected indented line';
const REMOVE_THE_INDENTATION = 'remove the indentation';
const INDENT_IT = 'above, indent it';

/** `label: words` or `field: value` at column 1. */
function looksLikeEntry(text: string): boolean {
  return /^[\p{L}\p{M}\p{N}_.-]+\s*:/u.test(text);
}

function isBlankOrComment(text: string): boolean {
  const trimmed = text.trim();
  return trimmed === '' || trimmed.startsWith('#');
}

/** The block (`verbalizer:` or a multi-line `example …:`) that ends just before line `first`, and its indentation. */
function blockAbove(lines: readonly Line[], first: number): { kind: 'verbalizer' | 'example'; indent: string } | undefined {
  let indent: string | undefined;
  for (let i = first - 1; i >= 0; i--) {
    const text = lines[i].text;
    if (isBlankOrComment(text)) continue;
    const leading = /^\s*/.exec(text)?.[0] ?? '';
    if (leading.length > 0) {
      indent ??= leading;
      continue;
    }
    if (BLOCK_HEADER.verbalizer.test(text)) return { kind: 'verbalizer', indent: indent ?? '  ' };
    if (BLOCK_HEADER.example.test(text)) return { kind: 'example', indent: indent ?? '  ' };
    return undefined;
  }
  return undefined;
}

/** Runs the client's model picker; it writes the `model:` line or the setting, as the user chooses. */
function selectModel(diagnostic: Diagnostic): Candidate {
  return {
    title: 'Select a model…',
    diagnostic,
    edits: [],
    preferable: true,
    command: { title: 'Select a model…', command: SELECT_MODEL_COMMAND },
  };
}

/** A missing or unavailable model: choose one (the client's picker), or a local id spelt like it. */
function modelFixes(doc: ClozeDocument, diagnostic: Diagnostic, context: FixContext): Candidate[] {
  const fixes: Candidate[] = [selectModel(diagnostic)];
  // The `model:` line, or the entry of `models:` the diagnostic is on.
  const line = [doc.models[0], ...doc.modelLists.flatMap((list) => list.entries)].find(
    (ref) => ref && ref.idSpan.start === diagnostic.span.start && ref.idSpan.end === diagnostic.span.end,
  );
  if (line) {
    const local = (context.localModels ?? []).filter((id) => id !== line.id);
    // `bert-base-uncased` for the cached `Xenova/bert-base-uncased`: compare the name after the organisation too.
    const byName = local.filter((id) => id.toLowerCase().endsWith(`/${line.id.toLowerCase()}`));
    const names = local.map((id) => id.slice(id.lastIndexOf('/') + 1));
    const spelt = closest(line.id.slice(line.id.lastIndexOf('/') + 1), names, 3).flatMap((name) => local.filter((id) => id.endsWith(name)));
    for (const id of [...new Set([...byName, ...closest(line.id, local, 3), ...spelt])].slice(0, 3)) {
      fixes.push({
        title: `Use \`${id}\`, found on this machine`,
        diagnostic,
        edits: [{ span: line.idSpan, newText: id }],
        preferable: false,
        unchecked: true,
      });
    }
  }
  return fixes;
}

interface Line {
  readonly start: number;
  readonly text: string;
}

function documentLines(doc: ClozeDocument): Line[] {
  return doc.lineStarts.map((start, i) => {
    const end = i + 1 < doc.lineStarts.length ? doc.lineStarts[i + 1] : doc.text.length;
    return { start, text: doc.text.slice(start, end).replace(/\r?\n$|\r$/, '') };
  });
}

function lineIndexOf(doc: ClozeDocument, offset: number): number {
  return positionAt(doc, offset).line;
}

function lineStartOf(doc: ClozeDocument, offset: number): number {
  return doc.lineStarts[lineIndexOf(doc, offset)];
}

/** The document's own line break, so an inserted line matches the others. */
function lineBreakOf(doc: ClozeDocument): string {
  return /\r\n|\r|\n/.exec(doc.text)?.[0] ?? '\n';
}

function isMaskPart(doc: ClozeDocument, span: Span): boolean {
  return doc.patterns.some((pattern) =>
    pattern.parts.some((part) => part.kind === 'mask' && part.span.start === span.start && part.span.end === span.end),
  );
}

/** Deletes a span and one neighbouring blank, so `a [MASK] b` becomes `a b`. */
function removeWithOneBlank(doc: ClozeDocument, span: Span): TextEdit {
  if (doc.text[span.start - 1] === ' ') return { span: { start: span.start - 1, end: span.end }, newText: '' };
  if (doc.text[span.end] === ' ') return { span: { start: span.start, end: span.end + 1 }, newText: '' };
  return { span, newText: '' };
}

/** Deletes an item of a comma-separated list together with one comma. */
function removeListItem(doc: ClozeDocument, span: Span): TextEdit {
  const before = doc.text.slice(0, span.start);
  const comma = /,\s*$/.exec(before);
  if (comma) return { span: { start: span.start - comma[0].length, end: span.end }, newText: '' };
  const after = /^\s*,\s*/.exec(doc.text.slice(span.end));
  return { span: { start: span.start, end: span.end + (after ? after[0].length : 0) }, newText: '' };
}

/** Token ids the other label words of the verbalizer already are, in any of the contexts. */
function tokensOfOtherWords(
  except: LabelWord | undefined,
  contexts: ReadonlyMap<MaskContext, readonly Pattern[]>,
  tokenizer: TokenizerView,
  verbalizer: Verbalizer | undefined,
): Set<number> {
  const ids = new Set<number>();
  for (const entry of verbalizer?.entries ?? []) {
    for (const word of entry.words) {
      if (word === except) continue;
      for (const form of labelWordForms(word.text, contexts, tokenizer)) {
        const token = singleToken(form, tokenizer);
        if (token) ids.add(token.id);
      }
    }
  }
  return ids;
}
