/**
 * The smallest evaluable sentiment file: one pattern over `{sentence}`, great/terrible, and a
 * `data: rows.jsonl` line beside it (the tests write rows.jsonl themselves); `header`: lines after
 * the `model:` line (a `models:` line).
 */
export function sentenceDataDocument(model: string, header: readonly string[] = []): string {
  return [
    `model: ${model}`,
    ...header,
    'pattern: {sentence} It was [MASK].',
    'verbalizer:',
    '  positive: great',
    '  negative: terrible',
    'data: rows.jsonl',
    '',
  ].join('\n');
}
