import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TokenizerView } from '../../server/src/language';
import { parse } from '../../server/src/language';
import { TokenizerCache } from '../../server/src/model/tokenizers';
import { ClozeLanguageService } from '../../server/src/service/languageService';
import { modelsDir, repoRoot } from './paths';

/**
 * The language service as the tests use it: the real models of `modelsDir()`, downloads off, and
 * an empty download cache of its own, so that a model is found in the models folder or not at
 * all, whatever the machine has cached.
 */

/** The model families of ../shared/models; each has a folder of diagnostic fixtures. */
export const families = [
  'tiny-random-bert-uncased',
  'tiny-random-bert-cased',
  'tiny-random-roberta',
  'tiny-random-bert-chinese',
  'review-bert-small',
] as const;
export type Family = (typeof families)[number];

// Never created: with downloads off nothing is written there, and nothing can be found there.
const emptyCacheDir = path.join(repoRoot, 'test', 'out', 'no-download-cache');
if (fs.existsSync(emptyCacheDir)) throw new Error(`${emptyCacheDir} should not exist: the tests must not find models in a download cache.`);
const sharedTokenizers = new TokenizerCache(emptyCacheDir);
const services = new Map<string, ClozeLanguageService>();

/** A service whose `cloze.model` setting is `defaultModel`; all share one tokenizer cache. */
export function serviceFor(defaultModel: string): ClozeLanguageService {
  let service = services.get(defaultModel);
  if (!service) {
    service = new ClozeLanguageService(
      {
        modelsDir: modelsDir(),
        allowRemoteModels: false,
        cacheDir: emptyCacheDir,
        defaultModel,
        defaultModelOrigin: 'the cloze.model setting chose it',
      },
      sharedTokenizers,
    );
    services.set(defaultModel, service);
  }
  return service;
}

/** The real tokenizer of a model in the models folder; fails the test when it cannot be loaded. */
export async function loadTokenizer(model: string): Promise<TokenizerView> {
  const service = serviceFor(model);
  const result = await service.tokenizer(service.modelChoice(parse(''), undefined));
  if (!result.ok) throw new Error(`The tokenizer of ${model} did not load: ${result.diagnostic.message}`);
  return result.tokenizer;
}
