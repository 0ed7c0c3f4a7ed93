import * as path from 'node:path';
import type { DataEvaluationData, DataFileState, DataModelOutcome } from '../../../server/src/protocol/messages';
import type { DataEvaluation, DataFigures } from '../../../server/src/service/dataEvaluation';
import type { MisclassifiedRow } from '../../../server/src/service/evaluate';
import { escapeHtml, percent } from './render';

/**
 * The panel's evaluation section: the evaluation lens's figures of each
 * `data:` file (service/dataEvaluation.ts, the same numbers as the lens and
 * `cloze eval`), with what the lens has no room for: the confusion matrix,
 * per-label recall and precision, the swap test beside each accuracy, and
 * the misclassified rows, worst first, each a link to its line in the data
 * file. Pure, like render.ts: every figure is printed and kept exactly in a
 * `data-p` (or `data-count`) attribute for the tests.
 */

/** Misclassified rows listed in the panel; the command `Cloze: Show Misclassified Rows` lists all that were kept. */
export const PANEL_MISCLASSIFIED = 50;

export function evaluationSection(data: DataEvaluationData | undefined): string {
  if (!data || (data.files.length === 0 && !data.reason)) return '';
  const body =
    data.files.length === 0
      ? `<p class="state">No evaluation: ${escapeHtml(data.reason ?? '')}.</p>`
      : data.files.map((file) => fileSection(file, data.calibrate)).join('');
  return `<section class="evaluation" data-testid="evaluation"><h2>Evaluation on the data files</h2>${body}</section>`;
}

/** "scoring 240/1,744 (rows × patterns)…" while the evaluation of this version runs. */
export function progressText(file: DataFileState): string | undefined {
  if (file.current) return undefined;
  const progress = file.progress;
  if (!progress || progress.total === 0) return `waiting to score ${path.basename(file.path)}…`;
  const count = (n: number): string => n.toLocaleString('en-US');
  return `scoring with ${progress.model}: ${count(progress.done)}/${count(progress.total)} rows × patterns (${Math.floor((progress.done / progress.total) * 100)}%)…`;
}

function fileSection(file: DataFileState, calibrate: boolean): string {
  const progress = progressText(file);
  const [first, ...others] = file.outcomes ?? [];
  const head = `<h3 class="data-file" data-file="${escapeHtml(file.file)}">${escapeHtml(file.path)}${
    first?.ok
      ? ` <span class="model">· ${escapeHtml(first.model)} · ${first.evaluation.rows.toLocaleString('en-US')} labelled ${first.evaluation.rows === 1 ? 'row' : 'rows'}</span>`
      : ''
  }</h3>`;
  const status = progress
    ? `<p class="progress" data-testid="evaluation-progress">${escapeHtml(progress)}${first ? ' The figures below are from the previous version.' : ''}</p>`
    : '';
  if (!first) return `<div class="data-evaluation">${head}${status}</div>`;
  if (!first.ok)
    return `<div class="data-evaluation">${head}${status}<p class="state unavailable">No evaluation: ${escapeHtml(first.reason)}</p></div>`;
  const evaluation = first.evaluation;
  const problems =
    evaluation.problems.length === 0
      ? ''
      : `<ul class="notices">${evaluation.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>`;
  return (
    `<div class="data-evaluation${progress ? ' stale' : ''}" data-file="${escapeHtml(file.file)}">${head}${status}${problems}` +
    priorNote(evaluation) +
    figuresTable(evaluation, others) +
    `<div class="matrix-and-labels">${confusionMatrix(evaluation, calibrate)}${perLabelTable(evaluation, calibrate)}</div>` +
    misclassifiedSection(evaluation, calibrate) +
    `</div>`
  );
}

/** What "calibrated" divides by here (`cloze.preview.calibration`): the two priors give different figures. */
function priorNote(evaluation: DataEvaluation): string {
  const prior =
    evaluation.calibration === 'support'
      ? `each pattern's mean prediction over ${evaluation.supportSize.toLocaleString('en-US')} rows and examples (support)`
      : "each pattern's prediction for its empty input (content-free)";
  return `<p class="prior" data-testid="calibration-prior">Calibrated figures divide by ${escapeHtml(prior)}.</p>`;
}

const FIGURES: ReadonlyArray<{ key: string; title: string; raw: keyof DataFigures; calibrated: keyof DataFigures; f1?: boolean }> = [
  { key: 'accuracy', title: 'accuracy', raw: 'accuracy', calibrated: 'calibratedAccuracy' },
  { key: 'swap', title: 'swap test', raw: 'swapAccuracy', calibrated: 'calibratedSwapAccuracy' },
  { key: 'macro-f1', title: 'macro-F1', raw: 'macroF1', calibrated: 'calibratedMacroF1', f1: true },
  { key: 'mean-gold', title: 'mean P(gold)', raw: 'meanGold', calibrated: 'meanGoldCalibrated' },
];

function figureCell(figures: DataFigures, key: string, kind: 'raw' | 'calibrated', value: unknown, f1 = false): string {
  const attributes = `data-pattern="${escapeHtml(figures.name)}" data-figure="${key}" data-kind="${kind}"`;
  if (typeof value !== 'number') return `<td class="figure" ${attributes}>–</td>`;
  const text = f1 ? (value * 100).toFixed(1) : percent(value);
  return `<td class="figure ${kind}" ${attributes} data-p="${value}">${text}</td>`;
}

/** Per pattern and the ensemble: accuracy beside its swap test, macro-F1, mean P(gold); raw and calibrated. */
function figuresTable(evaluation: DataEvaluation, others: readonly DataModelOutcome[]): string {
  const sets = evaluation.patterns.length > 1 ? [...evaluation.patterns, evaluation.ensemble] : evaluation.patterns;
  const head =
    `<tr><th rowspan="2">pattern</th>${FIGURES.map((f) => `<th colspan="2" class="group">${f.title}</th>`).join('')}</tr>` +
    `<tr>${FIGURES.map(() => '<th>raw</th><th>calibrated</th>').join('')}</tr>`;
  const row = (figures: DataFigures, name: string, cls: string): string =>
    `<tr class="${cls}" data-pattern="${escapeHtml(figures.name)}"><th class="name">${escapeHtml(name)}</th>` +
    FIGURES.map(
      (f) =>
        figureCell(figures, f.key, 'raw', figures[f.raw], f.f1) + figureCell(figures, f.key, 'calibrated', figures[f.calibrated], f.f1),
    ).join('') +
    `</tr>`;
  const rows = sets.map((figures) =>
    row(figures, figures.name === 'ensemble' ? 'all together' : figures.name, figures.name === 'ensemble' ? 'ensemble' : 'pattern'),
  );
  const otherRows = others.map((other) =>
    other.ok
      ? row(other.evaluation.ensemble, `${other.model}: all together`, 'other-model')
      : `<tr class="other-model"><th class="name">${escapeHtml(other.model)}</th><td colspan="${FIGURES.length * 2}" class="state">${escapeHtml(other.reason)}</td></tr>`,
  );
  return (
    `<div class="scroll"><table class="figures"><thead>${head}</thead><tbody>${[...rows, ...otherRows].join('')}</tbody></table></div>` +
    `<p class="hint">The swap test scores the rows with the label words exchanged between the labels: ` +
    `far below the accuracy (near 1 − accuracy with two labels) means the words carry the prediction; close to it means they hardly matter.</p>`
  );
}

/** Share of a row's count, as one of five shades (no inline styles under the panel's CSP). */
function shade(count: number, rowTotal: number): number {
  if (count === 0 || rowTotal === 0) return 0;
  return Math.min(4, 1 + Math.floor((count / rowTotal) * 4));
}

/** Rows: the gold label; columns: the prediction of the ensemble (calibrated when the panel shows calibrated figures). */
export function confusionMatrix(evaluation: DataEvaluation, calibrate: boolean): string {
  const figures = evaluation.ensemble;
  const confusion = calibrate ? figures.calibratedConfusion : figures.confusion;
  const perLabel = calibrate ? figures.calibratedPerLabel : figures.perLabel;
  const labels = evaluation.labels;
  const head = `<tr><th class="corner">gold ↓ · predicted →</th>${labels.map((l) => `<th data-predicted="${escapeHtml(l)}">${escapeHtml(l)}</th>`).join('')}<th>recall</th></tr>`;
  const rows = labels.map((gold) => {
    const counts = labels.map((predicted) => confusion[gold]?.[predicted] ?? 0);
    const total = counts.reduce((a, b) => a + b, 0);
    const cells = labels.map((predicted, p) => {
      const count = counts[p];
      const cls = `${predicted === gold ? 'diagonal' : 'off-diagonal'} shade-${shade(count, total)}`;
      return `<td class="cell count ${cls}" data-gold="${escapeHtml(gold)}" data-predicted="${escapeHtml(predicted)}" data-count="${count}" title="${count} ${count === 1 ? 'row' : 'rows'} labelled ${escapeHtml(gold)} predicted ${escapeHtml(predicted)}">${count.toLocaleString('en-US')}</td>`;
    });
    const recall = perLabel[gold]?.recall;
    const recallCell =
      total === 0 || recall === undefined
        ? `<td class="recall" data-label="${escapeHtml(gold)}">–</td>`
        : `<td class="recall" data-label="${escapeHtml(gold)}" data-p="${recall}">${percent(recall)}</td>`;
    return `<tr><th class="gold-label">${escapeHtml(gold)}</th>${cells.join('')}${recallCell}</tr>`;
  });
  const precision = labels.map((label) => {
    const figures = perLabel[label];
    const predicted = labels.reduce((sum, gold) => sum + (confusion[gold]?.[label] ?? 0), 0);
    return predicted === 0 || !figures
      ? `<td class="precision" data-label="${escapeHtml(label)}">–</td>`
      : `<td class="precision" data-label="${escapeHtml(label)}" data-p="${figures.precision}">${percent(figures.precision)}</td>`;
  });
  return (
    `<div class="confusion" data-testid="confusion-matrix"><h4>Confusion matrix of ${evaluation.patterns.length > 1 ? 'the patterns together' : escapeHtml(evaluation.patterns[0]?.name ?? '')} (${calibrate ? 'calibrated' : 'raw'})</h4>` +
    `<div class="scroll"><table class="matrix"><thead>${head}</thead><tbody>${rows.join('')}</tbody>` +
    `<tfoot><tr><th>precision</th>${precision.join('')}<td></td></tr></tfoot></table></div></div>`
  );
}

/** Recall and precision of each label under each pattern and the ensemble. */
function perLabelTable(evaluation: DataEvaluation, calibrate: boolean): string {
  const sets = evaluation.patterns.length > 1 ? [...evaluation.patterns, evaluation.ensemble] : evaluation.patterns;
  const head = `<tr><th>label</th>${sets.map((s) => `<th colspan="2">${escapeHtml(s.name === 'ensemble' ? 'all together' : s.name)}</th>`).join('')}</tr>`;
  const sub = `<tr><th></th>${sets.map(() => '<th>recall</th><th>precision</th>').join('')}</tr>`;
  const rows = evaluation.labels.map((label) => {
    const cells = sets.map((set) => {
      const figures = (calibrate ? set.calibratedPerLabel : set.perLabel)[label];
      if (!figures) return '<td>–</td><td>–</td>';
      const attributes = `data-pattern="${escapeHtml(set.name)}" data-label="${escapeHtml(label)}"`;
      // Precision of a label never predicted is 0/0: "–", as the confusion matrix shows it (not the 0 scikit-learn reports).
      const confusion = calibrate ? set.calibratedConfusion : set.confusion;
      const predicted = evaluation.labels.reduce((sum, gold) => sum + (confusion[gold]?.[label] ?? 0), 0);
      return (
        `<td class="label-recall" ${attributes} data-p="${figures.recall}">${figures.support === 0 ? '–' : percent(figures.recall)}</td>` +
        `<td class="label-precision" ${attributes} data-p="${figures.precision}">${predicted === 0 ? '–' : percent(figures.precision)}</td>`
      );
    });
    const support = sets[0] ? (calibrate ? sets[0].calibratedPerLabel : sets[0].perLabel)[label]?.support : undefined;
    return `<tr><th>${escapeHtml(label)}${support === undefined ? '' : ` <span class="support">(${support})</span>`}</th>${cells.join('')}</tr>`;
  });
  return (
    `<div class="per-label"><h4>Per label (${calibrate ? 'calibrated' : 'raw'}; rows with that gold label in brackets)</h4>` +
    `<div class="scroll"><table class="labels-table"><thead>${head}${sub}</thead><tbody>${rows.join('')}</tbody></table></div></div>`
  );
}

/** The first words of a row's text. */
export function rowText(row: Pick<MisclassifiedRow, 'fields'>, max = 80): string {
  const text = Object.values(row.fields).join(' · ').replace(/\s+/g, ' ').trim();
  if (text === '') return '(empty)';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function misclassifiedSection(evaluation: DataEvaluation, calibrate: boolean): string {
  const rows = calibrate ? evaluation.misclassified.calibrated : evaluation.misclassified.raw;
  const count = calibrate ? evaluation.misclassifiedCount.calibrated : evaluation.misclassifiedCount.raw;
  const title = `<h4>Misclassified rows: ${count.toLocaleString('en-US')} of ${evaluation.ensemble.rows.toLocaleString('en-US')}, worst first (lowest P(gold)${calibrate ? ', calibrated' : ''})</h4>`;
  if (rows.length === 0)
    return `<div class="misclassified" data-testid="misclassified">${title}<p class="hint">None: the patterns together get every row right.</p></div>`;
  const shown = rows.slice(0, PANEL_MISCLASSIFIED);
  const labels = evaluation.labels;
  // The text, the one wide column, comes last: beside the editor the panel is narrow, and the figures the rows are
  // sorted by (P(gold)) were scrolled out of sight behind it.
  const head = `<tr><th>row</th><th>gold</th><th>predicted</th><th>P(gold)</th>${labels.map((l) => `<th>P(${escapeHtml(l)})</th>`).join('')}<th>text</th></tr>`;
  const body = shown.map((row) => {
    const where = `${path.basename(row.file)}:${row.line}`;
    return (
      // The whole row is the link (the page's script sends its data-action, data-file and data-row).
      `<tr class="misclassified-row" data-action="openRow" data-file="${escapeHtml(row.file)}" data-row="${row.line}" title="Open ${escapeHtml(where)}">` +
      `<td><button class="example-link">${escapeHtml(where)}</button></td>` +
      `<td class="gold">${escapeHtml(row.label)}</td><td class="predicted wrong">${escapeHtml(row.predicted)}</td>` +
      `<td class="gold-p" data-p="${row.goldProbability}">${percent(row.goldProbability)}</td>` +
      labels
        .map(
          (l) =>
            `<td class="p" data-label="${escapeHtml(l)}" data-p="${row.probabilities[l] ?? 0}">${percent(row.probabilities[l] ?? 0)}</td>`,
        )
        .join('') +
      `<td class="text">${escapeHtml(rowText(row))}</td></tr>`
    );
  });
  const more =
    count > shown.length
      ? `<p class="hint">${(count - shown.length).toLocaleString('en-US')} more: <button class="example-link" data-action="showMisclassified">list them all</button> (Cloze: Show Misclassified Rows).</p>`
      : '';
  return (
    `<div class="misclassified" data-testid="misclassified">${title}<p class="hint">Click a row to open it in its data file.</p>` +
    `<div class="scroll"><table class="misclassified-table"><thead>${head}</thead><tbody>${body.join('')}</tbody></table></div>${more}</div>`
  );
}

/** Every misclassified row of the evaluation's files (default model, shown mode), worst first. */
export function misclassifiedRows(data: DataEvaluationData): MisclassifiedRow[] {
  return data.files
    .flatMap((file) => {
      const first = file.outcomes?.[0];
      if (!first?.ok) return [];
      return data.calibrate ? first.evaluation.misclassified.calibrated : first.evaluation.misclassified.raw;
    })
    .sort((a, b) => a.goldProbability - b.goldProbability);
}

/** The evaluation section's style sheet (added to the panel's). */
export const evaluationCss = `
.evaluation .data-evaluation.stale table { opacity: 0.6; }
.evaluation .progress { color: var(--vscode-descriptionForeground); font-style: italic; }
.evaluation .prior { color: var(--vscode-descriptionForeground); margin: 2px 0 6px; }
.evaluation h3 .model { font-weight: normal; color: var(--vscode-descriptionForeground); }
table.figures th.group { text-align: center; } table.figures td.figure { text-align: right; }
table.figures td.figure.calibrated { color: var(--vscode-descriptionForeground); }
table.figures tr.ensemble th, table.figures tr.ensemble td { font-weight: bold; }
.matrix-and-labels { display: flex; flex-wrap: wrap; gap: 8px 32px; }
table.matrix td.count { text-align: right; min-width: 3em; }
table.matrix td.diagonal { font-weight: bold; }
table.matrix td.diagonal.shade-1 { background: color-mix(in srgb, var(--vscode-charts-green) 15%, transparent); }
table.matrix td.diagonal.shade-2 { background: color-mix(in srgb, var(--vscode-charts-green) 30%, transparent); }
table.matrix td.diagonal.shade-3 { background: color-mix(in srgb, var(--vscode-charts-green) 45%, transparent); }
table.matrix td.diagonal.shade-4 { background: color-mix(in srgb, var(--vscode-charts-green) 60%, transparent); }
table.matrix td.off-diagonal.shade-1 { background: color-mix(in srgb, var(--vscode-charts-red) 15%, transparent); }
table.matrix td.off-diagonal.shade-2 { background: color-mix(in srgb, var(--vscode-charts-red) 30%, transparent); }
table.matrix td.off-diagonal.shade-3 { background: color-mix(in srgb, var(--vscode-charts-red) 45%, transparent); }
table.matrix td.off-diagonal.shade-4 { background: color-mix(in srgb, var(--vscode-charts-red) 60%, transparent); }
table.matrix td.recall, table.matrix td.precision { color: var(--vscode-descriptionForeground); text-align: right; }
.support { color: var(--vscode-descriptionForeground); font-weight: normal; }
tr.misclassified-row { cursor: pointer; } tr.misclassified-row:hover td { background: var(--vscode-list-hoverBackground); }
table.misclassified-table td.text { white-space: normal; min-width: 16em; max-width: 28em; }
table.misclassified-table td.predicted.wrong { color: var(--vscode-errorForeground); font-weight: bold; }
table.misclassified-table td.gold-p, table.misclassified-table td.p { text-align: right; }
`;
