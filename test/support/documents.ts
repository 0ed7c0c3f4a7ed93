/**
 * The smallest evaluable sentiment file: one pattern over `{sentence}`, great/terrible, and a
 * `data: rows.jsonl` line beside it (the tests write rows.jsonl themselves).
 */
export function sentenceDataDocument(model: string): string {
  return [
    `model: ${model}`,
    'pattern: {sentence} It was [MASK].',
    'verbalizer:',
    '  positive: great',
    '  negative: terrible',
    'data: rows.jsonl',
    '',
  ].join('\n');
}
