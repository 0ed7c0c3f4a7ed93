import { patternDisplayName, type ClozeDocument } from '../language/ast';
import { truncationOf } from '../language/truncate';
import { chosenVerbalizerName, verbalizerSettings, type Aggregation, type MultiTokenHandler, type SpaceForm } from '../language/options';

/**
 * The common ground of the importers and exporters: patterns and verbalizers
 * as the frameworks think of them, between their file formats and `.cloze`
 * text. Pure data and pure functions, like the language core, so the
 * round-trip tests run without files.
 *
 * Whatever a conversion cannot express is never dropped silently: it goes
 * into `notes`, which `cloze import` / `cloze export` print, and the imported
 * file keeps as comments.
 */

export type PvpPart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'mask' }
  | { readonly kind: 'sep' }
  /** `[SEP+]`: segment B starts here. */
  | { readonly kind: 'segment' }
  | { readonly kind: 'field'; readonly field: string; readonly transforms: readonly string[] };

export interface PvpPattern {
  readonly name: string | undefined;
  readonly parts: readonly PvpPart[];
  /** The named verbalizer it is scored with; undefined: the first. */
  readonly verbalizer: string | undefined;
  /** `shorten=`: the fields that may be cut, first cut first; and `truncate=` (default tail). */
  readonly shorten?: readonly string[];
  readonly truncate?: string;
}

export interface PvpWord {
  readonly text: string;
  /** A per-word token form (a quoted word in `.cloze`). */
  readonly space?: 'before' | 'none';
}

export interface PvpVerbalizer {
  readonly name: string | undefined;
  readonly aggregate: Aggregation;
  readonly space: SpaceForm;
  readonly multiToken: MultiTokenHandler | undefined;
  readonly labels: ReadonlyArray<{ readonly label: string; readonly words: readonly PvpWord[] }>;
}

export interface PvpSet {
  readonly model?: string;
  readonly patterns: readonly PvpPattern[];
  readonly verbalizers: readonly PvpVerbalizer[];
}

/** A conversion's result: what it made, and what it could not express. */
export interface Converted<T> {
  readonly value: T;
  readonly notes: readonly string[];
}

const NAME = /^[\p{L}\p{M}\p{N}_.-]+$/u;
/** A field name: narrower than a label (no `.` or `-`), as the parser reads `{field}`. */
const FIELD = /^[\p{L}\p{M}\p{N}_]+$/u;

/** A label name `.cloze` accepts: characters outside names become `_` (the import notes the rename). */
function clozeName(name: string): string {
  if (NAME.test(name)) return name;
  const cleaned = name.trim().replace(/[^\p{L}\p{M}\p{N}_.-]+/gu, '_');
  return cleaned === '' || cleaned === '_' ? 'label' : cleaned;
}

function clozeFieldName(name: string): string {
  if (FIELD.test(name)) return name;
  const cleaned = name.trim().replace(/[^\p{L}\p{M}\p{N}_]+/gu, '_');
  return cleaned === '' || cleaned === '_' ? 'field' : cleaned;
}

/**
 * Cloze names for a framework's names (the labels of one verbalizer, the
 * fields of a template set), one each and never two alike: a renamed `a b`
 * would otherwise become `a_b` beside an `a_b` already there, and the file
 * would declare one label twice (or read two inputs as one field). Names
 * valid as written keep them, the first of equal names included, so that a
 * file already in Cloze's alphabet imports unchanged; the others are cleaned
 * and, if that name is taken, numbered (`a_b_2`), each with a note.
 */
export function clozeNames(
  originals: readonly string[],
  kind: 'label' | 'field',
  notes: string[],
  /** How a note calls the i-th name (default: Label `a b`). */
  describe: (i: number) => string = (i) => `${kind === 'label' ? 'Label' : 'Field'} \`${originals[i]}\``,
): string[] {
  const valid = kind === 'label' ? NAME : FIELD;
  const taken = new Set<string>();
  const kept = originals.map((original) => {
    if (!valid.test(original) || taken.has(original)) return undefined;
    taken.add(original);
    return original;
  });
  const alphabet = kind === 'label' ? 'a Cloze label is letters, digits, `_`, `-` or `.`' : 'a Cloze field is letters, digits or `_`';
  return originals.map((original, i) => {
    const keep = kept[i];
    if (keep !== undefined) return keep;
    const cleaned = kind === 'label' ? clozeName(original) : clozeFieldName(original);
    let name = cleaned;
    for (let n = 2; taken.has(name); n++) name = `${cleaned}_${n}`;
    taken.add(name);
    const why =
      cleaned === original
        ? `\`${original}\` is the name of another ${kind}`
        : name === cleaned
          ? alphabet
          : `${alphabet}, and \`${cleaned}\` is the name of another ${kind}`;
    notes.push(`${describe(i)} is written \`${name}\`: ${why}.`);
    return name;
  });
}

/** Pattern text for literal text: escapes what the parser would read as syntax. */
function escapeText(text: string): string {
  return text.replace(/[\\{}[\]]/g, (char) => `\\${char}`);
}

function optionsText(v: PvpVerbalizer): string {
  const options: string[] = [];
  if (v.aggregate !== 'sum') options.push(`aggregate=${v.aggregate}`);
  if (v.space !== 'auto') options.push(`space=${v.space}`);
  if (v.multiToken) options.push(`multi-token=${v.multiToken}`);
  return [v.name, ...options].filter(Boolean).join(' ');
}

function wordText(word: PvpWord): string {
  if (word.space === 'before') return `" ${word.text}"`;
  if (word.space === 'none') return `"${word.text}"`;
  return word.text;
}

export function patternText(parts: readonly PvpPart[]): string {
  let text = '';
  for (const part of parts) {
    switch (part.kind) {
      case 'text':
        text += escapeText(part.text);
        break;
      case 'mask':
        text += '[MASK]';
        break;
      case 'sep':
        text += '[SEP]';
        break;
      case 'segment':
        text += '[SEP+]';
        break;
      case 'field':
        text += `{${[part.field, ...part.transforms].join('|')}}`;
        break;
    }
  }
  // Pattern text is trimmed: a leading space that matters is written as a kept space `\ `.
  return text.startsWith(' ') ? `\\${text}` : text.trimEnd();
}

/** `.cloze` text for a set of PVPs, with the notes as comments at the top. */
export function writeCloze(set: PvpSet, notes: readonly string[], header: string): string {
  const lines: string[] = [`# ${header}`];
  for (const note of notes) lines.push(`# NOTE: ${note}`);
  lines.push('');
  if (set.model) lines.push(`model: ${set.model}`, '');
  for (const pattern of set.patterns) {
    const head = [
      'pattern',
      pattern.name,
      pattern.verbalizer ? `verbalizer=${pattern.verbalizer}` : undefined,
      pattern.shorten && pattern.shorten.length > 0 ? `shorten=${pattern.shorten.join(',')}` : undefined,
      pattern.shorten && pattern.truncate && pattern.truncate !== 'tail' ? `truncate=${pattern.truncate}` : undefined,
    ]
      .filter(Boolean)
      .join(' ');
    lines.push(`${head}: ${patternText(pattern.parts)}`);
  }
  for (const verbalizer of set.verbalizers) {
    const head = optionsText(verbalizer);
    lines.push('', head ? `verbalizer ${head}:` : 'verbalizer:');
    for (const { label, words } of verbalizer.labels) lines.push(`  ${label}: ${words.map(wordText).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The PVPs a parsed `.cloze` file states, for the exporters. */
export function fromDocument(doc: ClozeDocument): PvpSet {
  const patterns = doc.patterns.map((pattern): PvpPattern => ({
    name: pattern.name ? pattern.name.text : patternDisplayName(pattern).replace(' ', ''),
    verbalizer: chosenVerbalizerName(pattern),
    ...(truncationOf(pattern) ? { shorten: truncationOf(pattern)?.fields, truncate: truncationOf(pattern)?.strategy } : {}),
    parts: mergeText(
      pattern.parts.flatMap((part): PvpPart[] => {
        switch (part.kind) {
          case 'text':
            return [{ kind: 'text', text: part.value }];
          case 'mask':
            return [{ kind: 'mask' }];
          case 'placeholder':
            return [{ kind: 'field', field: part.field, transforms: part.transforms.map((t) => t.name) }];
          case 'segment':
            return [{ kind: 'segment' }];
          case 'special':
            // [CLS]/<s> are added by every framework's tokenizer as well: leaving them out keeps the input.
            return part.token === '[SEP]' || part.token === '</s>' ? [{ kind: 'sep' }] : [];
        }
      }),
    ),
  }));
  const verbalizers = doc.verbalizers.map((verbalizer): PvpVerbalizer => {
    const settings = verbalizerSettings(verbalizer);
    return {
      name: verbalizer.name?.text,
      aggregate: settings.aggregate,
      space: settings.space,
      multiToken: settings.multiToken,
      labels: verbalizer.entries.map((entry) => ({
        label: entry.label.text,
        words: entry.words.map((word) => (word.space ? { text: word.text, space: word.space } : { text: word.text })),
      })),
    };
  });
  return { model: doc.models[0]?.id, patterns, verbalizers };
}

function mergeText(parts: readonly PvpPart[]): PvpPart[] {
  const merged: PvpPart[] = [];
  for (const part of parts) {
    const last = merged[merged.length - 1];
    if (part.kind === 'text' && last?.kind === 'text') merged[merged.length - 1] = { kind: 'text', text: last.text + part.text };
    else merged.push(part);
  }
  return merged;
}

/** The fields of a pattern set in order of first use. */
export function fieldsOf(set: PvpSet): string[] {
  const fields: string[] = [];
  for (const pattern of set.patterns) {
    for (const part of pattern.parts) if (part.kind === 'field' && !fields.includes(part.field)) fields.push(part.field);
  }
  return fields;
}

/** The verbalizer a pattern is scored with. */
export function verbalizerFor(set: PvpSet, pattern: PvpPattern): PvpVerbalizer | undefined {
  return pattern.verbalizer === undefined ? set.verbalizers[0] : set.verbalizers.find((v) => v.name === pattern.verbalizer);
}
