import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { exampleAtLine, exampleName, percent, renderPanel, type PreviewOk } from '../../client/src/panel/render';
import { parse } from '../../server/src/language/parse';
import { exampleProblems } from '../../server/src/language/exampleProblems';
import type { PreviewResult } from '../../server/src/service/preview';
import { cliMain, modelsDir } from '../support/paths';

/**
 * The preview panel's HTML, from the real preview of a real model
 * (`cloze preview --format json` on review-bert-small): bars for every label
 * and pattern carrying the exact numbers, wrong predictions marked, the
 * prior drawn, hostile text escaped, and nothing the panel's CSP would block.
 */

const text = [
  'model: review-bert-small',
  'pattern short: {review} It was [MASK].',
  'pattern long: {review} All in all, it was [MASK].',
  'verbalizer:',
  '  positive: great, good',
  '  negative: terrible, bad',
  'example positive: The plot was dull and the acting was worse.',
  'example negative: I like the Disney films very much.',
  'example positive: <img src=x onerror=alert(1)> "quoted" & loved it',
  'example negative:',
  '  text: no field the patterns read',
  '',
].join('\n');

function preview(source = text): PreviewOk {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloze-render-'));
  try {
    const file = path.join(dir, 'panel.cloze');
    fs.writeFileSync(file, source);
    const json = JSON.parse(
      execFileSync(process.execPath, [cliMain, 'preview', file, '--format', 'json', '--models-dir', modelsDir(), '--offline'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as PreviewResult & { file?: string; quantized: boolean };
    return {
      ok: true,
      uri: 'file:///panel.cloze',
      version: 1,
      preview: json,
      quantized: json.quantized,
      exampleProblems: exampleProblems(parse(source)),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('preview panel HTML', () => {
  const data = preview();
  const result = data.preview;
  const html = renderPanel(data, 7, 'panel.cloze');

  test('the selected example has a label chart per pattern whose bars carry the preview’s numbers, raw and calibrated', () => {
    const example = result.examples.find((e) => e.line === 7)!;
    for (const r of example.results) {
      const article = html.slice(html.indexOf(`<article class="pattern`, html.indexOf(`data-pattern="${r.pattern}"`) - 40));
      for (const label of result.labels) {
        assert.ok(article.includes(`data-label="${label}" data-kind="raw" data-p="${r.labels[label]}"`), `${r.pattern} ${label} raw`);
        assert.ok(
          article.includes(`data-label="${label}" data-kind="calibrated" data-p="${r.calibrated[label]}"`),
          `${r.pattern} ${label} cal.`,
        );
      }
      // The top tokens, each a bar; label words marked.
      for (const token of r.top)
        assert.ok(html.includes(`data-token="${token.token.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"`), token.token);
    }
    assert.match(html, /<g class="row is-label-word"[^>]*data-token="(great|good|terrible|bad)" data-label="(positive|negative)"/);
  });

  test('a wrong prediction is marked in the verdict and in the grid; the example with an error is not scored', () => {
    assert.match(html, /<p class="verdict wrong">✗ Wrong: the patterns together say <strong>negative<\/strong>/);
    const wrongCells = [...html.matchAll(/<td class="cell wrong"/g)].length;
    const expectedWrong = result.examples
      .filter((e) => e.line !== 10)
      .flatMap((e) => [...e.results.map((r) => r.correct), e.correct])
      .filter((c) => c === false).length;
    assert.ok(expectedWrong > 0);
    assert.equal(wrongCells, expectedWrong);
    assert.match(html, /<tr class="example-row problem" data-line="10">.*not scored: this example has no field `review`/);
  });

  test('each pattern’s accuracy and its prior are drawn', () => {
    for (const pattern of result.patterns) {
      assert.match(html, new RegExp(`<td class="accuracy" data-pattern="${pattern}" data-p="[\\d.]+">\\d/3 · `));
      for (const label of result.labels) {
        assert.ok(html.includes(`data-label="${label}" data-p="${result.priors[pattern][label]}"`), `prior ${pattern} ${label}`);
      }
    }
    assert.match(html, /<line class="reference"/);
  });

  test('hostile text is escaped; nothing needs inline styles, scripts or remote resources', () => {
    assert.ok(!html.includes('<img'), 'an example’s HTML is text, not markup');
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.doesNotMatch(html, /<[^>]*\s(style|on\w+)=|<script|https?:\/\//);
  });

  test('one number format; examples are named by their first words; the cursor picks the example it is in', () => {
    assert.equal(percent(0.68234), '68.2%');
    assert.equal(percent(0.00001), '<0.1%');
    assert.equal(percent(0.99999), '>99.9%');
    assert.equal(exampleName({ fields: { review: 'word '.repeat(30) } }).length, 36);
    assert.equal(exampleAtLine(result, 0), undefined);
    assert.equal(exampleAtLine(result, 7)?.line, 8);
    assert.equal(exampleAtLine(result, 10)?.line, 10);
  });
});

describe('preview panel HTML, an example that holds the mask token', () => {
  test('says it is not scored and why, per pattern and for the example, instead of bars', () => {
    const source =
      'model: review-bert-small\npattern: {review} It was [MASK].\nverbalizer:\n  positive: great\n  negative: bad\nexample positive: fun [MASK] film\n';
    const html = renderPanel(preview(source), 7, 'panel.cloze');
    assert.match(
      html,
      /Not scored: its text holds \[MASK\], review-bert-small&#39;s mask token, a second mask besides the pattern&#39;s\./,
    );
    assert.match(
      html,
      /Not scored: the example's text holds \[MASK\], review-bert-small's mask token, which would be read in place of the pattern's \[MASK\]\./,
    );
  });
});
