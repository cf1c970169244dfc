// The image classifier in a real browser: train on the digits, draw, open a saved model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { binary, startGlassbox, stop, launch, openPage, screenshot } from './helpers.js';

let server;
let browser;
let dir;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'glassbox-image-'));
  server = await startGlassbox(['playground', '--port', '0'], 'playground: ', { cwd: dir });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (server) await stop(server.child);
  rmSync(dir, { recursive: true, force: true });
});

/** Draws a stroke through `points` (fractions of the canvas) with the mouse. */
async function draw(page, points) {
  const box = await page.getByTestId('draw-canvas').boundingBox();
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 8 });
  await page.mouse.up();
}

test('a drawn digit gets a prediction and non-blank activations', async () => {
  const { page, problems } = await openPage(browser, server.url);
  await page.getByTestId('view-image').click(); // trains on the digits when no model is open
  await page.waitForFunction(() => document.querySelector('#confusion table'), null, { timeout: 60000 });
  const accuracy = parseFloat(await page.locator('#test-accuracy-image').textContent());
  assert.ok(accuracy > 90, `test accuracy ${accuracy}%`);
  // A "7": a bar across the top, then down to the bottom left.
  await draw(page, [[0.25, 0.2], [0.75, 0.2], [0.45, 0.85]]);
  await page.waitForFunction(() => /^[0-9]$/.test(document.querySelector('[data-testid=prediction]').textContent));
  const active = await page.evaluate(() => window.glassbox.imageActive);
  assert.equal(active.length, 2, 'a hidden layer and the output');
  assert.ok(active[0] > 0, `no first-layer neuron is active: ${active}`);
  assert.equal(active[1], 10, 'every class has a probability');
  // Click a first-layer neuron: its weight image and its weighted sum for this input.
  await page.locator('#weight-images canvas').nth(5).click();
  assert.match(await page.locator('#weight-detail').textContent(), /first-layer neuron 6.*z = Σ wᵢxᵢ \+ b = -?\d/);
  // A confusion-matrix cell opens its misclassified images.
  const off = page.locator('#confusion td.off').first();
  if (await off.count()) {
    await off.click();
    await page.waitForFunction(() => document.querySelectorAll('#mistakes canvas').length > 0);
  }
  await screenshot(page, 'playground-image');
  assert.deepEqual(problems, []);
  await page.close();
});

test('a model file that glassbox train saved opens; a malformed one is refused', async () => {
  execFileSync(binary(), ['train', '--epochs', '5', '--layers', '32', '--quiet', '--out', 'saved.safetensors'], { cwd: dir });
  writeFileSync(path.join(dir, 'broken.safetensors'), 'this is not a model');
  const before = readdirSync(dir).sort();
  const { page, problems } = await openPage(browser, server.url);
  await page.getByTestId('view-image').click();
  await page.waitForFunction(() => document.querySelector('#confusion table'), null, { timeout: 60000 });
  await page.locator('#image-path').fill(path.join(dir, 'broken.safetensors'));
  await page.locator('#image-open').click();
  const error = page.getByTestId('error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /broken\.safetensors/);
  await page.locator('#image-path').fill(path.join(dir, 'saved.safetensors'));
  await page.locator('#image-open').click();
  await page.waitForFunction(() => document.getElementById('image-source').textContent.includes('opened'));
  assert.match(await page.locator('#image-source').textContent(), /64-32-10/);
  await error.waitFor({ state: 'hidden' });
  // An opened model shows something at once: its first test image, its true class and
  // the prediction, before anything is drawn.
  await page.waitForFunction(() => /^test image 0: true class \S+/.test(document.getElementById('truth').textContent)
    && /^[0-9]$/.test(document.querySelector('[data-testid=prediction]').textContent));
  await page.locator('#test-index').fill('7');
  await page.locator('#test-show').click();
  await page.waitForFunction(() => /^[0-9]$/.test(document.querySelector('[data-testid=prediction]').textContent));
  assert.deepEqual(readdirSync(dir).sort(), before, 'the server wrote nothing');
  assert.deepEqual(problems.filter((p) => !p.includes('400')), []);
  await page.close();
});
