import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/**
 * A full garbage collection, asked for once when the last document closes.
 * V8 collects when it needs room, not when a server goes idle: after closing
 * every document, previews, parsed trees and tokenizers are garbage, but the
 * heap they filled (tens of MB after a few large previews) stays resident
 * until something else allocates. One collection at that moment gives it back
 * (the benchmark `bench/memory-after-close.mjs` measures it). Node exposes
 * `gc` only with `--expose-gc`, which the editor does not pass, so the flag is
 * set here and the function taken from a fresh context; if that is not
 * possible, nothing happens.
 */
let collect: (() => void) | undefined | null;

export function collectGarbage(): void {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  collect?.();
}
