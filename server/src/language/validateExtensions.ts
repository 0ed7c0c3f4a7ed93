import { describePattern, patternFields, type ClozeDocument, type Diagnostic } from './ast';
import { chosenVerbalizerName, isRepeatedVerbalizer } from './options';
import { quotedNames } from './quoting';

/**
 * Structural checks of the v2 constructs (named verbalizers chosen by
 * patterns) and of how a mask sits in its text. Kept apart from validate.ts
 * so the v1 checks read as they did.
 */
export function validateExtensions(doc: ClozeDocument): Diagnostic[] {
  const out: Diagnostic[] = [];
  const names = doc.verbalizers.flatMap((verbalizer) => (verbalizer.name ? [verbalizer.name.text] : []));
  for (const pattern of doc.patterns) {
    const option = pattern.options.find((o) => o.key.text === 'verbalizer');
    const name = chosenVerbalizerName(pattern);
    if (!option || name === undefined || doc.verbalizers.length === 0 || names.includes(name)) continue;
    out.push({
      code: 'verbalizer-unknown',
      severity: 'error',
      span: option.value.span,
      message: `No verbalizer is named \`${name}\`${names.length > 0 ? `; the named ones are ${names.map((n) => `\`${n}\``).join(', ')}` : ''}. Declare it with \`verbalizer ${name}:\`, or fix the name. ${describePattern(pattern)[0].toUpperCase()}${describePattern(pattern).slice(1)} is not previewed until then.`,
    });
  }

  // `shorten=` names fields the pattern reads: a field it does not read can never be cut.
  for (const pattern of doc.patterns) {
    const option = pattern.options.find((o) => o.key.text === 'shorten');
    if (!option) continue;
    const read = patternFields(pattern);
    let at = option.value.span.start;
    for (const field of option.value.text.split(',')) {
      if (!read.includes(field)) {
        out.push({
          code: 'syntax',
          severity: 'error',
          span: { start: at, end: at + field.length },
          message: `\`shorten=\` names \`${field}\`, which ${describePattern(pattern)} does not read${read.length > 0 ? ` (it reads ${read.map((f) => `{${f}}`).join(', ')})` : ''}.`,
        });
      }
      at += field.length + 1;
    }
  }

  // Every verbalizer must declare the labels of the first, so that examples, the ensemble and accuracy mean one thing.
  const [first] = doc.verbalizers;
  const labels = [...new Set(first?.entries.map((entry) => entry.label.text) ?? [])];
  for (const [index, verbalizer] of doc.verbalizers.entries()) {
    // The first verbalizer sets the labels; a duplicate (`verbalizer-duplicate`) is not used at all.
    if (index === 0 || isRepeatedVerbalizer(doc, verbalizer)) continue;
    // Sets: two verbalizers of 40,000 labels each took 12 s to compare as lists.
    const own = new Set(verbalizer.entries.map((entry) => entry.label.text));
    const firstLabels = new Set(labels);
    const missing = labels.filter((label) => !own.has(label));
    const extra = [...own].filter((label) => !firstLabels.has(label));
    if (missing.length === 0 && extra.length === 0) continue;
    const parts = [missing.length > 0 ? `lacks ${quotedNames(missing)}` : '', extra.length > 0 ? `adds ${quotedNames(extra)}` : ''].filter(
      Boolean,
    );
    out.push({
      code: 'verbalizer-labels',
      severity: 'error',
      span: verbalizer.headerSpan,
      message: `This verbalizer ${parts.join(' and ')}: every verbalizer declares the labels of the first (${labels.map((l) => `\`${l}\``).join(', ')}), so that one example means the same task to every pattern.`,
    });
  }

  // `[MASK]ly`, `[MASK]s`: the model fills the mask with a whole token, so the word it would make with the letters never exists.
  for (const pattern of doc.patterns) {
    pattern.parts.forEach((part, i) => {
      const next = pattern.parts[i + 1];
      if (part.kind !== 'mask' || next?.kind !== 'text' || next.kept) return;
      const glued = /^[\p{L}\p{M}\p{N}]+/u.exec(next.value)?.[0];
      // Scripts written without spaces (Chinese, Japanese, Thai, …) are split into characters by their tokenizers: nothing is glued there.
      if (!glued || UNSPACED_SCRIPT.test(glued)) return;
      out.push({
        code: 'mask-glued',
        severity: 'warning',
        span: { start: part.span.start, end: part.span.end + glued.length },
        message: `\`${glued}\` is glued to [MASK]: the model predicts a whole token there and never sees the word it would make with \`${glued}\`. Put a space after [MASK], or fold \`${glued}\` into the label words.`,
      });
    });
  }
  return out;
}

const UNSPACED_SCRIPT =
  /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
