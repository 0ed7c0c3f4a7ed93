/**
 * What the language core needs to know about a model's tokenizer, as plain
 * data and pure functions. The model layer implements it on top of the real
 * tokenizer loaded by transformers.js; the core never imports that library,
 * so it stays testable and usable in any host.
 */
export interface TokenPiece {
  /** The vocabulary string, e.g. `Ġgreat` or `##ally`. */
  readonly token: string;
  readonly id: number;
}

export interface SpecialTokens {
  readonly mask: string;
  readonly sep: string;
  /** The begin token the tokenizer adds itself (`[CLS]`, `<s>`). */
  readonly cls: string | undefined;
}

export interface TokenizerView {
  /** The model id as the user wrote it (or as settings gave it). */
  readonly modelId: string;
  readonly special: SpecialTokens;
  readonly maskTokenId: number;
  readonly unkTokenId: number | undefined;
  /** Longest input the model accepts, special tokens included. */
  readonly maxLength: number;
  /** Pieces of `text` without the special tokens the tokenizer adds around it. */
  tokenize(text: string): TokenPiece[];
  /** Length of `text` as the model sees it, special tokens included. */
  countTokens(text: string): number;
  /** The id of a vocabulary string, if it is one. */
  tokenId(token: string): number | undefined;
  /**
   * The vocabulary strings by id (`great`, `##ally`, `Ġgreat`). Only for
   * proposing candidates (quick fixes by spelling); whether a word is one token
   * is always asked through `tokenize`.
   */
  vocabulary(): readonly string[];
  /** The text of some pieces, as the tokenizer decodes them (special tokens kept, no clean-up): how a truncated field is written back. */
  decode(ids: readonly number[]): string;
}

/**
 * How the text before `[MASK]` shapes the token the model predicts there. A
 * byte-level BPE model (RoBERTa) sees `Ġgreat` after a space and `great` at the
 * start of the text or glued to the previous character; WordPiece models see
 * the same token either way.
 */
export type MaskContext = 'after-space' | 'no-space';

/** The text a label word is tokenized as, in a given context. */
export function labelWordInContext(word: string, context: MaskContext): string {
  return context === 'after-space' ? ` ${word}` : word;
}

/** Shows a split the way users read it: `fantastic ##ally`, `Soc iety`. */
export function formatPieces(pieces: readonly TokenPiece[]): string {
  return pieces.map((piece) => piece.token).join(' ');
}

/**
 * What a hover says where the tokenizer's answer would go and there is none yet. The server, which
 * knows when there will be none (the model is unavailable), puts its reason in its place.
 */
export const TOKENIZER_PENDING = '_The tokenizer is not loaded yet._';
