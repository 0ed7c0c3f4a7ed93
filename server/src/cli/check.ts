import type { Diagnostic } from '../language/ast';
import { parse } from '../language/parse';
import { positionAt } from '../language/positions';
import { defaultCacheDir, effectiveModelsDir } from '../model/resolve';
import { defaultDataLimits, type DataLimits } from '../service/dataSets';
import { ClozeLanguageService } from '../service/languageService';
import { printable, readSourceFile } from './sourceFile';

/** `--data-max-rows`, `--data-max-mb`: the CLI's cloze.data.maxRows and cloze.data.maxFileSizeMB. */
export interface DataLimitOptions {
  readonly dataMaxRows?: number;
  readonly dataMaxMb?: number;
}

export function dataLimits(options: DataLimitOptions): DataLimits {
  return {
    maxRows: options.dataMaxRows ?? defaultDataLimits.maxRows,
    maxBytes: options.dataMaxMb !== undefined ? options.dataMaxMb * 1024 * 1024 : defaultDataLimits.maxBytes,
    names: { rows: '--data-max-rows', bytes: '--data-max-mb' },
  };
}

export interface CheckOptions extends DataLimitOptions {
  readonly modelsDir?: string;
  readonly offline?: boolean;
  readonly model?: string;
  readonly format: 'text' | 'json';
}

/** The JSON shape of `cloze check --format json`: LSP's 0-based ranges. */
export interface FileReport {
  readonly file: string;
  /** Why the file could not be read (then it has no diagnostics): a CI step sees every file it named. */
  readonly error?: string;
  readonly diagnostics: Array<{
    range: { start: { line: number; character: number }; end: { line: number; character: number } };
    severity: Diagnostic['severity'];
    code: string;
    message: string;
    /** The individual places a summary diagnostic counts (`label-word-summary`). */
    related?: Array<{ range: { start: { line: number; character: number }; end: { line: number; character: number } }; message: string }>;
  }>;
}

export function createService(options: { modelsDir?: string; offline?: boolean }): ClozeLanguageService {
  return new ClozeLanguageService({
    modelsDir: effectiveModelsDir(options.modelsDir),
    allowRemoteModels: !options.offline,
    cacheDir: defaultCacheDir(),
    defaultModel: 'Xenova/bert-base-uncased',
    defaultModelOrigin: 'the CLI’s default model chose it; set one with --model or a `model:` line',
    userInterface: 'cli',
  });
}

export async function runCheck(files: readonly string[], options: CheckOptions): Promise<number> {
  const service = createService(options);
  const reports: FileReport[] = [];
  let unreadable = 0;
  for (const file of files) {
    const source = readSourceFile(file);
    if (!source.ok) {
      process.stderr.write(`cloze check: ${source.message}\n`);
      unreadable++;
      reports.push({ file, error: source.message, diagnostics: [] });
      continue;
    }
    const doc = parse(source.text);
    const diagnostics = await service.check(doc, file, options.model, dataLimits(options));
    reports.push({
      file,
      diagnostics: diagnostics.map((d) => ({
        range: { start: positionAt(doc, d.span.start), end: positionAt(doc, d.span.end) },
        severity: d.severity,
        code: d.code,
        message: d.message,
        ...(d.related
          ? {
              related: d.related.map((r) => ({
                range: { start: positionAt(doc, r.span.start), end: positionAt(doc, r.span.end) },
                message: r.message,
              })),
            }
          : {}),
      })),
    });
  }
  if (options.format === 'json') {
    process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
  } else {
    for (const report of reports) {
      for (const d of report.diagnostics) {
        process.stdout.write(
          `${report.file}:${d.range.start.line + 1}:${d.range.start.character + 1} ${d.severity} ${d.code} ${printable(d.message)}\n`,
        );
        for (const r of d.related ?? []) {
          process.stdout.write(`  ${report.file}:${r.range.start.line + 1}:${r.range.start.character + 1} ${printable(r.message)}\n`);
        }
      }
    }
    const errors = reports.reduce((n, r) => n + r.diagnostics.filter((d) => d.severity === 'error').length, 0);
    const warnings = reports.reduce((n, r) => n + r.diagnostics.filter((d) => d.severity === 'warning').length, 0);
    // Nothing checked is not "0 files checked: 0 errors": the read errors above are the whole story.
    const checked = reports.length - unreadable;
    if (checked > 0) {
      process.stderr.write(
        `${checked} file${checked === 1 ? '' : 's'} checked: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}${unreadable > 0 ? `; ${unreadable} could not be read` : ''}\n`,
      );
    }
  }
  if (unreadable > 0) return 2;
  return reports.some((r) => r.diagnostics.some((d) => d.severity === 'error')) ? 1 : 0;
}
