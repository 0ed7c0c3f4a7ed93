import { patternDisplayName, positionAt, type ClozeDocument, type Span } from '../language';
import type { ExamplePreview, PreviewResult } from '../service/preview';
import type { PreviewOutcome } from './previews';

/**
 * Code lenses of the preview. Where they go comes from the syntax tree alone,
 * so the lens request answers at once; what they say comes from the preview
 * and is filled in when it is ready (`codeLens/resolve`, or a refresh).
 */

export type LensAnchor =
  | { readonly kind: 'example'; readonly line: number; readonly span: Span }
  | { readonly kind: 'pattern'; readonly pattern: string; readonly line: number; readonly span: Span }
  | { readonly kind: 'verbalizer'; readonly span: Span };

export function lensAnchors(doc: ClozeDocument): LensAnchor[] {
  const anchors: LensAnchor[] = [];
  for (const pattern of doc.patterns) {
    anchors.push({
      kind: 'pattern',
      pattern: patternDisplayName(pattern),
      line: positionAt(doc, pattern.span.start).line + 1,
      span: pattern.keywordSpan,
    });
  }
  const verbalizer = doc.verbalizers[0];
  if (verbalizer) anchors.push({ kind: 'verbalizer', span: verbalizer.headerSpan });
  for (const example of doc.examples) {
    anchors.push({ kind: 'example', line: positionAt(doc, example.span.start).line + 1, span: example.keywordSpan });
  }
  return anchors;
}

/** What a lens shows, and the numbers behind it (for clients and tests that want them exact). */
export interface LensContent {
  readonly title: string;
  readonly numbers: unknown;
}

export function lensContent(anchor: LensAnchor, outcome: PreviewOutcome): LensContent {
  if (!outcome.ok) return { title: `Cloze preview unavailable: ${outcome.reason}`, numbers: null };
  const result = outcome.result;
  switch (anchor.kind) {
    case 'example': {
      const example = result.examples.find((e) => e.line === anchor.line);
      return example ? exampleLens(example, result) : { title: 'no preview for this example', numbers: null };
    }
    case 'pattern':
      return patternLens(anchor.pattern, anchor.line, result);
    case 'verbalizer':
      return verbalizerLens(result);
  }
}

function percent(p: number): string {
  return `${Math.round(p * 100)}%`;
}

function mark(correct: boolean | null): string {
  return correct === null ? '' : correct ? ' ✓' : ' ✗';
}

function exampleLens(example: ExamplePreview, result: PreviewResult): LensContent {
  const parts = example.results.map((r) => {
    const shown = result.calibrate ? r.calibrated : r.labels;
    if (!r.maskFound || r.prediction === null) return `${r.pattern}: mask not seen`;
    return `${r.pattern}: ${r.prediction} ${percent(shown[r.prediction] ?? 0)}${mark(r.correct)}`;
  });
  if (example.results.length > 1 && example.prediction !== null) {
    const ensemble = result.calibrate ? example.calibratedEnsemble : example.ensemble;
    parts.push(`ensemble: ${example.prediction} ${percent(ensemble[example.prediction] ?? 0)}${mark(example.correct)}`);
  }
  const title = parts.length > 0 ? `${result.calibrate ? 'calibrated · ' : ''}${parts.join(' · ')}` : 'no pattern can be previewed';
  return {
    title,
    numbers: {
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
    },
  };
}

function patternLens(pattern: string, line: number, result: PreviewResult): LensContent {
  const excluded = result.excluded.find((e) => e.line === line);
  if (excluded) return { title: `no preview: ${excluded.reason}`, numbers: null };
  const summary = result.summary.patterns.find((s) => s.pattern === pattern);
  if (!summary) return { title: 'no preview', numbers: null };
  if (summary.labelled === 0) return { title: 'no labelled examples to score', numbers: summary };
  const accuracy = result.calibrate ? summary.calibratedAccuracy : summary.accuracy;
  const gold = result.calibrate ? summary.meanGoldCalibrated : summary.meanGoldProbability;
  const correct = Math.round((accuracy ?? 0) * summary.labelled);
  return {
    title: `${result.calibrate ? 'calibrated · ' : ''}${correct}/${summary.labelled} correct · mean P(gold) ${percent(gold ?? 0)}`,
    numbers: summary,
  };
}

function verbalizerLens(result: PreviewResult): LensContent {
  const priors = result.patterns.map((pattern) => {
    const prior = result.priors[pattern] ?? {};
    return `${pattern}: ${result.labels.map((label) => `${label} ${percent(prior[label] ?? 0)}`).join(', ')}`;
  });
  return {
    title:
      priors.length > 0
        ? `${result.calibration === 'support' ? "support prior (the mean over the file's examples; " : 'content-free prior ('}what calibration divides out) — ${priors.join(' · ')}`
        : 'no pattern can be previewed',
    numbers: result.priors,
  };
}
