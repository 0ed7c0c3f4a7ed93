/**
 * With `--format json`, stdout is one JSON document whatever happens once a
 * command has started: a CI step that pipes it into `jq` or `JSON.parse` gets
 * the failure in words, not an empty stream. When a command ends without
 * having printed anything to stdout (the file could not be read, the model is
 * unavailable, nothing to evaluate), what it said on stderr is printed as
 *
 *   { "ok": false, "exitCode": 1, "messages": ["file.cloze:1:8 error model-unavailable …", …] }
 *
 * stderr still gets the same lines. A command that printed its own JSON (eval's
 * report of unavailable models, check's diagnostics) is left as it is.
 */
export class JsonFailureGuard {
  private readonly said: string[] = [];
  private printed = false;
  private active = false;
  private partial = '';

  /** Starts watching stdout and stderr (once the command's options are known to say json). */
  start(stdout: NodeJS.WriteStream = process.stdout, stderr: NodeJS.WriteStream = process.stderr): void {
    if (this.active) return;
    this.active = true;
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

  /** Prints the failure document if the command failed without printing to stdout. */
  finish(exitCode: number): void {
    if (!this.active || this.printed || exitCode === 0) return;
    const messages = [...this.said, ...(this.partial.trim() !== '' ? [this.partial] : [])];
    this.write?.(`${JSON.stringify({ ok: false, exitCode, messages }, null, 2)}\n`);
    this.printed = true;
  }

  private write: ((text: string) => boolean) | undefined;
}
