import { junitReport } from './junit';

/**
 * With `--format json` (or `eval --format junit`), stdout is one report
 * whatever happens once the command line has been read: a CI step that pipes
 * it into `jq`, `JSON.parse` or a JUnit reader gets the failure in words, not
 * an empty stream. When a command ends without having printed anything to
 * stdout (bad usage, the file could not be read, the model is unavailable,
 * nothing to evaluate), what it said on stderr is printed as
 *
 *   { "ok": false, "exitCode": 1, "messages": ["file.cloze:1:8 error model-unavailable …", …] }
 *
 * or, for JUnit, as one test case in error holding those lines. stderr still
 * gets the same lines. A command that printed its own report (eval's report of
 * unavailable models, check's diagnostics) is left as it is.
 */
export type ReportFormat = 'json' | 'junit';

export class JsonFailureGuard {
  private readonly said: string[] = [];
  private printed = false;
  private format: ReportFormat | undefined;
  private partial = '';
  private command = 'cloze';

  /** Starts watching stdout and stderr (once the command line is known to ask for a report format). */
  start(
    format: ReportFormat,
    command: string,
    stdout: NodeJS.WriteStream = process.stdout,
    stderr: NodeJS.WriteStream = process.stderr,
  ): void {
    if (this.format) return;
    this.format = format;
    this.command = command;
    const out = stdout.write.bind(stdout);
    const err = stderr.write.bind(stderr);
    stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (chunk.length > 0) this.printed = true;
      return (out as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stdout.write;
    stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      this.partial += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      const lines = this.partial.split('\n');
      this.partial = lines.pop() ?? '';
      this.said.push(...lines.filter((line) => line.trim() !== ''));
      return (err as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stderr.write;
    this.write = out;
  }

  /** Prints the failure report if the command failed without printing to stdout. */
  finish(exitCode: number): void {
    if (!this.format || this.printed || exitCode === 0) return;
    const messages = [...this.said, ...(this.partial.trim() !== '' ? [this.partial] : [])];
    this.write?.(
      this.format === 'json' ? `${JSON.stringify({ ok: false, exitCode, messages }, null, 2)}\n` : this.junit(exitCode, messages),
    );
    this.printed = true;
  }

  private junit(exitCode: number, messages: readonly string[]): string {
    const text = messages.join('\n');
    const first = messages[0] ?? `${this.command} failed (exit ${exitCode}).`;
    return junitReport(this.command, [
      {
        name: this.command,
        timeSeconds: 0,
        timestamp: new Date().toISOString().replace(/\.\d+Z$/, ''),
        properties: [['exitCode', String(exitCode)]],
        cases: [{ classname: this.command, name: `${this.command}: run`, error: { type: 'cli-error', message: first, details: text } }],
      },
    ]);
  }

  private write: ((text: string) => boolean) | undefined;
}

/**
 * The report format a command line asks for (`--format json`, `--format=json`;
 * the last one wins, as commander reads it), found before commander parses it,
 * so a usage error of that same line is reported in that format too.
 */
export function requestedReportFormat(args: readonly string[]): ReportFormat | undefined {
  let format: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') break;
    if (arg === '--format') format = args[++i];
    else if (arg.startsWith('--format=')) format = arg.slice('--format='.length);
  }
  return format === 'json' || format === 'junit' ? format : undefined;
}
