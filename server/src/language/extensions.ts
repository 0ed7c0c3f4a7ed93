import {
  describePattern,
  type ClozeDocument,
  type Diagnostic,
  type HeaderOption,
  type LabelEntry,
  type LabelWord,
  type Verbalizer,
} from './ast';
import type { QuickFix } from './actions';
import type { CompletionProposal } from './complete';
import { contains } from './find';
import type { HoverResult } from './hover';
import { fixedSpace, labelWordForms, maskContexts, singleToken } from './labelWords';
import {
  FIELD_TRANSFORMS,
  PATTERN_OPTIONS,
  VERBALIZER_OPTIONS,
  optionSpec,
  patternsOf,
  transformSpec,
  verbalizerSettings,
  type OptionSpec,
} from './options';
import { positionAt } from './positions';
import { formatPieces, TOKENIZER_PENDING, type TokenizerView } from './tokenizer';

/**
 * Hover, completion and quick fixes for the v2 constructs (header options,
 * named verbalizers, field transforms, quoted label words). The v1 features
 * in hover.ts, complete.ts and actions.ts ask here first (hover, completion)
 * or add these (fixes), so each construct is explained where it is written.
 */

const SPACE_MEANING = { before: 'after a space', none: 'without a space' } as const;

/** Hovers on options, transforms, verbalizer names, and label words whose token form is fixed. */
export function hoverExtension(doc: ClozeDocument, offset: number, tokenizer: TokenizerView | undefined): HoverResult | undefined {
  for (const pattern of doc.patterns) {
    if (!contains(pattern.span, offset)) continue;
    const option = pattern.options.find((o) => contains(o.span, offset));
    if (option) return optionHover(doc, option, PATTERN_OPTIONS, 'pattern');
    for (const part of pattern.parts) {
      if (part.kind === 'segment' && contains(part.span, offset)) {
        const bert = tokenizer?.special.sep === '[SEP]';
        return {
          span: part.span,
          markdown: `**[SEP+]** — segment B starts here: the text before and the text after are encoded as a pair by the tokenizer's own pair encoding${tokenizer ? `, ${bert ? '`[CLS] A [SEP] B [SEP]` with token_type_ids 1 for B' : `\`${tokenizer.special.cls ?? ''} A ${tokenizer.special.sep}${tokenizer.special.sep} B ${tokenizer.special.sep}\``} in ${tokenizer.modelId}` : ''} (PET's two-part patterns, LM-BFF's \`*sep+*\`).`,
        };
      }
      if (part.kind !== 'placeholder') continue;
      const transform = part.transforms.find((t) => contains(t.span, offset));
      if (transform) {
        const spec = transformSpec(transform.name);
        return { span: transform.span, markdown: `**|${transform.name}** — field transform: ${spec?.doc ?? ''}.` };
      }
    }
  }
  for (const verbalizer of doc.verbalizers) {
    if (!contains(verbalizer.span, offset)) continue;
    const option = verbalizer.options?.find((o) => contains(o.span, offset));
    if (option) return optionHover(doc, option, VERBALIZER_OPTIONS, 'verbalizer');
    if (verbalizer.name && contains(verbalizer.name.span, offset)) {
      const users = patternsOf(doc, verbalizer);
      return {
        span: verbalizer.name.span,
        markdown: `**verbalizer ${verbalizer.name.text}** — ${settingsText(verbalizer)}. Chosen by ${users.length === 0 ? 'no pattern yet (write `verbalizer=' + verbalizer.name.text + '` in a pattern header)' : users.map(describePattern).join(', ')}.`,
      };
    }
    for (const entry of verbalizer.entries) {
      const word = entry.words.find((w) => contains(w.span, offset));
      const settings = verbalizerSettings(verbalizer);
      // The v1 hover explains words scored in their mask's context in the first verbalizer; the rest are explained here.
      if (word && (fixedSpace(word, settings) || settings.multiToken || verbalizer !== doc.verbalizers[0])) {
        return { span: word.span, markdown: labelWordHover(doc, verbalizer, entry, word, tokenizer) };
      }
    }
  }
  return undefined;
}

function settingsText(verbalizer: Verbalizer): string {
  const s = verbalizerSettings(verbalizer);
  const aggregate = VERBALIZER_OPTIONS[0].values?.find((v) => v.value === s.aggregate)?.doc ?? s.aggregate;
  const space = s.space === 'auto' ? 'label words in the form the mask’s context implies' : `label words scored ${SPACE_MEANING[s.space]}`;
  const multi = s.multiToken ? `; multi-token words scored by ${s.multiToken}` : '';
  return `labels scored by ${aggregate}; ${space}${multi}`;
}

function optionHover(doc: ClozeDocument, option: HeaderOption, specs: readonly OptionSpec[], where: string): HoverResult {
  const spec = optionSpec(specs, option.key.text);
  const value = spec?.values?.find((v) => v.value === option.value.text);
  const lines = [`**${option.key.text}=${option.value.text}** — ${where} option: ${spec?.doc ?? ''}.`];
  if (value) lines.push('', `\`${value.value}\`: ${value.doc}.`);
  if (spec?.values)
    lines.push(
      '',
      `Values: ${spec.values.map((v) => `\`${v.value}\``).join(', ')}${spec.default ? ` (default \`${spec.default}\`)` : ''}.`,
    );
  if (option.key.text === 'verbalizer') {
    const target = doc.verbalizers.find((v) => v.name?.text === option.value.text);
    lines.push(
      '',
      target ? `Verbalizer \`${option.value.text}\`: ${settingsText(target)}.` : `No verbalizer is named \`${option.value.text}\`.`,
    );
  }
  return { span: option.span, markdown: lines.join('\n') };
}

function labelWordHover(
  doc: ClozeDocument,
  verbalizer: Verbalizer,
  entry: LabelEntry,
  word: LabelWord,
  tokenizer: TokenizerView | undefined,
): string {
  const settings = verbalizerSettings(verbalizer);
  const space = fixedSpace(word, settings);
  const lines = [
    `**${word.text}** — label word of \`${entry.label.text}\`${verbalizer.name ? ` in verbalizer \`${verbalizer.name.text}\`` : ''}`,
    '',
    space
      ? `Scored ${SPACE_MEANING[space]} (${word.space ? 'its quotes say so' : `\`space=${settings.space}\``}), whatever precedes the mask.`
      : 'Scored in the form the mask’s context implies.',
  ];
  if (!tokenizer) {
    lines.push('', TOKENIZER_PENDING);
  } else {
    for (const form of labelWordForms(word.text, maskContexts(doc, verbalizer), tokenizer, space)) {
      const one = singleToken(form, tokenizer);
      const verdict = one
        ? `one token \`${one.token}\` (${one.id})`
        : settings.multiToken && form.pieces.length > 1
          ? `${form.pieces.length} tokens \`${formatPieces(form.pieces)}\`, scored by \`multi-token=${settings.multiToken}\``
          : `not one token: \`${formatPieces(form.pieces)}\``;
      lines.push('', `In ${tokenizer.modelId} ${form.context === 'after-space' ? 'after a space' : 'without a space'}: ${verdict}.`);
    }
  }
  return lines.join('\n');
}

/** Completion in pattern/verbalizer headers (option keys, values, verbalizer names) and after `|` in a placeholder. */
export function completeExtension(doc: ClozeDocument, offset: number): CompletionProposal[] | undefined {
  const line = positionAt(doc, offset).line;
  const before = doc.text.slice(doc.lineStarts[line], offset);

  const transform = /^pattern\b.*\{[\p{L}\p{M}\p{N}_]+(?:\|[a-z-]*)*\|([a-z-]*)$/u.exec(before);
  if (transform && before.indexOf(':') < before.lastIndexOf('{')) {
    const start = offset - transform[1].length;
    return FIELD_TRANSFORMS.map((t) => ({ label: t.name, kind: 'keyword', detail: t.doc, replace: { start, end: offset } }));
  }

  const header = /^(pattern|verbalizer)\b([^:]*)$/.exec(before);
  if (!header || !/\s/.test(header[2])) return undefined;
  const specs = header[1] === 'pattern' ? PATTERN_OPTIONS : VERBALIZER_OPTIONS;
  const value = /(\S+)=(\S*)$/.exec(header[2]);
  if (value) {
    const start = offset - value[2].length;
    if (value[1] === 'shorten') {
      // Field names, comma-separated: propose the pattern's fields not listed yet, after the last comma.
      const list = value[2].split(',');
      const fieldStart = offset - list[list.length - 1].length;
      const fields = [
        ...new Set(doc.patterns.flatMap((p) => p.parts.flatMap((part) => (part.kind === 'placeholder' ? [part.field] : [])))),
      ];
      return fields
        .filter((f) => !list.slice(0, -1).includes(f))
        .map((f) => ({ label: f, kind: 'field' as const, detail: 'field that may be cut', replace: { start: fieldStart, end: offset } }));
    }
    if (value[1] === 'verbalizer') {
      return doc.verbalizers.flatMap((v) =>
        v.name
          ? [{ label: v.name.text, kind: 'label' as const, detail: `verbalizer: ${settingsText(v)}`, replace: { start, end: offset } }]
          : [],
      );
    }
    return (optionSpec(specs, value[1])?.values ?? []).map((v) => ({
      label: v.value,
      kind: 'keyword' as const,
      detail: v.doc,
      replace: { start, end: offset },
    }));
  }
  const key = /\s([a-z-]*)$/.exec(header[2]);
  if (!key) return undefined;
  const written = new Set([...header[2].matchAll(/(\S+)=/g)].map((m) => m[1]));
  const start = offset - key[1].length;
  return specs
    .filter((spec) => !written.has(spec.key))
    .map((spec) => ({
      label: `${spec.key}=`,
      kind: 'keyword' as const,
      detail: spec.doc,
      insertText: `${spec.key}=`,
      replace: { start, end: offset },
    }));
}

/**
 * Quick fixes for the v2 diagnostics, and the frameworks' way out of
 * `label-word-multi-token`: the word's leading-space form. (Opting into
 * `multi-token=` changes how every word of the verbalizer is scored, so it is
 * no quick fix of one word; the message and docs name it.)
 */
export function extensionFixes(doc: ClozeDocument, diagnostics: readonly Diagnostic[], tokenizer: TokenizerView | undefined): QuickFix[] {
  const fixes: QuickFix[] = [];
  for (const diagnostic of diagnostics) {
    if (diagnostic.code === 'mask-glued') {
      // The mask is the first six characters of the span.
      const at = diagnostic.span.start + '[MASK]'.length;
      fixes.push({
        title: 'Put a space after [MASK]',
        diagnostic,
        edits: [{ span: { start: at, end: at }, newText: ' ' }],
        isPreferred: true,
      });
    }
    if (diagnostic.code === 'verbalizer-unknown') {
      const written = doc.text.slice(diagnostic.span.start, diagnostic.span.end);
      for (const verbalizer of doc.verbalizers) {
        const name = verbalizer.name?.text;
        if (!name || editDistance(name.toLowerCase(), written.toLowerCase()) > 2) continue;
        fixes.push({
          title: `Use verbalizer \`${name}\``,
          diagnostic,
          edits: [{ span: diagnostic.span, newText: name }],
          isPreferred: fixes.length === 0,
        });
      }
    }
    if (diagnostic.code === 'label-word-multi-token' && diagnostic.severity === 'error')
      fixes.push(...multiTokenFixes(doc, diagnostic, tokenizer));
  }
  return fixes;
}

function multiTokenFixes(doc: ClozeDocument, diagnostic: Diagnostic, tokenizer: TokenizerView | undefined): QuickFix[] {
  const fixes: QuickFix[] = [];
  for (const verbalizer of doc.verbalizers) {
    for (const entry of verbalizer.entries) {
      const word = entry.words.find((w) => w.span.start === diagnostic.span.start && w.span.end === diagnostic.span.end);
      if (!word) continue;
      // What PET, LM-BFF and OpenPrompt score: the word after a space (`ĠSociety`), when that is one token.
      if (tokenizer && !word.space) {
        const [spaced] = labelWordForms(word.text, new Map([['after-space', []]]), tokenizer);
        const token = singleToken(spaced, tokenizer);
        if (token) {
          fixes.push({
            title: `Score \`${word.text}\` after a space, as the single token ${token.token} (write \`" ${word.text}"\`)`,
            diagnostic,
            edits: [{ span: word.span, newText: `" ${word.text}"` }],
            isPreferred: false,
          });
        }
      }
      return fixes;
    }
  }
  return fixes;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length];
}
