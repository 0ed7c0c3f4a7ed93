/**
 * The `cloze.*` settings, shared by the extension client and the server so
 * both agree on names and defaults. Keep in step with `contributes.configuration`
 * in package.json (a unit test compares them).
 */
export interface ClozeSettings {
  readonly model: string;
  /** Further models every file without a `models:` line is checked against (language/models.ts). */
  readonly models: readonly string[];
  readonly modelsDir: string;
  readonly allowRemoteModels: boolean;
  readonly quantized: boolean;
  readonly preview: {
    readonly enabled: boolean;
    readonly topK: number;
    readonly calibrate: boolean;
    /** The prior calibration divides by: the content-free input, or the mean prediction over the examples. */
    readonly calibration: 'content-free' | 'support';
  };
  /** Bounds on reading `data:` files: rows, and the file size in MB. */
  readonly data: {
    readonly maxRows: number;
    readonly maxFileSizeMB: number;
  };
}

export const defaultSettings: ClozeSettings = {
  model: 'Xenova/bert-base-uncased',
  models: [],
  modelsDir: '',
  allowRemoteModels: true,
  quantized: true,
  preview: { enabled: true, topK: 10, calibrate: false, calibration: 'content-free' },
  data: { maxRows: 100_000, maxFileSizeMB: 100 },
};

/** Merges what the client sent (any shape, possibly partial) over the defaults. */
export function readSettings(raw: unknown): ClozeSettings {
  const value = expandDottedKeys(raw);
  const preview = (value['preview'] && typeof value['preview'] === 'object' ? value['preview'] : {}) as Record<string, unknown>;
  const data = (value['data'] && typeof value['data'] === 'object' ? value['data'] : {}) as Record<string, unknown>;
  // A count or size is a whole number ≥ 1, as package.json's schema says (`integer`, `minimum` 1). VS Code
  // lets other values through and other editors never check the schema; a fraction is not floored but
  // falls back like any other invalid value, as the CLI refuses `--data-max-mb 0.1` rather than guess:
  // flooring 0.5 MB would give 0, and 2.5 rows would be shown as a limit nobody wrote.
  const count = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : fallback);
  const string = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);
  const boolean = (v: unknown, fallback: boolean): boolean => (typeof v === 'boolean' ? v : fallback);
  const topK =
    typeof preview['topK'] === 'number' && Number.isFinite(preview['topK'])
      ? Math.min(100, Math.max(1, Math.round(preview['topK'])))
      : defaultSettings.preview.topK;
  return {
    model: string(value['model'], defaultSettings.model) || defaultSettings.model,
    models: Array.isArray(value['models'])
      ? value['models'].filter((id): id is string => typeof id === 'string' && id.trim() !== '')
      : defaultSettings.models,
    modelsDir: string(value['modelsDir'], defaultSettings.modelsDir),
    allowRemoteModels: boolean(value['allowRemoteModels'], defaultSettings.allowRemoteModels),
    quantized: boolean(value['quantized'], defaultSettings.quantized),
    preview: {
      enabled: boolean(preview['enabled'], defaultSettings.preview.enabled),
      topK,
      calibrate: boolean(preview['calibrate'], defaultSettings.preview.calibrate),
      calibration: preview['calibration'] === 'support' ? 'support' : 'content-free',
    },
    data: {
      maxRows: count(data['maxRows'], defaultSettings.data.maxRows),
      maxFileSizeMB: count(data['maxFileSizeMB'], defaultSettings.data.maxFileSizeMB),
    },
  };
}

/**
 * The settings a client sent that `readSettings` cannot use, each in words with the value used
 * instead: VS Code checks values against package.json's schema, other editors send what their
 * user wrote (`topK = "ten"`), and a value dropped without a word looks like a setting that works.
 */
export function settingsProblems(raw: unknown): string[] {
  const value = expandDottedKeys(raw);
  const problems: string[] = [];
  const check = (name: string, given: unknown, ok: (v: unknown) => boolean, expected: string, used: unknown): void => {
    if (given !== undefined && !ok(given))
      problems.push(`cloze.${name} is ${JSON.stringify(given) ?? String(given)}, not ${expected}; ${JSON.stringify(used)} is used.`);
  };
  const isBoolean = (v: unknown): boolean => typeof v === 'boolean';
  const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1;
  check('model', value['model'], (v) => typeof v === 'string' && v.trim() !== '', 'a model id', defaultSettings.model);
  check('models', value['models'], (v) => Array.isArray(v) && v.every((id) => typeof id === 'string'), 'a list of model ids', []);
  check('modelsDir', value['modelsDir'], (v) => typeof v === 'string', 'a folder', defaultSettings.modelsDir);
  check('allowRemoteModels', value['allowRemoteModels'], isBoolean, 'true or false', defaultSettings.allowRemoteModels);
  check('quantized', value['quantized'], isBoolean, 'true or false', defaultSettings.quantized);
  for (const [section, fields] of [
    ['preview', { enabled: isBoolean, calibrate: isBoolean, topK: (v: unknown) => typeof v === 'number' && Number.isFinite(v) }],
    ['data', { maxRows: isCount, maxFileSizeMB: isCount }],
  ] as const) {
    const given = value[section];
    if (given === undefined) continue;
    if (!isObject(given)) {
      check(section, given, () => false, 'an object of settings', defaultSettings[section]);
      continue;
    }
    const defaults = defaultSettings[section] as unknown as Record<string, unknown>;
    for (const [field, ok] of Object.entries(fields)) {
      const expected = ok === isBoolean ? 'true or false' : section === 'data' ? 'a whole number, 1 or more' : 'a number from 1 to 100';
      check(`${section}.${field}`, given[field], ok, expected, defaults[field]);
    }
    if (section === 'preview')
      check(
        'preview.calibration',
        given['calibration'],
        (v) => v === 'content-free' || v === 'support',
        '"content-free" or "support"',
        'content-free',
      );
  }
  return problems;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const settingNames = new Set(Object.keys(defaultSettings));
/** The settings that hold settings (`preview`, `data`): merged key by key. */
const sectionNames = Object.keys(defaultSettings).filter((key) => isObject(defaultSettings[key as keyof ClozeSettings]));

/**
 * The `cloze` settings inside what a client sent, in any of the shapes
 * clients use: `{ cloze: {…} }` (Neovim's `settings`, eglot's
 * `eglot-workspace-configuration`, a `didChangeConfiguration` push),
 * `{ settings: { cloze: {…} } }` or `{ settings: {…} }` (initializationOptions;
 * the VS Code client sends the latter), or the settings themselves. Undefined
 * when it holds none.
 */
export function findClozeSettings(raw: unknown): Record<string, unknown> | undefined {
  if (!isObject(raw)) return undefined;
  // `{ cloze = {…}, ['cloze.preview.calibrate'] = true }`: the flat keys beside the section count too.
  if (isObject(raw['cloze'])) {
    const flat = Object.entries(raw).filter(([key]) => key.startsWith('cloze.'));
    return flat.length === 0 ? raw['cloze'] : mergeRawSettings(raw['cloze'], Object.fromEntries(flat));
  }
  if (isObject(raw['settings'])) return findClozeSettings(raw['settings']);
  return Object.keys(raw).some((key) => settingNames.has(settingPath(key)[0])) ? raw : undefined;
}

/** A key as VS Code's settings table names it (`cloze.preview.calibrate`), split: [`preview`, `calibrate`]. */
function settingPath(key: string): string[] {
  return key.replace(/^cloze\./, '').split('.');
}

/**
 * The settings with VS Code's flat names (`preview.calibrate`, `cloze.data.maxRows`) as the
 * nested objects the server reads. The README's settings table names them flat, and a Neovim
 * or Emacs user who wrote them so saw them ignored without a word. Nested keys stay as they
 * are; a flat key of a section is added into it, and wins over the same key nested. Keys are
 * set as own properties, so a `__proto__` a client sent stays data.
 */
export function expandDottedKeys(raw: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const set = (target: Record<string, unknown>, key: string, value: unknown): void => {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  };
  if (!isObject(raw)) return out;
  const entries = Object.entries(raw).map(([key, value]) => ({ path: settingPath(key), value }));
  // Whole values first, then the flat keys of sections over them: the same result whatever order the
  // client's encoder gave the keys (Lua tables have none).
  for (const { path, value } of entries) if (path.length === 1) set(out, path[0], value);
  for (const { path, value } of entries) {
    const [head, inner] = path;
    if (path.length !== 2 || !sectionNames.includes(head)) continue;
    const section = isObject(out[head]) ? { ...(out[head] as Record<string, unknown>) } : {};
    set(section, inner, value);
    set(out, head, section);
  }
  return out;
}

/**
 * `over` on top of `base`, and each object-valued setting (`preview`, `data`) key by key: a
 * client that sends some settings keeps the others (a push of `data.maxFileSizeMB` alone
 * keeps an earlier `data.maxRows`). A section that is not an object on one side leaves the
 * other side's, as a wrong-typed value falls back in `readSettings`.
 */
export function mergeRawSettings(base: unknown, over: unknown): Record<string, unknown> {
  const a = expandDottedKeys(base);
  const b = expandDottedKeys(over);
  const merged: Record<string, unknown> = { ...a, ...b };
  for (const key of sectionNames) {
    const inner = [a[key], b[key]].filter(isObject);
    // Spread, not Object.assign: a `__proto__` key a client sent stays data.
    if (inner.length > 0) merged[key] = inner.reduce((sum, part) => ({ ...sum, ...part }), {});
  }
  return merged;
}
