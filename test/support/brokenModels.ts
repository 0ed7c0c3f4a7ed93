import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ELEM_FLOAT, ELEM_INT64, attribute, int64Tensor, node, onnxModel, valueInfo } from '../../server/src/model/onnxProto';
import { modelsDir } from './paths';

/**
 * Model folders that are broken the ways users' folders are, built in a temp
 * dir: the real tokenizer and config of a tiny-random model, with an ONNX
 * file that is cut short, random bytes, or a valid graph whose output is not
 * vocabulary logits. Nothing here is written into ../shared/models.
 */

export type OnnxBreakage = 'truncated' | 'random' | 'narrow-output' | 'int64-logits';

export const donorModel = 'tiny-random-bert-uncased';

/** A temp folder `<root>/<name>` with the donor's tokenizer and config and the given ONNX file; returns the root. */
export function brokenModelFolder(name: string, breakage: OnnxBreakage): { root: string; folder: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-broken-'));
  const folder = path.join(root, name);
  fs.mkdirSync(path.join(folder, 'onnx'), { recursive: true });
  const donor = path.join(modelsDir(), donorModel);
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    fs.copyFileSync(path.join(donor, file), path.join(folder, file));
  }
  writeBrokenOnnx(folder, breakage);
  return { root, folder };
}

export function writeBrokenOnnx(folder: string, breakage: OnnxBreakage): void {
  const target = path.join(folder, 'onnx', 'model_quantized.onnx');
  fs.rmSync(target, { force: true });
  const real = fs.readFileSync(path.join(modelsDir(), donorModel, 'onnx', 'model_quantized.onnx'));
  let bytes: Uint8Array;
  switch (breakage) {
    case 'truncated':
      bytes = real.subarray(0, Math.floor(real.length / 2));
      break;
    case 'random': {
      // Seeded, so a failure is reproducible.
      let seed = 12345;
      bytes = Uint8Array.from({ length: 4096 }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256);
      break;
    }
    case 'narrow-output':
      bytes = idsGraph(ELEM_FLOAT, 2);
      break;
    case 'int64-logits':
      bytes = idsGraph(ELEM_INT64, vocabSize());
      break;
  }
  fs.writeFileSync(target, bytes);
}

/** Restores the donor's real ONNX file: the folder is fixed. */
export function fixModelFolder(folder: string): void {
  const target = path.join(folder, 'onnx', 'model_quantized.onnx');
  fs.rmSync(target, { force: true });
  fs.copyFileSync(path.join(modelsDir(), donorModel, 'onnx', 'model_quantized.onnx'), target);
}

function vocabSize(): number {
  return (JSON.parse(fs.readFileSync(path.join(modelsDir(), donorModel, 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
}

/**
 * A valid ONNX graph that takes what a BERT export takes and answers
 * `logits` of shape [batch, sequence, width], of `elem` type: the input ids
 * broadcast over `width` columns. It loads and runs; it is just not a
 * masked LM (a classifier head gives 2 columns; an int64 cast gives integers).
 */
function idsGraph(elem: number, width: number): Uint8Array {
  const nodes = [node('Unsqueeze', ['input_ids', 'axes'], ['ids3'], 'unsqueeze'), node('Expand', ['ids3', 'shape'], ['wide'], 'expand')];
  if (elem === ELEM_FLOAT) nodes.push(node('Cast', ['wide'], ['logits'], 'cast', [attribute('to', ELEM_FLOAT)]));
  else nodes.push(node('Identity', ['wide'], ['logits'], 'identity'));
  return onnxModel(13, {
    name: 'not-a-masked-lm',
    nodes,
    initializers: [int64Tensor('axes', [2]), int64Tensor('shape', [1, 1, width])],
    inputs: [
      valueInfo('input_ids', ELEM_INT64, ['batch', 'sequence']),
      valueInfo('attention_mask', ELEM_INT64, ['batch', 'sequence']),
      valueInfo('token_type_ids', ELEM_INT64, ['batch', 'sequence']),
    ],
    outputs: [valueInfo('logits', elem, ['batch', 'sequence', width])],
  });
}
