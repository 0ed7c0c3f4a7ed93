import { describePattern, type ClozeDocument, type Span } from './ast';
import { hoverExtension } from './extensions';
import { nodeAt } from './find';
import { labelWordForms, maskContexts } from './labelWords';
import { exampleFields } from './render';
import { formatPieces, TOKENIZER_PENDING, type TokenizerView } from './tokenizer';
import { dataFillsField, type DataSetSummary } from './validate';

/** Label words a label's hover names; the rest are counted. */
const LABEL_HOVER_WORDS = 12;

/** A hover as plain data: Markdown and the span it belongs to. */
export interface HoverResult {
  readonly span: Span;
  readonly markdown: string;
}

/**
 * Hovers that need at most the tokenizer. What the model predicts (the
 * preview) is appended by the server when it has numbers.
 */
export function hoverAt(
  doc: ClozeDocument,
  offset: number,
  tokenizer: TokenizerView | undefined,
  dataSets: ReadonlyMap<string, DataSetSummary> = new Map(),
): HoverResult | undefined {
  const extension = hoverExtension(doc, offset, tokenizer);
  if (extension) return extension;
  const node = nodeAt(doc, offset);
  if (!node) return undefined;
  switch (node.kind) {
    case 'label-word': {
      const { word, entry } = node;
      const lines = [`**${escapeMarkdown(word.text)}** — label word of \`${entry.label.text}\``, ''];
      if (!tokenizer) {
        lines.push(TOKENIZER_PENDING);
      } else {
        // The masks of the patterns that choose the word's verbalizer, as the check reads it.
        const verbalizer = doc.verbalizers.find((v) => v.entries.includes(entry));
        const forms = labelWordForms(word.text, maskContexts(doc, verbalizer), tokenizer);
        for (const form of forms) {
          const where = forms.length > 1 ? ` where the mask follows ${form.context === 'after-space' ? 'a space' : 'no space'}` : '';
          const pieces = form.pieces.map((piece) => `\`${escapeCode(piece.token)}\` (${piece.id})`).join(' ');
          const verdict =
            form.pieces.length !== 1
              ? `${form.pieces.length} tokens: \`${escapeCode(formatPieces(form.pieces))}\``
              : form.pieces[0].id === tokenizer.unkTokenId
                ? 'not in the vocabulary (the unknown token)'
                : 'one token';
          lines.push(`In ${tokenizer.modelId}${where}: ${pieces || '_no token_'} — ${verdict}`);
        }
      }
      return { span: word.span, markdown: lines.join('\n') };
    }
    case 'mask': {
      const text = tokenizer
        ? `**[MASK]** — the position the model fills in. In ${tokenizer.modelId} it is the token \`${escapeCode(tokenizer.special.mask)}\` (id ${tokenizer.maskTokenId}).`
        : '**[MASK]** — the position the model fills in; it becomes the model’s own mask token.';
      return { span: node.mask.span, markdown: text };
    }
    case 'placeholder': {
      const field = node.placeholder.field;
      const filling = doc.examples.filter((example) => exampleFields(example, doc.patterns).has(field));
      const lines = [`**{${field}}** — input field of ${describePattern(node.pattern)}`, ''];
      if (filling.length === 0) {
        lines.push('No example of this file fills it yet.');
      } else {
        lines.push(`Filled by ${filling.length} example${filling.length === 1 ? '' : 's'}:`);
        for (const example of filling.slice(0, 5)) {
          const value = exampleFields(example, doc.patterns).get(field) ?? '';
          lines.push(`- ${example.label ? `\`${example.label.text}\`` : '_unlabelled_'}: ${escapeMarkdown(truncate(value, 60))}`);
        }
        if (filling.length > 5) lines.push(`- … and ${filling.length - 5} more`);
      }
      // Only the files whose rows have the column (as their `data:` line's check decides); a file
      // that lacks it, cannot be read or was not read is the `data:` line's diagnostic, not this.
      const files = [...new Set(doc.data.map((d) => d.path))].filter((file) => dataFillsField(dataSets.get(file), field, doc));
      if (files.length > 0) lines.push('', `and by the rows of ${files.map((file) => `\`${escapeCode(file)}\``).join(', ')}`);
      return { span: node.placeholder.span, markdown: lines.join('\n') };
    }
    case 'label': {
      // A knowledge-based verbalizer gives a label hundreds of words: name the first few and count the rest.
      const listed = node.entry.words.slice(0, LABEL_HOVER_WORDS).map((w) => `\`${escapeCode(w.text)}\``);
      const rest = node.entry.words.length - listed.length;
      const words = `${listed.join(', ')}${rest > 0 ? ` and ${rest} more (${node.entry.words.length} in all)` : ''}`;
      const count = doc.examples.filter((example) => example.label?.text === node.entry.label.text).length;
      return {
        span: node.entry.label.span,
        markdown: `**${escapeMarkdown(node.entry.label.text)}** — label with the words ${words}; ${count} example${count === 1 ? '' : 's'} in this file.`,
      };
    }
    case 'example-label':
    case 'pattern':
      return undefined;
  }
}

export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (char) => `\\${char}`);
}

/**
 * A message of ours as Markdown: its `code` spans stay code (they name ids, words and files), the
 * rest is escaped, so a path's `_` or `*` is shown as written.
 */
export function messageMarkdown(text: string): string {
  return text
    .split(/(`[^`\n]+`)/)
    .map((part, i) => (i % 2 === 1 ? part : escapeMarkdown(part)))
    .join('');
}

/** Inside backticks only a backtick needs care. */
export function escapeCode(text: string): string {
  return text.replace(/`/g, 'ˋ');
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
