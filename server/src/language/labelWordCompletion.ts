import type { ClozeDocument } from './ast';
import type { CompletionProposal } from './complete';
import { labelWordForms, singleToken } from './labelWords';
import { positionAt } from './positions';
import type { TokenizerView } from './tokenizer';
import { verbalizerEntries } from './validateLabelWords';

/**
 * Completion at a verbalizer entry (after `label:`, or after a comma in a
 * label's word list): label words ranked by how well they separate that
 * label on the file's labelled rows. The ranking is LM-BFF's candidate score,
 * computed by labelSearch.ts for `cloze suggest` and given here as data: the
 * core never runs a model.
 */

/** The entry the cursor is in: whose label, the words already there, the word being typed. */
export interface VerbalizerEntrySite {
  readonly label: string;
  /** The label's other words (already chosen: not proposed again). */
  readonly words: readonly string[];
  /** The text the proposal replaces (the word typed so far). */
  readonly replace: { readonly start: number; readonly end: number };
}

/** One ranked word for a label, as labelSearch.ts scored it. */
export interface RankedLabelWord {
  readonly word: string;
  /** The token scored in the mask context (`great`, `Ġgreat`). */
  readonly token: string;
  /** Mean log P(w | x) over the label's rows (LM-BFF's class-conditional log-probability). */
  readonly logProbability: number;
  /** The same mean over the other labels' rows, the best of them: how much likelier the word is on its own label. */
  readonly otherLogProbability: number;
}

/** The rankings of a document, or why there are none yet. */
export type LabelWordRanking =
  | { readonly state: 'ready'; readonly rows: number; readonly byLabel: ReadonlyMap<string, readonly RankedLabelWord[]> }
  | { readonly state: 'scoring' }
  | { readonly state: 'unavailable'; readonly reason: string };

/** A label entry's line inside a `verbalizer` block, with the cursor in its word list. */
export function verbalizerEntryAt(doc: ClozeDocument, offset: number): VerbalizerEntrySite | undefined {
  const lineIndex = positionAt(doc, offset).line;
  const lineStart = doc.lineStarts[lineIndex];
  const before = doc.text.slice(lineStart, offset);
  // `  label: word, wo|`: an indented entry, the cursor after its colon, on a word or after a comma.
  // A quote the author opened stays; the word typed after it is replaced.
  const entry = /^[ \t]+([^\s:,#][^:,#]*?)\s*:\s*((?:[^,#]*,\s*)*)(?:"\s?)?([\p{L}\p{M}\p{N}_'-]*)$/u.exec(before);
  if (!entry) return undefined;
  // The block: walk up over indented (or blank) lines to its header.
  let line = lineIndex - 1;
  while (line >= 0) {
    const text = doc.text.slice(doc.lineStarts[line], (doc.lineStarts[line + 1] ?? doc.text.length + 1) - 1);
    if (/^\s*(#.*)?$/.test(text) || /^[ \t]/.test(text)) {
      line--;
      continue;
    }
    if (!/^verbalizer\b[^:]*:\s*(#.*)?$/.test(text)) return undefined;
    break;
  }
  if (line < 0) return undefined;
  const lineEnd = doc.lineStarts[lineIndex + 1] ?? doc.text.length;
  const after = doc.text.slice(offset, lineEnd).split(/[,\n#]/)[0] ?? '';
  const written = `${entry[2]}${after}`
    .split(',')
    .map((w) => w.trim().replace(/^"\s?|"$/g, ''))
    .filter((w) => w !== '');
  const typed = entry[3];
  return {
    label: entry[1].trim(),
    words: written.filter((w) => w !== typed),
    replace: { start: offset - typed.length, end: offset + (/^[\p{L}\p{M}\p{N}_'-]*/u.exec(after)?.[0].length ?? 0) },
  };
}

/**
 * Whether `word` is one known token of `tokenizer` in each mask context of `label`'s patterns. The
 * ranking comes from the default model; a proposal must also pass the label-word check of the other
 * models the file lists, or choosing it would put an error in the file.
 */
export function oneTokenIn(doc: ClozeDocument, label: string, word: string, tokenizer: TokenizerView): boolean {
  const entry = verbalizerEntries(doc).find((e) => e.entry.label.text === label);
  if (!entry) return true;
  return labelWordForms(word, entry.contexts, tokenizer).every((form) => singleToken(form, tokenizer) !== undefined);
}

/** How many words a label entry proposes. */
const PROPOSED = 20;

/**
 * The proposals for an entry: the label's ranked words, best first, without
 * the words already in the entry, each with its score in the detail; one
 * inert item saying why when the ranking is not ready.
 */
export function labelWordProposals(
  site: VerbalizerEntrySite,
  ranking: LabelWordRanking | undefined,
  /** The other models' check (`oneTokenIn`), and their names; a word one of them splits is not proposed. */
  others?: { readonly models: readonly string[]; readonly accepts: (word: string) => boolean },
): CompletionProposal[] {
  if (!ranking) return [];
  const note = (label: string, detail: string): CompletionProposal[] => [
    // Inserts what is already there: choosing it changes nothing.
    { label, kind: 'token', detail, insertText: '', replace: { start: site.replace.end, end: site.replace.end }, sortText: '~' },
  ];
  if (ranking.state === 'scoring') return note('scoring…', `ranking label words for ${site.label} on the file's labelled rows`);
  if (ranking.state === 'unavailable') return note('no label-word ranking', ranking.reason);
  const words = ranking.byLabel.get(site.label);
  // A label the ranking does not know (typed since, or not in the first verbalizer): nothing to say.
  if (!words) return [];
  const also = others && others.models.length > 0 ? others : undefined;
  const fresh = words.filter((w) => !site.words.includes(w.word) && (also?.accepts(w.word) ?? true));
  if (fresh.length === 0)
    return note(
      'no other label word found',
      `no other word is likelier on ${site.label}'s rows than on the other labels' (${ranking.rows} rows)${also ? ` and one token of ${also.models.join(', ')} too` : ''}`,
    );
  return fresh.slice(0, PROPOSED).map((w, i) => ({
    label: w.word,
    kind: 'token' as const,
    detail: `mean log P ${w.logProbability.toFixed(2)} on ${site.label} rows (${(w.logProbability - w.otherLogProbability).toFixed(2)} above the other labels) · ${w.token}`,
    documentation:
      `\`${w.token}\` at the mask: mean log-probability ${w.logProbability.toFixed(3)} over the ${ranking.rows} labelled rows' ` +
      `\`${site.label}\` rows, ${w.otherLogProbability.toFixed(3)} on the other labels' (LM-BFF's class-conditional ranking, as \`cloze suggest\` uses it).` +
      (also ? ` One token of ${also.models.join(', ')} too.` : ''),
    sortText: String(i).padStart(3, '0'),
    replace: site.replace,
  }));
}
