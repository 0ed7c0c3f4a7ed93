import { downloadReporter } from './downloadProgress';
import type { ClozeDocument, Diagnostic } from '../language/ast';
import { parse } from '../language/parse';
import { positionAt } from '../language/positions';
import { hasSingleMask } from '../language/render';
import type { TokenizerView } from '../language/tokenizer';
import { MaskedLmEngine } from '../model/engine';
import { describeModelFailure } from '../model/modelFailure';
import { checkModelOutput } from '../model/outputCheck';
import { withModelsDirNote } from '../model/resolve';
import { downloadModel, hubOptionsFromEnv, onnxFile, TOKENIZER_FILES } from '../model/download';
import type { ClozeLanguageService } from '../service/languageService';
import { createService, dataLimits, type DataLimitOptions } from './check';
import { printable, readSourceFile } from './sourceFile';

/**
 * What `cloze preview` and `cloze eval` share: read and check the file, load
 * the tokenizer and the engine, or say on stderr why the file cannot be
 * scored. The engine runs in this process: a CLI run has no event loop to
 * keep responsive, so it needs no worker.
 */

export interface ScoringOptions extends DataLimitOptions {
  readonly modelsDir?: string;
  readonly offline?: boolean;
  readonly model?: string;
  /** A model of the file's `models:` line to score with instead of its default (cli/compare.ts). */
  readonly listedModel?: string;
  readonly quantized: boolean;
  /**
   * Told the message when the model cannot be loaded or fails while scoring (a several-model report names the
   * reason per model), and whether its folder was found (then where models are looked for is no help).
   */
  readonly onModelUnavailable?: (message: string, found: boolean) => void;
}

export interface ScoringSession {
  readonly file: string;
  readonly doc: ClozeDocument;
  readonly service: ClozeLanguageService;
  readonly tokenizer: TokenizerView;
  readonly engine: MaskedLmEngine;
  /** Errors that do not stop scoring but change what it means (a skipped label word, a missing field). */
  readonly errors: readonly Diagnostic[];
  report(diagnostics: readonly Diagnostic[]): void;
  /**
   * The model failed while scoring (it loaded, but a run failed): reported
   * as `model-unavailable` on its line, exit code 1. Not bad usage (2): the
   * command was right, the model is not.
   */
  scoringFailed(error: unknown): number;
}

/** Structural errors after which there is nothing to score. */
const blockingCodes = new Set(['pattern-missing', 'verbalizer-missing']);

/**
 * The structural errors after which the file cannot be scored with any model
 * (none when it can): a command running several models stops at them once
 * instead of reporting them for each model (cli/eval.ts).
 */
export function scoringBlockers(
  doc: ClozeDocument,
  structural: readonly Diagnostic[],
  purpose: 'previewed' | 'evaluated' | 'searched',
): Diagnostic[] {
  // A label-word search needs no verbalizer: it proposes one (its labels then come from the data).
  const blockers = structural.filter((d) => blockingCodes.has(d.code) && !(purpose === 'searched' && d.code === 'verbalizer-missing'));
  if (doc.patterns.length > 0 && !doc.patterns.some(hasSingleMask)) {
    blockers.push(...structural.filter((d) => d.code === 'mask-missing' || d.code === 'mask-multiple'));
  }
  return blockers;
}

/** A session, or the exit code when the file cannot be scored (1) or read (2). */
export async function openScoringSession(
  file: string,
  options: ScoringOptions,
  purpose: 'previewed' | 'evaluated' | 'searched',
  /**
   * Lines already written to stderr by an earlier session of the same run
   * (`cloze preview --model a --model b`): a problem of the file itself is said
   * once, not once per model.
   */
  said: Set<string> = new Set(),
): Promise<ScoringSession | number> {
  const say = (line: string): void => {
    if (said.has(line)) return;
    said.add(line);
    process.stderr.write(`${line}\n`);
  };
  const command = purpose === 'previewed' ? 'cloze preview' : purpose === 'evaluated' ? 'cloze eval' : 'cloze suggest';
  // One file: a folder is not answered with a glob, as `cloze check` (which takes several) does.
  const source = readSourceFile(file, 'one .cloze file');
  if (!source.ok) {
    process.stderr.write(`${command}: ${source.message}\n`);
    return 2;
  }
  const doc = parse(source.text);
  const service = createService(options);
  const structural = await service.checkStructure(doc, file, dataLimits(options));
  const report = (diagnostics: readonly Diagnostic[]): void => {
    for (const d of diagnostics) {
      const { line, character } = positionAt(doc, d.span.start);
      say(`${file}:${line + 1}:${character + 1} ${d.severity} ${d.code} ${printable(d.message)}`);
    }
  };

  const blockers = scoringBlockers(doc, structural, purpose);
  if (blockers.length > 0) {
    report(blockers);
    say(
      `${command}: ${file} cannot be ${purpose}: it needs ${purpose === 'searched' ? '' : 'a verbalizer and '}a pattern with exactly one [MASK].`,
    );
    return 1;
  }

  const defaultChoice = service.modelChoice(doc, file, options.model);
  const choice =
    (options.listedModel !== undefined &&
      service.otherModelChoices(doc, file, defaultChoice).find((other) => other.id === options.listedModel)) ||
    defaultChoice;
  const tokenizer = await service.tokenizer(choice);
  if (!tokenizer.ok) {
    report([tokenizer.diagnostic]);
    options.onModelUnavailable?.(tokenizer.diagnostic.message, choice.location.ok && choice.location.source !== 'remote');
    return 1;
  }
  if (!choice.location.ok) return 1; // The tokenizer loaded, so the model was found; this only narrows the type.
  let engine: MaskedLmEngine;
  try {
    let location = choice.location;
    if ((location.source === 'remote' || location.source === 'cache') && service.settings.allowRemoteModels) {
      // The model file is fetched by Cloze's downloader (timeouts, atomic files) and read from the cache.
      const files = [...TOKENIZER_FILES, onnxFile(options.quantized)];
      const remote = location;
      const progress = downloadReporter(location.id);
      await downloadModel({
        id: location.id,
        cacheDir: service.settings.cacheDir,
        files,
        hub: hubOptionsFromEnv(),
        userInterface: 'cli',
        onProgress: progress.onProgress,
      }).then(
        () => progress.done(true),
        (error: unknown) => {
          progress.done(false);
          throw new Error(withModelsDirNote(error instanceof Error ? error.message : String(error), remote));
        },
      );
      location = { ...location, source: 'cache' };
    }
    engine = await MaskedLmEngine.load(location, service.settings.cacheDir, {
      quantized: options.quantized,
      userInterface: 'cli',
      ...(purpose === 'searched' ? { cacheBytes: 256 * 1024 * 1024 } : {}),
    });
  } catch (error) {
    return modelUnavailable(error);
  }
  try {
    // A model that loads but does not give vocabulary logits would be scored as noise (every label 50 %).
    await checkModelOutput(engine);
  } catch (error) {
    await engine.dispose();
    return modelUnavailable(error);
  }
  function modelUnavailable(error: unknown): number {
    const message = describeModelFailure(error instanceof Error ? error.message : String(error));
    report([{ code: 'model-unavailable', severity: 'error', span: choice.span, message: `Model ${choice.id} is unavailable: ${message}` }]);
    options.onModelUnavailable?.(`Model ${choice.id} is unavailable: ${message}`, true);
    return 1;
  }
  const errors = [...structural, ...(await service.checkTokens(doc, choice))].filter((d) => d.severity === 'error');
  return { file, doc, service, tokenizer: tokenizer.tokenizer, engine, errors, report, scoringFailed: modelUnavailable };
}
