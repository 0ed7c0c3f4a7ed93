import { entriesOf, isExpression, parsePythonLiteral, PythonSyntaxError, type PythonDictEntry, type PythonValue } from './pythonLiteral';
import { clozeNames, fieldsOf, verbalizerFor, type Converted, type PvpPart, type PvpPattern, type PvpSet, type PvpVerbalizer } from './pvp';

/**
 * LM-BFF (Gao et al. 2021, princeton-nlp/LM-BFF): templates such as
 * `*cls**sent_0*_It_was*mask*.*sep+*` and label-word mappings such as
 * `{'0':'terrible','1':'great'}`, given on the command line (`--template`,
 * `--mapping`) or one per line in the `auto_template/` and
 * `auto_label_mapping/` files. Read from `src/dataset.py`
 * (`tokenize_multipart_input`, the mapping handling of `FewShotDataset`):
 *
 * - the template is split at `*`; `cls`, `mask`, `sep`, `sep+` are the
 *   tokens, `sent_i` the i-th input (variants `sent-_i` drop its last
 *   character, `sentl_i`/`sentu_i` lower/upper-case its first, `+sent_i`
 *   put a space before it), anything else text with `_` for a space; each
 *   part is encoded on its own;
 * - a label word is scored as the first token of `' ' + word` (`Ġword` for
 *   RoBERTa), except a word starting with `<`, `[`, `.` or `,`, which is one
 *   token as written. One word per label; the label probabilities are a
 *   softmax over the label words' logits, which is the sum rule with one word.
 */

/** Exactly LM-BFF's variants: `sent_`, `+sent_`, `sent-_`, `sentl_`, `+sentl_`, `sentl-_`, `sentu_`, `+sentu_` (anything else is text there). */
const SENTENCE = /^(?:(\+)?sent([lu])?|sent(l)?(-))_(\d+)$/;

/** `sent_0` → the field `sent_0`; the importer keeps LM-BFF's names so that export writes them back. */
function field(index: string): string {
  return `sent_${index}`;
}

/**
 * `pairs`: the model has segment ids (BERT), so a `*sep+*` inside the template
 * is the pair encoding (`[SEP+]`); without them (RoBERTa) it is one separator (`[SEP]`).
 */
export function readTemplate(template: string, notes: string[], pairs = false): PvpPart[] {
  const parts: PvpPart[] = [];
  const pieces = template.trim().split('*');
  pieces.forEach((piece, i) => {
    if (piece === '') return;
    const first = pieces.slice(0, i).every((p) => p === '');
    const last = pieces.slice(i + 1).every((p) => p === '');
    if (piece === 'cls') {
      // The tokenizer adds [CLS]/<s> at the start itself; elsewhere it would be a second one.
      if (!first) notes.push(`\`*cls*\` inside the template \`${template}\` cannot be written; it is left out.`);
      return;
    }
    if (piece === 'mask') {
      parts.push({ kind: 'mask' });
      return;
    }
    if (piece === 'sep' || piece === 'sep+') {
      // The tokenizer adds the final separator itself.
      if (last) return;
      // A second `*sep+*` would be a third segment, which a pair encoding has not: a separator then.
      const pair = piece === 'sep+' && pairs && !parts.some((part) => part.kind === 'segment');
      parts.push({ kind: pair ? 'segment' : 'sep' });
      if (pair) {
        notes.push(
          `\`*sep+*\` in \`${template}\` starts segment B: imported as [SEP+], the pair encoding LM-BFF gives a BERT model ([SEP], token_type_ids 1).`,
        );
      } else if (piece === 'sep+') {
        notes.push(
          `\`*sep+*\` in \`${template}\` starts segment B (token_type_ids 1 for BERT). It is imported as [SEP], which is exactly LM-BFF's input for RoBERTa (one </s>, no segment ids); for a BERT model write [SEP+] (the pair encoding: [SEP] and token_type_ids 1).`,
        );
      }
      return;
    }
    const sentence = SENTENCE.exec(piece);
    if (sentence) {
      const [, space, casingA, casingB, dropLast, index] = sentence;
      const casing = casingA ?? casingB;
      const transforms: string[] = [];
      // LM-BFF changes the case before it drops the last character (`sentl-_`).
      if (casing === 'l') transforms.push('lower-first');
      if (casing === 'u') transforms.push('upper-first');
      if (dropLast) transforms.push('drop-last');
      if (space) transforms.push('space');
      parts.push({ kind: 'field', field: field(index), transforms });
      return;
    }
    if (/^label[x]?_\d+$/.test(piece)) {
      notes.push(
        `\`*${piece}*\` (a demonstration's label word, for in-context examples) cannot be written in a pattern; it is left out of \`${template}\`.`,
      );
      return;
    }
    parts.push({ kind: 'text', text: piece.replace(/_/g, ' ') });
  });
  // A mask glued to the text before it reads the same with a space for BERT and RoBERTa (`<mask>` absorbs the space before it), and reads better.
  return parts
    .filter((part) => part.kind !== 'text' || part.text !== '')
    .map((part, i, all) => {
      const next = all[i + 1];
      return part.kind === 'text' && next?.kind === 'mask' && !/\s$/.test(part.text) ? { kind: 'text', text: `${part.text} ` } : part;
    });
}

export function readMapping(source: string, notes: string[], name: string | undefined): PvpVerbalizer {
  const mapping = source.trim();
  let value;
  try {
    value = parsePythonLiteral(mapping);
  } catch (error) {
    const what = `The mapping \`${mapping}\` is not a Python dict: ${error instanceof PythonSyntaxError ? error.message : String(error)}.`;
    // A mapping cut short (`{0:terrible`): what else is wrong is said too, so that the next try is not refused for another reason.
    const closed = error instanceof PythonSyntaxError ? closeMapping(mapping, error) : undefined;
    const problems = closed ? mappingProblems(closed) : [];
    throw new Error(
      problems.length > 0 ? `${what} Closed so, it still cannot be used: ${problems.join('; ')}.${rewritten(closed ?? [])}` : what,
    );
  }
  const entries = entriesOf(value);
  // Only a dict the parser read has entries: a bare name (`terrible`) has none, and `{'expression':'x'}` is a dict like any other.
  if (!entries) throw new Error(`The mapping \`${mapping}\` is not a dict of label → word, such as {'0':'terrible','1':'great'}.`);
  const problems = mappingProblems(entries);
  if (problems.length > 0) throw new Error(`The mapping \`${mapping}\` cannot be used: ${problems.join('; ')}.${rewritten(entries)}`);
  // Every key and word is a string now (mappingProblems). A key written twice is one key, as in the dict
  // LM-BFF `eval`s: it keeps its first place and takes its last word.
  const words = new Map<string, string>();
  for (const entry of entries) {
    const key = entry.key as string;
    const earlier = words.get(key);
    if (earlier !== undefined && earlier !== entry.value)
      notes.push(
        `the mapping names \`${key}\` twice; as Python (and so LM-BFF) reads the dict, its last word \`${entry.value as string}\` is kept, not \`${earlier}\``,
      );
    words.set(key, entry.value as string);
  }
  const pairs = [...words];
  const names = clozeNames(
    pairs.map(([label]) => label),
    'label',
    notes,
  );
  const labels = pairs.map(([, word], i) => {
    // LM-BFF scores `' ' + word`, except for a word that starts with one of these, which it takes as one token as written.
    const raw = ['<', '[', '.', ','].includes(word[0]);
    return { label: names[i], words: [raw ? { text: word, space: 'none' as const } : { text: word }] };
  });
  return { name, aggregate: 'sum', space: 'before', multiToken: undefined, labels };
}

/** The entries of a mapping that ends too early, read with what it lacks added at its end; undefined when that does not make a dict. */
function closeMapping(mapping: string, error: PythonSyntaxError): readonly PythonDictEntry[] | undefined {
  if (error.missing === undefined) return undefined;
  try {
    return entriesOf(parsePythonLiteral(mapping + error.missing));
  } catch {
    return undefined;
  }
}

/** `a`, `a and b`, `a, b and c`. */
function inWords(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** A value written bare that quoting makes a label or word: a number, `True`, a name. */
function quotable(value: PythonValue | undefined): boolean {
  return (
    typeof value === 'number' || typeof value === 'boolean' || value === null || (isExpression(value) && /^[\w.-]+$/.test(value.expression))
  );
}

/**
 * What makes a parsed dict no LM-BFF mapping, in words that quote the user's
 * text. Keys must be strings: LM-BFF `eval`s the mapping and looks each label
 * of the task up in it (`self.label_to_word[label] for label in
 * self.label_list`), and its processors' labels are strings (`'0'`, `'1'`,
 * `'entailment'`; a regression task looks up `'0'` and `'1'`), so with
 * `{0:'terrible'}` LM-BFF fails with a KeyError. Reading `0` as the label `0`
 * would import a mapping that LM-BFF itself refuses, and export would then
 * write `{'0':…}`, another mapping than the one given; it is refused instead,
 * with the spelling that works. A word must be one string (LM-BFF takes
 * `label_to_word[key][0]` and tokenizes `' ' + word`).
 */
function mappingProblems(entries: readonly PythonDictEntry[]): string[] {
  const problems: string[] = [];
  const numbers = entries.filter((e) => typeof e.key === 'number').map((e) => `\`${e.keyText}\``);
  if (numbers.length > 0) {
    problems.push(
      `${numbers.length === 1 ? 'the key' : 'the keys'} ${inWords(numbers)} ${numbers.length === 1 ? 'is a number' : 'are numbers'}, but LM-BFF looks the label words up by the labels of the task, which are strings ('0', '1', …), so a number key matches no label`,
    );
  }
  const bareKeys = entries.filter((e) => typeof e.key !== 'string' && typeof e.key !== 'number').map((e) => `\`${e.keyText}\``);
  if (bareKeys.length > 0) {
    problems.push(
      `${bareKeys.length === 1 ? 'the key' : 'the keys'} ${inWords(bareKeys)} ${bareKeys.length === 1 ? 'is not a quoted label' : 'are not quoted labels'}`,
    );
  }
  for (const entry of entries) {
    const of = `of \`${entry.keyText}\``;
    if (typeof entry.value === 'string') {
      // A .cloze verbalizer separates label words with commas, so `great, fine` would become two words: LM-BFF asserts
      // one token per word, and a comma alone (a token LM-BFF takes as written) has no way to be written.
      if (entry.value.includes(','))
        problems.push(
          `the label word \`${entry.value}\` ${of} has a comma, which a .cloze verbalizer reads as a separator between label words (it cannot hold a comma; LM-BFF takes one token per label)`,
        );
      continue;
    }
    if (entry.value === undefined) problems.push(`\`${entry.keyText}\` has no label word (write \`${entry.keyText}:'word'\`)`);
    else if (quotable(entry.value)) problems.push(`the label word \`${entry.valueText ?? ''}\` ${of} is not quoted`);
    else problems.push(`the label word ${of} is \`${entry.valueText ?? ''}\`, not one quoted word (LM-BFF takes one word per label)`);
  }
  return problems;
}

/** ` Write it \`{'0':'terrible'}\`.` when quoting the bare keys and words is all the mapping needs, else nothing. */
function rewritten(entries: readonly PythonDictEntry[]): string {
  const text = (value: PythonValue | undefined, written: string | undefined): string | undefined =>
    typeof value === 'string' ? value : quotable(value) ? written : undefined;
  const pairs = entries.map((e) => [text(e.key, e.keyText), text(e.value, e.valueText)]);
  // Quoting cannot mend a word with a comma (mappingProblems).
  if (pairs.some(([key, word]) => key === undefined || word === undefined || word.includes(','))) return '';
  return ` Write it \`{${pairs.map(([key, word]) => `${pythonString(key ?? '')}:${pythonString(word ?? '')}`).join(',')}}\`.`;
}

/** A template string and mapping(s), as LM-BFF's `--template`/`--mapping` or its auto_template / auto_label_mapping files (one per line). */
export function importLmBff(
  templates: readonly string[],
  mappings: readonly string[],
  options: { pairs?: boolean } = {},
): Converted<PvpSet> {
  const notes: string[] = [];
  const lines = (list: readonly string[]): string[] => list.map((line) => line.trim()).filter((line) => line !== '');
  const verbalizers = lines(mappings).map((mapping, i) => readMapping(mapping, notes, i === 0 ? undefined : `mapping${i + 1}`));
  if (verbalizers.length > 1) {
    const others = verbalizers.slice(1).map((v) => v.name ?? '');
    notes.push(
      `${verbalizers.length} mappings: the patterns use the first; the others are the named verbalizers ${others.join(', ')} (choose one with \`pattern … verbalizer=${others[0]}:\`).`,
    );
  }
  const patterns = lines(templates).map((template, i): PvpPattern => ({
    name: `t${i + 1}`,
    verbalizer: undefined,
    parts: readTemplate(template, notes, options.pairs),
  }));
  return { value: { patterns, verbalizers }, notes: [...new Set(notes)] };
}

const TRANSFORM_PREFIX: Readonly<Record<string, string>> = {
  '': 'sent',
  'lower-first': 'sentl',
  'upper-first': 'sentu',
};

/** LM-BFF templates (one per pattern) and mappings (one per verbalizer). */
export function exportLmBff(set: PvpSet): Converted<{ templates: string[]; mappings: string[] }> {
  const notes: string[] = [];
  const fields = fieldsOf(set);
  const sentenceOf = (name: string): string => {
    const lmbff = /^sent_(\d+)$/.exec(name);
    return lmbff ? lmbff[1] : String(fields.indexOf(name));
  };
  if (fields.some((f) => !/^sent_\d+$/.test(f))) {
    notes.push(`LM-BFF numbers its inputs: ${fields.map((f) => `{${f}} is sent_${sentenceOf(f)}`).join(', ')}.`);
  }
  const templates = set.patterns.map((pattern) => {
    if (pattern.shorten) {
      notes.push(
        `Pattern ${pattern.name ?? ''} cuts its fields (shorten=${pattern.shorten.join(',')}): LM-BFF cuts each sentence to --first_sent_limit / --other_sent_limit, or the whole input at its end (at its start with --truncate_head); pass those options instead.`,
      );
    }
    let template = '*cls*';
    for (const part of partWise(pattern.parts)) {
      switch (part.kind) {
        case 'text':
          if (part.text.includes('*') || part.text.includes('_')) {
            notes.push(`The text \`${part.text}\` has \`*\` or \`_\`, which an LM-BFF template cannot hold; they are left out.`);
          }
          template += part.text.replace(/[*_]/g, '').replace(/ /g, '_');
          break;
        case 'mask':
          template += '*mask*';
          break;
        case 'sep':
          template += '*sep*';
          break;
        case 'segment':
          // LM-BFF's `*sep+*` is one separator and segment ids 1 after it: BERT's pair encoding; RoBERTa's has `</s></s>`.
          template += '*sep+*';
          notes.push(
            '[SEP+] is written *sep+*: the same input for BERT; for RoBERTa LM-BFF puts one </s> where the pair encoding has two.',
          );
          break;
        case 'field': {
          const t = new Set(part.transforms);
          const casing = t.has('lower-first') ? 'lower-first' : t.has('upper-first') ? 'upper-first' : '';
          let name = TRANSFORM_PREFIX[casing];
          if (t.has('drop-last')) {
            if (casing === 'upper-first' || t.has('space'))
              notes.push(`LM-BFF has no variant for {${part.field}|${part.transforms.join('|')}}: drop-last is left out.`);
            else name += '-';
          }
          if (t.has('space')) name = `+${name}`;
          for (const other of part.transforms.filter((x) => x === 'drop-punct')) {
            notes.push(`LM-BFF has no \`${other}\` transform: {${part.field}|${part.transforms.join('|')}} is written without it.`);
          }
          template += `*${name.replace(/-$/, '-')}_${sentenceOf(part.field)}*`;
          break;
        }
      }
    }
    return `${template}*sep+*`;
  });
  const used = new Set(set.patterns.map((pattern) => verbalizerFor(set, pattern)));
  const mappings = set.verbalizers.map((verbalizer) => {
    if (!used.has(verbalizer) && set.verbalizers.length > 1)
      notes.push(`Verbalizer ${verbalizer.name ?? '(the first)'} is used by no pattern.`);
    if (verbalizer.space === 'none')
      notes.push('LM-BFF scores every label word after a space (`Ġword`); `space=none` cannot be expressed.');
    if (verbalizer.space === 'auto') {
      notes.push(
        'LM-BFF scores every label word after a space (`Ġword` for RoBERTa); the verbalizer has `space=auto`, so a mask that starts a pattern or follows no space is scored differently by Cloze. Write `space=before` to match.',
      );
    }
    if (verbalizer.multiToken) notes.push('LM-BFF takes one token per label word: `multi-token=` cannot be expressed.');
    const entries = verbalizer.labels.map(({ label, words }) => {
      if (words.length > 1)
        notes.push(
          `LM-BFF takes one word per label: \`${label}\` keeps \`${words[0].text}\` and loses ${words
            .slice(1)
            .map((w) => `\`${w.text}\``)
            .join(', ')}.`,
        );
      return `${pythonString(label)}:${pythonString(words[0]?.text ?? '')}`;
    });
    return `{${entries.join(',')}}`;
  });
  return { value: { templates, mappings }, notes: [...new Set(notes)] };
}

/**
 * LM-BFF encodes each part on its own, so a space at the end of a text part
 * would be a token of its own for RoBERTa (`Ġ`). Before the mask it goes
 * (`<mask>` absorbs the space before it in Cloze's encoding); before a field
 * it moves into the field as `+sent_` (LM-BFF's leading space).
 */
function partWise(parts: readonly PvpPart[]): PvpPart[] {
  return parts.flatMap((part, i): PvpPart[] => {
    const next = parts[i + 1];
    const previous = parts[i - 1];
    if (part.kind === 'text' && /\s$/.test(part.text) && (next?.kind === 'mask' || next?.kind === 'field' || next?.kind === 'segment')) {
      const text = previous?.kind === 'segment' ? part.text.trim() : part.text.trimEnd();
      return text === '' ? [] : [{ kind: 'text', text }];
    }
    // Each segment of a pair is trimmed (render.ts): no space starts segment B.
    if (part.kind === 'text' && previous?.kind === 'segment') {
      const text = part.text.trimStart();
      return text === '' ? [] : [{ kind: 'text', text }];
    }
    if (part.kind === 'field' && previous?.kind === 'text' && /\s$/.test(previous.text) && !part.transforms.includes('space')) {
      return [{ ...part, transforms: [...part.transforms, 'space'] }];
    }
    return [part];
  });
}

export function pythonString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
