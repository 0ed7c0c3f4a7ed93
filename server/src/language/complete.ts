import type { ClozeDocument } from './ast';
import { completeExtension } from './extensions';
import { positionAt } from './positions';
import { usedFields } from './render';

/** A completion proposal as plain data; the server maps `kind` to LSP's kinds. */
export interface CompletionProposal {
  readonly label: string;
  readonly kind: 'keyword' | 'field' | 'label' | 'model' | 'token';
  readonly detail: string;
  /** Documentation shown beside the list (Markdown). */
  readonly documentation?: string;
  /** Orders the list where the label's order would not (the typed hub id first). */
  readonly sortText?: string;
  /** Text inserted in place of the word before the cursor; `label` when absent. */
  readonly insertText?: string;
  /** Offsets of the text the proposal replaces. */
  readonly replace: { readonly start: number; readonly end: number };
}

const KEYWORDS: ReadonlyArray<{ label: string; insertText: string; detail: string }> = [
  { label: 'model', insertText: 'model: ', detail: 'the masked LM: a Hugging Face id or a folder path' },
  { label: 'models', insertText: 'models: ', detail: 'several models to check the label words against, by commas' },
  { label: 'pattern', insertText: 'pattern ', detail: 'a cloze pattern with one [MASK] and {fields}' },
  { label: 'verbalizer', insertText: 'verbalizer:\n  ', detail: 'labels and their label words' },
  { label: 'example', insertText: 'example ', detail: 'an example the editor previews the model on' },
  { label: 'data', insertText: 'data: ', detail: 'a JSONL, CSV or TSV file of labelled rows' },
];

/** What completion knows from outside the text, given by the host: the core does no I/O. */
export interface CompletionData {
  /** Model ids that load without a download (models folder, download cache), with where each is. */
  readonly models?: ReadonlyArray<{ readonly id: string; readonly detail: string }>;
  /** The input columns of the file's `data:` files (from their summaries), offered as fields too. */
  readonly dataColumns?: readonly string[];
}

/**
 * Completion by context: keywords at the start of a line, fields inside `{`
 * (those used elsewhere in the file), `[MASK]` and `[SEP]` after `[` in a
 * pattern, labels after `example`, field names on the indented lines of a
 * multi-field example, model ids after `model:`.
 */
export function completeAt(doc: ClozeDocument, offset: number, data: CompletionData = {}): CompletionProposal[] {
  const lineIndex = positionAt(doc, offset).line;
  const lineStart = doc.lineStarts[lineIndex];
  const before = doc.text.slice(lineStart, offset);
  const extension = completeExtension(doc, offset);
  if (extension) return extension;

  const model = /^model\s*:\s*/.exec(before);
  if (model) return modelIds(doc, lineStart + model[0].length, offset, data);

  // `models: a, b, |`: the current item (after the last comma), never a model listed already, nor the default.
  const models = /^models\s*:/.exec(before);
  if (models) {
    const item = /[^,:]*$/.exec(before)?.[0] ?? '';
    const start = offset - item.trimStart().length;
    const listed = new Set([
      ...doc.models.map((line) => line.id),
      ...doc.modelLists.flatMap((line) => line.entries.map((entry) => entry.id)),
    ]);
    const unlisted = (data.models ?? []).filter((m) => !listed.has(m.id) || m.id === item.trim());
    return modelIds(doc, start, offset, { ...data, models: unlisted });
  }

  const special = /\[([A-Za-z]*)$/.exec(before);
  if (special && /^pattern\b[^:]*:/.test(before) && !isEscaped(before, special.index))
    return specialTokens(doc, offset - special[0].length, offset);

  const field = /\{([\p{L}\p{M}\p{N}_]*)$/u.exec(before);
  if (field && /^pattern\b/.test(before) && !isEscaped(before, field.index)) {
    const start = offset - field[1].length;
    return knownFields(doc, data.dataColumns ?? []).map((name) => ({
      label: name,
      kind: 'field',
      detail: 'input field used in this file',
      insertText: doc.text[offset] === '}' ? name : `${name}}`,
      replace: { start, end: offset },
    }));
  }

  // A colon already after the cursor (`example |: text`) is not written twice.
  const colon = /^[^\S\r\n]*:/.test(doc.text.slice(offset, offset + 200)) ? '' : ': ';
  const exampleLabel = /^example\s+([\p{L}\p{M}\p{N}_.-]*)$/u.exec(before);
  if (exampleLabel) {
    const start = offset - exampleLabel[1].length;
    const labels = doc.verbalizers[0]?.entries.map((entry) => entry.label.text) ?? [];
    return [
      ...labels.map((label) => ({
        label,
        kind: 'label' as const,
        detail: 'label of the verbalizer',
        insertText: `${label}${colon}`,
        replace: { start, end: offset },
      })),
      { label: '?', kind: 'label' as const, detail: 'unlabelled example', insertText: `?${colon}`, replace: { start, end: offset } },
    ];
  }

  const indented = /^(\s+)([\p{L}\p{M}\p{N}_]*)$/u.exec(before);
  if (indented && insideMultiFieldExample(doc, lineIndex)) {
    const start = offset - indented[2].length;
    return usedFields(doc.patterns).map((name) => ({
      label: name,
      kind: 'field',
      detail: 'field the patterns read',
      insertText: `${name}${colon}`,
      replace: { start, end: offset },
    }));
  }

  const word = /^([a-z]*)$/.exec(before);
  if (word) {
    const start = offset - word[1].length;
    return KEYWORDS.filter((k) => k.label.startsWith(word[1])).map((k) => ({
      label: k.label,
      kind: 'keyword',
      detail: k.detail,
      insertText: k.insertText,
      replace: { start, end: offset },
    }));
  }
  return [];
}

/** Whether the character at `index` of `text` is escaped: an odd number of backslashes before it (`\[` is a literal `[`). */
function isEscaped(text: string, index: number): boolean {
  let backslashes = 0;
  while (index - backslashes - 1 >= 0 && text[index - backslashes - 1] === '\\') backslashes++;
  return backslashes % 2 === 1;
}

/**
 * Local model ids after `model:`, replacing the whole value. A value typed
 * that is not local (a hub id) is offered first as typed, so accepting the
 * list never swaps it for a local model that merely matches its letters.
 */
function modelIds(doc: ClozeDocument, valueStart: number, offset: number, data: CompletionData): CompletionProposal[] {
  // Like every proposal, up to the cursor: what follows it is kept.
  const replace = { start: valueStart, end: offset };
  const typed = doc.text.slice(valueStart, offset).trim();
  const models = data.models ?? [];
  const proposals: CompletionProposal[] = models.map((m, i) => ({
    label: m.id,
    kind: 'model',
    detail: m.detail,
    sortText: `1${String(i).padStart(5, '0')}`,
    replace,
  }));
  if (typed !== '' && !models.some((m) => m.id === typed)) {
    proposals.unshift({
      label: typed,
      kind: 'model',
      detail: 'as typed: a Hugging Face hub id or a folder path',
      documentation:
        'Not in the models folder or the download cache: it is downloaded from the hub when downloads are allowed (`cloze.allowRemoteModels`).',
      sortText: '0',
      replace,
    });
  }
  return proposals;
}

const SPECIAL_TOKENS: ReadonlyArray<{ label: string; detail: string; documentation: string }> = [
  {
    label: '[MASK]',
    detail: 'the position the model fills in (one per pattern)',
    documentation: "Becomes the model's own mask token (`[MASK]` for BERT, `<mask>` for RoBERTa).",
  },
  {
    label: '[SEP]',
    detail: "the model's separator token, between two inputs",
    documentation: 'E.g. `{premise}[SEP]{hypothesis} [MASK]`; becomes `[SEP]` for BERT, `</s>` for RoBERTa.',
  },
];

/** `[MASK]` (when the pattern has none yet) and `[SEP]` after a `[` in pattern text. */
function specialTokens(doc: ClozeDocument, start: number, offset: number): CompletionProposal[] {
  // An editor that closes brackets has put `]` after the cursor: then it is not inserted again.
  const closed = doc.text[offset] === ']';
  const pattern = doc.patterns.find((p) => p.span.start <= offset && offset <= p.span.end);
  const hasMask = pattern?.parts.some((part) => part.kind === 'mask' && (part.span.end <= start || part.span.start > offset)) ?? false;
  return SPECIAL_TOKENS.filter((token) => token.label !== '[MASK]' || !hasMask).map((token) => ({
    ...token,
    kind: 'token',
    insertText: closed ? token.label.slice(0, -1) : token.label,
    replace: { start, end: offset },
  }));
}

function knownFields(doc: ClozeDocument, dataColumns: readonly string[]): string[] {
  const fields = usedFields(doc.patterns);
  for (const example of doc.examples) {
    for (const field of example.fields) if (field.name && !fields.includes(field.name.text)) fields.push(field.name.text);
  }
  // `label` is the rows' label, and a column a placeholder cannot name (`a-b`) is no field.
  for (const column of dataColumns) {
    if (column !== 'label' && /^[\p{L}\p{M}\p{N}_]+$/u.test(column) && !fields.includes(column)) fields.push(column);
  }
  return fields;
}

/** Whether the nearest unindented line above is a bare `example …:` header. */
function insideMultiFieldExample(doc: ClozeDocument, lineIndex: number): boolean {
  for (let i = lineIndex - 1; i >= 0; i--) {
    const start = doc.lineStarts[i];
    const end = i + 1 < doc.lineStarts.length ? doc.lineStarts[i + 1] : doc.text.length;
    const line = doc.text.slice(start, end).replace(/\r?\n$/, '');
    if (line.trim() === '' || /^\s/.test(line) || line.trimStart().startsWith('#')) continue;
    return /^example\b[^:]*:\s*$/.test(line);
  }
  return false;
}
