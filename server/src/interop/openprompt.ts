import { entriesOf, isExpression, parsePythonLiteral, PythonSyntaxError, type PythonValue } from './pythonLiteral';
import { clozeNames, fieldsOf, verbalizerFor, type Converted, type PvpPart, type PvpSet, type PvpVerbalizer, type PvpWord } from './pvp';
import { pythonString } from './lmbff';

/**
 * OpenPrompt (thunlp/OpenPrompt): `manual_template.txt` (one template per
 * line, `{"placeholder":"text_a"} It was {"mask"}.`) and
 * `manual_verbalizer.txt` (a class per line, its words separated by commas,
 * verbalizers separated by blank lines) or `.json` (`{"label": ["word", …]}`,
 * or a list of such). The knowledgeable verbalizer (KPT) reads the same
 * `.txt` lists. Read from `openprompt/prompt_base.py` (`parse_text`,
 * `Verbalizer.from_file`, `handle_multi_token`) and
 * `prompts/manual_verbalizer.py`:
 *
 * - a label word is encoded as `' ' + word` (a word written `<!>word` without
 *   the space), all its tokens at the one mask, reduced by
 *   `multi_token_handler` (default `first`);
 * - with `post_log_softmax` (the default) the label words' logits are
 *   softmaxed over all label words, logged, and averaged per label:
 *   `aggregate=mean-logprob`; without it the logits are averaged: `mean-logit`.
 */

/** The post_processing lambdas with a Cloze transform, recognised by their body. */
const POST_PROCESSING: ReadonlyArray<{ readonly body: RegExp; readonly transforms: readonly string[] }> = [
  { body: /^(\w+)\.rstrip\(string\.punctuation\)$/, transforms: ['drop-punct'] },
  { body: /^(\w+)\[:-1\]$/, transforms: ['drop-last'] },
  { body: /^(\w+)\[(?:0|:1)\]\.lower\(\)\s*\+\s*\1\[1:\]$/, transforms: ['lower-first'] },
  { body: /^(\w+)\[(?:0|:1)\]\.upper\(\)\s*\+\s*\1\[1:\]$/, transforms: ['upper-first'] },
  { body: /^(\w+)$/, transforms: [] },
];

function postProcessing(expression: string, notes: string[], field: string): string[] {
  const lambda = /^lambda\s+(\w+)\s*:\s*(.+)$/s.exec(expression.trim());
  if (lambda) {
    const [, argument, body] = lambda;
    for (const known of POST_PROCESSING) {
      const match = known.body.exec(body.trim());
      if (match && match[1] === argument) return [...known.transforms];
    }
  }
  notes.push(
    `The post_processing \`${expression}\` of {${field}} has no Cloze transform (drop-punct, drop-last, lower-first, upper-first); it is left out.`,
  );
  return [];
}

/** One line of `manual_template.txt`, as `parse_text` reads it. */
export function readOpenPromptTemplate(line: string, notes: string[]): PvpPart[] {
  return readOpenPromptPattern(line, notes).parts;
}

/** A template line's parts and its shortenable fields, in template order. */
export function readOpenPromptPattern(line: string, notes: string[]): { parts: PvpPart[]; shortenable: string[] } {
  return nameFields([readPieces(line, notes)], notes)[0];
}

/**
 * A field as OpenPrompt names it: `example.text_a` (a placeholder) or
 * `example.meta[name]`. Two namespaces, so a placeholder and a meta field can
 * share a name and still be two inputs.
 */
interface FieldSource {
  readonly source: 'placeholder' | 'meta';
  readonly name: string;
}

type RawPart =
  Exclude<PvpPart, { kind: 'field' }> | { readonly kind: 'field'; readonly field: FieldSource; readonly transforms: readonly string[] };

interface RawPattern {
  readonly parts: readonly RawPart[];
  readonly shortenable: readonly FieldSource[];
}

/**
 * Cloze field names for the fields of all the templates at once: the same
 * field in two templates is one field, and two fields whose names clean to
 * the same name (`text a` and `text_a`, or a placeholder and a meta field
 * of one name) stay two (see `clozeNames`).
 */
function nameFields(patterns: readonly RawPattern[], notes: string[]): Array<{ parts: PvpPart[]; shortenable: string[] }> {
  const keyOf = (field: FieldSource): string => `${field.source}:${field.name}`;
  const distinct = new Map<string, FieldSource>();
  for (const pattern of patterns)
    for (const part of pattern.parts)
      if (part.kind === 'field' && !distinct.has(keyOf(part.field))) distinct.set(keyOf(part.field), part.field);
  const fields = [...distinct.values()];
  const names = clozeNames(
    fields.map((field) => field.name),
    'field',
    notes,
    (i) => `The ${fields[i].source === 'placeholder' ? 'placeholder' : 'meta field'} \`${fields[i].name}\``,
  );
  const nameOf = new Map([...distinct.keys()].map((key, i) => [key, names[i]]));
  const name = (field: FieldSource): string => nameOf.get(keyOf(field)) ?? field.name;
  return patterns.map((pattern) => ({
    parts: pattern.parts.map((part): PvpPart =>
      part.kind === 'field' ? { kind: 'field', field: name(part.field), transforms: part.transforms } : part,
    ),
    shortenable: pattern.shortenable.map(name),
  }));
}

function readPieces(line: string, notes: string[]): RawPattern {
  const parts: RawPart[] = [];
  const shortenable: FieldSource[] = [];
  let i = 0;
  const text = line.replace(/\s+$/, '');
  const push = (part: RawPart, spaceBefore: boolean): void => {
    if (spaceBefore && parts.length > 0) parts.push({ kind: 'text', text: ' ' });
    parts.push(part);
  };
  while (i < text.length) {
    let spaceBefore = i > 0 && text[i - 1] === ' ';
    while (i < text.length && text[i] === ' ') {
      spaceBefore = true;
      i++;
    }
    if (i >= text.length) break;
    if (text[i] !== '{') {
      let j = i + 1;
      while (j < text.length && text[j] !== '{') j++;
      push({ kind: 'text', text: text.slice(i, j).replace(/ +$/, '') }, spaceBefore);
      i = j;
      continue;
    }
    let depth = 1;
    let j = i + 1;
    for (; j < text.length; j++) {
      if (text[j] === '}') depth--;
      else if (text[j] === '{') depth++;
      if (depth === 0) break;
    }
    if (j >= text.length) throw new Error(`The template \`${line}\` has a \`{\` without its \`}\`.`);
    const source = text.slice(i, j + 1);
    i = j + 1;
    let piece;
    try {
      piece = parsePythonLiteral(source);
    } catch (error) {
      if (!(error instanceof PythonSyntaxError)) throw error;
      throw new Error(`The piece \`${source}\` in \`${line}\` is not a Python dict: ${error.message} of the piece.`);
    }
    if (typeof piece !== 'object' || piece === null || Array.isArray(piece) || isExpression(piece)) {
      throw new Error(`\`${source}\` in \`${line}\` is not a template piece.`);
    }
    // OpenPrompt `eval`s the piece: an unquoted key is a name Python does not know (a NameError there).
    const bare = (entriesOf(piece) ?? []).filter((entry) => isExpression(entry.key)).map((entry) => entry.keyText);
    if (bare.length > 0) {
      throw new Error(
        `The piece \`${source}\` in \`${line}\` has the unquoted key${bare.length === 1 ? '' : 's'} ${bare.map((key) => `\`${key}\``).join(', ')}, a name Python does not know; write ${bare.map((key) => `\`"${key}"\``).join(', ')}.`,
      );
    }
    const dict = piece as Record<string, PythonValue>;
    if ('mask' in dict) {
      push({ kind: 'mask' }, spaceBefore);
    } else if (typeof dict['placeholder'] === 'string' || typeof dict['meta'] === 'string') {
      const field: FieldSource =
        typeof dict['placeholder'] === 'string'
          ? { source: 'placeholder', name: dict['placeholder'] }
          : { source: 'meta', name: String(dict['meta']) };
      const processing = dict['post_processing'];
      const transforms = isExpression(processing) ? postProcessing(processing.expression, notes, field.name) : [];
      push({ kind: 'field', field, transforms }, spaceBefore);
      // OpenPrompt's default: a placeholder is shortenable, a meta field is not.
      if (dict['shortenable'] === true || (!('shortenable' in dict) && 'placeholder' in dict)) shortenable.push(field);
    } else if (typeof dict['text'] === 'string') {
      push({ kind: 'text', text: dict['text'] }, spaceBefore);
    } else if (typeof dict['special'] === 'string') {
      const special = dict['special'];
      if (['<eos>', '</s>', '[SEP]', '<sep>'].includes(special)) push({ kind: 'sep' }, spaceBefore);
      else notes.push(`The special token ${special} in \`${line}\` has no Cloze spelling; it is left out.`);
    } else if ('soft' in dict || 'soft_id' in dict) {
      notes.push(`A soft token in \`${line}\` (a trained embedding, not text) cannot be written in a pattern; it is left out.`);
    } else {
      notes.push(`The piece \`${source}\` in \`${line}\` is not understood; it is left out.`);
    }
  }
  return { parts, shortenable };
}

export interface OpenPromptOptions {
  /** Class names, in the order of the lines of a `.txt` verbalizer (which has none). */
  readonly labels?: readonly string[];
  /** `multi_token_handler` of the ManualVerbalizer the files are used with (default `first`). */
  readonly multiToken?: 'first' | 'mean' | 'max';
  /** `post_log_softmax` (default true). */
  readonly postLogSoftmax?: boolean;
  /** PromptDataLoader's `truncate_method` (default tail). */
  readonly truncateMethod?: 'tail' | 'head' | 'balanced';
  /** The verbalizer file as the user named it, for messages about its content. */
  readonly verbalizerSource?: string;
}

function words(list: readonly string[], label: string, notes: string[]): PvpWord[] {
  return list.flatMap((raw): PvpWord[] => {
    if (raw !== raw.trim())
      notes.push(`The word \`${raw}\` of \`${label}\` has spaces around it; OpenPrompt would encode them too. It is imported without.`);
    const word = raw.trim();
    if (word === '') return [];
    // `<!>word` is OpenPrompt's word without the leading space.
    return word.startsWith('<!>') ? [{ text: word.slice(3), space: 'none' }] : [{ text: word }];
  });
}

/** What `--labels` does when its count is not the verbalizer's number of lines: names left over, or lines numbered. */
function labelCountNotes(labels: readonly string[], lineCounts: readonly number[], file: string): string[] {
  const counts = [...new Set(lineCounts)];
  if (counts.every((n) => n === labels.length)) return [];
  const shortest = Math.min(...counts);
  const what =
    labels.length > shortest
      ? `${labels
          .slice(shortest)
          .map((l) => `\`${l}\``)
          .join(', ')} ${labels.length - shortest === 1 ? 'is' : 'are'} not used`
      : 'the lines past the names are labelled by their numbers';
  const lines = counts.length === 1 && counts[0] === 1 ? 'line' : 'lines';
  return [
    `--labels names ${labels.length} ${labels.length === 1 ? 'class' : 'classes'}, but ${file} has ${counts.join(' or ')} ${lines} per verbalizer: ${what}.`,
  ];
}

/** The verbalizers of a `manual_verbalizer.txt` (or KPT list) or `.json` file. */
export function readOpenPromptVerbalizers(content: string, json: boolean, options: OpenPromptOptions, notes: string[]): PvpVerbalizer[] {
  const groups: Array<Array<{ label: string; words: string[] }>> = [];
  const file = options.verbalizerSource ?? 'the verbalizer file';
  if (json) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch (error) {
      throw new Error(`${file} is not valid JSON (${error instanceof Error ? error.message : String(error)}); it may be cut short.`);
    }
    if (options.labels) notes.push(`--labels is for a .txt verbalizer, which names no classes; ${file} names its own, and they are used.`);
    const list = Array.isArray(parsed) ? parsed : [parsed];
    for (const item of list) {
      if (typeof item !== 'object' || item === null || Array.isArray(item))
        throw new Error('A JSON verbalizer is an object `{"label": ["word", …]}` or a list of them.');
      groups.push(
        Object.entries(item as Record<string, unknown>).map(([label, value]) => ({
          label,
          words: (Array.isArray(value) ? value : [value]).map(String),
        })),
      );
    }
  } else {
    let group: string[] = [];
    for (const line of content.split(/\r\n|\r|\n/)) {
      if (line.trim() === '') {
        if (group.length > 0) groups.push(group.map((l, i) => ({ label: options.labels?.[i] ?? String(i), words: l.trim().split(',') })));
        group = [];
      } else {
        group.push(line);
      }
    }
    if (group.length > 0) groups.push(group.map((l, i) => ({ label: options.labels?.[i] ?? String(i), words: l.trim().split(',') })));
    if (!options.labels)
      notes.push('A .txt verbalizer names no classes: the labels are the line numbers 0, 1, … (give names with --labels).');
    // One name per line of each verbalizer: a count that differs is said, not dropped or filled in silently.
    if (options.labels)
      notes.push(
        ...labelCountNotes(
          options.labels,
          groups.map((g) => g.length),
          file,
        ),
      );
  }
  const multiToken = options.multiToken ?? 'first';
  const aggregate = options.postLogSoftmax === false ? 'mean-logit' : 'mean-logprob';
  return groups.map((group, g) => {
    const names = clozeNames(
      group.map(({ label }) => label),
      'label',
      notes,
    );
    return {
      name: g === 0 ? undefined : `v${g + 1}`,
      aggregate,
      space: 'before',
      multiToken,
      labels: group.map(({ label, words: list }, i) => ({ label: names[i], words: words(list, label, notes) })),
    };
  });
}

export function importOpenPrompt(
  templates: string,
  verbalizer: { content: string; json: boolean } | undefined,
  options: OpenPromptOptions,
): Converted<PvpSet> {
  const notes: string[] = [];
  const read = templates
    .split(/\r\n|\r|\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => readPieces(line, notes));
  const patterns = nameFields(read, notes).map(({ parts, shortenable }, i) => {
    // PromptDataLoader's truncate_method: `tail` cuts the last shortenable part first, `head` the first (each at its end), `balanced` all in proportion.
    const method = options.truncateMethod ?? 'tail';
    const shorten = method === 'tail' ? [...shortenable].reverse() : shortenable;
    return { name: `t${i + 1}`, verbalizer: undefined, parts, shorten, truncate: method === 'balanced' ? 'balanced' : 'tail' };
  });
  const verbalizers = verbalizer ? readOpenPromptVerbalizers(verbalizer.content, verbalizer.json, options, notes) : [];
  // A template alone is a fair thing to import (the words are written in Cloze), but the file is then incomplete: say so.
  if (!verbalizer)
    notes.push(
      'No verbalizer file was given, so the file has no verbalizer: add a `verbalizer:` block with a `label: word, word` line per class (the label_words of ManualVerbalizer).',
    );
  if (verbalizers.length > 1) {
    const others = verbalizers.slice(1).map((v) => v.name ?? '');
    notes.push(
      `${verbalizers.length} verbalizers: the patterns use the first (OpenPrompt's choice=0); the others are named ${others.join(', ')}.`,
    );
  }
  return { value: { patterns, verbalizers }, notes: [...new Set(notes)] };
}

const TRANSFORM_LAMBDA: Readonly<Record<string, string>> = {
  'drop-punct': 's.rstrip(string.punctuation)',
  'drop-last': 's[:-1]',
  'lower-first': 's[:1].lower() + s[1:]',
  'upper-first': 's[:1].upper() + s[1:]',
};

/** One `manual_template.txt` line per pattern, a JSON verbalizer list, and a Python snippet building them. */
export function exportOpenPrompt(set: PvpSet): Converted<{ templates: string; verbalizers: string; python: string }> {
  const notes: string[] = [];
  const fields = fieldsOf(set);
  const lines = set.patterns.map((pattern) => {
    let line = '';
    for (const part of pattern.parts) {
      switch (part.kind) {
        case 'text':
          if (/[{}]/.test(part.text))
            notes.push(`The text \`${part.text}\` has braces, which an OpenPrompt template cannot hold as text; they are left out.`);
          line += part.text.replace(/[{}]/g, '');
          break;
        case 'mask':
          line += '{"mask"}';
          break;
        case 'sep':
          line += '{"special": "</s>"}';
          break;
        case 'segment':
          line += '{"special": "</s>"}';
          notes.push('[SEP+] (segment B) has no OpenPrompt ManualTemplate form: it is written as a separator in one segment.');
          break;
        case 'field': {
          const transforms = part.transforms.filter((t) => t !== 'space');
          if (part.transforms.includes('space'))
            notes.push(
              `{${part.field}|space}: OpenPrompt puts a space before a piece when the template has one there; write the space in the text instead.`,
            );
          // Transforms compose in order: each lambda body applies to the previous one's result.
          const body = transforms.reduce(
            (expression, t) => (expression === 's' ? TRANSFORM_LAMBDA[t] : TRANSFORM_LAMBDA[t].replace(/\bs\b/g, `(${expression})`)),
            's',
          );
          const processing = transforms.length > 0 ? `, "post_processing": lambda s: ${body}` : '';
          const key = /^text_[ab]$/.test(part.field) ? 'placeholder' : 'meta';
          // OpenPrompt's default is shortenable for a placeholder, not for meta: write the flag where it differs.
          const cut = pattern.shorten?.includes(part.field) ?? false;
          const flag = cut === (key === 'placeholder') ? '' : `, "shortenable": ${cut ? 'True' : 'False'}`;
          line += `{"${key}": "${part.field}"${flag}${processing}}`;
          break;
        }
      }
    }
    return line.trim();
  });
  if (fields.some((f) => !/^text_[ab]$/.test(f)))
    notes.push(
      `OpenPrompt's InputExample has text_a and text_b; other fields (${fields.filter((f) => !/^text_[ab]$/.test(f)).join(', ')}) are written as {"meta": …}.`,
    );
  const verbalizers = set.verbalizers.map((v) =>
    Object.fromEntries(v.labels.map(({ label, words }) => [label, words.map((w) => (w.space === 'none' ? `<!>${w.text}` : w.text))])),
  );
  for (const v of set.verbalizers) {
    // With one word per label the rules agree (up to OpenPrompt's 1e-15): only several words make the difference.
    if (v.aggregate === 'sum' && v.labels.some((l) => l.words.length > 1))
      notes.push(
        `Verbalizer ${v.name ?? '(the first)'} sums probabilities; OpenPrompt averages log-probabilities (post_log_softmax=True) or logits (False): the snippet uses mean-logprob.`,
      );
    if (v.space === 'none') notes.push(`Verbalizer ${v.name ?? '(the first)'} has space=none: its words are written <!>word.`);
    if (v.space === 'auto')
      notes.push(
        `Verbalizer ${v.name ?? '(the first)'} has space=auto: OpenPrompt scores every word after a space (Ġword); write space=before in Cloze to score what OpenPrompt scores.`,
      );
  }
  const methods = set.patterns.map((pattern) => {
    if (!pattern.shorten) return undefined;
    const order = pattern.parts.flatMap((part) => (part.kind === 'field' && pattern.shorten?.includes(part.field) ? [part.field] : []));
    const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
    if (pattern.truncate === 'balanced' && same(pattern.shorten, order)) return 'balanced';
    if (pattern.truncate === 'tail' && same(pattern.shorten, [...order].reverse())) return 'tail';
    if (pattern.truncate === 'tail' && same(pattern.shorten, order)) return 'head';
    notes.push(
      `Pattern ${pattern.name ?? ''}: shorten=${pattern.shorten.join(',')} truncate=${pattern.truncate ?? 'tail'} has no OpenPrompt truncate_method (tail cuts the last shortenable part first, head the first, balanced all).`,
    );
    return undefined;
  });
  const used = set.patterns.map((pattern) => set.verbalizers.indexOf(verbalizerFor(set, pattern) ?? set.verbalizers[0]));
  const python = [
    'from openprompt.prompts import ManualTemplate, ManualVerbalizer',
    '',
    '# tokenizer: the PLM tokenizer from openprompt.plms.load_plm',
    ...set.patterns.flatMap((pattern, i) => {
      const v = set.verbalizers[used[i]];
      return [
        `template_${i} = ManualTemplate(tokenizer=tokenizer, text=${pythonString(lines[i])})  # pattern ${pattern.name ?? i + 1}${methods[i] ? `; PromptDataLoader(..., truncate_method=${pythonString(methods[i] ?? 'tail')})` : ''}`,
        v
          ? `verbalizer_${i} = ManualVerbalizer(tokenizer, classes=[${v.labels.map((l) => pythonString(l.label)).join(', ')}], label_words={${v.labels
              .map(({ label }) => `${pythonString(label)}: [${verbalizers[used[i]][label].map(pythonString).join(', ')}]`)
              .join(
                ', ',
              )}}, multi_token_handler=${pythonString(v.multiToken ?? 'first')}, post_log_softmax=${v.aggregate === 'mean-logit' ? 'False' : 'True'})`
          : `# pattern ${pattern.name ?? i + 1} has no verbalizer`,
      ];
    }),
  ].join('\n');
  for (const v of set.verbalizers)
    if (!v.multiToken)
      notes.push(
        `Verbalizer ${v.name ?? '(the first)'} has no multi-token=: OpenPrompt's default handler is first, so a multi-token word Cloze rejects would be scored there.`,
      );
  return {
    value: { templates: `${lines.join('\n')}\n`, verbalizers: `${JSON.stringify(verbalizers, null, 2)}\n`, python: `${python}\n` },
    notes: [...new Set(notes)],
  };
}
