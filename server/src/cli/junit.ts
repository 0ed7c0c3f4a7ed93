/**
 * JUnit XML for `cloze eval --format junit`, the report format CI systems
 * (GitLab, Jenkins, GitHub test reporters) read. The subset written here
 * (testsuites › testsuite › properties, testcase › failure, system-out) is
 * the one those readers share. It is written by hand: the npm packages for it
 * (junit-report-builder and the like) write files and bring a dependency tree
 * for what is a few elements; what matters is the escaping, done below for
 * text and attributes alike, and the characters XML 1.0 cannot hold at all
 * (control characters, lone surrogates in a data row), replaced by U+FFFD.
 */

export interface JUnitCase {
  readonly name: string;
  readonly classname: string;
  /** Present when the case failed. */
  readonly failure?: { readonly message: string; readonly type: string; readonly details: string };
  readonly systemOut?: string;
}

export interface JUnitSuite {
  readonly name: string;
  readonly timeSeconds: number;
  readonly timestamp: string;
  readonly properties: ReadonlyArray<readonly [string, string]>;
  readonly cases: readonly JUnitCase[];
}

/** Characters XML 1.0 allows (§2.2 Char); everything else cannot appear even escaped. */
const notXmlChar = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function escapeXmlText(text: string): string {
  return text.replace(notXmlChar, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Attribute values also escape quotes, and keep line breaks and tabs as references (a parser normalises literal ones to spaces). */
export function escapeXmlAttribute(text: string): string {
  return escapeXmlText(text)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

function attributes(values: ReadonlyArray<readonly [string, string | number]>): string {
  return values.map(([name, value]) => ` ${name}="${escapeXmlAttribute(String(value))}"`).join('');
}

export function junitXml(suite: JUnitSuite): string {
  const failures = suite.cases.filter((c) => c.failure !== undefined).length;
  const counts: Array<[string, number]> = [
    ['tests', suite.cases.length],
    ['failures', failures],
    ['errors', 0],
    ['skipped', 0],
  ];
  const time = suite.timeSeconds.toFixed(3);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites${attributes([['name', suite.name], ...counts, ['time', time]])}>`];
  lines.push(`  <testsuite${attributes([['name', suite.name], ...counts, ['time', time], ['timestamp', suite.timestamp]])}>`);
  if (suite.properties.length > 0) {
    lines.push('    <properties>');
    for (const [name, value] of suite.properties)
      lines.push(
        `      <property${attributes([
          ['name', name],
          ['value', value],
        ])}/>`,
      );
    lines.push('    </properties>');
  }
  for (const testCase of suite.cases) {
    lines.push(
      `    <testcase${attributes([
        ['classname', testCase.classname],
        ['name', testCase.name],
        ['time', 0],
      ])}>`,
    );
    if (testCase.failure) {
      const { message, type, details } = testCase.failure;
      lines.push(
        `      <failure${attributes([
          ['message', message],
          ['type', type],
        ])}>${escapeXmlText(details)}</failure>`,
      );
    }
    if (testCase.systemOut !== undefined) lines.push(`      <system-out>${escapeXmlText(testCase.systemOut)}</system-out>`);
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>');
  return `${lines.join('\n')}\n`;
}
