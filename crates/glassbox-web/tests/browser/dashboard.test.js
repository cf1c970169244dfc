// The live dashboard of a command-line training run, in a real browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startGlassbox, launch, openPage, screenshot, seriousViolations } from './helpers.js';

test('the dashboard shows the epochs of a glassbox train run and stays up until Ctrl-C', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'glassbox-dashboard-'));
  const run = await startGlassbox(
    ['train', '--epochs', '12', '--layers', '64', '--quiet', '--out', 'm.safetensors', '--dashboard', '0'],
    'dashboard: ', { cwd: dir });
  const browser = await launch();
  try {
    assert.match(run.lines[0], /^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/, 'the URL is the first line');
    // bypassCSP: axe-core is injected as an inline script, which the page's CSP refuses.
    const { page, problems } = await openPage(browser, run.url, { bypassCSP: true });
    await page.locator('#view-dashboard').waitFor({ state: 'visible' });
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=dashboard-epochs]').textContent) >= 2);
    // The run is short: it finishes, and the page says so, with all its epochs.
    await page.waitForFunction(() => document.getElementById('dashboard-status').textContent.startsWith('finished'), null, { timeout: 60000 });
    assert.equal(await page.getByTestId('dashboard-epochs').textContent(), '12');
    assert.match(await page.locator('#dashboard-status').textContent(), /finished: 12 epochs; model saved to m\.safetensors/);
    assert.equal(await page.locator('#dash-table tr').count(), 13, 'a header and a row per epoch');
    assert.equal(await page.locator('#dash-histograms canvas').count(), 2, 'a weight histogram per layer');
    await screenshot(page, 'playground-dashboard', { fullPage: true });
    assert.deepEqual(await seriousViolations(page), [], 'axe-core on the dashboard of a run');
    assert.deepEqual(problems, []);
    assert.ok(existsSync(path.join(dir, 'm.safetensors')));
    // Still serving after training; Ctrl-C ends it with success.
    assert.equal(run.child.exitCode, null);
    run.child.kill('SIGINT');
    const [code] = await once(run.child, 'exit');
    assert.equal(code, 0);
  } finally {
    await browser.close();
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
