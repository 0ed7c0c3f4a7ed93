// The `cloze.*` settings exist twice: in package.json (what VS Code shows and stores) and in
// server/src/protocol/settings.ts (what client and server read). They must agree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultSettings, findClozeSettings, mergeRawSettings, readSettings, type ClozeSettings } from '../../server/src/protocol/settings';
import { repoRoot } from '../support/paths';

interface ConfigurationProperty {
  readonly type: string;
  readonly default: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
}

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, ConfigurationProperty> } };
};
const properties = manifest.contributes.configuration.properties;

/** `defaultSettings` flattened to the dotted names of package.json. */
function flatten(value: object, prefix: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, inner] of Object.entries(value)) {
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner))
      for (const [k, v] of flatten(inner as object, `${prefix}${key}.`)) out.set(k, v);
    else out.set(`${prefix}${key}`, inner);
  }
  return out;
}
const defaults = flatten(defaultSettings, 'cloze.');

test('the settings are the ones the extension documents', () => {
  assert.deepEqual([...defaults.keys()].sort(), [
    'cloze.allowRemoteModels',
    'cloze.data.maxFileSizeMB',
    'cloze.data.maxRows',
    'cloze.model',
    'cloze.models',
    'cloze.modelsDir',
    'cloze.preview.calibrate',
    'cloze.preview.calibration',
    'cloze.preview.enabled',
    'cloze.preview.topK',
    'cloze.quantized',
  ]);
});

test('package.json declares every setting of settings.ts, with the same default and type', () => {
  for (const [name, value] of defaults) {
    const property = properties[name];
    assert.ok(property, `package.json has no ${name}`);
    assert.deepEqual(property.default, value, `default of ${name}`);
    const type = Array.isArray(value)
      ? 'array'
      : typeof value === 'number'
        ? Number.isInteger(value)
          ? 'integer'
          : 'number'
        : typeof value;
    assert.equal(property.type, type, `type of ${name}`);
  }
});

test('package.json has no cloze setting that settings.ts lacks (but the client-only trace)', () => {
  const extra = Object.keys(properties).filter((name) => !defaults.has(name) && name !== 'cloze.trace.server');
  assert.deepEqual(extra, []);
});

test('readSettings keeps topK within the bounds package.json declares, and falls back to the defaults', () => {
  const topK = properties['cloze.preview.topK'];
  assert.equal(readSettings({ preview: { topK: 10_000 } }).preview.topK, topK.maximum);
  assert.equal(readSettings({ preview: { topK: -3 } }).preview.topK, topK.minimum);
  const fallback: ClozeSettings = readSettings({ model: 42, preview: 'no', quantized: 'yes' });
  assert.deepEqual(fallback, defaultSettings);
  assert.deepEqual(readSettings(undefined), defaultSettings);
  assert.equal(readSettings({ model: '' }).model, defaultSettings.model);
  assert.deepEqual(readSettings({ models: ['a', 3, ' ', 'b'] }).models, ['a', 'b']);
  assert.deepEqual(readSettings({ models: 'a' }).models, []);
});

test('readSettings takes a count or size only as a whole number ≥ 1, as the integer schema says, else the default', () => {
  for (const name of ['cloze.data.maxRows', 'cloze.data.maxFileSizeMB'] as const) {
    assert.equal(properties[name]?.type, 'integer', name);
    assert.equal(properties[name]?.minimum, 1, name);
  }
  // 0.1 MB reached the data reader as a fractional byte count and aborted the server (a native assertion).
  for (const bad of [0.1, 1e-9, 2.5, 0, -3, Number.NaN, Infinity, '10']) {
    assert.deepEqual(readSettings({ data: { maxRows: bad, maxFileSizeMB: bad } }).data, defaultSettings.data, String(bad));
  }
  assert.deepEqual(readSettings({ data: { maxRows: 2, maxFileSizeMB: 1 } }).data, { maxRows: 2, maxFileSizeMB: 1 });
});

test('the flat names of the settings table (`preview.calibrate`, `cloze.data.maxRows`) are read as the nested ones', () => {
  const flat = readSettings({
    'preview.calibrate': true,
    'cloze.preview.calibration': 'support',
    'data.maxRows': 50,
    'cloze.modelsDir': '/models',
    preview: { topK: 3 },
  });
  assert.equal(flat.preview.calibrate, true);
  assert.equal(flat.preview.calibration, 'support');
  assert.equal(flat.preview.topK, 3);
  assert.equal(flat.data.maxRows, 50);
  assert.equal(flat.modelsDir, '/models');
  // A key that is no section's stays unread, and a `__proto__` stays data.
  const hostile = readSettings(JSON.parse('{"__proto__.polluted": true, "preview.__proto__": {"calibrate": true}}'));
  assert.equal(hostile.preview.calibrate, false);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('a Neovim-style push of flat names merges into what the client sent before', () => {
  const merged = mergeRawSettings({ modelsDir: '/models', preview: { topK: 4 } }, { 'preview.calibrate': true });
  const settings = readSettings(merged);
  assert.equal(settings.modelsDir, '/models');
  assert.equal(settings.preview.topK, 4);
  assert.equal(settings.preview.calibrate, true);
  assert.deepEqual(findClozeSettings({ 'preview.calibrate': true }), { 'preview.calibrate': true });
});

test('a flat key wins over the same key nested, in either order; a section that is not an object does not drop it', () => {
  assert.equal(readSettings({ 'preview.calibrate': true, preview: { calibrate: false } }).preview.calibrate, true);
  assert.equal(readSettings({ preview: { calibrate: false }, 'preview.calibrate': true }).preview.calibrate, true);
  assert.equal(readSettings({ 'preview.calibrate': true, preview: null }).preview.calibrate, true);
  // Flat keys beside a `cloze` section count too.
  assert.deepEqual(
    readSettings(findClozeSettings({ cloze: { modelsDir: '/m' }, 'cloze.preview.calibrate': true })).preview.calibrate,
    true,
  );
});
