import { patternDisplayName, type ClozeDocument, type Span } from './ast';

/** An outline entry as plain data; the server maps `kind` to LSP's `SymbolKind`. */
export interface OutlineSymbol {
  readonly name: string;
  readonly detail: string;
  readonly kind: 'model' | 'pattern' | 'verbalizer' | 'label' | 'example' | 'data';
  readonly span: Span;
  readonly selectionSpan: Span;
  readonly children: readonly OutlineSymbol[];
}

/** The document outline: model, patterns, the verbalizer with its labels, examples, data. */
export function documentSymbols(doc: ClozeDocument): OutlineSymbol[] {
  const symbols: OutlineSymbol[] = [];
  for (const statement of doc.statements) {
    switch (statement.kind) {
      case 'model':
        symbols.push({
          name: statement.id,
          detail: 'model',
          kind: 'model',
          span: statement.span,
          selectionSpan: statement.idSpan,
          children: [],
        });
        break;
      case 'models':
        for (const entry of statement.entries) {
          symbols.push({
            name: entry.id,
            detail: 'model (models:)',
            kind: 'model',
            span: statement.span,
            selectionSpan: entry.idSpan,
            children: [],
          });
        }
        break;
      case 'pattern':
        symbols.push({
          name: patternDisplayName(statement),
          detail: doc.text.slice(statement.textSpan.start, statement.textSpan.end),
          kind: 'pattern',
          span: statement.span,
          selectionSpan: statement.name?.span ?? statement.keywordSpan,
          children: [],
        });
        break;
      case 'verbalizer':
        symbols.push({
          // A named verbalizer (v2) is listed by its name, its options in the detail.
          name: statement.name ? `verbalizer ${statement.name.text}` : 'verbalizer',
          detail: [`${statement.entries.length} labels`, ...(statement.options ?? []).map((o) => `${o.key.text}=${o.value.text}`)].join(
            ' · ',
          ),
          kind: 'verbalizer',
          span: statement.span,
          selectionSpan: statement.name?.span ?? statement.headerSpan,
          children: statement.entries.map((entry) => ({
            name: entry.label.text,
            detail: entry.words
              .map((w) => (w.space === 'before' ? `" ${w.text}"` : w.space === 'none' ? `"${w.text}"` : w.text))
              .join(', '),
            kind: 'label' as const,
            span: entry.span,
            selectionSpan: entry.label.span,
            children: [],
          })),
        });
        break;
      case 'example': {
        const text = statement.fields.map((f) => f.value).join(' · ');
        symbols.push({
          name: `example ${statement.label?.text ?? '?'}`,
          detail: text.length > 50 ? `${text.slice(0, 49)}…` : text,
          kind: 'example',
          span: statement.span,
          selectionSpan: statement.label?.span ?? statement.keywordSpan,
          children: [],
        });
        break;
      }
      case 'data':
        symbols.push({
          name: statement.path,
          detail: 'data',
          kind: 'data',
          span: statement.span,
          selectionSpan: statement.pathSpan,
          children: [],
        });
        break;
      case 'comment':
        break;
    }
  }
  return symbols;
}
