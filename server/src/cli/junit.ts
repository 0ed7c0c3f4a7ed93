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
  /** Present when the case could not run at all (a model that cannot be loaded): JUnit's `error`, not a `failure`. */
  readonly error?: { readonly message: string; readonly type: string; readonly details: string };
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
  return junitReport(suite.name, [suite]);
}

/** Counts of a suite or of the whole report, as readers expect them on both elements. */
function counts(cases: readonly JUnitCase[]): Array<[string, number]> {
  return [
    ['tests', cases.length],
    ['failures', cases.filter((c) => c.failure !== undefined).length],
    ['errors', cases.filter((c) => c.error !== undefined).length],
    ['skipped', 0],
  ];
}

/** Several suites in one report: `cloze eval` with several models writes one suite per model. */
export function junitReport(name: string, suites: readonly JUnitSuite[]): string {
  const all = suites.flatMap((suite) => suite.cases);
  const total = suites.reduce((sum, suite) => sum + suite.timeSeconds, 0).toFixed(3);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites${attributes([['name', name], ...counts(all), ['time', total]])}>`];
  for (const suite of suites) {
    const time = suite.timeSeconds.toFixed(3);
    lines.push(
      `  <testsuite${attributes([['name', suite.name], ...counts(suite.cases), ['time', time], ['timestamp', suite.timestamp]])}>`,
    );
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
      for (const [element, outcome] of [
        ['failure', testCase.failure],
        ['error', testCase.error],
      ] as const) {
        if (!outcome) continue;
        const { message, type, details } = outcome;
        lines.push(
          `      <${element}${attributes([
            ['message', message],
            ['type', type],
          ])}>${escapeXmlText(details)}</${element}>`,
        );
      }
      if (testCase.systemOut !== undefined) lines.push(`      <system-out>${escapeXmlText(testCase.systemOut)}</system-out>`);
      lines.push('    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
