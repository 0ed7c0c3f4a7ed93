import type { ClozeDocument } from './ast';
import { positionAt } from './positions';
import { validateStructure } from './validate';

/** An example the preview does not score, because the file has an error in it. */
export interface ExampleProblem {
  /** 1-based line of the `example` keyword, as in `PreviewResult.examples[].line`. */
  readonly line: number;
  readonly message: string;
}

/**
 * The examples with an error in them (a field the patterns read but the example does not give, an
 * undeclared label): scored, they would show numbers for an input that is not the one written (a
 * missing field is left empty) or a tick against a label the file does not have. The preview leaves
 * them out, and its lenses, hover and CLI report say why.
 */
export function exampleProblems(doc: ClozeDocument): readonly ExampleProblem[] {
  // A parsed document does not change: the preview and every lens request of a version ask the same.
  const known = checked.get(doc);
  if (known) return known;
  const problems = findProblems(doc);
  checked.set(doc, problems);
  return problems;
}

const checked = new WeakMap<ClozeDocument, readonly ExampleProblem[]>();

function findProblems(doc: ClozeDocument): ExampleProblem[] {
  const errors = validateStructure(doc).filter((d) => d.severity === 'error');
  const problems: ExampleProblem[] = [];
  for (const example of doc.examples) {
    const inside = errors.find((d) => d.span.start >= example.span.start && d.span.end <= example.span.end);
    if (inside) problems.push({ line: positionAt(doc, example.span.start).line + 1, message: firstSentence(inside.message) });
  }
  return problems;
}

function firstSentence(message: string): string {
  const end = message.search(/\.(\s|$)/);
  const sentence = end < 0 ? message : message.slice(0, end);
  return sentence.charAt(0).toLowerCase() + sentence.slice(1);
}
