import type { PreTrainedTokenizer } from '@xenova/transformers' with { 'resolution-mode': 'import' };
import type { TokenPiece, TokenizerView } from '../language/tokenizer';
import { locationKey, type ModelLocation } from './resolve';
import { modelMaxLength } from './maxLength';
import { withModelEnv } from './transformers';

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

  constructor(private readonly cacheDir: string) {}

  get(location: Extract<ModelLocation, { ok: true }>): Promise<TokenizerResult> {
    const key = locationKey(location);
    let load = this.loads.get(key);
    if (!load) {
      load = loadTokenizer(location, this.cacheDir);
      this.loads.set(key, load);
      // A failed load is not cached for ever: the user may fix the folder or go online.
      void load.then((result) => {
        if (result.ok) this.settled.set(key, result);
        else this.loads.delete(key);
      });
    }
    return load;
  }

  /** The tokenizer if it has already loaded, without waiting. */
  loaded(location: Extract<ModelLocation, { ok: true }>): TokenizerView | undefined {
    const result = this.settled.get(locationKey(location));
    return result?.ok ? result.tokenizer : undefined;
  }
}

async function loadTokenizer(location: Extract<ModelLocation, { ok: true }>, cacheDir: string): Promise<TokenizerResult> {
  try {
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
    return { ok: false, reason: describeLoadError(location, error) };
  }
}

export function describeLoadError(location: Extract<ModelLocation, { ok: true }>, error: unknown): string {
  const detail = error instanceof Error ? error.message : String(error);
  if (location.source === 'remote') {
    return `${location.id} could not be downloaded (${firstLine(detail)}). Check the id and the network, or put the model in the models folder (cloze.modelsDir).`;
  }
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
  return text.split('').join('');
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
    if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(detached(key), value);
    return value;
  }
}

class TransformersTokenizerView implements TokenizerView {
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
      Object.freeze(this.tokenizer.encode(text, null, { add_special_tokens: false }).map((id) => this.piece(id))),
    ) as TokenPiece[];
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
    return this.counts.get(text, () => this.tokenizer.encode(text).length);
  }

  tokenId(token: string): number | undefined {
    return this.ids.get(token);
  }

  decode(ids: readonly number[]): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }
}
