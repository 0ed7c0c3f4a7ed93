import { describePattern, type ClozeDocument, type Diagnostic, type DiagnosticCode, type LabelEntry, type Pattern, type Span } from './ast';
import { fixedSpace, labelWordForms, singleToken, whereDescription } from './labelWords';
import { multiTokenScored, verbalizerEntries } from './validateLabelWords';
import { exampleFields, hasSingleMask, renderPattern } from './render';
import { formatPieces, type TokenizerView } from './tokenizer';
import { inputLength, renderTruncated } from './truncate';

/**
 * The checks that need the model's real tokenizer: label words that are not
 * one token, unknown or shared between labels, and inputs too long for the
 * model. They run after the structural checks, once the tokenizer is loaded.
 */
export function validateWithTokenizer(doc: ClozeDocument, tokenizer: TokenizerView): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [entry, problems] of labelWordProblems(doc, tokenizer)) {
    out.push(...summarizeLabel(doc, entry, problems, tokenizer.modelId));
  }
  out.push(...masksInText(doc, tokenizer));
  out.push(...inputsTooLong(doc, tokenizer));
  return out;
}

/**
 * The problems of each label's words, word by word, in verbalizer order
 * (`validateWithTokenizer` summarises a label with many). The quick fix of a
 * summary reads the words it counts from here.
 */
export function labelWordProblems(doc: ClozeDocument, tokenizer: TokenizerView): Map<LabelEntry, Diagnostic[]> {
  const out = new Map<LabelEntry, Diagnostic[]>();
  const model = tokenizer.modelId;

  /** Which label first claimed a token id, per verbalizer and context. */
  const owners = new Map<string, { label: string; word: string }>();

  // Each verbalizer is checked in the mask contexts of the patterns that choose it, with its own options.
  for (const { verbalizer, index, entry, contexts, settings } of verbalizerEntries(doc)) {
    const tokensOfLabel = new Map<string, string>();
    const textsOfLabel = new Set<string>();
    /** This label's word problems: reported one by one, or as one summary when there are many. */
    const problems: Diagnostic[] = out.get(entry) ?? [];
    for (const word of entry.words) {
      // A word written twice in the same form is reported by the structural check already.
      const written = `${fixedSpace(word, settings) ?? ''}\u0000${word.text}`;
      if (textsOfLabel.has(written)) continue;
      textsOfLabel.add(written);
      const fixed = fixedSpace(word, settings);
      const forms = labelWordForms(word.text, contexts, tokenizer, fixed);
      let reported = false;
      for (const form of forms) {
        if (reported) break;
        const where = whereDescription(form, forms.length);
        if (form.pieces.length === 0) {
          problems.push({
            code: 'label-word-unknown',
            severity: 'error',
            span: word.span,
            message: `\`${word.text}\` becomes no token at all in ${model}${where}: the model cannot predict it.`,
          });
          reported = true;
        } else if (form.pieces.length > 1 && settings.multiToken) {
          problems.push(multiTokenScored(word, form.pieces, settings.multiToken, model, where, verbalizer));
          reported = true;
        } else if (form.pieces.length > 1) {
          problems.push({
            code: 'label-word-multi-token',
            severity: 'error',
            span: word.span,
            message: `\`${word.text}\` is not one token in ${model}${where}: \`${word.text} → ${formatPieces(form.pieces)}\` (${form.pieces.length} tokens). A label word must be a single token; the mask is one.`,
          });
          reported = true;
        } else if (!singleToken(form, tokenizer)) {
          problems.push({
            code: 'label-word-unknown',
            severity: 'error',
            span: word.span,
            message: `\`${word.text}\` is not in the vocabulary of ${model}: it maps to the unknown token ${form.pieces[0].token}, so its probability says nothing about the label.`,
          });
          reported = true;
        }
        if (reported) continue;
        const piece = form.pieces[0];
        // The masks the form meets: a fixed form (quotes, `space=`) is scored as it is in every one of the
        // verbalizer's mask contexts, so it meets the other words in each; a word in its mask's form, in that one.
        const keys = (fixed ? [...contexts.keys()] : [form.context]).map((context) => `${index}:${context}:${piece.id}`);
        const sameLabel = keys.map((key) => tokensOfLabel.get(key)).find((other) => other !== undefined);
        if (sameLabel !== undefined) {
          problems.push({
            code: 'label-word-repeated',
            severity: 'warning',
            span: word.span,
            message:
              sameLabel === word.text
                ? `\`${word.text}\` is scored as the same token as its other form in \`${entry.label.text}\` (${piece.token}, id ${piece.id}) in ${model}: the token counts once, so one of the two is redundant.`
                : `\`${word.text}\` is the same token as \`${sameLabel}\` (${piece.token}, id ${piece.id}) in ${model}: for \`${entry.label.text}\` the token counts once, so one of the two spellings is redundant.`,
          });
          reported = true;
          continue;
        }
        for (const key of keys) tokensOfLabel.set(key, word.text);
        const owner = keys.map((key) => owners.get(key)).find((other) => other !== undefined && other.label !== entry.label.text);
        if (owner) {
          problems.push({
            code: 'label-word-ambiguous',
            severity: 'error',
            span: word.span,
            message: `\`${word.text}\` is the token ${piece.token} (id ${piece.id}) in ${model}, which already stands for \`${owner.label}\` (as \`${owner.word}\`). One token cannot vote for two labels.`,
          });
          reported = true;
        } else {
          for (const key of keys) if (!owners.has(key)) owners.set(key, { label: entry.label.text, word: word.text });
        }
      }
    }
    out.set(entry, problems);
  }
  return out;
}

/**
 * More word problems than this in one label are reported as one summary
 * diagnostic on the label, with each word as related information. A
 * hand-written verbalizer has a few words per label and gets a squiggle per
 * word; a knowledge-based verbalizer (thousands of words, many of them
 * several tokens) would otherwise bury the file in squiggles.
 */
export const LABEL_SUMMARY_THRESHOLD = 10;

function summarizeLabel(doc: ClozeDocument, entry: LabelEntry, problems: Diagnostic[], model: string): Diagnostic[] {
  if (problems.length <= LABEL_SUMMARY_THRESHOLD) return problems;
  const count = (code: DiagnosticCode): number => problems.filter((d) => d.code === code).length;
  const notSingle = count('label-word-multi-token') + count('label-word-unknown');
  const parts = [
    count('label-word-multi-token') > 0 ? `${count('label-word-multi-token')} split into several tokens` : '',
    count('label-word-unknown') > 0 ? `${count('label-word-unknown')} unknown` : '',
    count('label-word-ambiguous') > 0 ? `${count('label-word-ambiguous')} already standing for another label` : '',
    count('label-word-repeated') > 0 ? `${count('label-word-repeated')} repeating a token of this label` : '',
  ].filter((part) => part !== '');
  const words = entry.words.length;
  const first = problems.slice(0, 3).map((d) => `\`${doc.text.slice(d.span.start, d.span.end)}\``);
  const headline =
    notSingle === problems.length
      ? `${notSingle} of ${words} words of \`${entry.label.text}\` are not single tokens in ${model}`
      : `${problems.length} of ${words} words of \`${entry.label.text}\` have problems in ${model}`;
  return [
    {
      code: 'label-word-summary',
      severity: problems.some((d) => d.severity === 'error') ? 'error' : 'warning',
      span: entry.label.span,
      message: `${headline} (${parts.join(', ')}), e.g. ${first.join(', ')}. They are left out of the scores; each is listed in the related information.`,
      related: problems.map((d) => ({ span: d.span, message: d.message })),
    },
  ];
}

/** How far below the limit an estimated length may be before the exact length is computed. */
const ESTIMATE_SLACK = 16;

/**
 * `input-too-long`, linear in the file. Token counts are nearly additive over
 * the pieces of an input, so each pattern's own length (filled with empty
 * fields) and each field value are tokenized once; only (pattern, example)
 * pairs whose estimate comes near the limit are rendered and counted exactly.
 * Checking every pair exactly would cost patterns × examples tokenizations.
 */
function inputsTooLong(doc: ClozeDocument, tokenizer: TokenizerView): Diagnostic[] {
  const out: Diagnostic[] = [];
  const groups = new Map<string, { fields: string[]; patterns: Pattern[]; overhead: number }>();
  for (const pattern of doc.patterns) {
    if (!hasSingleMask(pattern)) continue;
    // Every placeholder counts, a field read twice twice: `{a} … {a}` puts `a` in the input twice.
    const fields = pattern.parts.flatMap((part) => (part.kind === 'placeholder' ? [part.field] : []));
    const key = fields.join('\u0000');
    const overhead = tokenizer.countTokens(renderPattern(pattern, new Map(), tokenizer.special));
    const group = groups.get(key);
    if (group) {
      group.patterns.push(pattern);
      group.overhead = Math.max(group.overhead, overhead);
    } else {
      groups.set(key, { fields, patterns: [pattern], overhead });
    }
  }
  if (groups.size === 0) return out;
  for (const example of doc.examples) {
    const values = exampleFields(example, doc.patterns);
    const lengths = new Map<string, number>();
    for (const [field, value] of values) lengths.set(field, tokenizer.tokenize(value).length);
    for (const group of groups.values()) {
      const estimate = group.fields.reduce((sum, field) => sum + (lengths.get(field) ?? 0), group.overhead);
      if (estimate <= tokenizer.maxLength - ESTIMATE_SLACK) continue;
      for (const pattern of group.patterns) {
        // With `shorten=` the fields are cut first (truncate.ts); a pair counts its pair encoding.
        const length = inputLength(renderTruncated(pattern, values, tokenizer).input, tokenizer);
        if (length <= tokenizer.maxLength) continue;
        out.push({
          code: 'input-too-long',
          severity: 'warning',
          span: example.headerSpan,
          message: `With this example, ${describePattern(pattern)} is ${length} tokens long, more than the ${tokenizer.maxLength} that ${tokenizer.modelId} reads. The input has to be truncated: the preview keeps the tokens nearest the mask, but code that cuts the end of the input can cut the mask off.`,
        });
      }
    }
  }
  return out;
}

/**
 * Text that reaches the tokenizer as the model's mask token although it is
 * not the pattern's `[MASK]`: an escaped `\[MASK\]` in a pattern, or the
 * mask token inside an example. The tokenizer cannot tell them apart, so the
 * input would have two masks and the wrong one could be scored.
 */
function masksInText(doc: ClozeDocument, tokenizer: TokenizerView): Diagnostic[] {
  const out: Diagnostic[] = [];
  const mask = tokenizer.special.mask;
  for (const pattern of doc.patterns) {
    // Without a written [MASK] the pattern has no second mask: mask-missing reports it, and it is not scored.
    if (!pattern.parts.some((part) => part.kind === 'mask')) continue;
    for (const part of pattern.parts) {
      if (part.kind !== 'text' || !part.value.includes(mask)) continue;
      // The source may escape the token's brackets (`\[MASK\]`): find it as written.
      for (const span of occurrences(doc.text, part.span, writtenForm(mask))) {
        out.push({
          code: 'mask-multiple',
          severity: 'error',
          span,
          message: `This text contains ${mask}, which ${tokenizer.modelId} reads as its mask token even when escaped: ${describePattern(pattern)} would have two masks. Rephrase it.`,
        });
      }
    }
  }
  for (const example of doc.examples) {
    for (const field of example.fields) {
      // Example text has no escapes: the value is the source between its span's ends.
      for (const span of occurrences(doc.text, field.valueSpan, new RegExp(escapeRegExp(mask), 'g'))) {
        out.push({
          code: 'mask-multiple',
          severity: 'error',
          span,
          message: `This example contains ${mask}, which ${tokenizer.modelId} reads as its mask token: filled into a pattern it makes a second mask. Rephrase it.`,
        });
      }
    }
  }
  return out;
}

/** A pattern that finds a token in pattern source, where each escapable character may carry its backslash. */
function writtenForm(token: string): RegExp {
  return new RegExp([...token].map((char) => ('{}[]\\'.includes(char) ? `\\\\?${escapeRegExp(char)}` : escapeRegExp(char))).join(''), 'g');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Every match of `pattern` inside `span` of the text, as spans of the document. */
function occurrences(text: string, span: Span, pattern: RegExp): Span[] {
  const slice = text.slice(span.start, span.end);
  return [...slice.matchAll(pattern)].map((match) => ({
    start: span.start + (match.index ?? 0),
    end: span.start + (match.index ?? 0) + match[0].length,
  }));
}
