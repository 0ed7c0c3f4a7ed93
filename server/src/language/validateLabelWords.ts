import type { ClozeDocument, Diagnostic, LabelEntry, LabelWord, Pattern, Verbalizer } from './ast';
import { maskContexts } from './labelWords';
import { isRepeatedVerbalizer, verbalizerSettings, type MultiTokenHandler, type VerbalizerSettings } from './options';
import type { MaskContext, TokenPiece } from './tokenizer';

/**
 * What the tokenizer checks of label words need to know about verbalizers
 * beyond v1: which verbalizer an entry belongs to, the mask contexts of the
 * patterns that choose it, and its options.
 */
export interface VerbalizerEntry {
  readonly verbalizer: Verbalizer;
  /** The verbalizer's position in the file: token ownership is per verbalizer. */
  readonly index: number;
  readonly entry: LabelEntry;
  readonly contexts: ReadonlyMap<MaskContext, readonly Pattern[]>;
  readonly settings: VerbalizerSettings;
}

export function verbalizerEntries(doc: ClozeDocument): VerbalizerEntry[] {
  return doc.verbalizers.flatMap((verbalizer, index) => {
    // A repeated name or a second unnamed verbalizer is `verbalizer-duplicate` and not used: not checked either.
    if (isRepeatedVerbalizer(doc, verbalizer)) return [];
    const contexts = maskContexts(doc, verbalizer);
    const settings = verbalizerSettings(verbalizer);
    return verbalizer.entries.map((entry) => ({ verbalizer, index, entry, contexts, settings }));
  });
}

const HANDLER_MEANING: Readonly<Record<MultiTokenHandler, string>> = {
  first: 'the score of its first token',
  mean: 'the mean of its tokens’ logits',
  max: 'the largest of its tokens’ logits',
};

/** `label-word-multi-token` as a warning when the verbalizer opted in to scoring such words: it says what is scored. */
export function multiTokenScored(
  word: LabelWord,
  pieces: readonly TokenPiece[],
  handler: MultiTokenHandler,
  model: string,
  where: string,
  verbalizer: Verbalizer,
): Diagnostic {
  const scored = handler === 'first' ? ` (\`${pieces[0].token}\`)` : '';
  return {
    code: 'label-word-multi-token',
    severity: 'warning',
    span: word.span,
    message: `\`${word.text}\` is ${pieces.length} tokens in ${model}${where}: \`${pieces.map((p) => p.token).join(' ')}\`. With \`multi-token=${handler}\`${verbalizer.name ? ` in verbalizer \`${verbalizer.name.text}\`` : ''} it is scored at the one mask by ${HANDLER_MEANING[handler]}${scored}.`,
  };
}
