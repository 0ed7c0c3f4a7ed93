import * as path from 'node:path';
import type { ClozeDocument } from '../language';
import { CancelledError, isCancelled } from '../model/cancelled';
import { describeModelFailure } from '../model/modelFailure';
import { onnxFile } from '../model/download';
import type { EngineReport } from '../model/engine';
import type { InferenceWorker } from '../model/inferenceWorker';
import type { ComparedModel, EvaluateResult, PreviewData } from '../protocol/messages';
import type { ClozeSettings } from '../protocol/settings';
import { dataModelKey } from '../service/dataEvaluation';
import { evaluate, evaluationRows } from '../service/evaluate';
import { evaluationText } from '../service/evaluationReport';
import type { ClozeLanguageService, ModelChoice } from '../service/languageService';
import type { ScoreMemo } from '../service/scoreMemo';
import { exampleProblems } from '../language/exampleProblems';
import type { PreviewOutcome } from './previews';

/**
 * The answers to the VS Code client's custom requests (protocol/messages.ts):
 * the preview panel's data, which is the `PreviewResult` the lenses and
 * `cloze preview --format json` show, and the evaluation of the file's data,
 * which is `cloze eval`'s.
 */

export function previewData(
  uri: string,
  version: number,
  doc: ClozeDocument,
  choice: ModelChoice,
  settings: ClozeSettings,
  outcome: PreviewOutcome | undefined,
  engine?: EngineReport,
  others?: readonly ComparedModel[],
): PreviewData {
  if (!outcome) return { ok: false, uri, version, model: choice.id, reason: 'the document changed while it was previewed' };
  if (!outcome.ok) return { ok: false, uri, version, model: choice.id, reason: outcome.reason };
  // Several models: the default's preview first, then the others' (lsp/modelComparison.ts).
  const models =
    others && others.length > 0 ? { models: [{ model: choice.id, ok: true as const, preview: outcome.result }, ...others] } : {};
  return {
    ok: true,
    uri,
    version,
    preview: outcome.result,
    quantized: settings.quantized,
    ...(engine ? { engine } : {}),
    exampleProblems: exampleProblems(doc),
    ...models,
  };
}

/** Rows scored per call to the worker: each call answers quickly, so previews of open files are not held up long. */
const EVALUATION_CHUNK = 64;

/**
 * `cloze eval` on the document's `data:` files. `signal` stops it (its document closed, the client
 * cancelled): the next chunk is not scored and the evaluation rejects with `CancelledError`; the
 * caller stops a chunk already running (`InferenceWorker.forget` of `key`). While it runs, the
 * inference process keeps its model (`hold`): it scores chunk after chunk, and between two of them
 * nothing else may count as the process being idle. Inputs `memo` remembers (the evaluation lens
 * scored them) are answered from it.
 */
/** Misclassified rows listed in the editor's evaluation report (`cloze eval --errors 10`). */
export const REPORTED_ERRORS = 10;

export async function evaluateDocument(
  doc: ClozeDocument,
  file: string | undefined,
  service: ClozeLanguageService,
  choice: ModelChoice,
  settings: ClozeSettings,
  worker: InferenceWorker,
  cacheDir: string,
  key: string,
  limit: number | undefined,
  onProgress: (done: number, total: number) => void,
  signal: AbortSignal,
  memo: ScoreMemo,
): Promise<EvaluateResult> {
  if (doc.data.length === 0)
    return {
      ok: false,
      reason: 'the file has no `data:` line; add one naming a labelled JSONL, CSV or TSV file (e.g. `data: dev.jsonl`).',
    };
  if (!file) return { ok: false, reason: 'save the file first: its `data:` paths are read relative to it.' };
  if (!choice.location.ok) return { ok: false, reason: `model ${choice.id} is unavailable: ${choice.location.reason}` };
  const tokenizer = await service.tokenizer(choice);
  if (!tokenizer.ok) return { ok: false, reason: tokenizer.diagnostic.message };
  const files = doc.data.map((d) => path.resolve(path.dirname(file), d.path));
  const labels = [...new Set(doc.verbalizers[0]?.entries.map((e) => e.label.text) ?? [])];
  const { rows, rowFiles, sources, skipped, problems } = await evaluationRows(doc, files, labels, {
    maxRows: settings.data.maxRows,
    maxBytes: settings.data.maxFileSizeMB * 1024 * 1024,
  });
  if (rows.length === 0)
    return {
      ok: false,
      // After the reasons a file was not read, "no labelled row" would read as a claim about that file.
      reason:
        problems.length > 0
          ? `${problems.join(' ')}${files.length > 1 ? ' Nothing else is left to evaluate on.' : ''}`
          : 'No labelled row with a label of the verbalizer to evaluate on.',
    };
  const model = { location: choice.location, cacheDir, quantized: settings.quantized };
  // Each chunk is a new "version" of the evaluation's own key, so it never cancels a preview (or is cancelled by one).
  let version = 0;
  const location = choice.location;
  const remembered = memo.scorer(
    () => dataModelKey(location, settings.quantized),
    (inputs, wordIds, topK) => worker.scorer(model, key, ++version)(inputs, wordIds, topK),
  );
  const release = worker.hold(model);
  try {
    const evaluation = await evaluate(
      doc,
      tokenizer.tokenizer,
      // What the evaluation lens has scored of these rows is not scored again; a cancellation stops
      // the evaluation also where the memo answers a whole chunk.
      (inputs, wordIds, topK) => {
        if (signal.aborted) throw new CancelledError('The evaluation was cancelled.');
        return remembered(inputs, wordIds, topK);
      },
      rows,
      sources,
      skipped,
      {
        calibrate: settings.preview.calibrate,
        // The prior the previews divide by (`cloze.preview.calibration`), so the report's calibrated figures are theirs.
        calibration: settings.preview.calibration,
        chunkSize: EVALUATION_CHUNK,
        onProgress,
        // The report lists the worst rows, as `cloze eval --errors 10` does.
        errors: REPORTED_ERRORS,
        rowFiles,
        ...(limit !== undefined ? { limit } : {}),
      },
    );
    return { ok: true, evaluation, problems, report: evaluationText(evaluation, onnxFile(settings.quantized)) };
  } catch (error) {
    // A model whose tokenizer loads but whose ONNX file does not (or fails while it runs) is a reason to
    // show, as the lens and the diagnostic say it, not a request failure with a stack in the log.
    if (isCancelled(error) || worker.isDisposed) throw error;
    return {
      ok: false,
      reason: `${choice.id} cannot be scored: ${describeModelFailure(error instanceof Error ? error.message : String(error))}`,
    };
  } finally {
    release();
  }
}
