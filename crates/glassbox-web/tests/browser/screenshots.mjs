// Screenshots of every view at 1400 × 900 and 1920 × 1080, for looking at and for the
// README (docs/): `node screenshots.mjs DIR` (not a test; run by hand after a change to
// the page). The dashboard is a real `glassbox train --dashboard 0` run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startGlassbox, stop, launch, openPage } from './helpers.js';

const out = path.resolve(process.argv[2] || '.');
const sizes = [[1400, 900], [1920, 1080]];
const server = await startGlassbox(['playground', '--port', '0'], 'playground: ');
const dir = mkdtempSync(path.join(tmpdir(), 'glassbox-shots-'));
const run = await startGlassbox(['train', '--epochs', '40', '--layers', '64', '--quiet', '--validation-split', '0.1',
  '--early-stopping', '3', '--out', 'm.safetensors', '--dashboard', '0'], 'dashboard: ', { cwd: dir });
const browser = await launch();
try {
  for (const [width, height] of sizes) {
    const { page } = await openPage(browser, `${server.url}?dataset=spirals&seed=2&layers=8%3Atanh%2C8%3Atanh%2C6%3Atanh&features=x1%2Cx2%2Csin-x1%2Csin-x2&speed=5`, { viewport: { width, height } });
    await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
    await page.getByTestId('play').click();
    await page.waitForFunction(() => Number(document.getElementById('epoch').textContent) >= 300, null, { timeout: 60000 });
    await page.getByTestId('play').click();
    await page.waitForTimeout(500);
    await page.getByTestId('neuron').nth(3).click();
    await page.locator('#inspect').waitFor({ state: 'visible' });
    await page.screenshot({ path: path.join(out, `playground-2d-${width}.png`) });
    await page.getByTestId('view-image').click();
    await page.waitForFunction(() => document.querySelector('#confusion table') && document.getElementById('truth').textContent, null, { timeout: 60000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(out, `playground-image-${width}.png`) });
    await page.close();
    const dash = await openPage(browser, run.url, { viewport: { width, height } });
    await dash.page.waitForFunction(() => !/^training/.test(document.getElementById('dashboard-status').textContent), null, { timeout: 120000 });
    await dash.page.waitForTimeout(500);
    await dash.page.screenshot({ path: path.join(out, `playground-dashboard-${width}.png`) });
    await dash.page.close();
  }
} finally {
  await browser.close();
  await stop(server.child);
  await stop(run.child);
  rmSync(dir, { recursive: true, force: true });
}
