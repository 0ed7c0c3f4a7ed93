import { describeEngine, engineReport, type ModelInfo } from '../model/engine';
import { computePreview, type PreviewResult } from '../service/preview';
import { previewText } from '../service/previewReport';
import { previewColumns, runComparison } from './compare';
import { openScoringSession, type ScoringOptions } from './session';

/**
 * `cloze preview <file>`: what the model puts at the mask for each example,
 * as the editor's lenses show it.
 *
 * Exit codes: 0 a preview was printed, 1 the file cannot be previewed
 * (no verbalizer, no pattern with one mask, model unavailable or failing while
 * scoring), 2 bad usage.
 */

export interface PreviewCommandOptions extends Omit<ScoringOptions, 'model'> {
  /** `--model`, repeatable: several compare the models side by side (cli/compare.ts). */
  readonly model?: string | readonly string[];
  readonly calibrate?: boolean;
  readonly topK: number;
  readonly format: 'text' | 'json';
}

export async function runPreview(file: string, given: PreviewCommandOptions): Promise<number> {
  const requested = given.model === undefined ? [] : typeof given.model === 'string' ? [given.model] : given.model;
  const columns = previewColumns(file, requested, { ...given, model: undefined });
  if (columns.length > 1) return runComparison(file, columns, { ...given, model: undefined });
  const options = { ...given, model: requested[0] };
  const session = await openScoringSession(file, options, 'previewed');
  if (typeof session === 'number') return session;
  const { doc, tokenizer, engine } = session;
  try {
    session.report(session.errors);
    const result = await computePreview(doc, tokenizer, (inputs, wordIds, topK) => engine.score(inputs, wordIds, topK), {
      topK: options.topK,
      calibrate: options.calibrate ?? false,
    });
    if (options.format === 'json') {
      process.stdout.write(
        `${JSON.stringify({ ...result, file, quantized: engine.info.quantized, engine: engineReport(engine.info) }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(formatText(result, engine.info));
    }
    return 0;
  } catch (error) {
    return session.scoringFailed(error);
  } finally {
    await engine.dispose();
  }
}

/** `cloze preview`'s text: the report the editors' Show Preview command shows too (service/previewReport.ts). */
function formatText(result: PreviewResult, info: ModelInfo): string {
  return previewText(result, describeEngine(info), '--calibrate for calibrated');
}
