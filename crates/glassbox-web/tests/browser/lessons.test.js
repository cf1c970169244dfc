// The Lessons view in a real browser, against the real release binary: each lesson
// works, the neuron's output is a = f(w·x + b) for every activation, and axe-core finds
// no serious accessibility problem.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGlassbox, stop, launch, openPage, screenshot, seriousViolations } from './helpers.js';

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

/**
 * The page with the Lessons view open and every lesson's first answer drawn. With
 * `viewport`, the page lets a test inject axe-core (bypassing the page's CSP, which
 * allows only the server's own scripts).
 */
async function lessons(viewport) {
  let page;
  let problems = [];
  if (viewport) {
    page = await browser.newPage({ viewport, bypassCSP: true });
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
    await page.goto(server.url);
  } else {
    ({ page, problems } = await openPage(browser, server.url));
  }
  await page.getByTestId('view-lessons').click();
  await page.locator('[data-testid=view-lessons-panel]').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=lesson]').length === 6);
  await page.waitForFunction(() => document.querySelector('[data-testid=neuron-output]').textContent !== '–');
  await page.waitForFunction(() => /test accuracy/.test(document.querySelector('[data-testid=digits-accuracy]').textContent), null, { timeout: 60000 });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=rate-summary] li').length === 3, null, { timeout: 60000 });
  await page.waitForFunction(() => /test accuracy/.test(document.querySelector('[data-testid=depth-deep]').textContent), null, { timeout: 60000 });
  await page.waitForFunction(() => /test accuracy/.test(document.querySelector('[data-testid=overfit-summary]').textContent), null, { timeout: 60000 });
  return { page, problems };
}

// The formulas, written here independently of the server, to check it.
const LEAKY_SLOPE = 0.01; // glassbox::activation::DEFAULT_LEAKY_SLOPE
const EXPECTED = {
  step: (z) => (z >= 0 ? 1 : 0),
  identity: (z) => z,
  sigmoid: (z) => 1 / (1 + Math.exp(-z)),
  tanh: (z) => Math.tanh(z),
  relu: (z) => Math.max(0, z),
  'leaky-relu': (z) => (z > 0 ? z : LEAKY_SLOPE * z),
};

test('one neuron: a = f(w₁x₁ + w₂x₂ + b) for every activation, from typed values', async () => {
  const { page, problems } = await lessons();
  const options = await page.getByTestId('neuron-activation').locator('option').allTextContents();
  assert.deepEqual(options.sort(), Object.keys(EXPECTED).sort());
  const inputSets = [
    { x1: 1.5, x2: -2, w1: 0.8, w2: 0.6, b: -0.3 },   // z = −0.3
    { x1: -0.5, x2: 2, w1: 1.2, w2: 0.9, b: 0.25 },   // z = 1.45
  ];
  for (const [name, f] of Object.entries(EXPECTED)) {
    await page.getByTestId('neuron-activation').selectOption(name);
    for (const v of inputSets) {
      for (const [k, value] of Object.entries(v)) await page.getByTestId(`neuron-${k}`).fill(String(value));
      const z = v.w1 * v.x1 + v.w2 * v.x2 + v.b;
      const a = f(z);
      await page.waitForFunction(([name, z, a]) => {
        const shown = parseFloat(document.querySelector('[data-testid=neuron-output]').textContent);
        const label = document.getElementById('neuron-f').textContent;
        return label === `${name}(${z.toFixed(4)})` && Math.abs(shown - a) < 2e-4;
      }, [name, z, a], { timeout: 10000 }).catch(async () => {
        const shown = await page.getByTestId('neuron-output').textContent();
        assert.fail(`${name} at ${JSON.stringify(v)}: expected a = ${a} (z = ${z}), the page shows ${shown}`);
      });
      assert.match(await page.getByTestId('neuron-sum').textContent(), new RegExp(`= ${z.toFixed(4).replace('.', '\\.')}$`));
    }
  }
  // A value that is not a number is refused in words, not sent.
  await page.getByTestId('neuron-b').fill('');
  await page.waitForFunction(() => [...document.querySelectorAll('.lesson-error')].some((e) => e.textContent.includes('b: type a number')));
  assert.deepEqual(problems, []);
  await page.close();
});

test('each lesson works: step refused, deep beats shallow, learning rates, over-fitting, digits', async () => {
  const { page, problems } = await lessons();
  // 2. The step: the library's refusal, word for word; tanh learns XOR.
  const verdict = page.getByTestId('activation-verdict');
  assert.match(await verdict.textContent(), /refuses to train it: “.*step activation.*derivative is 0/);
  await page.getByTestId('activation-pick').selectOption('tanh');
  await page.waitForFunction(() => /test accuracy/.test(document.querySelector('[data-testid=activation-verdict]').textContent));

  // 3. Two hidden layers draw the spirals that one cannot.
  const accuracy = async (id) => parseFloat((await page.getByTestId(id).textContent()).match(/test accuracy ([\d.]+)%/)[1]);
  const shallow = await accuracy('depth-shallow');
  const deep = await accuracy('depth-deep');
  assert.ok(deep > shallow + 10, `deep ${deep}% against shallow ${shallow}%`);

  // 4. Three learning rates: the large one ends far from the right one.
  const rates = await page.getByTestId('rate-summary').locator('li').allTextContents();
  assert.match(rates[0], /^η = 0\.001: loss/);
  assert.match(rates[1], /^η = 0\.1: loss .* test accuracy (9\d|100)\.\d%/);
  assert.match(rates[2], /^η = 8: (diverged|loss)/);

  // 5. Over-fitting: early stopping keeps the best epoch; more data.
  await page.getByTestId('overfit-early').check();
  await page.waitForFunction(() => /stopped early, keeping epoch \d+/.test(document.querySelector('[data-testid=overfit-summary]').textContent));
  await page.getByTestId('overfit-early').uncheck();
  await page.getByTestId('overfit-more').check();
  await page.waitForFunction(() => /^600 training points/.test(document.querySelector('[data-testid=overfit-summary]').textContent));

  // 6. The digits: a weight picture per hidden neuron; a test image and a drawing
  // each get an answer.
  assert.equal(await page.locator('.weight-grid canvas').count(), 16);
  assert.ok(await accuracy('digits-accuracy') > 85);
  await page.getByTestId('digits-test-index').fill('3');
  await page.getByTestId('digits-test-show').click();
  await page.waitForFunction(() => /^\d \(\d+\.\d%\)$/.test(document.querySelector('[data-testid=digits-prediction]').textContent));
  const before = await page.getByTestId('digits-prediction').textContent();
  const pad = await page.getByTestId('digits-draw').boundingBox();
  await page.mouse.move(pad.x + 80, pad.y + 20);
  await page.mouse.down();
  for (let y = 20; y <= 140; y += 10) await page.mouse.move(pad.x + 80, pad.y + y);
  await page.mouse.up();
  await page.waitForFunction((b) => {
    const text = document.querySelector('[data-testid=digits-prediction]').textContent;
    return /^\d \(/.test(text) && text !== b;
  }, before, { timeout: 10000 }).catch(() => {}); // a drawn stroke may give the same answer
  assert.match(await page.getByTestId('digits-prediction').textContent(), /^\d \(\d+\.\d%\)$/);
  assert.equal(await page.locator('.digit-path .path-layer').count(), 2, 'the hidden layer and the output');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the Lessons view has no serious accessibility violation; screenshots', async () => {
  for (const [width, height] of [[1400, 900], [1920, 1080]]) {
    const { page, problems } = await lessons({ width, height });
    assert.deepEqual(await seriousViolations(page, '[data-testid=view-lessons-panel]'), [], `at ${width}×${height}`);
    // Every canvas is named for a screen reader, every control labelled.
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('#view-lessons canvas')]
      .filter((c) => !c.getAttribute('aria-label')).length);
    assert.equal(unnamed, 0);
    const width1 = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width1 <= width, `no horizontal overflow at ${width} px (page is ${width1} px wide)`);
    await screenshot(page, `playground-lessons-${width}`, { fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  }
});
