import type { ComparedModel } from '../../../server/src/protocol/messages';
import type { ExamplePreview, PreviewResult } from '../../../server/src/service/preview';
import { escapeHtml, exampleName, percent } from './render';

/**
 * The panel's side-by-side view of a file with several models (`models:`):
 * one row per example, one column per model with what the patterns together
 * predict there (and ✓/✗), and each model's accuracy. Pure, like render.ts.
 */
export function modelsSection(models: readonly ComparedModel[] | undefined): string {
  if (!models || models.length < 2) return '';
  const ready = models.filter((m): m is Extract<ComparedModel, { ok: true }> => m.ok);
  const failed = models.filter((m): m is Extract<ComparedModel, { ok: false }> => !m.ok);
  const notes = failed.map((m) => `<li>${escapeHtml(m.model)}: ${escapeHtml(m.reason)}</li>`).join('');
  const [first] = ready;
  if (!first) return `<section class="models"><h2>Models side by side</h2><ul class="notices">${notes}</ul></section>`;
  const head = `<tr><th>example</th><th>label</th>${ready.map((m) => `<th data-model="${escapeHtml(m.model)}">${escapeHtml(m.model)}</th>`).join('')}</tr>`;
  const rows = first.preview.examples.map((example, e) => {
    const cells = ready.map((m) => cell(m.model, m.preview, m.preview.examples[e]));
    return (
      `<tr class="example-row" data-line="${example.line}"><td class="name"><button class="example-link" data-line="${example.line}" title="line ${example.line}">` +
      `${escapeHtml(exampleName(example))}</button></td><td class="gold">${escapeHtml(example.label ?? '–')}</td>${cells.join('')}</tr>`
    );
  });
  const accuracy = ready.map((m) => {
    const a = m.preview.calibrate ? m.preview.summary.ensemble.calibratedAccuracy : m.preview.summary.ensemble.accuracy;
    return a === null
      ? `<td class="accuracy" data-model="${escapeHtml(m.model)}">–</td>`
      : `<td class="accuracy" data-model="${escapeHtml(m.model)}" data-p="${a}">${percent(a)} of ${m.preview.summary.ensemble.labelled}</td>`;
  });
  return (
    `<section class="models grid"><h2>Models side by side</h2>` +
    `<p class="hint">What the patterns together predict for each example, per model of the file's <code>models:</code> line.</p>` +
    (notes ? `<ul class="notices">${notes}</ul>` : '') +
    `<div class="scroll"><table><thead>${head}</thead><tbody>${rows.join('')}</tbody>` +
    `<tfoot><tr class="accuracy-row"><th>right</th><td></td>${accuracy.join('')}</tr></tfoot></table></div></section>`
  );
}

function cell(model: string, preview: PreviewResult, example: ExamplePreview | undefined): string {
  if (!example || example.prediction === null) return `<td class="cell none" data-model="${escapeHtml(model)}">–</td>`;
  const distribution = preview.calibrate ? example.calibratedEnsemble : example.ensemble;
  const p = distribution[example.prediction] ?? 0;
  const cls = example.correct === null ? 'unlabelled' : example.correct ? 'right' : 'wrong';
  const mark = example.correct === null ? '?' : example.correct ? '✓' : '✗';
  return `<td class="cell ${cls}" data-model="${escapeHtml(model)}" data-prediction="${escapeHtml(example.prediction)}" data-p="${p}"><span class="mark">${mark}</span> ${escapeHtml(example.prediction)} ${percent(p)}</td>`;
}
