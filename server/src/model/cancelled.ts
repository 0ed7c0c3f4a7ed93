/**
 * The error a superseded request ends with. The editor asks for a preview on
 * every edit; once a newer version of the document is being scored, the older
 * answer is useless, and callers must be able to tell "dropped on purpose"
 * from "failed" so they neither log nor show it.
 */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';

  constructor(message = 'Cancelled: a newer request for the same document superseded this one.') {
    super(message);
  }
}

export function isCancelled(error: unknown): error is CancelledError {
  return error instanceof CancelledError || (error instanceof Error && error.name === 'CancelledError');
}
