// Data-driven diagnostics tests: every test/fixtures/diagnostics/<family>/*.cloze file states the
// diagnostics it must produce as marker comments (test/fixtures/README.md). Each file is checked by
// ClozeLanguageService.check() as `cloze check` does it: the family's real tokenizer loaded from the
// models folder, downloads off. A missing and an unexpected diagnostic both fail, with a diff.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse, positionAt, type DiagnosticCode, type Severity } from '../../server/src/language';
import { fixturesDir } from '../support/paths';
import { compare, formatComparison, readFixture, splitLines, type ActualDiagnostic } from '../support/markers';
import { families, serviceFor } from '../support/service';

/** The severity of every code, as docs and design brief give it. `Record` makes the list exhaustive. */
const severities: Record<DiagnosticCode, Severity> = {
  syntax: 'error',
  'mask-missing': 'error',
  'mask-multiple': 'error',
  'placeholder-none': 'warning',
  'placeholder-unknown': 'error',
  'pattern-missing': 'error',
  'pattern-duplicate': 'error',
  'model-duplicate': 'error',
  'verbalizer-missing': 'error',
  'verbalizer-duplicate': 'error',
  'label-duplicate': 'error',
  'label-word-multi-token': 'error',
  'label-word-unknown': 'error',
  'label-word-ambiguous': 'error',
  'label-word-repeated': 'warning',
  'label-word-summary': 'error',
  'label-undeclared': 'error',
  'model-unavailable': 'error',
  'special-token-explicit': 'warning',
  'input-too-long': 'warning',
  'data-unreadable': 'error',
  'verbalizer-unknown': 'error',
  'verbalizer-labels': 'error',
  'mask-glued': 'warning',
  'data-too-large': 'warning',
  'data-rows-incomplete': 'warning',
  'data-empty': 'warning',
  'workspace-untrusted': 'information',
};
/**
 * Codes a fixture cannot show: a data file over the read limit (100,000 rows by default: tested in
 * dataSets.test.ts with a small limit) and an untrusted workspace (an editor state: trust.test.ts).
 */
const notInFixtures = new Set<DiagnosticCode>(['data-too-large', 'workspace-untrusted']);
const allCodes = (Object.keys(severities) as DiagnosticCode[]).filter((code) => !notInFixtures.has(code));

const diagnosticsDir = path.join(fixturesDir, 'diagnostics');

function fixtureFiles(family: string): string[] {
  const dir = path.join(diagnosticsDir, family);
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.cloze'))
    .sort()
    .map((name) => path.join(dir, name));
}

async function actualDiagnostics(file: string, text: string, settingsModel: string): Promise<ActualDiagnostic[]> {
  const doc = parse(text);
  const diagnostics = await serviceFor(settingsModel).check(doc, file);
  return diagnostics.map((d) => {
    const start = positionAt(doc, d.span.start);
    const end = positionAt(doc, d.span.end);
    return {
      startLine: start.line,
      startColumn: start.character,
      endLine: end.line,
      endColumn: end.character,
      code: d.code,
      message: d.message,
      severity: d.severity,
    };
  });
}

test('every family has a fixture folder and nothing else is there', () => {
  assert.deepEqual(fs.readdirSync(diagnosticsDir).sort(), [...families].sort());
});

for (const family of families) {
  describe(`diagnostics of ${family}`, () => {
    const files = fixtureFiles(family);

    test('the fixtures cover every diagnostic code', () => {
      const covered = new Set(files.flatMap((file) => readFixture(fs.readFileSync(file, 'utf8')).expected.map((marker) => marker.code)));
      assert.deepEqual(
        allCodes.filter((code) => !covered.has(code)),
        [],
        `codes without a marker in ${family}/`,
      );
      assert.deepEqual(
        [...covered].filter((code) => !(code in severities)),
        [],
        'markers with a code that does not exist',
      );
    });

    for (const file of files) {
      const name = `${family}/${path.basename(file)}`;
      test(path.basename(file), async () => {
        const text = fs.readFileSync(file, 'utf8');
        const fixture = readFixture(text);
        const doc = parse(text);
        // The model a fixture names is its family's, unless the fixture is about a model that cannot load.
        const expectsUnavailable = fixture.expected.some((marker) => marker.code === 'model-unavailable');
        if (doc.models[0] && !expectsUnavailable) assert.equal(doc.models[0].id, family, `${name} names another family's model`);

        const actual = await actualDiagnostics(file, text, fixture.settingsModel ?? family);
        const onMarkers = actual.filter((d) => fixture.markerLines.has(d.startLine));
        assert.deepEqual(onMarkers, [], `${name}: a marker comment produced a diagnostic itself`);
        for (const d of actual) {
          // With `multi-token=` a multi-token word is scored, and its diagnostic says how, as a warning.
          const optIn = d.code === 'label-word-multi-token' && d.severity === 'warning' && /With `multi-token=/.test(d.message);
          if (!optIn) assert.equal(d.severity, severities[d.code as DiagnosticCode], `${name}: severity of ${d.code}`);
        }

        const comparison = compare(fixture.expected, actual);
        const ok = comparison.missing.length === 0 && comparison.unexpected.length === 0 && comparison.wrongMessage.length === 0;
        assert.ok(ok, formatComparison(name, text, comparison));
        // Markers read as comments by the parser: every marker line is a comment statement.
        const lines = splitLines(text);
        for (const line of fixture.markerLines) {
          const start = doc.lineStarts[line];
          assert.ok(
            doc.statements.some((s) => s.kind === 'comment' && s.span.start === start),
            `${name}:${line + 1}: the marker \`${lines[line]}\` is not parsed as a comment`,
          );
        }
        assert.equal(positionAt(doc, text.length).line, lines.length - 1);
      });
    }
  });
}
