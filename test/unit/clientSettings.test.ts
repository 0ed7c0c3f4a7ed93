// The shapes in which clients send `cloze.*` settings, as the server reads them
// (server/src/protocol/settings.ts: findClozeSettings, mergeRawSettings).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverEnvironment } from '../../client/src/serverEnvironment';
import { defaultSettings, findClozeSettings, mergeRawSettings, readSettings, settingsProblems } from '../../server/src/protocol/settings';

const mine = { modelsDir: '/models', allowRemoteModels: false };

test('each client shape yields the cloze settings', () => {
  // Neovim's init_options/settings, eglot's :initializationOptions and workspace configuration, a push.
  assert.deepEqual(findClozeSettings({ cloze: mine }), mine);
  // The VS Code client's initializationOptions.
  assert.deepEqual(findClozeSettings({ settings: mine, downloadNotifications: true }), mine);
  assert.deepEqual(findClozeSettings({ settings: { cloze: mine } }), mine);
  // The settings themselves (a pull's answer for the section `cloze`).
  assert.deepEqual(findClozeSettings(mine), mine);
});

test('nothing to find: empty, null, other servers’ sections', () => {
  for (const raw of [undefined, null, {}, [], 'cloze', { pylsp: { plugins: {} } }, { cloze: null }, { settings: {} }]) {
    assert.equal(findClozeSettings(raw), undefined, JSON.stringify(raw));
  }
});

test('a push or pull over initializationOptions keeps what it does not name', () => {
  const merged = readSettings(mergeRawSettings({ ...mine, preview: { topK: 5 } }, { preview: { calibrate: true } }));
  assert.equal(merged.modelsDir, '/models');
  assert.equal(merged.allowRemoteModels, false);
  assert.deepEqual(merged.preview, { enabled: true, topK: 5, calibrate: true, calibration: 'content-free' });
  assert.deepEqual(readSettings(mergeRawSettings(mine, undefined)).modelsDir, '/models');
});

test('every section merges key by key: a push of data.maxFileSizeMB keeps an earlier data.maxRows', () => {
  const first = mergeRawSettings(undefined, { data: { maxRows: 10 } });
  const second = readSettings(mergeRawSettings(first, { data: { maxFileSizeMB: 50 } }));
  assert.deepEqual(second.data, { maxRows: 10, maxFileSizeMB: 50 });
  // A key a client sent as `__proto__` is data, not the merged object's prototype.
  const hostile = readSettings(mergeRawSettings({ data: { maxRows: 10 } }, JSON.parse('{"data":{"__proto__":{"maxFileSizeMB":7}}}')));
  assert.deepEqual(hostile.data, { maxRows: 10, maxFileSizeMB: 100 });
});

test("VS Code's http.proxy and http.noProxy become the server's HTTPS_PROXY, HTTP_PROXY and NO_PROXY", () => {
  const inherited = { PATH: '/bin', https_proxy: 'http://old:1', NO_PROXY: 'intranet' };
  // Not set: the environment passes as it is.
  assert.deepEqual(serverEnvironment(inherited, '', undefined), inherited);
  assert.deepEqual(serverEnvironment(inherited, undefined, []), inherited);
  // Set: it wins over both spellings of the variables, as in VS Code; NO_PROXY keeps its hosts and gains the setting's.
  const env = serverEnvironment(inherited, ' http://proxy.corp:3128 ', ['huggingface.co', ' ']);
  for (const name of ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY']) assert.equal(env[name], 'http://proxy.corp:3128', name);
  assert.equal(env['NO_PROXY'], 'huggingface.co,intranet');
  assert.equal(env['no_proxy'], 'huggingface.co,intranet');
  assert.equal(env['PATH'], '/bin');
  assert.equal(inherited.https_proxy, 'http://old:1', 'the extension host’s own environment is not changed');
});

test('setting values the server cannot use are each said, with the value used instead; valid ones are not', () => {
  assert.deepEqual(
    settingsProblems({
      preview: { topK: 'ten', enabled: 'no', calibration: 'prior' },
      data: { maxRows: -1, maxFileSizeMB: 'big' },
      'cloze.quantized': 'yes',
      models: 'a, b',
    }),
    [
      'cloze.models is "a, b", not a list of model ids; [] is used.',
      'cloze.quantized is "yes", not true or false; true is used.',
      'cloze.preview.enabled is "no", not true or false; true is used.',
      'cloze.preview.topK is "ten", not a number from 1 to 100; 10 is used.',
      'cloze.preview.calibration is "prior", not "content-free" or "support"; "content-free" is used.',
      'cloze.data.maxRows is -1, not a whole number, 1 or more; 100000 is used.',
      'cloze.data.maxFileSizeMB is "big", not a whole number, 1 or more; 100 is used.',
    ],
  );
  assert.deepEqual(settingsProblems({ preview: null }), [
    'cloze.preview is null, not an object of settings; {"enabled":true,"topK":10,"calibrate":false,"calibration":"content-free"} is used.',
  ]);
  assert.deepEqual(settingsProblems(defaultSettings), []);
  assert.deepEqual(settingsProblems({ modelsDir: '/m', 'preview.calibrate': true, data: { maxRows: 5 } }), []);
});
