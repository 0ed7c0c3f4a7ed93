// `node scripts/render-icon.mjs`: images/icon.png (128×128, transparent corners)
// from images/icon.svg, drawn by Debian's Chromium through playwright-core, so
// the icon's source is the SVG and no image tool is needed. Run it after
// editing the SVG and commit both.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromiumPath } from './code-server.mjs';

const root = resolve(import.meta.dirname, '..');
const size = 128;
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: size, height: size } });
  await page.setContent(
    `<html><body style="margin:0;background:transparent">${readFileSync(join(root, 'images', 'icon.svg'), 'utf8')}</body></html>`,
  );
  await page.locator('svg').screenshot({ path: join(root, 'images', 'icon.png'), omitBackground: true });
  console.log(`render-icon: images/icon.png ${size}×${size}`);
} finally {
  await browser.close();
}
