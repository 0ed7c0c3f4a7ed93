/**
 * How a message names the way to change something, in the interface the
 * user is in: the editor has settings (`cloze.modelsDir`), the CLI has flags
 * and an environment variable (`--models-dir`, `CLOZE_MODELS_DIR`). Message
 * builders take the interface as data and ask here, so a CLI user is never
 * told to edit a setting they do not have.
 */

export type UserInterface = 'editor' | 'cli';

/** Where to say the models folder is set: "the models folder (…)". */
export function modelsFolderHint(ui: UserInterface): string {
  return ui === 'cli' ? '--models-dir or CLOZE_MODELS_DIR' : 'cloze.modelsDir';
}

/** The fix when a model is nowhere and downloads are off, without a models folder. */
export function setModelsDirFix(ui: UserInterface): string {
  return ui === 'cli'
    ? 'Pass --models-dir with a folder that holds it (or set CLOZE_MODELS_DIR), or run without --offline to download it.'
    : 'Set cloze.modelsDir to a folder that holds it, or allow downloads (cloze.allowRemoteModels).';
}

/** How to allow downloads, in parentheses after "allow downloads". */
export function allowDownloadsHint(ui: UserInterface): string {
  return ui === 'cli' ? 'run without --offline' : 'cloze.allowRemoteModels';
}

/** How to switch to the full-precision file. */
export function useFullPrecision(ui: UserInterface): string {
  return ui === 'cli' ? 'pass --no-quantized' : 'turn cloze.quantized off';
}

/** How to switch to the quantized file. */
export function useQuantized(ui: UserInterface): string {
  return ui === 'cli' ? 'leave out --no-quantized' : 'turn cloze.quantized on';
}
