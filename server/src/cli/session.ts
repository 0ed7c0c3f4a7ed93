import * as fs from 'node:fs';
import type { ClozeDocument, Diagnostic } from '../language/ast';
import { parse } from '../language/parse';
import { positionAt } from '../language/positions';
import { hasSingleMask } from '../language/render';
import type { TokenizerView } from '../language/tokenizer';
import { MaskedLmEngine } from '../model/engine';
import type { ClozeLanguageService } from '../service/languageService';
import { createService, describeReadError } from './check';

/**
 * What `cloze preview` and `cloze eval` share: read and check the file, load
 * the tokenizer and the engine, or say on stderr why the file cannot be
 * scored. The engine runs in this process: a CLI run has no event loop to
 * keep responsive, so it needs no worker.
 */

export interface ScoringOptions {
  readonly modelsDir?: string;
  readonly offline?: boolean;
  readonly model?: string;
  readonly quantized: boolean;
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
}

/** Structural errors after which there is nothing to score. */
const blockingCodes = new Set(['pattern-missing', 'verbalizer-missing']);

/** A session, or the exit code when the file cannot be scored (1) or read (2). */
export async function openScoringSession(
  file: string,
  options: ScoringOptions,
  purpose: 'previewed' | 'evaluated' | 'searched',
): Promise<ScoringSession | number> {
  const command = purpose === 'previewed' ? 'cloze preview' : purpose === 'evaluated' ? 'cloze eval' : 'cloze suggest';
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    process.stderr.write(`${command}: ${describeReadError(file, error)}\n`);
    return 2;
  }
  const doc = parse(text);
  const service = createService(options);
  const structural = service.checkStructure(doc, file);
  const report = (diagnostics: readonly Diagnostic[]): void => {
    for (const d of diagnostics) {
      const { line, character } = positionAt(doc, d.span.start);
      process.stderr.write(`${file}:${line + 1}:${character + 1} ${d.severity} ${d.code} ${d.message}\n`);
    }
  };

  // A label-word search needs no verbalizer: it proposes one (its labels then come from the data).
  const blockers = structural.filter((d) => blockingCodes.has(d.code) && !(purpose === 'searched' && d.code === 'verbalizer-missing'));
  if (doc.patterns.length > 0 && !doc.patterns.some(hasSingleMask)) {
    blockers.push(...structural.filter((d) => d.code === 'mask-missing' || d.code === 'mask-multiple'));
  }
  if (blockers.length > 0) {
    report(blockers);
    process.stderr.write(
      `${command}: ${file} cannot be ${purpose}: it needs ${purpose === 'searched' ? '' : 'a verbalizer and '}a pattern with exactly one [MASK].\n`,
    );
    return 1;
  }

  const choice = service.modelChoice(doc, file, options.model);
  const tokenizer = await service.tokenizer(choice);
  if (!tokenizer.ok) {
    report([tokenizer.diagnostic]);
    return 1;
  }
  if (!choice.location.ok) return 1; // The tokenizer loaded, so the model was found; this only narrows the type.
  let engine: MaskedLmEngine;
  try {
    engine = await MaskedLmEngine.load(choice.location, service.settings.cacheDir, {
      quantized: options.quantized,
      userInterface: 'cli',
      // The label-word search reads every row twice (top tokens, then its candidates'
      // probabilities): room for 2,000 rows of a 30,000-word vocabulary saves the second run.
      ...(purpose === 'searched' ? { cacheBytes: 256 * 1024 * 1024 } : {}),
    });
  } catch (error) {
    report([
      {
        code: 'model-unavailable',
        severity: 'error',
        span: choice.span,
        message: `Model ${choice.id} is unavailable: ${error instanceof Error ? error.message : String(error)}`,
      },
    ]);
    return 1;
  }
  const errors = [...structural, ...(await service.checkTokens(doc, choice))].filter((d) => d.severity === 'error');
  return { file, doc, service, tokenizer: tokenizer.tokenizer, engine, errors, report };
}
