/**
 * Figures of a classifier over labelled inputs, as plain arithmetic: the
 * evaluation lens (lsp/dataLenses.ts) reports them beside accuracy.
 */

/**
 * Macro-averaged F1: the unweighted mean over labels of
 * F1(L) = 2·TP / (2·TP + FP + FN), so a rare label counts as much as a
 * frequent one (a classifier that always says the majority label scores
 * well on accuracy and badly here). The mean runs over the labels that occur
 * as gold or as prediction; a label that never does is left out rather than
 * counted as 0 or 1 (scikit-learn's `f1_score(average='macro', labels=…)`
 * would count it as 0). Null when there is no pair.
 */
export function macroF1(
  pairs: ReadonlyArray<{ readonly gold: string; readonly predicted: string | undefined }>,
  labels: readonly string[],
): number | null {
  if (pairs.length === 0) return null;
  const f1s: number[] = [];
  for (const label of labels) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const { gold, predicted } of pairs) {
      if (predicted === label && gold === label) tp++;
      else if (predicted === label) fp++;
      else if (gold === label) fn++;
    }
    if (tp + fp + fn === 0) continue;
    f1s.push((2 * tp) / (2 * tp + fp + fn));
  }
  return f1s.length === 0 ? null : f1s.reduce((sum, f) => sum + f, 0) / f1s.length;
}
