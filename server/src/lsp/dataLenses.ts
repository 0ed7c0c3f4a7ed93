import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ClozeDocument, Span } from '../language';
import type { InferenceWorker } from '../model/inferenceWorker';
import { isCancelled } from '../model/cancelled';
import { modelFileStamp } from '../model/resolve';
import type { DataFileState } from '../protocol/messages';
import type { ClozeSettings } from '../protocol/settings';
import { DataEvaluations, dataModelKey, type DataEvaluation, type DataFigures } from '../service/dataEvaluation';
import type { ClozeLanguageService, ModelChoice } from '../service/languageService';
import { ScoreMemo } from '../service/scoreMemo';
import { EvaluateCommand, shortReason } from './lenses';
import { describeModelFailure } from '../model/modelFailure';

/**
 * The evaluation lens above each `data:` line: for the ensemble, accuracy,
 * macro-F1 and the mean probability of the gold label on that file's labelled
 * rows, raw (calibrated), for the document's current patterns and verbalizer;
 * with several models, the ensemble of each other model too; and above each
 * pattern, that pattern's figures on the file. It is computed in the background once typing pauses, through the
 * inference process at a lower priority than the previews (its keys are never
 * focused), and per pattern through `DataEvaluations`, so an edit re-scores
 * only the patterns it changed. While it runs the lens shows its progress
 * (over the last figures, if any), and the client is asked to refresh.
 */

export interface DataLens {
  readonly span: Span;
  readonly title: string;
  readonly command: string;
  readonly arguments: unknown[];
}

type ModelOutcome =
  | { readonly model: string; readonly ok: true; readonly evaluation: DataEvaluation }
  | { readonly model: string; readonly ok: false; readonly reason: string };

interface FileJob {
  readonly key: string;
  readonly token: object;
  progress: { model: string; done: number; total: number } | undefined;
  outcomes: ModelOutcome[] | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** How long typing must pause before an evaluation starts. */
const START_DELAY_MS = 800;
/** At most one lens refresh per this many ms while an evaluation runs. */
const REFRESH_EVERY_MS = 700;

export class DataLenses {
  private readonly evaluations = new DataEvaluations();
  /** The model's answers on the data rows: "Evaluate on the File's Data" reuses them (customRequests.ts). */
  readonly memo = new ScoreMemo();
  /** Per document and data path: the job of the newest request, and the last figures finished. */
  private readonly jobs = new Map<string, FileJob>();
  private readonly finished = new Map<string, ModelOutcome[]>();
  private lastRefresh = 0;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly worker: InferenceWorker,
    private readonly cacheDir: string,
    private readonly refresh: () => void,
  ) {}

  /** The lenses of the document's `data:` lines now; starts or keeps the evaluation of this version. */
  lenses(
    uri: string,
    version: number,
    doc: ClozeDocument,
    file: string | undefined,
    service: ClozeLanguageService,
    choices: readonly ModelChoice[],
    settings: ClozeSettings,
  ): DataLens[] {
    const out: DataLens[] = [];
    const wanted = new Set<string>();
    // With several data files each pattern gets a lens per file on one row: then only its accuracy, to fit.
    const dataFiles = new Set(doc.data.map((d) => d.path)).size;
    for (const data of doc.data) {
      const id = `${uri}#${data.path}`;
      if (wanted.has(id)) continue;
      wanted.add(id);
      const at = (title: string): DataLens => ({ span: data.span, title, command: EvaluateCommand, arguments: [uri] });
      if (!file) {
        out.push({ ...at('no evaluation: save the file first (data paths are relative to it)'), command: '' });
        continue;
      }
      const target = path.resolve(path.dirname(file), data.path);
      // Where each model is found belongs to the key: once a model is downloaded (or its folder appears), it is evaluated;
      // so do its files' stamps: a model replaced in its folder is evaluated again.
      // So does the data file as it is on disk: fixed in another tab or rewritten by a script, it is evaluated again.
      const key = JSON.stringify([
        version,
        fileSignature(target),
        choices.map((c) => [c.id, c.location.ok ? [c.location.source, modelFileStamp(c.location, settings.quantized)] : 'missing']),
        settings.quantized,
        settings.data,
        settings.preview.calibration,
      ]);
      let job = this.jobs.get(id);
      if (job?.key !== key) {
        if (job) this.stop(job);
        job = { key, token: {}, progress: undefined, outcomes: undefined, timer: undefined };
        const started = job;
        this.jobs.set(id, job);
        started.timer = setTimeout(() => void this.run(id, started, doc, target, service, choices, settings), START_DELAY_MS);
      }
      const shown = job.outcomes ?? this.finished.get(id);
      const progress = job.progress;
      const running =
        progress && progress.total > 0 ? `${progress.model} ${Math.floor((progress.done / progress.total) * 100)}%…` : undefined;
      if (!shown) {
        out.push(at(`evaluating on ${path.basename(data.path)}${running ? `: ${running}` : '…'}`));
        continue;
      }
      out.push(...titles(shown, job.outcomes ? '' : `updating${running ? `: ${running}` : '…'}`).map(at));
      // Each pattern's own figures above that pattern: one row cannot hold them all beside the ensembles.
      // Figures of an older version go above the patterns whose line is unchanged, marked as updating.
      // Each figure to one pattern, in order, so two identical pattern lines get one lens each.
      const taken = new Set<number>();
      for (const { source, title } of patternTitles(shown, data.path, job.outcomes ? '' : 'updating…', dataFiles > 1)) {
        const index = doc.patterns.findIndex((p, i) => !taken.has(i) && doc.text.slice(p.span.start, p.span.end) === source);
        if (index < 0) continue;
        taken.add(index);
        out.push({ ...at(title), span: doc.patterns[index].span });
      }
    }
    // Documents' data lines that went away: their jobs stop.
    for (const [id, job] of this.jobs) {
      if (id.startsWith(`${uri}#`) && !wanted.has(id)) {
        this.stop(job);
        this.jobs.delete(id);
        this.finished.delete(id);
      }
    }
    return out;
  }

  /**
   * What the preview panel shows of each `data:` file of the document: the figures of the current
   * version or the last finished, and the progress. Call after `lenses` for the same version (it
   * starts the evaluations).
   */
  states(uri: string, doc: ClozeDocument, file: string): DataFileState[] {
    const out: DataFileState[] = [];
    const seen = new Set<string>();
    for (const data of doc.data) {
      const id = `${uri}#${data.path}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const job = this.jobs.get(id);
      const outcomes = job?.outcomes ?? this.finished.get(id);
      out.push({
        path: data.path,
        file: path.resolve(path.dirname(file), data.path),
        current: job?.outcomes !== undefined,
        ...(job?.progress && !job.outcomes ? { progress: { ...job.progress } } : {}),
        ...(outcomes ? { outcomes } : {}),
      });
    }
    return out;
  }

  /** The document closed. */
  forget(uri: string): void {
    for (const [id, job] of this.jobs) {
      if (!id.startsWith(`${uri}#`)) continue;
      this.stop(job);
      this.jobs.delete(id);
      this.finished.delete(id);
    }
    // No document left to evaluate: the rows' numbers are not held for good.
    if (this.jobs.size === 0) this.memo.clear();
  }

  private stop(job: FileJob): void {
    if (job.timer) clearTimeout(job.timer);
    this.evaluations.cancel(job.token);
  }

  private async run(
    id: string,
    job: FileJob,
    doc: ClozeDocument,
    file: string,
    service: ClozeLanguageService,
    choices: readonly ModelChoice[],
    settings: ClozeSettings,
  ): Promise<void> {
    job.timer = undefined;
    const outcomes: ModelOutcome[] = [];
    for (const choice of choices) {
      if (this.jobs.get(id) !== job) return;
      outcomes.push(await this.evaluateWith(job, doc, file, service, choice, settings));
    }
    if (this.jobs.get(id) !== job || outcomes.some((o) => !o.ok && o.reason === CANCELLED)) return;
    job.outcomes = outcomes;
    this.finished.set(id, outcomes);
    this.refreshNow();
  }

  private async evaluateWith(
    job: FileJob,
    doc: ClozeDocument,
    file: string,
    service: ClozeLanguageService,
    choice: ModelChoice,
    settings: ClozeSettings,
  ): Promise<ModelOutcome> {
    const { location } = choice;
    if (!location.ok) return { model: choice.id, ok: false, reason: `${choice.id} is unavailable` };
    if (location.source === 'remote') return { model: choice.id, ok: false, reason: `${choice.id} is not on this machine yet` };
    const tokenizer = await service.tokenizer(choice);
    if (!tokenizer.ok) return { model: choice.id, ok: false, reason: `${choice.id} is unavailable` };
    const model = { location, cacheDir: this.cacheDir, quantized: settings.quantized };
    try {
      const evaluation = await this.evaluations.evaluate(
        {
          doc,
          files: [file],
          tokenizer: tokenizer.tokenizer,
          modelKey: dataModelKey(location, settings.quantized),
          // One inference key per computation: a shared computation is never superseded by another job.
          scorerFor: (key) =>
            this.memo.scorer(() => dataModelKey(location, settings.quantized), this.worker.scorer(model, `data-lens:${key}`, 1)),
          releaseScorer: (key) => this.worker.forget(`data-lens:${key}`),
          limits: { maxRows: settings.data.maxRows, maxBytes: settings.data.maxFileSizeMB * 1024 * 1024 },
          calibration: settings.preview.calibration,
          onProgress: (done, total) => {
            job.progress = { model: choice.id, done, total };
            this.refreshSoon();
          },
        },
        job.token,
      );
      return { model: choice.id, ok: true, evaluation };
    } catch (error) {
      if (isCancelled(error)) return { model: choice.id, ok: false, reason: CANCELLED };
      // On a lens: what went wrong in words (describeModelFailure), without the folder's path and advice, which
      // the preview's problem and `cloze eval` give in full.
      const described = shortReason(describeModelFailure(error instanceof Error ? error.message : String(error)));
      return {
        model: choice.id,
        ok: false,
        reason: described.replace(/^.*? could not be loaded for scoring(?: from .*?)?: /, 'cannot be loaded: '),
      };
    }
  }

  private refreshSoon(): void {
    if (this.refreshTimer) return;
    const wait = Math.max(0, this.lastRefresh + REFRESH_EVERY_MS - Date.now());
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refreshNow();
    }, wait);
  }

  private refreshNow(): void {
    this.lastRefresh = Date.now();
    this.refresh();
  }
}

const CANCELLED = 'cancelled';

function pct(p: number | null): string {
  return p === null ? '–' : `${(p * 100).toFixed(1)}%`;
}

function f1(p: number | null): string {
  return p === null ? '–' : (p * 100).toFixed(1);
}

/** "short 78.6% (78.0%) · F1 78.4 (77.9) · P(gold) 71.2% (69.0%)": raw, then calibrated in brackets. */
export function figuresTitle(figures: DataFigures, prefix = ''): string {
  return (
    `${prefix}${figures.name} ${pct(figures.accuracy)} (${pct(figures.calibratedAccuracy)})` +
    ` · F1 ${f1(figures.macroF1)} (${f1(figures.calibratedMacroF1)})` +
    ` · P(gold) ${pct(figures.meanGold)} (${pct(figures.meanGoldCalibrated)})`
  );
}

/**
 * The lens titles above one data file's line: a heading, the default model's
 * ensemble (or its only pattern), then the other models' ensembles. The
 * lenses of a line share one row, which the editor cuts at its width (it
 * cannot wrap them), so the figures a reader compares first come first and
 * each pattern's figures go above that pattern (`patternTitles`).
 */
export function titles(outcomes: readonly ModelOutcome[], waiting = ''): string[] {
  const [first, ...others] = outcomes;
  if (!first) return [];
  const out: string[] = [];
  let legend: string | undefined;
  if (first.ok) {
    const { evaluation } = first;
    const note = waiting ? ` · ${waiting}` : '';
    // Rows no pattern could score (the mask cut off, NaN logits) are left out of the figures: said, not hidden.
    const unscored = evaluation.rows - evaluation.ensemble.rows;
    const left = unscored > 0 ? ` (${unscored} not scored)` : '';
    // The support prior (`cloze.preview.calibration`) is named: the default, the empty input, is what "calibrated" means elsewhere.
    const prior = evaluation.calibration === 'support' ? ' by the mean over rows and examples' : '';
    // The figures come first and the legend (with "updating…") after them: beside the preview panel the
    // editor is narrow, and a legend first left only its own text in view.
    // One pattern has no ensemble: its own figures are this model's. No pattern: no figures.
    const own = evaluation.patterns.length > 1 ? evaluation.ensemble : evaluation.patterns[0];
    if (own) out.push(figuresTitle(own));
    legend = `${evaluation.rows} ${evaluation.rows === 1 ? 'row' : 'rows'}${left} · accuracy, F1, P(gold) raw (calibrated${prior})${note}`;
  } else {
    // A failure of an older version is being retried: said, as figures being updated are.
    // "no evaluation: No labelled row…" read as two sentences glued together.
    out.push(`no evaluation: ${first.reason.replace(/^No /, 'no ')}${waiting ? ` · ${waiting}` : ''}`);
  }
  // The other models' ensembles by accuracy alone: with all their figures the row ran past the editor's width
  // (their full figures are in the preview panel).
  for (const other of others) {
    const ensemble = other.ok ? other.evaluation.ensemble : undefined;
    out.push(
      ensemble
        ? `${other.model}: accuracy ${pct(ensemble.accuracy)} (${pct(ensemble.calibratedAccuracy)})`
        : `${other.model}: no evaluation (${other.ok ? 'no pattern' : other.reason})`,
    );
  }
  if (legend !== undefined) out.push(legend);
  return out;
}

/**
 * With several patterns, each pattern's figures of the default model on the
 * data file, named by the file as the `data:` line writes it: the lens above
 * that pattern, beside its other lenses ("dev.jsonl 76.0% (81.0%) · F1 75.8
 * (80.9) · P(gold) …"), found by the pattern's source line. `compact` (the
 * document has several data files, so the row holds a lens per file): the
 * accuracy alone ("dev.jsonl accuracy 76.0% (81.0%)"); the rest is in the
 * preview panel.
 */
export function patternTitles(
  outcomes: readonly ModelOutcome[],
  file: string,
  waiting = '',
  compact = false,
): { name: string; source: string; title: string }[] {
  const first = outcomes[0];
  if (!first?.ok || first.evaluation.patterns.length < 2) return [];
  const note = waiting ? ` · ${waiting}` : '';
  const { rows } = first.evaluation;
  return first.evaluation.patterns.map((figures) => ({
    name: figures.name,
    source: figures.source ?? '',
    title: `${
      compact ? `${file} accuracy ${pct(figures.accuracy)} (${pct(figures.calibratedAccuracy)})` : figuresTitle({ ...figures, name: file })
    }${figures.rows < rows ? ` · ${rows - figures.rows} not scored` : ''}${note}`,
  }));
}

/** What changes when a file is written: a `stat` per lens request, no read. */
function fileSignature(file: string): string {
  try {
    const stat = fs.statSync(file);
    return `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
  } catch {
    return 'unreadable';
  }
}
