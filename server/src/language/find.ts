import type { ClozeDocument, Example, LabelEntry, LabelWord, MaskPart, Pattern, PlaceholderPart, Span } from './ast';

/**
 * What sits at an offset of the document. Hover, completion and quick fixes
 * all start from here, so they agree on what the user is pointing at.
 */
export type NodeAtOffset =
  | { readonly kind: 'label-word'; readonly word: LabelWord; readonly entry: LabelEntry }
  | { readonly kind: 'label'; readonly entry: LabelEntry }
  | { readonly kind: 'mask'; readonly mask: MaskPart; readonly pattern: Pattern }
  | { readonly kind: 'placeholder'; readonly placeholder: PlaceholderPart; readonly pattern: Pattern }
  | { readonly kind: 'example-label'; readonly example: Example }
  | { readonly kind: 'pattern'; readonly pattern: Pattern };

export function contains(span: Span, offset: number): boolean {
  return span.start <= offset && offset <= span.end;
}

export function nodeAt(doc: ClozeDocument, offset: number): NodeAtOffset | undefined {
  for (const verbalizer of doc.verbalizers) {
    if (!contains(verbalizer.span, offset)) continue;
    for (const entry of verbalizer.entries) {
      if (contains(entry.label.span, offset)) return { kind: 'label', entry };
      const word = entry.words.find((w) => contains(w.span, offset));
      if (word) return { kind: 'label-word', word, entry };
    }
  }
  for (const pattern of doc.patterns) {
    if (!contains(pattern.span, offset)) continue;
    for (const part of pattern.parts) {
      if (part.kind === 'mask' && contains(part.span, offset)) return { kind: 'mask', mask: part, pattern };
      if (part.kind === 'placeholder' && contains(part.span, offset)) return { kind: 'placeholder', placeholder: part, pattern };
    }
    return { kind: 'pattern', pattern };
  }
  for (const example of doc.examples) {
    if (example.label && contains(example.label.span, offset)) return { kind: 'example-label', example };
  }
  return undefined;
}

/** The label word whose span is exactly `span` (how a quick fix finds the word of a diagnostic). */
export function labelWordAt(doc: ClozeDocument, span: Span): { word: LabelWord; entry: LabelEntry } | undefined {
  for (const verbalizer of doc.verbalizers) {
    for (const entry of verbalizer.entries) {
      const word = entry.words.find((w) => w.span.start === span.start && w.span.end === span.end);
      if (word) return { word, entry };
    }
  }
  return undefined;
}

export function patternContaining(doc: ClozeDocument, offset: number): Pattern | undefined {
  return doc.patterns.find((pattern) => contains(pattern.span, offset));
}
