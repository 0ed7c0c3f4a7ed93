/**
 * The language core: pure functions from text (and, for some checks, a
 * TokenizerView) to plain data. No LSP, no model, no Node I/O: the lint rule
 * in eslint.config.mjs keeps it that way.
 */
export * from './ast';
export { parse } from './parse';
export { positionAt, offsetAt, type Position } from './positions';
export { validateStructure, type DataSetSummary } from './validate';
export { exampleProblems, type ExampleProblem } from './exampleProblems';
export { validateWithTokenizer } from './validateTokens';
export { hoverAt, type HoverResult } from './hover';
export { completeAt, type CompletionData, type CompletionProposal } from './complete';
export { quickFixes, SELECT_MODEL_COMMAND, type FixContext, type QuickFix, type TextEdit } from './actions';
export { documentSymbols, type OutlineSymbol } from './symbols';
export type { TokenizerView, TokenPiece, SpecialTokens, MaskContext } from './tokenizer';
export { listedModels, otherModels, labelWordMatrix, modelHover, modelLineEdit, modelRefAt, type ModelFacts } from './models';
