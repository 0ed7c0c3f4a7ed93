import type { PreviewData } from '../../../server/src/protocol/messages';
import type { ExamplePreview, PatternResult, PreviewResult } from '../../../server/src/service/preview';
import { modelsSection } from './renderModels';

/**
 * The preview panel's content, as an HTML string of plain elements and inline
 * SVG. Pure (no `vscode`), so unit tests read it without an editor.
 *
 * The charts are hand-made SVG rather than a charting library: they are a
 * handful of horizontal bars with text, which SVG draws in a few lines; the
 * webview's CSP forbids inline styles and remote scripts, which most
 * libraries need or work around; and nothing has to be shipped, loaded or
 * kept up to date for it to work offline. Colours are VS Code's theme
 * variables (set in the panel's style sheet by class), so the panel follows
 * light, dark and high-contrast themes. Every number is also printed, and
 * the exact value is kept in a `data-p` attribute (tests compare it with
 * `cloze preview --format json`).
 */

export type PreviewOk = Extract<PreviewData, { ok: true }>;

const CHART_WIDTH = 440;
const LABEL_COLUMN = 130;
const VALUE_COLUMN = 56;
const BAR_SPACE = CHART_WIDTH - LABEL_COLUMN - VALUE_COLUMN;
const ROW = 18;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** One number format everywhere in the panel: a percent with one decimal, never a bare 0.0% for a non-zero value. */
export function percent(p: number): string {
  if (p > 0 && p < 0.0005) return '<0.1%';
  if (p < 1 && p > 0.9995) return '>99.9%';
  return `${(p * 100).toFixed(1)}%`;
}

/** The first words of an example, which is how the panel names it. */
export function exampleName(example: Pick<ExamplePreview, 'fields'>, max = 36): string {
  const text = Object.values(example.fields).join(' · ').replace(/\s+/g, ' ').trim();
  if (text === '') return '(empty)';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The example a cursor on `line` (0-based) is in: the last example starting at or before it. */
export function exampleAtLine(result: PreviewResult, line: number): ExamplePreview | undefined {
  let found: ExamplePreview | undefined;
  for (const example of everyExample(result)) if (example.line - 1 <= line) found = example;
  return found;
}

/**
 * The file's examples in file order, those the preview left out for an error in them too (without
 * numbers): the panel lists every example, and says of those why they are not scored.
 */
function everyExample(result: PreviewResult): ExamplePreview[] {
  const unscored = result.excludedExamples.map(({ line, label, fields }): ExamplePreview => ({
    line,
    label,
    fields,
    results: [],
    ensemble: {},
    calibratedEnsemble: {},
    prediction: null,
    correct: null,
  }));
  return [...result.examples, ...unscored].sort((a, b) => a.line - b.line);
}

interface Bar {
  readonly name: string;
  readonly value: number;
  /** CSS classes of the bar (its colour) and of its row. */
  readonly barClass: string;
  readonly rowClass?: string;
  /** Short text after the name, e.g. the label a token stands for. */
  readonly note?: string;
  readonly attributes?: Record<string, string>;
}

/** A horizontal bar chart: name, bar, value; an optional vertical line at `reference` (e.g. the uniform share). */
function barChart(title: string, bars: readonly Bar[], options: { reference?: number; chartClass: string }): string {
  const height = bars.length * ROW + 4;
  const scale = (p: number): number => Math.max(0, Math.min(1, p)) * BAR_SPACE;
  const rows = bars.map((bar, i) => {
    const y = i * ROW + 2;
    const attributes = Object.entries(bar.attributes ?? {})
      .map(([key, value]) => ` ${key}="${escapeHtml(value)}"`)
      .join('');
    const name = bar.note ? `${bar.name} ${bar.note}` : bar.name;
    return (
      `<g class="row ${bar.rowClass ?? ''}"${attributes} data-p="${bar.value}">` +
      `<text class="name" x="${LABEL_COLUMN - 6}" y="${y + ROW / 2 + 4}" text-anchor="end">${escapeHtml(truncate(name, 22))}</text>` +
      `<rect class="track" x="${LABEL_COLUMN}" y="${y + 2}" width="${BAR_SPACE}" height="${ROW - 6}" />` +
      `<rect class="bar ${bar.barClass}" x="${LABEL_COLUMN}" y="${y + 2}" width="${scale(bar.value).toFixed(2)}" height="${ROW - 6}" />` +
      `<text class="value" x="${CHART_WIDTH - 2}" y="${y + ROW / 2 + 4}" text-anchor="end">${percent(bar.value)}</text>` +
      `</g>`
    );
  });
  const reference =
    options.reference === undefined
      ? ''
      : `<line class="reference" x1="${LABEL_COLUMN + scale(options.reference)}" x2="${LABEL_COLUMN + scale(options.reference)}" y1="0" y2="${height}" />`;
  return (
    `<svg class="chart ${options.chartClass}" role="img" aria-label="${escapeHtml(title)}" width="${CHART_WIDTH}" height="${height}" viewBox="0 0 ${CHART_WIDTH} ${height}">` +
    `<title>${escapeHtml(title)}</title>${rows.join('')}${reference}</svg>`
  );
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function verdict(correct: boolean | null): { cls: string; mark: string; word: string } {
  if (correct === null) return { cls: 'unlabelled', mark: '?', word: 'unlabelled' };
  return correct ? { cls: 'right', mark: '✓', word: 'right' } : { cls: 'wrong', mark: '✗', word: 'wrong' };
}

/**
 * The whole panel for a preview, with the example `selectedLine` (1-based, as in the preview) shown in detail;
 * `evaluation` (renderEvaluation.ts) goes after the grid of examples.
 */
export function renderPanel(data: PreviewOk, selectedLine: number | undefined, fileName: string, evaluation = ''): string {
  const result = { ...data.preview, examples: everyExample(data.preview) };
  const problems = new Map(data.exampleProblems.map((p) => [p.line, p.message]));
  const selected = result.examples.find((e) => e.line === selectedLine) ?? result.examples.find((e) => !problems.has(e.line));
  const mode = result.calibrate ? 'calibrated' : 'raw';
  const parts = [
    `<header><h1>${escapeHtml(fileName)} <span class="model">· ${escapeHtml(result.model)}${data.quantized ? ' (quantized)' : ''}</span></h1>`,
    `<p class="toolbar">Predictions use <strong>${mode}</strong> probabilities. ` +
      `<button class="toggle-calibration" data-action="toggleCalibration">${result.calibrate ? 'Show raw' : 'Calibrate'}</button></p></header>`,
    notices(result),
    selected
      ? exampleSection(selected, result, problems.get(selected.line))
      : `<section class="example empty"><p>${noExampleText(result)}</p></section>`,
    gridSection(result, problems, selected?.line),
    evaluation,
    modelsSection(data.models),
    priorSection(result),
  ];
  return parts.join('\n');
}

function noExampleText(result: PreviewResult): string {
  if (result.patterns.length === 0) return 'No pattern can be previewed: each needs exactly one [MASK].';
  return 'The file has no examples yet. Add one, e.g. <code>example positive: I loved it.</code>';
}

function notices(result: PreviewResult): string {
  const items = [
    ...result.excluded.map(
      (e) => `Pattern <code>${escapeHtml(e.pattern)}</code> (line ${e.line}) is not previewed: ${escapeHtml(e.reason)}.`,
    ),
    ...result.skippedWords.map(
      (s) => `Label word <code>${escapeHtml(s.word)}</code> (${escapeHtml(s.label)}) is not scored: it ${escapeHtml(s.reason)}.`,
    ),
  ];
  return items.length === 0 ? '' : `<ul class="notices">${items.map((item) => `<li>${item}</li>`).join('')}</ul>`;
}

function exampleSection(example: ExamplePreview, result: PreviewResult, problem: string | undefined): string {
  const v = verdict(example.correct);
  const together =
    example.prediction === null
      ? ''
      : `the patterns together say <strong>${escapeHtml(example.prediction)}</strong> (${percent(
          (result.calibrate ? example.calibratedEnsemble : example.ensemble)[example.prediction] ?? 0,
        )})`;
  // Every pattern left it unscored (mask cut off, NaN logits): said, not "Unlabelled".
  const unscored =
    example.prediction === null && example.results.length > 0
      ? example.results.some((r) => r.severalMasks)
        ? `its text holds ${example.results[0]?.maskToken ?? '[MASK]'}, ${result.model}'s mask token, a second mask besides the pattern's`
        : example.results.some((r) => r.nonFinite)
          ? `${result.model} gave NaN or infinite logits for it`
          : 'the input is too long, [MASK] was cut off'
      : undefined;
  const head =
    problem !== undefined || unscored !== undefined
      ? `<p class="verdict problem">Not scored: ${escapeHtml(problem ?? unscored ?? '')}.</p>`
      : example.correct === false
        ? `<p class="verdict wrong">✗ Wrong: ${together}; the label is <strong>${escapeHtml(example.label ?? '')}</strong>.</p>`
        : `<p class="verdict ${v.cls}">${v.mark} ${v.cls === 'right' ? 'Right' : 'Unlabelled'}: ${together}.</p>`;
  const fields = Object.entries(example.fields)
    .map(([field, value]) => `<dt>${escapeHtml(field)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('');
  return (
    `<section class="example" data-line="${example.line}" data-testid="selected-example">` +
    `<h2>Example on line ${example.line}${example.label ? ` · label <span class="gold">${escapeHtml(example.label)}</span>` : ''}</h2>` +
    `<dl class="fields">${fields}</dl>${head}` +
    `<p class="legend"><span class="swatch raw"></span>raw P(label | input) <span class="swatch calibrated"></span>calibrated ` +
    `<span class="swatch token"></span>token <span class="swatch label-word"></span>label word</p>` +
    `<div class="patterns">${example.results.map((r) => patternArticle(r, example, result)).join('')}</div></section>`
  );
}

function patternArticle(r: PatternResult, example: ExamplePreview, result: PreviewResult): string {
  const v = verdict(r.correct);
  if (!r.maskFound) {
    const why = r.nonFinite
      ? `${escapeHtml(result.model)} gave no numbers at [MASK] for this input: its logits are NaN or infinite (broken weights, or an overflow).`
      : r.severalMasks
        ? `Not scored: the example's text holds ${escapeHtml(r.maskToken)}, ${escapeHtml(result.model)}'s mask token, which would be read in place of the pattern's [MASK]. Rephrase the example.`
        : `The input is longer than ${escapeHtml(result.model)} reads, and [MASK] was cut off.`;
    return `<article class="pattern" data-pattern="${escapeHtml(r.pattern)}"><h3>${escapeHtml(r.pattern)}</h3><p class="verdict problem">${why}</p></article>`;
  }
  const labelBars: Bar[] = result.labels.flatMap((label) => {
    const isGold = label === example.label;
    const isPrediction = label === r.prediction;
    const rowClass = `${isGold ? 'gold' : ''} ${isPrediction ? 'predicted' : ''}`;
    const name = `${isGold ? '★ ' : ''}${label}`;
    return [
      { name, value: r.labels[label] ?? 0, barClass: 'raw', rowClass, attributes: { 'data-label': label, 'data-kind': 'raw' } },
      {
        name: 'calibrated',
        value: r.calibrated[label] ?? 0,
        barClass: 'calibrated',
        rowClass: `${rowClass} sub`,
        attributes: { 'data-label': label, 'data-kind': 'calibrated' },
      },
    ];
  });
  const wordsByToken = new Map(r.labelWords.map((w) => [w.tokenId, w]));
  const tokenBars: Bar[] = r.top.map((token) => {
    const word = wordsByToken.get(token.tokenId);
    return {
      name: token.token,
      value: token.p,
      barClass: word ? 'label-word' : 'token',
      ...(word ? { note: `→ ${word.label}` } : {}),
      rowClass: word ? 'is-label-word' : '',
      attributes: { 'data-token': token.token, ...(word ? { 'data-label': word.label } : {}) },
    };
  });
  const shownTokens = new Set(r.top.map((t) => t.tokenId));
  const outside = r.labelWords.filter((w) => !shownTokens.has(w.tokenId));
  const outsideText =
    outside.length === 0
      ? ''
      : `<p class="outside">Label words below the top ${r.top.length}: ${outside
          .map((w) => `<span class="label-word-text">${escapeHtml(w.word)}</span> (${escapeHtml(w.label)}) ${percent(w.p)}, rank ${w.rank}`)
          .join(' · ')}</p>`;
  return (
    `<article class="pattern ${v.cls}" data-pattern="${escapeHtml(r.pattern)}">` +
    `<h3>${escapeHtml(r.pattern)} <span class="mark ${v.cls}">${v.mark} ${escapeHtml(r.prediction ?? '')}</span></h3>` +
    `<p class="input">${highlightMask(r.input, r.maskToken)}${r.truncated ? ' <em>(cut to fit the model)</em>' : ''}</p>` +
    `<h4>Label probabilities</h4>${barChart(`P(label | input) for ${r.pattern}`, labelBars, { chartClass: 'labels', reference: 1 / Math.max(1, result.labels.length) })}` +
    `<h4>Top tokens at ${escapeHtml(r.maskToken)}</h4>${barChart(`Top tokens at the mask for ${r.pattern}`, tokenBars, { chartClass: 'tokens' })}` +
    `${outsideText}</article>`
  );
}

function highlightMask(input: string, mask: string): string {
  return input
    .split(mask)
    .map((part) => escapeHtml(part))
    .join(`<mark class="mask">${escapeHtml(mask)}</mark>`);
}

function gridSection(result: PreviewResult, problems: ReadonlyMap<number, string>, selectedLine: number | undefined): string {
  if (result.examples.length === 0) return '';
  const multi = result.patterns.length > 1;
  const head = `<tr><th>example</th><th>label</th>${result.patterns.map((p) => `<th>${escapeHtml(p)}</th>`).join('')}${multi ? '<th>together</th>' : ''}</tr>`;
  const shown = (r: { labels: Record<string, number>; calibrated: Record<string, number> }): Record<string, number> =>
    result.calibrate ? r.calibrated : r.labels;
  const cell = (prediction: string | null, p: number | undefined, correct: boolean | null, pattern: string): string => {
    if (prediction === null) return `<td class="cell none" data-pattern="${escapeHtml(pattern)}">–</td>`;
    const v = verdict(correct);
    return `<td class="cell ${v.cls}" data-pattern="${escapeHtml(pattern)}" data-prediction="${escapeHtml(prediction)}" data-p="${p ?? 0}" title="${v.word}"><span class="mark">${v.mark}</span> ${escapeHtml(prediction)} ${percent(p ?? 0)}</td>`;
  };
  const rows = result.examples.map((example) => {
    const problem = problems.get(example.line);
    const name = `<td class="name"><button class="example-link" data-line="${example.line}" title="line ${example.line}">${escapeHtml(exampleName(example))}</button></td><td class="gold">${escapeHtml(example.label ?? '–')}</td>`;
    const selected = example.line === selectedLine ? ' selected' : '';
    if (problem !== undefined) {
      return `<tr class="example-row problem${selected}" data-line="${example.line}">${name}<td class="cell not-scored" colspan="${result.patterns.length + (multi ? 1 : 0)}">not scored: ${escapeHtml(problem)}</td></tr>`;
    }
    const cells = example.results.map((r) =>
      cell(r.prediction, r.prediction === null ? undefined : shown(r)[r.prediction], r.correct, r.pattern),
    );
    if (multi) {
      const together = result.calibrate ? example.calibratedEnsemble : example.ensemble;
      cells.push(
        cell(example.prediction, example.prediction === null ? undefined : together[example.prediction], example.correct, 'together'),
      );
    }
    return `<tr class="example-row${selected}" data-line="${example.line}">${name}${cells.join('')}</tr>`;
  });
  // Accuracy over the examples without errors, as the lenses count it.
  const scored = result.examples.filter((e) => !problems.has(e.line));
  const accuracy = (pick: (e: ExamplePreview) => { correct: boolean | null } | undefined, name: string): string => {
    const judged = scored.map(pick).filter((r): r is { correct: boolean } => r !== undefined && r.correct !== null);
    if (judged.length === 0) return `<td class="accuracy" data-pattern="${escapeHtml(name)}">–</td>`;
    const right = judged.filter((r) => r.correct).length;
    const share = right / judged.length;
    return (
      `<td class="accuracy" data-pattern="${escapeHtml(name)}" data-p="${share}">${right}/${judged.length} · ${percent(share)}` +
      `<svg class="mini" width="60" height="6" viewBox="0 0 60 6"><rect class="track" width="60" height="6"/><rect class="bar accuracy-bar" width="${(share * 60).toFixed(1)}" height="6"/></svg></td>`
    );
  };
  const accuracyRow =
    `<tr class="accuracy-row"><th>right</th><td></td>` +
    result.patterns.map((p, i) => accuracy((e) => e.results[i], p)).join('') +
    (multi ? accuracy((e) => e, 'together') : '') +
    `</tr>`;
  return (
    `<section class="grid"><h2>Every example under every pattern</h2>` +
    `<p class="hint">✗ marks a wrong prediction. Click an example to see it above and in the editor.</p>` +
    `<div class="scroll"><table><thead>${head}</thead><tbody>${rows.join('')}</tbody><tfoot>${accuracyRow}</tfoot></table></div></section>`
  );
}

function priorSection(result: PreviewResult): string {
  if (result.patterns.length === 0) return '';
  const uniform = 1 / Math.max(1, result.labels.length);
  const charts = result.patterns.map((pattern) => {
    const prior = result.priors[pattern] ?? {};
    const bars: Bar[] = result.labels.map((label) => ({
      name: label,
      value: prior[label] ?? 0,
      barClass: 'prior',
      attributes: { 'data-label': label },
    }));
    return (
      `<div class="prior" data-pattern="${escapeHtml(pattern)}"><h3>${escapeHtml(pattern)}</h3>` +
      `<p class="input">${highlightMask(result.contentFree[pattern] ?? '', result.examples[0]?.results[0]?.maskToken ?? '[MASK]')}</p>` +
      `${barChart(`What ${pattern} says with the input left empty`, bars, { chartClass: 'prior-chart', reference: uniform })}</div>`
    );
  });
  return (
    `<section class="priors"><h2>What each pattern says with the input left empty</h2>` +
    `<p class="hint">A pattern that leans towards a label even without an input (bars past the dashed line, the even share) ` +
    `favours it on every example. Calibration divides each probability by this lean.</p>${charts.join('')}</section>`
  );
}

/** The panel's style sheet: VS Code's theme variables only, so every theme works. */
export const panelCss = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 0 16px 24px; }
h1 { font-size: 1.3em; margin: 12px 0 4px; } h1 .model { font-weight: normal; color: var(--vscode-descriptionForeground); }
h2 { font-size: 1.1em; margin: 20px 0 6px; border-bottom: 1px solid var(--vscode-panel-border); padding-bottom: 4px; }
h3 { font-size: 1em; margin: 12px 0 4px; } h4 { font-size: 0.9em; margin: 8px 0 2px; color: var(--vscode-descriptionForeground); font-weight: normal; }
code, .input { font-family: var(--vscode-editor-font-family); }
.input { color: var(--vscode-descriptionForeground); margin: 2px 0; overflow-wrap: anywhere; }
mark.mask { background: var(--vscode-editor-findMatchHighlightBackground); color: inherit; font-weight: bold; }
button { font: inherit; color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 2px 8px; cursor: pointer; border-radius: 2px; }
button:hover { background: var(--vscode-button-hoverBackground); }
button.example-link { color: var(--vscode-textLink-foreground); background: none; padding: 0; text-align: left; }
button.example-link:hover { text-decoration: underline; background: none; }
.notices { color: var(--vscode-editorWarning-foreground); padding-left: 18px; }
.fields { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 4px 0; }
.fields dt { color: var(--vscode-descriptionForeground); } .fields dd { margin: 0; }
.verdict { font-weight: bold; padding: 4px 8px; border-left: 4px solid var(--vscode-descriptionForeground); }
.verdict.wrong { border-color: var(--vscode-errorForeground); color: var(--vscode-errorForeground); background: var(--vscode-inputValidation-errorBackground); }
.verdict.right { border-color: var(--vscode-testing-iconPassed); }
.verdict.problem { border-color: var(--vscode-editorWarning-foreground); color: var(--vscode-editorWarning-foreground); }
.patterns { display: flex; flex-wrap: wrap; gap: 8px 28px; }
.pattern { flex: 0 1 ${CHART_WIDTH}px; }
.mark.wrong { color: var(--vscode-errorForeground); } .mark.right { color: var(--vscode-testing-iconPassed); }
.legend { color: var(--vscode-descriptionForeground); font-size: 0.9em; }
.swatch { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; vertical-align: middle; }
.swatch.raw { background: var(--vscode-charts-blue); } .swatch.calibrated { background: var(--vscode-charts-orange); }
.swatch.token { background: var(--vscode-descriptionForeground); opacity: 0.5; } .swatch.label-word { background: var(--vscode-charts-purple); }
/* Charts shrink with a narrow panel, their text with them: not below 380 px (text about 9.5 px); narrower, the panel scrolls. */
svg.chart { display: block; max-width: 100%; min-width: 380px; height: auto; overflow: visible; }
svg text { fill: var(--vscode-foreground); font-size: 11px; font-family: var(--vscode-font-family); }
svg .row.sub text.name { fill: var(--vscode-descriptionForeground); }
svg .row.predicted text.name, svg .row.gold text.name { font-weight: bold; }
svg .track { fill: var(--vscode-editorWidget-background, transparent); stroke: var(--vscode-panel-border); stroke-width: 0.5; }
svg .bar.raw { fill: var(--vscode-charts-blue); } svg .bar.calibrated { fill: var(--vscode-charts-orange); }
svg .bar.token { fill: var(--vscode-descriptionForeground); opacity: 0.5; } svg .bar.label-word { fill: var(--vscode-charts-purple); }
svg .row.is-label-word text.name { fill: var(--vscode-charts-purple); font-weight: bold; }
svg .bar.prior { fill: var(--vscode-charts-yellow); } svg .bar.accuracy-bar { fill: var(--vscode-charts-green); }
svg .reference { stroke: var(--vscode-foreground); stroke-dasharray: 3 3; stroke-width: 1; opacity: 0.7; }
.outside { font-size: 0.9em; color: var(--vscode-descriptionForeground); } .label-word-text { color: var(--vscode-charts-purple); }
.scroll { overflow-x: auto; } table { border-collapse: collapse; margin-top: 4px; }
th, td { border: 1px solid var(--vscode-panel-border); padding: 2px 6px; text-align: left; white-space: nowrap; }
th { color: var(--vscode-descriptionForeground); font-weight: normal; }
td.cell.wrong { background: var(--vscode-inputValidation-errorBackground); color: var(--vscode-errorForeground); font-weight: bold; border-color: var(--vscode-inputValidation-errorBorder); }
td.cell.right .mark { color: var(--vscode-testing-iconPassed); }
td.cell.unlabelled, td.cell.none { color: var(--vscode-descriptionForeground); }
td.cell.not-scored { color: var(--vscode-editorWarning-foreground); font-style: italic; white-space: normal; }
tr.selected td, tr.selected th { outline: 1px solid var(--vscode-focusBorder); }
tr.selected td.name { background: var(--vscode-list-inactiveSelectionBackground); }
tr.accuracy-row td { font-weight: bold; } svg.mini { display: block; margin-top: 2px; }
.hint { color: var(--vscode-descriptionForeground); font-size: 0.9em; margin: 2px 0 6px; }
.priors { display: block; } .prior { display: inline-block; vertical-align: top; margin-right: 24px; }
.state { color: var(--vscode-descriptionForeground); margin-top: 24px; } .state.unavailable { color: var(--vscode-errorForeground); }
`;
