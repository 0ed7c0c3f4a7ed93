import { patternDisplayName, type ClozeDocument, type LabelWord, type Pattern, type Verbalizer } from './ast';
import { verbalizerOf, type VerbalizerSettings } from './options';
import { hasSingleMask, maskContext } from './render';
import { labelWordInContext, type MaskContext, type TokenPiece, type TokenizerView } from './tokenizer';

/**
 * How each label word looks to the model at the mask. The validator, the
 * hovers, the quick fixes and the scorer all go through here, so a word that
 * is checked as `Ġgreat` is also scored as `Ġgreat`.
 */

/** A label word tokenized in one mask context, and the patterns that put the mask there. */
export interface LabelWordForm {
  readonly context: MaskContext;
  readonly pieces: readonly TokenPiece[];
  readonly patterns: readonly Pattern[];
}

/**
 * The mask contexts the document's scorable patterns create. When no pattern
 * has a single mask yet, words are checked after a space, the common case
 * (`It was [MASK].`).
 */
export function maskContexts(doc: ClozeDocument, verbalizer?: Verbalizer): Map<MaskContext, Pattern[]> {
  const contexts = new Map<MaskContext, Pattern[]>();
  for (const pattern of doc.patterns) {
    if (!hasSingleMask(pattern)) continue;
    // With several verbalizers, a verbalizer's words meet only the masks of the patterns that choose it.
    if (verbalizer && doc.verbalizers.length > 1 && verbalizerOf(doc, pattern) !== verbalizer) continue;
    const context = maskContext(pattern);
    const patterns = contexts.get(context);
    if (patterns) patterns.push(pattern);
    else contexts.set(context, [pattern]);
  }
  if (contexts.size === 0) contexts.set('after-space', []);
  return contexts;
}

export function labelWordForms(
  word: string,
  contexts: ReadonlyMap<MaskContext, readonly Pattern[]>,
  tokenizer: TokenizerView,
  space?: 'before' | 'none',
): LabelWordForm[] {
  if (space) {
    // A fixed form (`space=before`, a quoted word) is the same whatever precedes the mask.
    const context: MaskContext = space === 'before' ? 'after-space' : 'no-space';
    const patterns = [...contexts.values()].flat();
    return [{ context, pieces: tokenizer.tokenize(labelWordInContext(word, context)), patterns }];
  }
  return [...contexts].map(([context, patterns]) => ({
    context,
    pieces: tokenizer.tokenize(labelWordInContext(word, context)),
    patterns,
  }));
}

/** The single token a label word is in a context, or undefined when it is not one known token. */
export function singleToken(form: LabelWordForm, tokenizer: TokenizerView): TokenPiece | undefined {
  const [first] = form.pieces;
  return form.pieces.length === 1 && first.id !== tokenizer.unkTokenId ? first : undefined;
}

/** "in pattern short and lead", "" when every pattern shares the context. */
export function whereDescription(form: LabelWordForm, formCount: number): string {
  if (formCount < 2 || form.patterns.length === 0) return '';
  const names = form.patterns.map(patternDisplayName);
  return ` where the mask follows ${form.context === 'after-space' ? 'a space' : 'no space'} (${names.join(', ')})`;
}

/** The token form a word is fixed to by its quotes or its verbalizer's `space=`; undefined: the mask's context decides. */
export function fixedSpace(word: LabelWord, settings: VerbalizerSettings): 'before' | 'none' | undefined {
  return word.space ?? (settings.space === 'auto' ? undefined : settings.space);
}
