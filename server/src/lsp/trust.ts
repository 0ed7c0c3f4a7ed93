import type { Diagnostic, Span } from '../language';

/**
 * Workspace trust. A `.cloze` file names a model folder and data files, and
 * settings name a models folder: in a workspace the user has not trusted,
 * none of them is read and nothing is downloaded (a tokenizer.json is code
 * enough to hang the server; a `data:` path can point anywhere). The client
 * says whether the workspace is trusted in `initializationOptions.trusted`
 * and sends this notification when the user grants trust.
 */
export const TrustNotification = 'cloze/trust';

/** Tells the user, on the model line, why label words are not checked and previews are off. */
export function untrustedDiagnostic(span: Span): Diagnostic {
  return {
    code: 'workspace-untrusted',
    severity: 'information',
    span,
    message:
      'This workspace is not trusted, so Cloze reads no model, tokenizer or data file it names and downloads nothing: label words are not checked against the tokenizer and previews are off. Trust the workspace to turn them on.',
  };
}
