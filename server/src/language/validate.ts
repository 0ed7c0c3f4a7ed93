import {
  describePattern,
  maskParts,
  patternFields,
  type ClozeDocument,
  type DataStatement,
  type Diagnostic,
  type DiagnosticCode,
  type Example,
  type Pattern,
  type Severity,
  type Span,
} from './ast';
import { maskLookalike } from './invisible';
import { fixedSpace } from './labelWords';
import { isRepeatedVerbalizer, verbalizerSettings } from './options';
import { quotedNames } from './quoting';
import { validateExtensions } from './validateExtensions';
import { validateModelLists } from './models';

/**
 * Structural checks: everything that can be known without the model. They
 * run on every keystroke, so they are linear in the document and never wait
 * for anything; the tokenizer checks (`validateWithTokenizer`) follow later.
 */

/** What the host learnt by reading a `data:` file; the core does no I/O. */
export type DataSetSummary =
  | {
      readonly ok: true;
      readonly columns: readonly string[];
      readonly labels: readonly string[];
      readonly rowCount: number;
      /** Columns that some rows lack (a JSONL row without the key, or with null): how many rows, and the first one's line. */
      readonly incomplete?: readonly { readonly column: string; readonly rows: number; readonly firstLine: number }[];
      /** Set when a read limit stopped before the end of the file: why, for the `data-too-large` warning. */
      readonly limited?: string;
    }
  | { readonly ok: false; readonly reason: string };

export function validateStructure(doc: ClozeDocument, dataSets: ReadonlyMap<string, DataSetSummary> = new Map()): Diagnostic[] {
  const out: Diagnostic[] = [...doc.syntaxErrors];
  const report = (code: DiagnosticCode, severity: Severity, span: Span, message: string): void => {
    out.push({ code, severity, span, message });
  };
  const firstLine = fileLevelSpan(doc);

  for (const extra of doc.models.slice(1)) {
    report('model-duplicate', 'error', extra.span, 'A file has one `model:` line; this one repeats it. Remove one of them.');
  }

  out.push(...validateModelLists(doc));
  checkPatterns(doc, report, firstLine);
  checkVerbalizer(doc, report, firstLine);
  out.push(...validateExtensions(doc));

  const labels = new Set(doc.verbalizers[0]?.entries.map((entry) => entry.label.text) ?? []);
  const fieldUsers = fieldReaders(doc);
  const fields = [...fieldUsers.keys()];
  for (const example of doc.examples) checkExample(example, doc, labels, fieldUsers, report);
  for (const data of doc.data) checkData(data, dataSets.get(data.path), doc, labels, fields, report);
  return out;
}

type Report = (code: DiagnosticCode, severity: Severity, span: Span, message: string) => void;

/**
 * Where a problem of the whole file goes: line 1, where a user looks first,
 * unless line 1 is the `model:` line (fine or not, it has its own problems):
 * then the first line of the first statement other than comments and the
 * model line, else the end of the text.
 */
export function fileLevelSpan(doc: ClozeDocument): Span {
  const lineBreak = doc.text.search(/\r|\n/);
  const firstLine = { start: 0, end: lineBreak < 0 ? doc.text.length : lineBreak };
  if (!doc.models.some((model) => model.span.start < firstLine.end)) return firstLine;
  const first = doc.statements.find((statement) => statement.kind !== 'comment' && statement.kind !== 'model');
  if (!first) return { start: doc.text.length, end: doc.text.length };
  const rest = doc.text.slice(first.span.start).search(/\r|\n/);
  return { start: first.span.start, end: rest < 0 ? doc.text.length : first.span.start + rest };
}

function checkPatterns(doc: ClozeDocument, report: Report, firstLine: Span): void {
  if (doc.patterns.length === 0) {
    report('pattern-missing', 'error', firstLine, 'The file has no pattern. Add one, e.g. `pattern: {text} It was [MASK].`');
  }
  const names = new Map<string, string>();
  for (const pattern of doc.patterns) {
    const label = describePattern(pattern);
    if (pattern.name) {
      if (names.has(pattern.name.text)) {
        report(
          'pattern-duplicate',
          'error',
          pattern.name.span,
          `Pattern \`${pattern.name.text}\` is declared twice; give each pattern its own name.`,
        );
      }
      names.set(pattern.name.text, label);
    }
    const masks = maskParts(pattern);
    const textSpan = pattern.textSpan.end > pattern.textSpan.start ? pattern.textSpan : pattern.span;
    if (masks.length === 0) {
      // `[mask]`, a Cyrillic А, an invisible character: what looks like the mask and is not is named.
      const lookalike = maskLookalike(doc.text.slice(textSpan.start, textSpan.end));
      report(
        'mask-missing',
        'error',
        textSpan,
        `${capitalize(label)} has no [MASK]: the model needs exactly one position to fill in.${lookalike ? ` ${lookalike}` : ''}`,
      );
    }
    for (const extra of masks.slice(1)) {
      report(
        'mask-multiple',
        'error',
        extra.span,
        `A second [MASK] in ${label}: Cloze scores one mask, and the model would fill only the first. Remove this one.`,
      );
    }
    if (patternFields(pattern).length === 0) {
      report(
        'placeholder-none',
        'warning',
        textSpan,
        `${capitalize(label)} has no {field}: the example's text never reaches the model, so every example gets the same prediction.`,
      );
    }
    for (const part of pattern.parts) {
      if (part.kind === 'special' && (part.token === '[CLS]' || part.token === '<s>')) {
        report(
          'special-token-explicit',
          'warning',
          part.span,
          `${part.token} is added by the tokenizer at the start of every input; writing it here adds a second one. Remove it.`,
        );
      }
    }
  }
}

function checkVerbalizer(doc: ClozeDocument, report: Report, firstLine: Span): void {
  if (doc.verbalizers.length === 0) {
    report(
      'verbalizer-missing',
      'error',
      firstLine,
      'The file has no verbalizer: add `verbalizer:` with indented lines `label: word, word` that map each label to its label words.',
    );
  }
  // Several verbalizers are allowed when each has its own name (options.ts); a repeated name, or a second unnamed one, is a duplicate.
  for (const extra of doc.verbalizers) {
    if (!isRepeatedVerbalizer(doc, extra)) continue;
    report(
      'verbalizer-duplicate',
      'error',
      extra.headerSpan,
      extra.name
        ? `Verbalizer \`${extra.name.text}\` is declared twice; give each verbalizer its own name.`
        : 'A file has one unnamed verbalizer; move these labels into the first `verbalizer:` block, or name this one (`verbalizer name:`) and choose it in a pattern with `verbalizer=name`.',
    );
  }
  for (const verbalizer of doc.verbalizers) {
    const seen = new Set<string>();
    const settings = verbalizerSettings(verbalizer);
    for (const entry of verbalizer.entries) {
      if (seen.has(entry.label.text)) {
        report(
          'label-duplicate',
          'error',
          entry.label.span,
          `Label \`${entry.label.text}\` is declared twice; list all its label words on one line.`,
        );
      }
      seen.add(entry.label.text);
      // The same word in the same stated form (quotes, `space=`). Two forms that are one token anyway
      // (`"bad"` and `" bad"` for BERT, `bad` after a space and `" bad"` for RoBERTa) are the tokenizer check's
      // to say; `"great"` and `" great"` are two RoBERTa tokens, and both count.
      const words = new Set<string>();
      for (const word of entry.words) {
        const key = `${fixedSpace(word, settings) ?? ''}\u0000${word.text}`;
        if (words.has(key)) {
          report(
            'label-word-repeated',
            'warning',
            word.span,
            `\`${word.text}\` is already a label word of \`${entry.label.text}\`; a label word counts once, so remove the repeat.`,
          );
        }
        words.add(key);
      }
    }
  }
}

function checkExample(
  example: Example,
  doc: ClozeDocument,
  labels: ReadonlySet<string>,
  fieldUsers: ReadonlyMap<string, readonly Pattern[]>,
  report: Report,
): void {
  const fields = [...fieldUsers.keys()];
  if (example.label && doc.verbalizers.length > 0 && !labels.has(example.label.text)) {
    report('label-undeclared', 'error', example.label.span, undeclaredMessage(example.label.text, labels));
  }
  if (example.singleLine) {
    if (fields.length > 1) {
      report(
        'placeholder-unknown',
        'error',
        example.headerSpan,
        `The patterns use the fields ${fields.map((f) => `{${f}}`).join(', ')}, but a one-line example gives only one text. Write the fields as indented \`field: value\` lines.`,
      );
    }
    return;
  }
  const given = new Map<string, Span>();
  for (const field of example.fields) {
    if (!field.name) continue;
    if (given.has(field.name.text)) {
      report('syntax', 'error', field.name.span, `Field \`${field.name.text}\` is given twice in this example.`);
    }
    given.set(field.name.text, field.name.span);
  }
  // One diagnostic per missing field, naming the patterns that read it: linear in
  // the example, however many patterns the file has.
  for (const [field, users] of fieldUsers) {
    if (given.has(field)) continue;
    const readers =
      users.length > 3
        ? `${users.slice(0, 3).map(describePattern).join(', ')} and ${users.length - 3} more`
        : users.map(describePattern).join(', ');
    report(
      'placeholder-unknown',
      'error',
      example.headerSpan,
      `This example has no field \`${field}\`, which ${readers} use${users.length === 1 ? 's' : ''} as {${field}}.${suggestField(field, [...given.keys()])}`,
    );
  }
}

/** Which patterns read each field, in order of first use. */
function fieldReaders(doc: ClozeDocument): Map<string, Pattern[]> {
  const readers = new Map<string, Pattern[]>();
  for (const pattern of doc.patterns) {
    for (const field of patternFields(pattern)) {
      const list = readers.get(field);
      if (list) list.push(pattern);
      else readers.set(field, [pattern]);
    }
  }
  return readers;
}

/** Like a one-line example, a file with one text column fills the one field the patterns use. */
function fillsSingleField(summary: DataSetSummary & { ok: true }, fields: readonly string[]): boolean {
  return fields.length === 1 && summary.columns.filter((column) => column !== 'label').length === 1;
}

/** Whether the rows of a data file fill `field`, as the `data:` line's check decides (the placeholder's hover says so). */
export function dataFillsField(summary: DataSetSummary | undefined, field: string, doc: ClozeDocument): boolean {
  if (!summary?.ok) return false;
  return summary.columns.includes(field) || fillsSingleField(summary, [...fieldReaders(doc).keys()]);
}

function checkData(
  data: DataStatement,
  summary: DataSetSummary | undefined,
  doc: ClozeDocument,
  labels: ReadonlySet<string>,
  fields: readonly string[],
  report: Report,
): void {
  if (!summary) return;
  if (!summary.ok) {
    report('data-unreadable', 'error', data.pathSpan, summary.reason);
    return;
  }
  if (summary.limited) {
    report(
      'data-too-large',
      'warning',
      data.pathSpan,
      `${data.path} is larger than Cloze reads: ${summary.limited}. The rest is not checked.`,
    );
  }
  // No rows (an empty file, a header alone): nothing to check against, nothing to evaluate.
  if (summary.rowCount === 0 && !summary.limited) {
    report('data-empty', 'warning', data.pathSpan, `${data.path} has no rows: there is nothing in it to check or evaluate.`);
    return;
  }
  const inputColumns = summary.columns.filter((column) => column !== 'label');
  // Like a one-line example, a file with one text column fills the one field the patterns use.
  const single = fillsSingleField(summary, fields);
  const read = single ? inputColumns : fields.filter((field) => summary.columns.includes(field));
  // A limit that stopped inside the first row leaves no columns to judge (the warning above says why).
  if (!single && !(summary.rowCount === 0 && summary.limited)) {
    const missing = fields.filter((field) => !summary.columns.includes(field));
    if (missing.length > 0) {
      const have = summary.columns.length > 0 ? `they have ${quotedNames(summary.columns)}` : 'it has no rows';
      report(
        'placeholder-unknown',
        'error',
        data.pathSpan,
        `The rows of ${data.path} have no column ${missing.map((f) => `\`${f}\``).join(', ')} (${have}).`,
      );
    }
  }
  // Rows without a column the patterns read would be scored with that field empty: they are left out, and said.
  for (const gap of summary.incomplete ?? []) {
    if (!read.includes(gap.column)) continue;
    report(
      'data-rows-incomplete',
      'warning',
      data.pathSpan,
      `${gap.rows.toLocaleString('en-US')} ${gap.rows === 1 ? 'row' : 'rows'} of ${data.path} ${gap.rows === 1 ? 'has' : 'have'} no \`${gap.column}\` (the first on line ${gap.firstLine}); ${gap.rows === 1 ? 'it is' : 'they are'} not scored.`,
    );
  }
  if (doc.verbalizers.length > 0) {
    const unknown = summary.labels.filter((label) => !labels.has(label));
    if (unknown.length > 0) {
      report(
        'label-undeclared',
        'error',
        data.pathSpan,
        `Rows of ${data.path} have labels the verbalizer does not declare: ${unknown
          .slice(0, 5)
          .map((l) => `\`${l}\``)
          .join(', ')}${unknown.length > 5 ? ', …' : ''}.`,
      );
    }
  }
}

function undeclaredMessage(label: string, labels: ReadonlySet<string>): string {
  const { byLowerCase, declared } = declaredLabels(labels);
  const close = byLowerCase.get(label.toLowerCase());
  const hint = close ? ` Did you mean \`${close}\`?` : labels.size > 0 ? ` Declared: ${declared}.` : '';
  return `Label \`${label}\` is not in the verbalizer.${hint}`;
}

/**
 * The declared labels as `undeclaredMessage` uses them, made once per check: made per example, 20,000
 * examples of an undeclared label among 2,000 declared ones compared 40 million pairs.
 */
const declaredLabelsOf = new WeakMap<ReadonlySet<string>, { byLowerCase: Map<string, string>; declared: string }>();
function declaredLabels(labels: ReadonlySet<string>): { byLowerCase: Map<string, string>; declared: string } {
  let found = declaredLabelsOf.get(labels);
  if (!found) {
    const byLowerCase = new Map<string, string>();
    // The first declared label of a spelling, as `find` gave it.
    for (const label of labels) if (!byLowerCase.has(label.toLowerCase())) byLowerCase.set(label.toLowerCase(), label);
    found = { byLowerCase, declared: quotedNames([...labels]) };
    declaredLabelsOf.set(labels, found);
  }
  return found;
}

function suggestField(field: string, given: readonly string[]): string {
  const close = given.find((name) => name.toLowerCase() === field.toLowerCase() || name.startsWith(field) || field.startsWith(name));
  return close ? ` Did you mean to name \`${close}\` \`${field}\`?` : '';
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
