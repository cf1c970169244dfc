// Measures the playground's speed in the browser (not a test: run it by hand,
// `node measure.js`, after `cargo build --release -p glassbox-cli`).
// Prints frames drawn per second while an 8 × 32 network trains with every heat map.
import { startGlassbox, stop, launch, openPage } from './helpers.js';

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
} finally {
  await browser.close();
  await stop(server.child);
}
