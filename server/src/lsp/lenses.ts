import { patternDisplayName, positionAt, type ClozeDocument, type Span } from '../language';
import { SELECT_MODEL_COMMAND } from '../language/actions';
import { exampleFields } from '../language/render';
import type { ExampleProblem } from '../language/exampleProblems';
import { accuracySummary, type ExamplePreview, type PreviewResult } from '../service/preview';
import type { PreviewOutcome } from './previews';

/**
 * Code lenses of the preview. Where they go comes from the syntax tree alone,
 * so the lens request answers at once; what they say comes from the preview
 * and is filled in when it is ready (`codeLens/resolve`, or a refresh).
 *
 * They are written for someone reading their own file, not a paper: a wrong
 * prediction starts with `$(error)`, a right one with `$(pass)`; "with no
 * input" instead of "content-free prior", "the right label" instead of
 * "P(gold)" (docs/preview.md keeps the exact definitions); an example with
 * an error is not scored and says why; label words the preview leaves out
 * are listed where they are written; no lens is longer than a few patterns.
 */

export type LensAnchor =
  | { readonly kind: 'example'; readonly line: number; readonly span: Span; readonly part?: number }
  | { readonly kind: 'pattern'; readonly pattern: string; readonly line: number; readonly span: Span }
  | { readonly kind: 'prior'; readonly pattern: string; readonly line: number; readonly span: Span }
  | { readonly kind: 'verbalizer'; readonly span: Span }
  | { readonly kind: 'label'; readonly label: string; readonly span: Span };

/** Patterns listed per example lens; more go on further lenses of the same line, so none is cut off. */
export const PATTERNS_PER_LENS = 3;

/** The command a lens runs: the VS Code client opens the preview panel at the lens's example. */
export const OpenPreviewCommand = 'cloze.openPreview';
/** The client's model picker; the quick fixes name it too (language/actions.ts). */
export const SelectModelCommand = SELECT_MODEL_COMMAND;
/** Runs `cloze eval` on the document's data files (the evaluation lens above a `data:` line). */
export const EvaluateCommand = 'cloze.evaluate';

export function lensAnchors(doc: ClozeDocument, patternCount = doc.patterns.length): LensAnchor[] {
  const anchors: LensAnchor[] = [];
  for (const pattern of doc.patterns) {
    const common = { pattern: patternDisplayName(pattern), line: positionAt(doc, pattern.span.start).line + 1, span: pattern.keywordSpan };
    anchors.push({ kind: 'pattern', ...common }, { kind: 'prior', ...common });
  }
  const verbalizer = doc.verbalizers[0];
  if (verbalizer) {
    anchors.push({ kind: 'verbalizer', span: verbalizer.headerSpan });
    for (const entry of verbalizer.entries) anchors.push({ kind: 'label', label: entry.label.text, span: entry.label.span });
  }
  // One lens for the verdict; with more than one pattern, the patterns' own
  // predictions on further lenses, a few patterns each.
  const parts = patternCount > 1 ? 1 + Math.ceil(patternCount / PATTERNS_PER_LENS) : 1;
  for (const example of doc.examples) {
    const line = positionAt(doc, example.span.start).line + 1;
    for (let part = 0; part < parts; part++) anchors.push({ kind: 'example', line, span: example.keywordSpan, part });
  }
  return anchors;
}

/** What a lens shows, the command it runs, and the numbers behind it (for clients and tests that want them exact). */
export interface LensContent {
  readonly title: string;
  readonly command: string;
  readonly arguments: readonly unknown[];
  readonly numbers: unknown;
}

/** What lenses need besides the preview. */
export interface LensContext {
  readonly uri: string;
  readonly problems: readonly ExampleProblem[];
  /** The line (1-based) of the first lens, which alone carries the full reason when there is no preview. */
  readonly firstLine: number;
}

/** The lens while the preview is computed; undefined: no lens (until it is ready). */
export function loadingLens(anchor: LensAnchor, doc: ClozeDocument, what: string, context: LensContext): LensContent | undefined {
  if (anchor.kind === 'label' || anchor.kind === 'prior' || (anchor.kind === 'example' && (anchor.part ?? 0) > 0)) return undefined;
  const line = anchorLine(doc, anchor);
  return lens(line === context.firstLine ? `$(loading~spin) ${what}` : '$(loading~spin)', openAt(context, line), null);
}

/**
 * While a document's new version is scored, its lenses keep the last preview's numbers, marked as
 * updating, instead of each turning into a spinner on every keystroke (an edit of one example blanked
 * all of them, for as long as the user typed). An example keeps the numbers of the example of the
 * same label and text in the last preview, found by content so that lines that moved keep theirs; an
 * example that is new or changed gets the spinner. Undefined: no lens.
 */
export function staleLens(
  anchor: LensAnchor,
  stale: PreviewResult,
  doc: ClozeDocument,
  loading: string,
  context: LensContext,
): LensContent | undefined {
  if (anchor.kind === 'example' && !stale.examples.some((example) => example.line === anchor.line))
    return loadingLens(anchor, doc, loading, context);
  const content = lensContent(anchor, { ok: true, result: stale }, doc, context);
  return content && { ...content, title: `${content.title} · updating…` };
}

/** The last preview's examples moved to the lines of the same examples in `doc` (see `staleLens`). */
export function staleResult(result: PreviewResult, doc: ClozeDocument): PreviewResult {
  const key = (label: string | null, fields: Record<string, string>): string =>
    JSON.stringify([label, Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
  const byContent = new Map<string, ExamplePreview[]>();
  for (const example of result.examples) {
    const k = key(example.label, example.fields);
    byContent.set(k, [...(byContent.get(k) ?? []), example]);
  }
  const examples: ExamplePreview[] = [];
  for (const example of doc.examples) {
    const fields = Object.fromEntries(exampleFields(example, doc.patterns));
    const found = byContent.get(key(example.label?.text ?? null, fields))?.shift();
    if (found) examples.push({ ...found, line: positionAt(doc, example.span.start).line + 1 });
  }
  // A pattern that cannot be previewed is said on its own line, found by its name (an edit above moves it).
  const lineOf = new Map(doc.patterns.map((pattern) => [patternDisplayName(pattern), positionAt(doc, pattern.span.start).line + 1]));
  const excluded = result.excluded.flatMap((pattern) => {
    const line = lineOf.get(pattern.pattern);
    return line === undefined ? [] : [{ ...pattern, line }];
  });
  return { ...result, examples, excluded };
}

/**
 * The lens while the model itself is not there yet (downloading, failed, not
 * a model id): the title once, on the first lens; the others short (a spinner
 * while it downloads, else a pointer to the first lens), so a file with many
 * examples does not repeat the same sentence on every line. Undefined: no lens.
 */
export function pendingModelLens(
  anchor: LensAnchor,
  doc: ClozeDocument,
  pending: { readonly title: string; readonly waiting: boolean },
  context: LensContext,
): LensContent | undefined {
  if (anchor.kind === 'label' || anchor.kind === 'prior' || (anchor.kind === 'example' && (anchor.part ?? 0) > 0)) return undefined;
  const line = anchorLine(doc, anchor);
  if (line === context.firstLine) return { title: pending.title, command: '', arguments: [], numbers: null };
  return lens(
    pending.waiting ? '$(loading~spin)' : `$(circle-slash) no preview (why: the lens on line ${context.firstLine})`,
    openAt(context, line),
    null,
  );
}

/**
 * What a lens the client already holds says when it turns out to have nothing to say. A client
 * without lens refresh (Neovim) gets every lens unresolved before the preview, or the model, says
 * which have something to show, and it draws an empty title as a bare separator (` | `): such a lens
 * keeps the spinner while the model is awaited, points at the first lens when there is no preview
 * (as the other lenses do), else is a dash.
 */
export function placeholderLens(
  anchor: LensAnchor,
  doc: ClozeDocument,
  state: 'waiting' | 'no-preview' | 'nothing',
  context: LensContext,
): LensContent {
  const args = openAt(context, anchorLine(doc, anchor));
  if (state === 'waiting') return lens('$(loading~spin)', args, null);
  if (state === 'no-preview') return lens(`$(circle-slash) no preview (why: the lens on line ${context.firstLine})`, args, null);
  return lens('$(circle-slash)', args, null);
}

/** The lens of an anchor once the preview is there; undefined: this anchor has nothing to say. */
export function lensContent(
  anchor: LensAnchor,
  outcome: PreviewOutcome,
  doc: ClozeDocument,
  context: LensContext,
): LensContent | undefined {
  const line = anchorLine(doc, anchor);
  if (!outcome.ok) {
    if (anchor.kind === 'label' || anchor.kind === 'prior' || (anchor.kind === 'example' && (anchor.part ?? 0) > 0)) return undefined;
    // The reason once, on the first lens; the others point at it rather than repeat it.
    return line === context.firstLine
      ? {
          title: `$(warning) no preview: ${shortReason(outcome.reason)}`,
          command: SelectModelCommand,
          arguments: [context.uri],
          numbers: null,
        }
      : lens(`$(circle-slash) no preview (why: the lens on line ${context.firstLine})`, openAt(context, line), null);
  }
  const result = outcome.result;
  switch (anchor.kind) {
    case 'example': {
      const problem = context.problems.find((p) => p.line === anchor.line);
      if (problem)
        return (anchor.part ?? 0) === 0 ? lens(`$(warning) not scored: ${problem.message}`, openAt(context, line), null) : undefined;
      const example = result.examples.find((e) => e.line === anchor.line);
      if (!example) return (anchor.part ?? 0) === 0 ? lens('no preview for this example', openAt(context, line), null) : undefined;
      return exampleLens(example, result, anchor.part ?? 0, openAt(context, line));
    }
    case 'pattern':
      return patternLens(anchor.pattern, anchor.line, result, openAt(context, line));
    case 'prior':
      return priorLens(anchor.pattern, result, openAt(context, line));
    case 'verbalizer':
      return verbalizerLens(result, openAt(context, line));
    case 'label':
      return labelLens(anchor.label, result, openAt(context, line));
  }
}

function anchorLine(doc: ClozeDocument, anchor: LensAnchor): number {
  return 'line' in anchor ? anchor.line : positionAt(doc, anchor.span.start).line + 1;
}

function openAt(context: LensContext, line: number): readonly unknown[] {
  return [context.uri, line - 1];
}

function lens(title: string, args: readonly unknown[], numbers: unknown): LensContent {
  return { title, command: OpenPreviewCommand, arguments: args, numbers };
}

/** Whole percent, except that a probability that is not 0 or 1 never reads as 0% or 100%. */
export function percent(p: number): string {
  const rounded = Math.round(p * 100);
  if (rounded === 0 && p > 0) return '<1%';
  if (rounded === 100 && p < 1) return '>99%';
  return `${rounded}%`;
}

function exampleLens(example: ExamplePreview, result: PreviewResult, part: number, args: readonly unknown[]): LensContent | undefined {
  const shown = (r: { labels: Record<string, number>; calibrated: Record<string, number> }): Record<string, number> =>
    result.calibrate ? r.calibrated : r.labels;
  const numbers = {
    line: example.line,
    results: example.results.map((r) => ({
      pattern: r.pattern,
      labels: r.labels,
      calibrated: r.calibrated,
      prediction: r.prediction,
      correct: r.correct,
    })),
    ensemble: example.ensemble,
    calibratedEnsemble: example.calibratedEnsemble,
  };
  const calibrated = result.calibrate ? ' (calibrated)' : '';
  const patternText = (r: ExamplePreview['results'][number]): string => {
    if (r.nonFinite) return `${r.pattern}: no numbers, the model's logits are NaN or infinite here`;
    if (r.severalMasks) return `${r.pattern}: not scored, the example's text holds the mask token (${r.maskToken})`;
    if (!r.maskFound || r.prediction === null) return `${r.pattern}: the input is too long, [MASK] was cut off`;
    const mark = r.correct === false ? ' ✗' : '';
    return `${r.pattern}: ${r.prediction} ${percent(shown(r)[r.prediction] ?? 0)}${mark}`;
  };
  if (example.results.length === 0) return part === 0 ? lens('no pattern can be previewed', args, numbers) : undefined;
  if (example.results.length === 1) {
    // The file's other patterns cannot be scored: one lens says it all, the further parts stay empty.
    if (part > 0) return undefined;
    const only = example.results[0];
    // Not scored (mask cut off, NaN logits): the reason alone, not a verdict or "(unlabelled)".
    if (only.prediction === null) return lens(`$(warning) ${patternText(only)}`, args, numbers);
    return lens(`${verdictIcon(only.correct)} ${patternText(only)}${calibrated}${goldNote(example.label, only.correct)}`, args, numbers);
  }
  if (part === 0) {
    if (example.prediction === null) {
      const why = example.results.some((r) => r.severalMasks)
        ? `its text holds the mask token (${example.results[0]?.maskToken ?? '[MASK]'})`
        : example.results.some((r) => r.nonFinite)
          ? 'the model gave NaN or infinite logits for it'
          : 'it is too long';
      return lens(`$(warning) no pattern could read this example: ${why}`, args, numbers);
    }
    const mean = percent((result.calibrate ? example.calibratedEnsemble : example.ensemble)[example.prediction] ?? 0);
    const verdict =
      example.correct === false
        ? `$(error) wrong · all patterns: ${example.prediction} ${mean}, the label is ${example.label ?? ''}`
        : example.correct === true
          ? `$(pass) right · all patterns: ${example.prediction} ${mean}`
          : `$(question) unlabelled · all patterns: ${example.prediction} ${mean}`;
    return lens(`${verdict}${calibrated}`, args, numbers);
  }
  const slice = example.results.slice((part - 1) * PATTERNS_PER_LENS, part * PATTERNS_PER_LENS);
  return slice.length > 0 ? lens(slice.map(patternText).join(' · '), args, numbers) : undefined;
}

function verdictIcon(correct: boolean | null): string {
  return correct === null ? '$(question)' : correct ? '$(pass)' : '$(error)';
}

function goldNote(label: string | null, correct: boolean | null): string {
  return correct === false && label !== null ? ` — wrong, the label is ${label}` : correct === null ? ' (unlabelled)' : '';
}

function patternLens(pattern: string, line: number, result: PreviewResult, args: readonly unknown[]): LensContent {
  const excluded = result.excluded.find((e) => e.line === line);
  if (excluded) return lens(`$(warning) no preview: ${excluded.reason}`, args, null);
  const index = result.patterns.indexOf(pattern);
  if (index < 0) return lens('no preview', args, null);
  // Examples with an error in them are not in the preview (`exampleProblems`): their lenses say why.
  const summary = accuracySummary(pattern, result.examples, result.labels, (example) => example.results[index]);
  if (summary.labelled === 0) {
    // Labelled examples that all have an error in them: "yet" would send the user to add more.
    const withErrors = result.excludedExamples.filter((e) => e.label !== null).length;
    return withErrors > 0
      ? lens(
          `$(warning) no labelled example without an error: ${withErrors} ${withErrors === 1 ? 'has one' : 'have one'} (its lens says why)`,
          args,
          summary,
        )
      : lens('no labelled examples to score yet', args, summary);
  }
  const accuracy = (result.calibrate ? summary.calibratedAccuracy : summary.accuracy) ?? 0;
  const gold = (result.calibrate ? summary.meanGoldCalibrated : summary.meanGoldProbability) ?? 0;
  const right = Math.round(accuracy * summary.labelled);
  const icon = right === summary.labelled ? '$(pass)' : '$(error)';
  return lens(
    `${icon} ${right} of ${summary.labelled} examples right${result.calibrate ? ' (calibrated)' : ''} · right label ${percent(gold)} on average`,
    args,
    summary,
  );
}

/** P₀, which calibration divides out: what the pattern says with its fields empty ("empty input"), or on average over the examples (support). */
function priorLens(pattern: string, result: PreviewResult, args: readonly unknown[]): LensContent | undefined {
  const prior = result.priors[pattern];
  if (!prior) return undefined;
  const problem = result.priorProblems?.[pattern];
  if (problem) return lens(`$(warning) no prior: ${problem}; calibration leaves this pattern's numbers as they are`, args, prior);
  const labels = result.labels.map((label) => `${label} ${percent(prior[label] ?? 0)}`).join(' · ');
  const what = result.calibration === 'support' ? 'average over the examples' : 'empty input';
  return lens(`${what}: ${labels}${result.calibrate ? ' (divided out)' : ''}`, args, prior);
}

function verbalizerLens(result: PreviewResult, args: readonly unknown[]): LensContent {
  const skipped = result.skippedWords;
  if (skipped.length === 0) return lens(`$(pass) every label word is scored as one token of ${result.model}`, args, result.priors);
  const words = skipped.slice(0, 4).map((s) => s.word);
  const more = skipped.length > words.length ? ` and ${skipped.length - words.length} more` : '';
  return lens(
    `$(warning) ${skipped.length} label word${skipped.length === 1 ? ' is' : 's are'} not scored: ${words.join(', ')}${more}`,
    args,
    result.priors,
  );
}

function labelLens(label: string, result: PreviewResult, args: readonly unknown[]): LensContent | undefined {
  const skipped = result.skippedWords.filter((s) => s.label === label);
  if (skipped.length === 0) return undefined;
  return lens(`$(warning) not scored: ${skipped.map((s) => `${s.word} (it ${s.reason})`).join('; ')}`, args, skipped);
}

/**
 * The reason without its paths and advice, so the lens fits on a line; the
 * diagnostic on the `model:` line and the status-bar tooltip keep the whole text.
 */
export function shortReason(reason: string): string {
  const sentence = reason.split(/\.(?:\s|$)/)[0] ?? reason;
  return sentence
    .replace(/\s*\([^()]*\)/g, '')
    .replace(/^model (\S+) is unavailable: `\1` /i, '`$1` ')
    .trim();
}

/** What a client that does not draw VS Code's codicons shows instead (Neovim would print `$(pass)` as is). */
const PLAIN_ICONS: Record<string, string> = {
  pass: '✓',
  error: '✗',
  warning: '⚠',
  question: '?',
  'circle-slash': '–',
  'loading~spin': '…',
};

export function withPlainIcons(title: string): string {
  return title.replace(/\$\(([\w~-]+)\)/g, (whole, name: string) => PLAIN_ICONS[name] ?? whole);
}
