/**
 * The `cloze.*` settings, shared by the extension client and the server so
 * both agree on names and defaults. Keep in step with `contributes.configuration`
 * in package.json (a unit test compares them).
 */
export interface ClozeSettings {
  readonly model: string;
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
}

export const defaultSettings: ClozeSettings = {
  model: 'Xenova/bert-base-uncased',
  modelsDir: '',
  allowRemoteModels: true,
  quantized: true,
  preview: { enabled: true, topK: 10, calibrate: false, calibration: 'content-free' },
};

/** Merges what the client sent (any shape, possibly partial) over the defaults. */
export function readSettings(raw: unknown): ClozeSettings {
  const value = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const preview = (value['preview'] && typeof value['preview'] === 'object' ? value['preview'] : {}) as Record<string, unknown>;
  const string = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);
  const boolean = (v: unknown, fallback: boolean): boolean => (typeof v === 'boolean' ? v : fallback);
  const topK =
    typeof preview['topK'] === 'number' && Number.isFinite(preview['topK'])
      ? Math.min(100, Math.max(1, Math.round(preview['topK'])))
      : defaultSettings.preview.topK;
  return {
    model: string(value['model'], defaultSettings.model) || defaultSettings.model,
    modelsDir: string(value['modelsDir'], defaultSettings.modelsDir),
    allowRemoteModels: boolean(value['allowRemoteModels'], defaultSettings.allowRemoteModels),
    quantized: boolean(value['quantized'], defaultSettings.quantized),
    preview: {
      enabled: boolean(preview['enabled'], defaultSettings.preview.enabled),
      topK,
      calibrate: boolean(preview['calibrate'], defaultSettings.preview.calibrate),
      calibration: preview['calibration'] === 'support' ? 'support' : 'content-free',
    },
  };
}
