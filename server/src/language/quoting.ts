/**
 * Names for a message (columns, labels): a JSONL file can have thousands of keys, a verbalizer
 * thousands of labels, so the first 20 and a count. Uncapped, 8,000 examples of an undeclared
 * label each listed 8,000 labels: `cloze check` wrote 570 MB.
 */
export function quotedNames(names: readonly string[], shown = 20): string {
  const listed = names.slice(0, shown).map((name) => `\`${name}\``);
  return names.length > shown ? `${listed.join(', ')} and ${names.length - shown} more` : listed.join(', ');
}
