/**
 * transformers.js leaves some failed reads as promises nobody awaits (the load
 * that started them fails on its own, with a message the caller turns into a
 * diagnostic). Node ends a process on such a rejection: one bad model folder
 * ended the language server. Each entry point (server, inference process, CLI)
 * logs them instead.
 */
export function logStrayRejections(log: (line: string) => void): void {
  process.on('unhandledRejection', (reason) => {
    const message = (reason instanceof Error ? reason.message : String(reason)).split('\n')[0];
    log(`a failure nobody waited for, ignored: ${message}`);
  });
}
