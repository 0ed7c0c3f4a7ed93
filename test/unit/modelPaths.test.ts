// What a workspace names must not make Cloze read or write outside the places meant for it:
// a model id becomes part of cache paths only when it is a valid hub id, and an ONNX file's
// external data must lie inside its model folder (onnxruntime reads whatever path is written).

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MaskedLmEngine } from '../../server/src/model/engine';
import { externalDataProblem } from '../../server/src/model/externalData';
import { invalidModelIdReason } from '../../server/src/model/modelId';
import { bytesField, concat, int, readFields, str } from '../../server/src/model/onnxProto';
import { resolveModel } from '../../server/src/model/resolve';
import { modelsDir } from '../support/paths';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-paths-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('model ids', () => {
  test('an id with `..` is refused before any path is built from it, even with downloads allowed', () => {
    const cacheDir = path.join(scratch, 'cache');
    for (const id of ['x/../../../somewhere/repo', '../x', 'a/b/c', 'owner/..', 'owner\\name', 'own er/name', '-x/y', 'x/y.', '']) {
      const location = resolveModel(id, undefined, { modelsDir: modelsDir(), allowRemoteModels: true, cacheDir });
      // `../x` is a path (written as one); all others are neither a hub id nor a path.
      if (id === '../x') {
        assert.equal(location.ok, false);
        continue;
      }
      assert.equal(location.ok, false, `${id} resolved to ${JSON.stringify(location)}`);
      assert.match(!location.ok ? location.reason : '', /neither a Hugging Face model id/, id);
    }
    assert.equal(fs.existsSync(cacheDir), false, 'nothing is created in the cache');
  });

  test('hub ids and the models of the models folder still resolve', () => {
    const cacheDir = path.join(scratch, 'cache');
    for (const id of ['Xenova/bert-base-uncased', 'google-bert/bert-base-cased', 'FacebookAI/xlm-roberta-base', 'distilbert_base.v2']) {
      assert.equal(invalidModelIdReason(id), undefined, id);
      const location = resolveModel(id, undefined, { modelsDir: '', allowRemoteModels: true, cacheDir });
      assert.ok(location.ok && location.source === 'remote', id);
    }
    const local = resolveModel('tiny-random-bert-cased', undefined, { modelsDir: modelsDir(), allowRemoteModels: false, cacheDir });
    assert.ok(local.ok && local.source === 'models-dir');
  });
});

// Field numbers of onnx.proto3.
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_FLOAT_DATA = 4;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;

/** The model with its first initializer's weights moved to external data at `location`. */
function withExternalData(model: Uint8Array, location: string): Uint8Array {
  const top = readFields(model, 0, model.length);
  const graph = top.find((f) => f.field === MODEL_GRAPH)!;
  const graphFields = readFields(model, graph.start, graph.end);
  const first = graphFields.find((f) => f.field === GRAPH_INITIALIZER)!;
  const tensorFields = readFields(model, first.start, first.end);
  const raw = tensorFields.find((f) => f.field === TENSOR_RAW_DATA);
  const length = raw ? raw.end - raw.start : 0;
  const entry = (key: string, value: string): Uint8Array => bytesField(TENSOR_EXTERNAL_DATA, concat([str(1, key), str(2, value)]));
  const tensor = concat([
    ...tensorFields.filter((f) => f.field !== TENSOR_RAW_DATA && f.field !== TENSOR_FLOAT_DATA).map((f) => model.subarray(f.from, f.to)),
    entry('location', location),
    entry('offset', '0'),
    entry('length', String(length)),
    int(TENSOR_DATA_LOCATION, 1),
  ]);
  const newGraph = concat(graphFields.map((f) => (f === first ? bytesField(GRAPH_INITIALIZER, tensor) : model.subarray(f.from, f.to))));
  return concat(top.map((f) => (f === graph ? bytesField(MODEL_GRAPH, newGraph) : model.subarray(f.from, f.to))));
}

/** A copy of tiny-random-bert-cased whose ONNX file keeps one tensor's weights at `location`. */
function modelFolder(name: string, location: string): string {
  const source = path.join(modelsDir(), 'tiny-random-bert-cased');
  const folder = path.join(scratch, 'models', name);
  fs.mkdirSync(path.join(folder, 'onnx'), { recursive: true });
  for (const file of fs.readdirSync(source)) if (file !== 'onnx') fs.copyFileSync(path.join(source, file), path.join(folder, file));
  const model = fs.readFileSync(path.join(source, 'onnx', 'model_quantized.onnx'));
  fs.writeFileSync(path.join(folder, 'onnx', 'model_quantized.onnx'), withExternalData(model, location));
  return folder;
}

describe('ONNX external data', () => {
  test('a model whose external data is /dev/zero is refused at load, with the reason', async () => {
    const folder = modelFolder('zero-weights', '/dev/zero');
    const location = {
      ok: true as const,
      source: 'path' as const,
      root: path.dirname(folder),
      name: path.basename(folder),
      id: './zero-weights',
    };
    await assert.rejects(
      MaskedLmEngine.load(location, path.join(scratch, 'cache'), { quantized: true }),
      /model_quantized\.onnx cannot be used: its external data location "\/dev\/zero" is not a path inside the model folder/,
    );
  });

  test('locations that climb out of the folder, or name a device by a link, are refused; one inside is accepted', () => {
    const folder = modelFolder('inside', 'weights.bin');
    const file = path.join(folder, 'onnx', 'model_quantized.onnx');
    const model = fs.readFileSync(file);
    fs.writeFileSync(path.join(folder, 'onnx', 'weights.bin'), Buffer.alloc(16));
    assert.equal(externalDataProblem(model, file, folder), undefined);
    assert.match(
      externalDataProblem(withExternalData(model, '../../../etc/passwd'), file, folder) ?? '',
      /outside the model folder|does not exist/,
    );
    fs.symlinkSync('/dev/zero', path.join(folder, 'onnx', 'zero.bin'));
    assert.match(externalDataProblem(withExternalData(model, 'zero.bin'), file, folder) ?? '', /outside the model folder/);
    const original = fs.readFileSync(path.join(modelsDir(), 'tiny-random-bert-cased', 'onnx', 'model_quantized.onnx'));
    assert.equal(externalDataProblem(original, file, folder), undefined, 'a model without external data passes');
  });
});
