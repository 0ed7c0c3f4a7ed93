import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliMain, modelsDir, repoRoot } from './paths';

/** What one run of the built CLI printed, and its exit code. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A download cache of its own for each test file, so no test sees another's files. */
export function scratchCache(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** `cloze preview …` as a user runs it: the built CLI in a child process, the shared models, downloads off. */
export function runPreview(cacheDir: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliMain, 'preview', ...args, '--models-dir', modelsDir(), '--offline'],
      { cwd: repoRoot, env: { ...process.env, CLOZE_CACHE_DIR: cacheDir } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
