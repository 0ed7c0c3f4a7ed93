import type { ClozeDocument } from './ast';
import { completeExtension } from './extensions';
import { positionAt } from './positions';
import { usedFields } from './render';

/** A completion proposal as plain data; the server maps `kind` to LSP's kinds. */
export interface CompletionProposal {
  readonly label: string;
  readonly kind: 'keyword' | 'field' | 'label';
  readonly detail: string;
  /** Text inserted in place of the word before the cursor; `label` when absent. */
  readonly insertText?: string;
  /** Offsets of the text the proposal replaces. */
  readonly replace: { readonly start: number; readonly end: number };
}

const KEYWORDS: ReadonlyArray<{ label: string; insertText: string; detail: string }> = [
  { label: 'model', insertText: 'model: ', detail: 'the masked LM: a Hugging Face id or a folder path' },
  { label: 'pattern', insertText: 'pattern ', detail: 'a cloze pattern with one [MASK] and {fields}' },
  { label: 'verbalizer', insertText: 'verbalizer:\n  ', detail: 'labels and their label words' },
  { label: 'example', insertText: 'example ', detail: 'an example the editor previews the model on' },
  { label: 'data', insertText: 'data: ', detail: 'a JSONL, CSV or TSV file of labelled rows' },
];

/**
 * Completion by context: keywords at the start of a line, fields inside `{`
 * (those used elsewhere in the file), labels after `example`, field names on
 * the indented lines of a multi-field example.
 */
export function completeAt(doc: ClozeDocument, offset: number): CompletionProposal[] {
  const lineIndex = positionAt(doc, offset).line;
  const lineStart = doc.lineStarts[lineIndex];
  const before = doc.text.slice(lineStart, offset);
  const extension = completeExtension(doc, offset);
  if (extension) return extension;

  const field = /\{([\p{L}\p{M}\p{N}_]*)$/u.exec(before);
  if (field && /^pattern\b/.test(before)) {
    const start = offset - field[1].length;
    return knownFields(doc).map((name) => ({
      label: name,
      kind: 'field',
      detail: 'input field used in this file',
      insertText: doc.text[offset] === '}' ? name : `${name}}`,
      replace: { start, end: offset },
    }));
  }

  const exampleLabel = /^example\s+([\p{L}\p{M}\p{N}_.-]*)$/u.exec(before);
  if (exampleLabel) {
    const start = offset - exampleLabel[1].length;
    const labels = doc.verbalizers[0]?.entries.map((entry) => entry.label.text) ?? [];
    return [
      ...labels.map((label) => ({
        label,
        kind: 'label' as const,
        detail: 'label of the verbalizer',
        insertText: `${label}: `,
        replace: { start, end: offset },
      })),
      { label: '?', kind: 'label' as const, detail: 'unlabelled example', insertText: '?: ', replace: { start, end: offset } },
    ];
  }

  const indented = /^(\s+)([\p{L}\p{M}\p{N}_]*)$/u.exec(before);
  if (indented && insideMultiFieldExample(doc, lineIndex)) {
    const start = offset - indented[2].length;
    return usedFields(doc.patterns).map((name) => ({
      label: name,
      kind: 'field',
      detail: 'field the patterns read',
      insertText: `${name}: `,
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

function knownFields(doc: ClozeDocument): string[] {
  const fields = usedFields(doc.patterns);
  for (const example of doc.examples) {
    for (const field of example.fields) if (field.name && !fields.includes(field.name.text)) fields.push(field.name.text);
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
