import type { CodeLens } from 'vscode-languageserver-protocol';
import type { TestClient } from './lsp';

/** Every lens of `uri`, resolved, as its title by 0-based line. */
export async function lensTitlesByLine(client: TestClient, uri: string): Promise<Record<number, string>> {
  const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
  const resolved = (await Promise.all(
    lenses.map((lens) => (lens.command ? lens : client.connection.sendRequest('codeLens/resolve', lens))),
  )) as CodeLens[];
  return Object.fromEntries(resolved.map((lens) => [lens.range.start.line, lens.command?.title ?? '']));
}

/**
 * The lens titles once `settled` says they are (the preview is computed in the background), or the
 * last ones after 300 tries 200 ms apart: the test's own assertions then say what they were.
 */
export async function settledLensTitles(
  client: TestClient,
  uri: string,
  settled: (titles: Record<number, string>) => boolean,
): Promise<Record<number, string>> {
  let titles: Record<number, string> = {};
  for (let i = 0; i < 300; i++) {
    titles = await lensTitlesByLine(client, uri);
    if (settled(titles)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return titles;
}
