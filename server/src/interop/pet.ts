import { clozeNames, fieldsOf, verbalizerFor, type Converted, type PvpPattern, type PvpSet, type PvpVerbalizer } from './pvp';
import { pythonString } from './lmbff';

/**
 * PET (timoschick/pet): the file `--verbalizer_file` names, read by
 * `PVP._load_verbalizer_from_file` in `pet/pvp.py`: a line of digits starts
 * the verbalizer of that pattern id; every other non-empty line is
 * `label word word …`, split at white space. PET scores a label by the mean
 * of its words' logits (`_convert_single_mlm_logits_to_cls_logits`), each
 * word one token encoded with `add_prefix_space=True` for RoBERTa
 * (`get_verbalization_ids`): `aggregate=mean-logit space=before`.
 *
 * PET's patterns are Python (`PVP.get_parts`), so the file holds no pattern:
 * the import makes one named verbalizer per pattern id, and `cloze export
 * --to pet` writes the PVP class that states the patterns.
 */

export function importPetVerbalizers(content: string): Converted<PvpSet> {
  const notes: string[] = [];
  const byId = new Map<string, Array<{ label: string; words: string[] }>>();
  let current: string | undefined;
  for (const line of content.split(/\r\n|\r|\n/)) {
    // PET tests `line.isdigit()` on the line as it is: a pattern id with spaces around it is a label line there.
    if (/^\d+$/.test(line)) {
      current = String(Number(line));
      continue;
    }
    if (line.trim() === '') continue;
    const [label, ...words] = line.trim().split(/\s+/);
    const key = current ?? 'none';
    const list = byId.get(key) ?? [];
    // PET keeps the last line of a label: `verbalizers[id][label] = realizations`.
    const existing = list.findIndex((entry) => entry.label === label);
    if (existing >= 0) {
      notes.push(`Label \`${label}\` is given twice for pattern ${key}; PET keeps the last line, and so does the import.`);
      list.splice(existing, 1);
    }
    list.push({ label, words });
    byId.set(key, list);
  }
  if (byId.size === 0)
    throw new Error(
      "the verbalizer file has no label lines: PET's --verbalizer_file holds a pattern id line (`0`), then one line per label (`label word word …`).",
    );
  if (byId.has('none'))
    notes.push(
      'Lines before the first pattern id belong to no pattern in PET (it never reads them); they are imported as the verbalizer `none`.',
    );
  const verbalizers: PvpVerbalizer[] = [...byId].map(([id, entries]) => {
    const names = clozeNames(
      entries.map(({ label }) => label),
      'label',
      notes,
    );
    return {
      name: id === 'none' ? 'none' : `p${id}`,
      aggregate: 'mean-logit',
      space: 'before',
      multiToken: undefined,
      labels: entries.map(({ label, words }, i) => {
        if (words.length === 0) notes.push(`Label \`${label}\` of pattern ${id} has no words.`);
        return { label: names[i], words: words.map((text) => ({ text })) };
      }),
    };
  });
  notes.push(
    `PET's patterns are Python code (PVP.get_parts), not part of this file: add a \`pattern pN verbalizer=pN: …\` line for each pattern id (${verbalizers.map((v) => v.name).join(', ')}).`,
  );
  return { value: { patterns: [], verbalizers }, notes: [...new Set(notes)] };
}

/** The verbalizer file for `--verbalizer_file`: pattern i (0-based, in file order) gets its verbalizer's words. */
export function exportPetVerbalizers(set: PvpSet): Converted<string> {
  const notes = petNotes(set);
  const blocks = set.patterns.map((pattern, i) => {
    const verbalizer = verbalizerFor(set, pattern);
    const lines = (verbalizer?.labels ?? []).map(({ label, words }) => {
      const kept = words.filter((w) => !/\s/.test(w.text));
      if (kept.length < words.length)
        notes.push(`PET splits verbalizer lines at white space: the words of \`${label}\` with a space are left out.`);
      return [label, ...kept.map((w) => w.text)].join(' ');
    });
    return [String(i), ...lines].join('\n');
  });
  return { value: `${blocks.join('\n')}\n`, notes: [...new Set(notes)] };
}

function petNotes(set: PvpSet): string[] {
  const notes: string[] = [];
  for (const v of set.verbalizers) {
    const name = v.name ?? '(the first)';
    if (v.aggregate !== 'mean-logit') notes.push(`Verbalizer ${name} uses aggregate=${v.aggregate}; PET averages logits (mean-logit).`);
    if (v.space !== 'before')
      notes.push(`Verbalizer ${name} has space=${v.space}; PET encodes label words with a leading space for RoBERTa (space=before).`);
    if (v.multiToken)
      notes.push(
        `Verbalizer ${name} has multi-token=${v.multiToken}; PET's PVPs score single-token words (its multi-mask helper fills several masks, which Cloze does not).`,
      );
    for (const { words } of v.labels)
      if (words.some((w) => w.space === 'none'))
        notes.push(`A quoted "word" of verbalizer ${name} is scored without a space; PET has no such form.`);
  }
  return notes;
}

const PET_TRANSFORM: Readonly<Record<string, (expression: string) => string>> = {
  'drop-punct': (e) => `self.remove_final_punc(${e})`,
  'lower-first': (e) => `self.lowercase_first(${e})`,
  'drop-last': (e) => `${e}[:-1]`,
  'upper-first': (e) => `${e}[:1].upper() + ${e}[1:]`,
  space: (e) => e,
};

/** A PET PVP class stating the patterns (`get_parts`) and verbalizers (`verbalize`). */
export function exportPetPvp(set: PvpSet, className = 'ClozePVP'): Converted<string> {
  const notes = petNotes(set);
  const fields = fieldsOf(set);
  const source = (field: string): string => {
    const index = fields.indexOf(field);
    if (index === 0) return 'example.text_a';
    if (index === 1) return 'example.text_b';
    return `example.meta[${pythonString(field)}]`;
  };
  if (fields.length > 0) notes.push(`PET's InputExample fields: ${fields.map((f) => `{${f}} is ${source(f)}`).join(', ')}.`);
  const partList = (pattern: PvpPattern): string => {
    // PET's second list (parts_b) is segment B: the tokenizer's pair encoding, as [SEP+] means.
    const lists: string[][] = [[]];
    let items = lists[0];
    for (const part of pattern.parts) {
      switch (part.kind) {
        case 'segment':
          items = [];
          lists.push(items);
          break;
        case 'text': {
          // PET encodes each part on its own (with a leading space for RoBERTa): the spaces between parts are implicit.
          const text = part.text.trim();
          if (text !== '') items.push(pythonString(text));
          break;
        }
        case 'mask':
          items.push('self.mask');
          break;
        case 'sep':
          items.push('self.wrapper.tokenizer.sep_token');
          break;
        case 'field': {
          const value = part.transforms.reduce((e, t) => PET_TRANSFORM[t]?.(e) ?? e, source(part.field));
          // Without `shorten=` every field may be cut (PET needs some); with it, only the fields listed.
          items.push(!pattern.shorten || pattern.shorten.includes(part.field) ? `self.shortenable(${value})` : value);
          break;
        }
      }
    }
    return `[${lists[0].join(', ')}], [${(lists[1] ?? []).join(', ')}]`;
  };
  for (const pattern of set.patterns) {
    if (pattern.shorten && pattern.truncate !== 'longest') {
      notes.push(
        `Pattern ${pattern.name ?? ''} has truncate=${pattern.truncate ?? 'tail'}; PET cuts the shortenable parts longest side first (truncate=longest).`,
      );
    }
  }
  const verbalizerIndex = set.patterns.map((pattern) => set.verbalizers.indexOf(verbalizerFor(set, pattern) ?? set.verbalizers[0]));
  const lines = [
    'import string',
    'from pet.pvp import PVP',
    '',
    '',
    `class ${className}(PVP):`,
    '    # One verbalizer per pattern id, as the .cloze file states them.',
    '    VERBALIZERS = [',
    ...set.patterns.map((pattern, i) => {
      const v = set.verbalizers[verbalizerIndex[i]];
      const entries = (v?.labels ?? []).map(
        ({ label, words }) => `${pythonString(label)}: [${words.map((w) => pythonString(w.text)).join(', ')}]`,
      );
      return `        {${entries.join(', ')}},  # pattern ${pattern.name ?? i}`;
    }),
    '    ]',
    '',
    '    def get_parts(self, example):',
    ...set.patterns.flatMap((pattern, i) => [
      `        ${i === 0 ? 'if' : 'elif'} self.pattern_id == ${i}:  # pattern ${pattern.name ?? i}`,
      `            return ${partList(pattern)}`,
    ]),
    "        raise ValueError('No pattern implemented for id {}'.format(self.pattern_id))",
    '',
    '    def verbalize(self, label):',
    `        return ${className}.VERBALIZERS[self.pattern_id][label]`,
  ];
  if (set.patterns.some((p) => p.parts.some((part) => part.kind === 'field' && part.transforms.includes('space')))) {
    notes.push('PET joins parts with spaces itself: `|space` is implicit there.');
  }
  return { value: `${lines.join('\n')}\n`, notes: [...new Set(notes)] };
}
