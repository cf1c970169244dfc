// The 2-D playground in a real browser, against the real release binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGlassbox, stop, launch, openPage, screenshot, percent } from './helpers.js';

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

test('the first stdout line is the loopback URL', () => {
  assert.match(server.lines[0], /^playground: http:\/\/127\.0\.0\.1:\d+\/$/);
});

test('the page loads with no console errors and draws every neuron', async () => {
  const { page, problems } = await openPage(browser, server.url);
  // Default: 2 features → 8 tanh → 8 tanh → 2 outputs: 18 neurons drawn.
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=neuron]').length === 18);
  await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
  await page.getByTestId('view-image').click();
  await page.getByTestId('view-dashboard').click();
  await page.getByTestId('view-2d').click();
  assert.deepEqual(problems, []);
  await page.close();
});

test('XOR trains to at least 95% test accuracy', async () => {
  const { page, problems } = await openPage(browser, `${server.url}?dataset=xor&seed=3`);
  await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
  await page.getByTestId('dataset').selectOption('xor');
  await page.getByTestId('play').click();
  // The accuracy the page showed when it first reached 95% (training goes on a few
  // epochs while the pause travels, and may wobble below again).
  const reached = await page.waitForFunction(() => {
    const shown = parseFloat(document.querySelector('[data-testid=test-accuracy]').textContent);
    return shown >= 95 && shown;
  }, null, { timeout: 60000 });
  await page.getByTestId('play').click(); // pause
  assert.ok(await reached.jsonValue() >= 95);
  assert.ok(await percent(page, 'test-accuracy') > 50, 'still shown after the pause');
  assert.match(page.url(), /dataset=xor/);
  assert.match(page.url(), /seed=3/);
  await screenshot(page, 'playground-2d');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the step activation is refused, with the reason, in the error box', async () => {
  const { page } = await openPage(browser, server.url);
  await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
  await page.getByTestId('activation').selectOption('step');
  await page.waitForFunction(() => document.querySelector('.layer-activation').value === 'step');
  await page.waitForTimeout(300);
  await page.getByTestId('play').click();
  const error = page.getByTestId('error');
  await error.waitFor({ state: 'visible' });
  const text = await error.textContent();
  assert.match(text, /step activation/);
  assert.match(text, /derivative is 0/);
  assert.match(page.url(), /layers=8%3Astep%2C8%3Astep/);
  await page.close();
});

test('a network of 8 layers of 32 neurons is drawn and trains a step', async () => {
  const layers = Array(8).fill('32:relu').join(',');
  const { page, problems } = await openPage(browser, `${server.url}?dataset=spirals&layers=${layers}`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=neuron]').length === 8 * 32 + 2);
  await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
  await page.getByTestId('step').click();
  await page.waitForFunction(() => document.getElementById('epoch').textContent === '1');
  assert.deepEqual(problems, []);
  await page.close();
});

test('clicking a neuron shows the numbers of one step on a training point', async () => {
  const { page } = await openPage(browser, server.url);
  await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
  await page.getByTestId('neuron').nth(3).click();
  const panel = page.locator('#inspect');
  await panel.waitFor({ state: 'visible' });
  const text = await panel.textContent();
  assert.match(text, /Layer 1, neuron 4/);
  assert.match(text, /z = Σ wᵢxᵢ \+ b = /);
  assert.match(text, /δ = ∂C\/∂z = /);
  assert.match(text, /new wᵢ/);
  // Signs as written by hand (issue 28): no "+ -1.65" and no "-0.75·-0.60".
  const formulas = (await panel.locator('.formula').allTextContents()).join('\n');
  assert.doesNotMatch(formulas, /\+ -|·-|(?<![e\d])-\d/);
  assert.match(formulas, /−|\+ /);
  await screenshot(page, 'playground-inspect', { fullPage: true });
  await page.close();
});

test('a malformed CSV upload shows a message and the server keeps running', async () => {
  const { page } = await openPage(browser, server.url);
  await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
  await page.locator('#csv-file').setInputFiles({
    name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('x1,x2,label\n0.1,0.2,a\n0.3,oops,b\n'),
  });
  const error = page.getByTestId('error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /CSV line 3: x1 and x2 must be finite numbers/);
  // A good file then trains.
  const rows = ['x1,x2,label'];
  for (let i = 0; i < 60; i++) rows.push(`${(i % 10) / 10 - 0.5},${Math.floor(i / 10) / 6 - 0.5},${i % 10 < 5 ? 'left' : 'right'}`);
  await page.locator('#csv-file').setInputFiles({ name: 'good.csv', mimeType: 'text/csv', buffer: Buffer.from(rows.join('\n')) });
  await error.waitFor({ state: 'hidden' });
  await page.getByTestId('step').click();
  await page.waitForFunction(() => document.getElementById('epoch').textContent === '1');
  await page.close();
});

test('a lost connection is said in the page', async () => {
  const own = await startGlassbox(['playground', '--port', '0'], 'playground: ');
  const { page } = await openPage(browser, own.url);
  try {
    await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
    own.child.kill('SIGKILL');
    const error = page.getByTestId('error');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.textContent(), /lost the connection to the glassbox server/);
  } finally {
    await page.close();
    await stop(own.child);
  }
});

test('the URL carries the setting: the same URL repeats a seeded run epoch for epoch', async () => {
  const url = `${server.url}?dataset=circles&noise=0.1&layers=6%3Arelu%2C4%3Aleaky-relu&opt=momentum&lr=0.1&seed=7&features=x1%2Cx2%2Cx1-squared`;
  const losses = [];
  for (let run = 0; run < 2; run++) {
    const { page } = await openPage(browser, url);
    await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
    assert.equal(await page.getByTestId('dataset').inputValue(), 'circles');
    assert.equal(await page.locator('#feature-x1-squared').isChecked(), true);
    assert.equal(await page.locator('.layer-activation').nth(1).inputValue(), 'leaky-relu');
    for (let epoch = 1; epoch <= 3; epoch++) {
      await page.getByTestId('step').click();
      await page.waitForFunction((n) => document.getElementById('epoch').textContent === String(n), epoch);
    }
    losses.push(await page.locator('#test-loss').textContent());
    await page.close();
  }
  assert.match(losses[0], /^\d\.\d{4}$/);
  assert.equal(losses[0], losses[1]);
});
