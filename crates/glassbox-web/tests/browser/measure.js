// Measures the playground's speed in the browser (not a test: run it by hand,
// `node measure.js [MODEL]`, after `cargo build --release -p glassbox-cli`).
// Prints frames drawn per second while an 8 × 32 network trains with every heat map,
// and, given a model file of 28×28 images (e.g. 784-512-256-10 on Fashion-MNIST:
// `glassbox train --data fashion-mnist --layers 512,256 --epochs 2 --out fm.safetensors`),
// the round trip of a drawn image's activations, measured in the page.
import path from 'node:path';
import { startGlassbox, stop, launch, openPage } from './helpers.js';

const MODEL = process.argv[2] && path.resolve(process.argv[2]);
const DRAWINGS = 50;

const SECONDS = 10;
const server = await startGlassbox(['playground', '--port', '0'], 'playground: ');
const browser = await launch();
try {
  for (const [name, layers] of [['2-8-8-2 (default)', '8:tanh,8:tanh'], ['8 × 32 relu', Array(8).fill('32:relu').join(',')]]) {
    const { page } = await openPage(browser, `${server.url}?dataset=spirals&layers=${layers}`);
    await page.waitForFunction(() => window.glassbox.framesDrawn > 0);
    await page.getByTestId('play').click();
    await page.waitForTimeout(1000); // warm up
    const start = await page.evaluate(() => [window.glassbox.framesDrawn, performance.now(), Number(document.getElementById('epoch').textContent)]);
    await page.waitForTimeout(SECONDS * 1000);
    const end = await page.evaluate(() => [window.glassbox.framesDrawn, performance.now(), Number(document.getElementById('epoch').textContent)]);
    await page.getByTestId('play').click();
    const seconds = (end[1] - start[1]) / 1000;
    console.log(`${name}: ${((end[0] - start[0]) / seconds).toFixed(1)} frames/s drawn, ${((end[2] - start[2]) / seconds).toFixed(1)} epochs/s, over ${seconds.toFixed(1)} s`);
    await page.close();
  }
  if (MODEL) {
    const { page } = await openPage(browser, server.url);
    await page.getByTestId('view-image').click();
    await page.waitForFunction(() => document.querySelector('#confusion table'), null, { timeout: 60000 });
    await page.locator('#image-path').fill(MODEL);
    await page.locator('#image-open').click();
    await page.waitForFunction(() => document.getElementById('image-source').textContent.includes('opened'), null, { timeout: 60000 });
    const sizes = await page.locator('#image-source').textContent();
    const box = await page.getByTestId('draw-canvas').boundingBox();
    await page.mouse.move(box.x + 80, box.y + 50);
    await page.mouse.down();
    await page.mouse.move(box.x + 140, box.y + 230, { steps: 6 });
    await page.mouse.up();
    await page.waitForTimeout(500);
    await page.evaluate(() => { window.glassbox.imageLatencies = []; });
    for (let i = 0; i < DRAWINGS; i++) {
      // The page's own request for the drawing; it records the round trip.
      await page.evaluate(() => window.glassbox.predictDrawing());
      await page.waitForFunction((n) => window.glassbox.imageLatencies.length === n, i + 1);
    }
    const ms = (await page.evaluate(() => window.glassbox.imageLatencies)).sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)];
    const p90 = ms[Math.floor(ms.length * 0.9)];
    console.log(`${sizes.split(' (')[0]}: drawn image → activations of every layer, round trip in the page: median ${median.toFixed(1)} ms, 90th percentile ${p90.toFixed(1)} ms, over ${ms.length} predictions`);
    await page.close();
  }
} finally {
  await browser.close();
  await stop(server.child);
}
