import type { ExampleProblem } from '../language/exampleProblems';
import type { DataEvaluation } from '../service/dataEvaluation';
import type { Evaluation } from '../service/evaluate';
import type { PreviewResult } from '../service/preview';

/**
 * Custom messages between the VS Code client and the Cloze server, beyond the
 * LSP. Other LSP clients may ignore them: every feature they carry is also in
 * the standard messages (diagnostics, lenses, hovers) or the CLI.
 */

/** Server → client notification: what state the model of a document is in. */
export const ModelStateNotification = 'cloze/modelState';

export type ModelStateKind = 'loading' | 'ready' | 'unavailable';

export interface ModelState {
  readonly uri: string;
  /** The model id as the file or the settings name it. */
  readonly model: string;
  readonly state: ModelStateKind;
  /** Loading: what is being loaded ("tokenizer", "model"); unavailable: why; ready: what is loaded. */
  readonly detail: string;
}

/** Client → server request: the preview of a document, exactly as `cloze preview --format json` prints it. */
export const PreviewDataRequest = 'cloze/previewData';

export interface PreviewDataParams {
  readonly uri: string;
}

/** An example the preview does not score, because the file has an error in it. */
export type { ExampleProblem };

export type PreviewData =
  | {
      readonly ok: true;
      readonly uri: string;
      readonly version: number;
      readonly preview: PreviewResult;
      readonly quantized: boolean;
      /** What ran, as `cloze preview --format json`'s `engine` says it (`engineReport`); absent before the model has loaded. */
      readonly engine?: {
        readonly file: string;
        readonly graph: string;
        readonly precision: string;
        readonly reason?: string;
        readonly precisionReason?: string;
        readonly statisticsReason?: string;
      };
      readonly exampleProblems: readonly ExampleProblem[];
      /** With several models (`models:`, `cloze.models`): every model's preview, the default first, for side-by-side. */
      readonly models?: readonly ComparedModel[];
    }
  | { readonly ok: false; readonly uri: string; readonly version: number; readonly model: string; readonly reason: string };

/** One model's preview of a document with several models, or why there is none. */
export type ComparedModel =
  | { readonly model: string; readonly ok: true; readonly preview: PreviewResult }
  | { readonly model: string; readonly ok: false; readonly reason: string };

/** Client → server request: `cloze eval` of the document's `data:` files. */
export const EvaluateRequest = 'cloze/evaluate';

export interface EvaluateParams {
  readonly uri: string;
  /** Score at most this many rows. */
  readonly limit?: number;
  /**
   * The client's own progress token (LSP's client-initiated progress): the progress is reported
   * there, and the request's cancellation stops it. The VS Code extension shows it in a cancellable
   * notification; vscode-languageclient shows server-created progress in the status bar, where it
   * cannot be cancelled. Without one, the server creates its progress (`window/workDoneProgress/create`).
   */
  readonly workDoneToken?: string | number;
}

export type EvaluateResult =
  | {
      readonly ok: true;
      readonly evaluation: Evaluation;
      readonly problems: readonly string[];
      /** The text `cloze eval` prints for this evaluation (service/evaluationReport.ts), for the editor's output. */
      readonly report: string;
    }
  | { readonly ok: false; readonly reason: string };

/**
 * Client → server request: the evaluation lens's figures of the document's `data:` files, for the
 * preview panel and the misclassified-rows command (lsp/dataLenses.ts, service/dataEvaluation.ts).
 * Asking starts the evaluation of the current version if the lenses have not; the client asks again
 * while a file is still being scored.
 */
export const DataEvaluationRequest = 'cloze/dataEvaluation';

export interface DataEvaluationParams {
  readonly uri: string;
}

/** One model's evaluation of a data file, or why there is none. */
export type DataModelOutcome =
  | { readonly model: string; readonly ok: true; readonly evaluation: DataEvaluation }
  | { readonly model: string; readonly ok: false; readonly reason: string };

export interface DataFileState {
  /** The path as the `data:` line writes it, and resolved against the `.cloze` file. */
  readonly path: string;
  readonly file: string;
  /** Scored so far and in all (rows × patterns still to score), while the evaluation of this version runs. */
  readonly progress?: { readonly model: string; readonly done: number; readonly total: number };
  /** The default model's outcome first, then the others of `models:`: this version's, or the last one finished. */
  readonly outcomes?: readonly DataModelOutcome[];
  /** `outcomes` are for the document's current version. */
  readonly current: boolean;
}

export interface DataEvaluationData {
  readonly uri: string;
  readonly version: number;
  /** `cloze.preview.calibrate`: which figures (and misclassified rows) the client shows first. */
  readonly calibrate: boolean;
  readonly files: readonly DataFileState[];
  /** Why nothing is evaluated (no saved file, previews off, untrusted workspace, model not ready). */
  readonly reason?: string;
}

/** Client → server request: the models a document could use, for the select-model command. */
export const AvailableModelsRequest = 'cloze/availableModels';

export interface AvailableModelsParams {
  readonly uri: string;
}

export interface AvailableModel {
  readonly id: string;
  readonly source: 'models-dir' | 'cache';
  readonly folder: string;
}

export interface AvailableModels {
  /** The model the document uses now, and whether its `model:` line or the settings chose it. */
  readonly current: { readonly id: string; readonly origin: 'file' | 'settings' | 'override' };
  readonly modelsDir: string;
  readonly cacheDir: string;
  readonly allowRemoteModels: boolean;
  readonly models: readonly AvailableModel[];
}

/**
 * The files a `data:` line may name (language/validate.ts reads these extensions), in either case: the
 * server asks the client to watch them, and the VS Code panel watches them too.
 */
export const DataFileGlob = '**/*.{jsonl,csv,tsv,JSONL,CSV,TSV}';
