// Many tabs on one playground: each tab is a session of its own (issue 28).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startGlassbox, stop, launch, openPage, seriousViolations, screenshot } from './helpers.js';

let server;
let browser;

before(async () => {
  server = await startGlassbox(['playground', '--port', '0'], 'playground: ');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (server) await stop(server.child);
});

const epoch = (page) => page.evaluate(() => Number(document.getElementById('epoch').textContent));

test('two tabs with different data sets train at the same time, each on its own', async () => {
  const a = await openPage(browser, `${server.url}?dataset=xor&seed=3`);
  const b = await openPage(browser, `${server.url}?dataset=gaussians&seed=4`);
  for (const { page } of [a, b]) await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
  // Each tab draws its own network: 2 output neurons for xor, 3 for the gaussians.
  assert.equal(await a.page.getByTestId('neuron').count(), 8 + 8 + 2);
  assert.equal(await b.page.getByTestId('neuron').count(), 8 + 8 + 3);
  await a.page.getByTestId('play').click();
  await b.page.getByTestId('play').click();
  for (const { page } of [a, b]) await page.waitForFunction(() => Number(document.getElementById('epoch').textContent) >= 5, null, { timeout: 30000 });
  await a.page.getByTestId('play').click();
  await b.page.getByTestId('play').click();
  await a.page.waitForTimeout(300);
  // Paused, B stays where it is while A steps.
  const [a0, b0] = [await epoch(a.page), await epoch(b.page)];
  for (let k = 1; k <= 3; k++) {
    await a.page.getByTestId('step').click();
    await a.page.waitForFunction((n) => Number(document.getElementById('epoch').textContent) === n, a0 + k);
  }
  await b.page.waitForTimeout(300);
  assert.equal(await epoch(b.page), b0, "A's steps did not move B");
  assert.equal(await b.page.getByTestId('dataset').inputValue(), 'gaussians');
  assert.equal(await b.page.getByTestId('neuron').count(), 8 + 8 + 3);
  // The Play button is text with an SVG icon (no font glyph); frames/s is a dash when paused.
  assert.equal((await a.page.getByTestId('play').textContent()).trim(), 'Play');
  assert.equal(await a.page.locator('#play svg').count(), 1);
  assert.equal(await a.page.getByTestId('fps').textContent(), '–');
  assert.deepEqual([...a.problems, ...b.problems], []);
  await a.page.close();
  await b.page.close();
});

test('eight tabs playing at once all learn XOR (≥ 90% test accuracy)', async () => {
  const tabs = [];
  for (let k = 0; k < 8; k++) tabs.push(await openPage(browser, `${server.url}?dataset=xor&seed=3&lr=0.1&speed=20`));
  for (const { page } of tabs) await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
  for (const { page } of tabs) await page.evaluate(() => document.getElementById('play').click());
  const reached = await Promise.all(tabs.map(({ page }) => page.waitForFunction(() => {
    const shown = parseFloat(document.querySelector('[data-testid=test-accuracy]').textContent);
    return shown >= 90 && shown;
  }, null, { timeout: 90000 }).then((h) => h.jsonValue())));
  for (const r of reached) assert.ok(r >= 90, `${r}`);
  // Pause every tab (a click from the page's own script: eight busy pages are slow to
  // answer the driver's checks before a click) and wait until each says so.
  for (const { page } of tabs) await page.evaluate(() => document.getElementById('play').click());
  for (const { page, problems } of tabs) {
    await page.waitForFunction(() => document.getElementById('play').getAttribute('aria-pressed') === 'false');
    assert.deepEqual(problems, []);
    await page.close();
  }
});

test('an idle session is freed: the tab says so, looks stopped, and starts again', async () => {
  const own = await startGlassbox(['playground', '--port', '0', '--session-idle', '2'], 'playground: ');
  const { page, problems } = await openPage(browser, own.url);
  try {
    await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
    const box = page.getByTestId('session');
    await box.waitFor({ state: 'visible', timeout: 15000 });
    assert.match(await page.getByTestId('session-message').textContent(), /idle for more than 2 s/);
    assert.equal((await page.getByTestId('play').textContent()).trim(), 'Play');
    assert.equal(await page.getByTestId('play').isDisabled(), true);
    await screenshot(page, 'playground-expired');
    const drawn = await page.evaluate(() => window.glassbox.framesDrawn);
    await page.getByTestId('session-restart').click();
    await box.waitFor({ state: 'hidden' });
    await page.waitForFunction((n) => window.glassbox.framesDrawn > n, drawn);
    await page.getByTestId('step').click();
    await page.waitForFunction(() => document.getElementById('epoch').textContent === '1');
    assert.deepEqual(problems.filter((p) => !/410|Gone/.test(p)), []);
  } finally {
    await page.close();
    await stop(own.child);
  }
});

test('a tab over --max-sessions is told why', async () => {
  const own = await startGlassbox(['playground', '--port', '0', '--max-sessions', '1'], 'playground: ');
  const first = await openPage(browser, own.url);
  try {
    await first.page.waitForFunction(() => window.glassbox.framesDrawn > 0);
    const second = await openPage(browser, own.url);
    await second.page.getByTestId('session').waitFor({ state: 'visible' });
    assert.match(await second.page.getByTestId('session-message').textContent(), /full: 1 sessions are open.*--max-sessions 1/);
    assert.equal(await second.page.getByTestId('play').isDisabled(), true);
    await second.page.close();
  } finally {
    await first.page.close();
    await stop(own.child);
  }
});

test('a restarted server is shown in the page', async () => {
  let own = await startGlassbox(['playground', '--port', '0'], 'playground: ');
  const port = new URL(own.url).port;
  const { page } = await openPage(browser, own.url);
  try {
    await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
    await stop(own.child);
    await page.getByTestId('error').waitFor({ state: 'visible' });
    assert.match(await page.getByTestId('error').textContent(), /lost the connection/);
    own = await startGlassbox(['playground', '--port', port], 'playground: ');
    await page.getByTestId('session').waitFor({ state: 'visible', timeout: 20000 });
    assert.match(await page.getByTestId('session-message').textContent(), /server restarted/);
    assert.equal((await page.getByTestId('play').textContent()).trim(), 'Play');
  } finally {
    await page.close();
    await stop(own.child);
  }
});

test('axe-core finds no serious violation in any view', async () => {
  // axe-core is injected as an inline script, which the page's CSP rightly refuses.
  const { page } = await openPage(browser, server.url, { bypassCSP: true });
  await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
  assert.deepEqual(await seriousViolations(page), [], 'the 2-D playground');
  await page.getByTestId('view-image').click();
  await page.waitForFunction(() => document.querySelector('#confusion table'), null, { timeout: 60000 });
  assert.deepEqual(await seriousViolations(page), [], 'the image classifier');
  await page.getByTestId('view-dashboard').click();
  assert.deepEqual(await seriousViolations(page), [], 'the dashboard');
  // The view tabs are a tablist, usable from the keyboard.
  await page.getByTestId('view-2d').focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByTestId('view-image').getAttribute('aria-selected'), 'true');
  assert.equal(await page.locator('#view-image').isVisible(), true);
  await page.close();
});

test('the Fashion-MNIST confusion matrix fits a 1400 px window, with whole class names', { skip: !existsSync('/usr/share/datasets/fashion-mnist') && 'Fashion-MNIST is not installed' }, async () => {
  const { page } = await openPage(browser, server.url);
  await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
  await page.getByTestId('view-image').click();
  await page.waitForFunction(() => document.querySelector('#confusion table'), null, { timeout: 60000 });
  await page.locator('#image-dataset').selectOption('fashion-mnist');
  await page.locator('#image-hidden').fill('32');
  await page.locator('#image-epochs').fill('1');
  await page.locator('#image-train').click();
  await page.waitForFunction(() => document.querySelector('#confusion th[title="Ankle boot"]'), null, { timeout: 120000 });
  const fit = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    window: window.innerWidth,
    names: [...document.querySelectorAll('#confusion th')].map((t) => t.textContent),
  }));
  assert.ok(fit.page <= fit.window, `the page is ${fit.page} px wide in a ${fit.window} px window`);
  assert.ok(fit.names.includes('Ankle boot') && fit.names.includes('Sneaker'), fit.names.join('|'));
  // A picked test image shows its true class.
  await page.locator('#test-index').fill('0');
  await page.locator('#test-show').click();
  await page.waitForFunction(() => /test image 0: true class Ankle boot/.test(document.getElementById('truth').textContent));
  await screenshot(page, 'playground-fashion');
  await page.close();
});
