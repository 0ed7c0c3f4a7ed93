import { performance } from 'node:perf_hooks';
import * as vm from 'node:vm';
import type { PreTrainedTokenizer } from '@xenova/transformers' with { 'resolution-mode': 'import' };
import type { TokenPiece, TokenizerView } from '../language/tokenizer';
import { locationKey, type ModelLocation } from './resolve';
import { modelMaxLength } from './maxLength';
import { MODEL_JSON_FILES, modelFileKindProblem, modelFolderProblem } from './modelFiles';
import { withModelEnv } from './transformers';
import { modelsFolderHint, type UserInterface } from './wording';

/**
 * Loads real tokenizers through transformers.js `AutoTokenizer` and adapts
 * them to the core's `TokenizerView`. Every check that depends on the
 * vocabulary goes through the model's own tokenizer, never an imitation.
 */

export type TokenizerResult = { readonly ok: true; readonly tokenizer: TokenizerView } | { readonly ok: false; readonly reason: string };

/** Loaded tokenizers, one per model folder, shared by all open documents. */
export class TokenizerCache {
  private readonly loads = new Map<string, Promise<TokenizerResult>>();
  /** Settled loads, so callers on the typing path can use a tokenizer without awaiting. */
  private readonly settled = new Map<string, TokenizerResult>();

  constructor(
    private readonly cacheDir: string,
    /** Whose settings or flags load errors name. */
    private readonly userInterface: UserInterface = 'editor',
  ) {}

  get(location: Extract<ModelLocation, { ok: true }>): Promise<TokenizerResult> {
    const key = locationKey(location);
    const settled = this.settled.get(key);
    if (settled?.ok && settled.tokenizer instanceof TransformersTokenizerView && settled.tokenizer.hung !== undefined) {
      return Promise.resolve({ ok: false, reason: settled.tokenizer.hung });
    }
    let load = this.loads.get(key);
    if (!load) {
      load = loadTokenizer(location, this.cacheDir, this.userInterface);
      this.loads.set(key, load);
      // A failed load is not cached for ever: the user may fix the folder or go online.
      void load.then((result) => {
        if (result.ok) this.settled.set(key, result);
        else this.loads.delete(key);
      });
    }
    return load;
  }

  /** Forgets every tokenizer (no open document needs one): the next request loads again. */
  clear(): void {
    this.loads.clear();
    this.settled.clear();
  }

  /** The tokenizer if it has already loaded (and has not been found to hang), without waiting. */
  loaded(location: Extract<ModelLocation, { ok: true }>): TokenizerView | undefined {
    const result = this.settled.get(locationKey(location));
    if (!result?.ok) return undefined;
    return result.tokenizer instanceof TransformersTokenizerView && result.tokenizer.hung !== undefined ? undefined : result.tokenizer;
  }
}

/**
 * Why a tokenizer is no longer used: it ran past its time budget on a text
 * (a pre-tokenizer or normalizer regex that backtracks catastrophically).
 */
export class TokenizerTimeout extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'TokenizerTimeout';
  }
}

/** Time one call of the real tokenizer may take (a text of a document: microseconds normally). */
export const TOKENIZE_BUDGET_MS = 1000;

/** Time a whole check may spend: generous (a 10,000-line document checks in a fraction of it), and bounded. */
export function checkBudgetMs(textLength: number): number {
  return 2000 + Math.ceil(textLength * 0.005);
}

/**
 * The tokenizers are run on the server's main thread (the core's checks ask
 * them synchronously), and a JavaScript regex cannot be interrupted from
 * JavaScript. `vm`'s timeout can: its watchdog thread terminates whatever runs
 * on this thread when the budget is spent, a regex included. Starting the
 * watchdog costs ~0.1 ms, so a whole operation (a check, a hover) runs under
 * one budget; a tokenizer call outside any operation gets its own.
 */
const guardContext = vm.createContext({ work: undefined as unknown });
const guardScript = new vm.Script('work()');
let guarding = false;

/**
 * Runs `work` (which may tokenize) with a time budget. When the budget runs
 * out inside the tokenizer, that tokenizer is marked as hung (it is never
 * used again: `TokenizerCache.loaded` forgets it and `get` answers its reason)
 * and a `TokenizerTimeout` is thrown.
 */
export function boundedTokenizing<T>(budgetMs: number, work: () => T): T {
  if (guarding) return work();
  guarding = true;
  const context = guardContext as { work: unknown };
  context.work = work;
  try {
    return guardScript.runInContext(guardContext, { timeout: budgetMs }) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      // The tokenizer is blamed only when the one call in progress has itself run for a second
      // (thousands of times its usual time); a check that is merely long on a busy machine is not.
      const view = TransformersTokenizerView.running;
      if (view && view.runningForMs() >= 0.9 * TOKENIZE_BUDGET_MS) throw new TokenizerTimeout(view.markHung(view.runningForMs()));
      throw new TokenizerTimeout(`the check ran longer than ${budgetMs} ms and was stopped; it runs again at the next edit`);
    }
    throw error;
  } finally {
    guarding = false;
    context.work = undefined;
    TransformersTokenizerView.running = undefined;
  }
}

async function loadTokenizer(
  location: Extract<ModelLocation, { ok: true }>,
  cacheDir: string,
  userInterface: UserInterface,
): Promise<TokenizerResult> {
  try {
    // A folder, device or pipe where a file should be is refused before anything opens it (modelFiles.ts).
    const kind = location.source === 'remote' ? undefined : modelFileKindProblem(locationKey(location), MODEL_JSON_FILES);
    if (kind) throw new Error(kind);
    const { tokenizer, config } = await withModelEnv(location, cacheDir, async (module) => {
      const loaded = await module.AutoTokenizer.from_pretrained(location.name);
      // config.json gives the position table; a folder without one still checks, against the tokenizer's limit.
      const modelConfig = await module.AutoConfig.from_pretrained(location.name).catch(() => ({}));
      return { tokenizer: loaded, config: modelConfig as Record<string, unknown> };
    });
    if (tokenizer.mask_token === null || tokenizer.mask_token === undefined || tokenizer.mask_token_id === undefined) {
      return {
        ok: false,
        reason: `${location.id} has no mask token in its tokenizer: it is not a masked language model. Use a BERT-style model such as Xenova/bert-base-uncased or Xenova/roberta-base.`,
      };
    }
    return {
      ok: true,
      tokenizer: new TransformersTokenizerView(location.id, tokenizer, modelMaxLength(config, tokenizer.model_max_length)),
    };
  } catch (error) {
    return { ok: false, reason: describeLoadError(location, error, userInterface) };
  }
}

export function describeLoadError(
  location: Extract<ModelLocation, { ok: true }>,
  error: unknown,
  userInterface: UserInterface = 'editor',
): string {
  const detail = error instanceof Error ? error.message : String(error);
  if (location.source === 'remote') {
    const local = location.notInModelsDir ? `${location.notInModelsDir}, and ` : '';
    return `${local}${location.id} could not be downloaded (${firstLine(detail)}). Check the id and the network, or put the model in the models folder (${modelsFolderHint(userInterface)}).`;
  }
  const problem = modelFolderProblem(locationKey(location));
  if (problem)
    return `${location.id} could not be loaded: ${problem}. The folder needs tokenizer.json, tokenizer_config.json and config.json as exported for transformers.js.`;
  return `${location.id} could not be loaded from ${locationKey(location)}: ${firstLine(detail)}. The folder needs tokenizer.json, tokenizer_config.json and config.json as exported for transformers.js.`;
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? text;
}

/** Reads a special token out of a tokenizer config, where it may be a string or `{ content }`. */
function configToken(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'content' in value && typeof value.content === 'string') return value.content;
  return undefined;
}

/** Texts remembered per tokenizer and question: enough for a 10,000-line document, a few MB. */
const MEMO_ENTRIES = 32_768;

/**
 * A copy of a string that shares no memory with it. The texts asked about are
 * slices of a document's text, and V8 keeps a slice's whole parent alive: a
 * remembered key would otherwise hold on to the entire document version it
 * came from (700 KB for a 10,000-line file) for as long as it is remembered.
 */
function detached(text: string): string {
  // A JSON round trip builds a new flat string natively (split/join made a string per character).
  return JSON.parse(JSON.stringify(text)) as string;
}

/** A bounded map that forgets the least recently used entry first. */
class Recent<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly limit: number) {}

  get(key: string, compute: () => T): T {
    const found = this.entries.get(key);
    if (found !== undefined) {
      // Map keeps insertion order: re-inserting marks the entry as recently used.
      this.entries.delete(key);
      this.entries.set(key, found);
      return found;
    }
    const value = compute();
    if (this.entries.size >= this.limit) {
      // The oldest quarter goes in one pass. Deleting one entry per insertion would look up the
      // first live key each time, past the holes earlier deletions left in the Map's table, which
      // made a full cache cost more per text the longer it was used (superlinear checking).
      let drop = Math.max(1, this.limit >> 2);
      for (const old of this.entries.keys()) {
        this.entries.delete(old);
        if (--drop === 0) break;
      }
    }
    this.entries.set(detached(key), value);
    return value;
  }
}

class TransformersTokenizerView implements TokenizerView {
  /** The view whose tokenizer is running now, for the reason of a timeout. */
  static running: TransformersTokenizerView | undefined;
  /** Set when the tokenizer ran past its budget: why it is not used any more. */
  hung: string | undefined;
  private current = '';
  private startedAt = 0;
  readonly special;
  readonly maskTokenId: number;
  readonly unkTokenId: number | undefined;
  private readonly vocab: readonly string[];
  private readonly ids: Map<string, number>;
  /**
   * Recent answers, by text. Every check tokenizes each pattern and each
   * example's fields, so after a one-line edit nearly all of them are the
   * same texts as one check before: only the changed line is tokenized again.
   */
  private readonly pieces = new Recent<readonly TokenPiece[]>(MEMO_ENTRIES);
  private readonly pieceById = new Map<number, TokenPiece>();
  private readonly counts = new Recent<number>(MEMO_ENTRIES);

  constructor(
    readonly modelId: string,
    private readonly tokenizer: PreTrainedTokenizer,
    readonly maxLength: number,
  ) {
    const config = (tokenizer as unknown as { _tokenizer_config: Record<string, unknown> })._tokenizer_config;
    const sep = tokenizer.sep_token ?? configToken(config['eos_token']) ?? '[SEP]';
    this.special = {
      mask: tokenizer.mask_token as string,
      sep,
      cls: configToken(config['cls_token']) ?? configToken(config['bos_token']),
    };
    this.maskTokenId = tokenizer.mask_token_id as number;
    this.unkTokenId = tokenizer.unk_token_id ?? undefined;
    const model = (tokenizer as unknown as { model: { vocab: string[]; tokens_to_ids: Map<string, number> } }).model;
    this.vocab = model.vocab;
    this.ids = model.tokens_to_ids;
  }

  tokenize(text: string): TokenPiece[] {
    // Shared and frozen: a re-check allocates nothing for a text it has seen.
    return this.pieces.get(text, () =>
      Object.freeze(this.encode(text, () => this.tokenizer.encode(text, null, { add_special_tokens: false })).map((id) => this.piece(id))),
    ) as TokenPiece[];
  }

  /** Runs the real tokenizer on a text, bounded in time (see `boundedTokenizing`). */
  private encode(text: string, run: () => number[]): number[] {
    if (this.hung !== undefined) throw new TokenizerTimeout(this.hung);
    return boundedTokenizing(TOKENIZE_BUDGET_MS, () => {
      TransformersTokenizerView.running = this;
      this.current = text;
      this.startedAt = performance.now();
      try {
        return run();
      } finally {
        TransformersTokenizerView.running = undefined;
      }
    });
  }

  /** How long the call in progress has run. */
  runningForMs(): number {
    return performance.now() - this.startedAt;
  }

  markHung(budgetMs: number): string {
    const shown = this.current.length > 60 ? `${this.current.slice(0, 60)}…` : this.current;
    this.hung = `its tokenizer ran for more than ${Math.floor(budgetMs)} ms on the text "${shown}" and was stopped (a pre-tokenizer or normalizer regex in tokenizer.json that backtracks catastrophically?). Fix or replace tokenizer.json, then reload the window`;
    return this.hung;
  }

  /** One frozen piece object per vocabulary id, so remembered tokenizations hold only references. */
  private piece(id: number): TokenPiece {
    let piece = this.pieceById.get(id);
    if (!piece) {
      piece = Object.freeze({ id, token: this.vocab[id] ?? String(id) });
      this.pieceById.set(id, piece);
    }
    return piece;
  }

  countTokens(text: string): number {
    return this.counts.get(text, () => this.encode(text, () => this.tokenizer.encode(text)).length);
  }

  tokenId(token: string): number | undefined {
    return this.ids.get(token);
  }

  vocabulary(): readonly string[] {
    return this.vocab;
  }

  decode(ids: readonly number[]): string {
    // transformers.js throws on an empty list; a field cut to nothing by `shorten=` is the empty text.
    if (ids.length === 0) return '';
    return this.tokenizer.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }
}
