import {
  CompletionItemKind,
  DiagnosticSeverity,
  SymbolKind,
  type Diagnostic as LspDiagnostic,
  type DocumentSymbol,
  type Range,
} from 'vscode-languageserver/node';
import { positionAt, type ClozeDocument, type CompletionProposal, type Diagnostic, type OutlineSymbol, type Span } from '../language';

/**
 * The edge between the core's offsets and LSP's line/character ranges. Only
 * this folder knows about LSP types.
 */

export function toRange(doc: ClozeDocument, span: Span): Range {
  return { start: positionAt(doc, span.start), end: positionAt(doc, span.end) };
}

export function toSpan(doc: ClozeDocument, range: Range): Span {
  const start = toOffset(doc, range.start);
  return { start, end: Math.max(start, toOffset(doc, range.end)) };
}

/**
 * The offset of an LSP position. As the LSP specification says, a character
 * past the end of its line means the end of that line (never the next line),
 * and a line past the end means the end of the document.
 */
export function toOffset(doc: ClozeDocument, position: { readonly line: number; readonly character: number }): number {
  const line = Math.floor(position.line);
  if (!(line >= 0)) return 0;
  if (line >= doc.lineStarts.length) return doc.text.length;
  const start = doc.lineStarts[line];
  let end = line + 1 < doc.lineStarts.length ? doc.lineStarts[line + 1] : doc.text.length;
  // The line's own text ends before its line break (\n, \r\n or \r).
  if (end > start && doc.text[end - 1] === '\n') end--;
  if (end > start && doc.text[end - 1] === '\r') end--;
  const character = Math.floor(position.character);
  return start + Math.min(Math.max(0, Number.isFinite(character) ? character : 0), end - start);
}

const SEVERITY: Record<Diagnostic['severity'], DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

export function toLspDiagnostic(doc: ClozeDocument, diagnostic: Diagnostic, uri?: string): LspDiagnostic {
  const lsp: LspDiagnostic = {
    range: toRange(doc, diagnostic.span),
    severity: SEVERITY[diagnostic.severity],
    code: diagnostic.code,
    source: 'cloze',
    message: diagnostic.message,
  };
  // Related places live in the same document (a summary's individual words). Bounded as the diagnostics
  // are: a label of 50,000 words sent a 6 MB publish for a 140 KB file; `cloze check` lists them all.
  if (uri !== undefined && diagnostic.related && diagnostic.related.length > 0) {
    const shown = diagnostic.related.slice(0, MAX_RELATED);
    lsp.relatedInformation = shown.map((r) => ({ location: { uri, range: toRange(doc, r.span) }, message: r.message }));
    const more = diagnostic.related.length - shown.length;
    if (more > 0) {
      const last = diagnostic.related[diagnostic.related.length - 1];
      lsp.relatedInformation.push({
        location: { uri, range: toRange(doc, last.span) },
        message: `and ${more.toLocaleString('en-US')} more (\`cloze check\` lists them all)`,
      });
    }
  }
  return lsp;
}

/** Related places sent with one diagnostic at most. */
export const MAX_RELATED = 200;

/** Finds the core diagnostic an LSP diagnostic (sent back in a code action request) came from. */
export function fromLspDiagnostic(doc: ClozeDocument, diagnostic: LspDiagnostic): Diagnostic | undefined {
  if (diagnostic.source !== 'cloze' || typeof diagnostic.code !== 'string') return undefined;
  const severity = (Object.keys(SEVERITY) as Array<Diagnostic['severity']>).find((key) => SEVERITY[key] === diagnostic.severity) ?? 'error';
  return { code: diagnostic.code as Diagnostic['code'], severity, message: diagnostic.message, span: toSpan(doc, diagnostic.range) };
}

const SYMBOL_KIND: Record<OutlineSymbol['kind'], SymbolKind> = {
  model: SymbolKind.Module,
  pattern: SymbolKind.Function,
  verbalizer: SymbolKind.Enum,
  label: SymbolKind.EnumMember,
  example: SymbolKind.String,
  data: SymbolKind.File,
};

export function toDocumentSymbol(doc: ClozeDocument, symbol: OutlineSymbol): DocumentSymbol {
  return {
    name: symbol.name,
    detail: symbol.detail,
    kind: SYMBOL_KIND[symbol.kind],
    range: toRange(doc, symbol.span),
    selectionRange: toRange(doc, symbol.selectionSpan),
    children: symbol.children.map((child) => toDocumentSymbol(doc, child)),
  };
}

const COMPLETION_KIND: Record<CompletionProposal['kind'], CompletionItemKind> = {
  keyword: CompletionItemKind.Keyword,
  field: CompletionItemKind.Field,
  label: CompletionItemKind.EnumMember,
  model: CompletionItemKind.Module,
  token: CompletionItemKind.Constant,
};

export function completionKind(kind: CompletionProposal['kind']): CompletionItemKind {
  return COMPLETION_KIND[kind];
}
