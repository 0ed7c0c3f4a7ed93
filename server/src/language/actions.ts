import { describePattern, type ClozeDocument, type Diagnostic, type LabelWord, type Pattern, type Span } from './ast';
import { extensionFixes } from './extensions';
import { labelWordAt } from './find';
import { labelWordForms, maskContexts, singleToken, singleTokenVariants } from './labelWords';
import type { MaskContext, TokenizerView } from './tokenizer';

/** A text edit as offsets into the document. */
export interface TextEdit {
  readonly span: Span;
  readonly newText: string;
}

/** A quick fix as plain data: the server turns it into an LSP `CodeAction`. */
export interface QuickFix {
  readonly title: string;
  readonly diagnostic: Diagnostic;
  readonly edits: readonly TextEdit[];
  readonly isPreferred: boolean;
}

/**
 * Quick fixes for the given diagnostics. Fixes for label words only ever
 * offer spellings that are real single tokens of the model's vocabulary, so
 * applying one can never trade one error for another.
 */
export function quickFixes(doc: ClozeDocument, diagnostics: readonly Diagnostic[], tokenizer: TokenizerView | undefined): QuickFix[] {
  const fixes: QuickFix[] = [];
  for (const diagnostic of diagnostics) {
    switch (diagnostic.code) {
      case 'mask-multiple':
        // Only a written second [MASK] is removed; a mask token inside text (an example, an
        // escaped \[MASK\]) is reported on the whole text, which must not be deleted.
        if (isMaskPart(doc, diagnostic.span)) {
          fixes.push({
            title: 'Remove this extra [MASK]',
            diagnostic,
            edits: [removeWithOneBlank(doc, diagnostic.span)],
            isPreferred: true,
          });
        }
        break;
      case 'mask-missing': {
        const pattern = doc.patterns.find((p) => p.textSpan.start === diagnostic.span.start || p.span.start === diagnostic.span.start);
        if (!pattern) break;
        // Text that holds the model's mask token (an escaped \[MASK\]) would become a second mask.
        const mask = tokenizer?.special.mask;
        if (mask !== undefined && pattern.parts.some((part) => part.kind === 'text' && part.value.includes(mask))) break;
        const end = pattern.textSpan.end > pattern.textSpan.start ? pattern.textSpan.end : pattern.span.end;
        // `pattern: text [MASK]`, and `pattern: [MASK]` rather than `pattern:[MASK]` when the text is empty.
        const separator = /\s/.test(doc.text[end - 1] ?? ' ') ? '' : ' ';
        fixes.push({
          title: 'Append [MASK] to the pattern',
          diagnostic,
          edits: [{ span: { start: end, end }, newText: `${separator}[MASK]` }],
          isPreferred: true,
        });
        break;
      }
      case 'special-token-explicit':
        fixes.push({
          title: `Remove ${doc.text.slice(diagnostic.span.start, diagnostic.span.end)}`,
          diagnostic,
          edits: [removeWithOneBlank(doc, diagnostic.span)],
          isPreferred: true,
        });
        break;
      case 'label-word-repeated':
        fixes.push({
          title: 'Remove the repeated label word',
          diagnostic,
          edits: [removeListItem(doc, diagnostic.span)],
          isPreferred: true,
        });
        break;
      case 'label-word-multi-token':
      case 'label-word-unknown':
        if (tokenizer) fixes.push(...labelWordFixes(doc, diagnostic, tokenizer));
        break;
      default:
        break;
    }
  }
  fixes.push(...extensionFixes(doc, diagnostics, tokenizer));
  return fixes;
}

function labelWordFixes(doc: ClozeDocument, diagnostic: Diagnostic, tokenizer: TokenizerView): QuickFix[] {
  const found = labelWordAt(doc, diagnostic.span);
  if (!found) return [];
  const { word } = found;
  const contexts = maskContexts(doc);
  const fixes: QuickFix[] = [];

  // Other casings that are one token in every context the patterns create,
  // and not a token another label word already is (that would be a new error).
  const taken = tokensOfOtherWords(doc, word, contexts, tokenizer);
  const perContext = [...contexts.keys()].map((context) => singleTokenVariants(word, context, tokenizer));
  const [first, ...rest] = perContext;
  for (const variant of first ?? []) {
    if (!rest.every((variants) => variants.some((v) => v.text === variant.text))) continue;
    if (taken.has(variant.piece.id)) continue;
    fixes.push({
      title: `Replace with \`${variant.text}\` (the single token ${variant.piece.token}, id ${variant.piece.id})`,
      diagnostic,
      edits: [{ span: word.span, newText: variant.text }],
      isPreferred: fixes.length === 0,
    });
  }

  // Byte-level BPE: the word may be one token only after a space (`ĠSociety`).
  // Then the fix is in the pattern: a space before its [MASK].
  const forms = labelWordForms(word.text, contexts, tokenizer);
  const spaced = labelWordForms(word.text, new Map([['after-space', []]]), tokenizer)[0];
  const spacedToken = singleToken(spaced, tokenizer);
  if (spacedToken) {
    for (const form of forms) {
      if (form.context !== 'no-space' || singleToken(form, tokenizer)) continue;
      const edits: TextEdit[] = [];
      for (const pattern of form.patterns) {
        const index = pattern.parts.findIndex((part) => part.kind === 'mask');
        if (index > 0) edits.push({ span: { start: pattern.parts[index].span.start, end: pattern.parts[index].span.start }, newText: ' ' });
      }
      // A mask that opens a pattern has no context to change (blanks at the start are trimmed),
      // so spacing the other patterns would leave the diagnostic: then this is no fix.
      if (edits.length === 0 || edits.length < form.patterns.length) continue;
      fixes.push({
        title: `Put a space before [MASK] in ${form.patterns.map(describePattern).join(', ')}, where \`${word.text}\` is the single token ${spacedToken.token}`,
        diagnostic,
        edits,
        isPreferred: fixes.length === 0,
      });
    }
  }
  return fixes;
}

function isMaskPart(doc: ClozeDocument, span: Span): boolean {
  return doc.patterns.some((pattern) =>
    pattern.parts.some((part) => part.kind === 'mask' && part.span.start === span.start && part.span.end === span.end),
  );
}

/** Deletes a span and one neighbouring blank, so `a [MASK] b` becomes `a b`. */
function removeWithOneBlank(doc: ClozeDocument, span: Span): TextEdit {
  if (doc.text[span.start - 1] === ' ') return { span: { start: span.start - 1, end: span.end }, newText: '' };
  if (doc.text[span.end] === ' ') return { span: { start: span.start, end: span.end + 1 }, newText: '' };
  return { span, newText: '' };
}

/** Deletes an item of a comma-separated list together with one comma. */
function removeListItem(doc: ClozeDocument, span: Span): TextEdit {
  const before = doc.text.slice(0, span.start);
  const comma = /,\s*$/.exec(before);
  if (comma) return { span: { start: span.start - comma[0].length, end: span.end }, newText: '' };
  const after = /^\s*,\s*/.exec(doc.text.slice(span.end));
  return { span: { start: span.start, end: span.end + (after ? after[0].length : 0) }, newText: '' };
}

/** Token ids the other label words of the verbalizer already are, in any of the contexts. */
function tokensOfOtherWords(
  doc: ClozeDocument,
  except: LabelWord,
  contexts: ReadonlyMap<MaskContext, readonly Pattern[]>,
  tokenizer: TokenizerView,
): Set<number> {
  const ids = new Set<number>();
  for (const entry of doc.verbalizers[0]?.entries ?? []) {
    for (const word of entry.words) {
      if (word === except) continue;
      for (const form of labelWordForms(word.text, contexts, tokenizer)) {
        const token = singleToken(form, tokenizer);
        if (token) ids.add(token.id);
      }
    }
  }
  return ids;
}
