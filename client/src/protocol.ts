import type * as messages from '../../server/src/protocol/messages';

/**
 * The custom message names of server/src/protocol/messages.ts. The client
 * imports only types from the server (its compiled JavaScript is not beside
 * the client's at run time); `typeof` makes a name that drifts from the
 * server's a compile error.
 */
export const ModelStateNotification: typeof messages.ModelStateNotification = 'cloze/modelState';
export const PreviewDataRequest: typeof messages.PreviewDataRequest = 'cloze/previewData';
export const EvaluateRequest: typeof messages.EvaluateRequest = 'cloze/evaluate';
export const AvailableModelsRequest: typeof messages.AvailableModelsRequest = 'cloze/availableModels';
export const DataEvaluationRequest: typeof messages.DataEvaluationRequest = 'cloze/dataEvaluation';
export const DataFileGlob: typeof messages.DataFileGlob = '**/*.{jsonl,csv,tsv,JSONL,CSV,TSV}';

export type { AvailableModels, EvaluateResult, ModelState, PreviewData } from '../../server/src/protocol/messages';
export type { DataEvaluationData, DataFileState } from '../../server/src/protocol/messages';
