// Shared by the browser tests: start the real release binary, open Debian's chromium.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../../../..');

/** The glassbox binary: $GLASSBOX_BIN, else the release build in $CARGO_TARGET_DIR or target/. */
export function binary() {
  if (process.env.GLASSBOX_BIN) return process.env.GLASSBOX_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(repo, 'target');
  return path.join(target, 'release', 'glassbox');
}

/**
 * Runs `glassbox ARGS…` and resolves with { child, url, lines } once a stdout line
 * starting with `prefix` (e.g. "playground: ") names the URL.
 */
export async function startGlassbox(args, prefix, options = {}) {
  const child = spawn(binary(), args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd });
  const lines = [];
  const stderr = [];
  child.stderr.on('data', (d) => stderr.push(String(d)));
  const reader = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${prefix}" line within 20 s; stderr: ${stderr.join('')}`)), 20000);
    reader.on('line', (line) => {
      lines.push(line);
      if (line.startsWith(prefix)) {
        clearTimeout(timer);
        resolve(line.slice(prefix.length).trim());
      }
    });
    child.on('error', (e) => reject(new Error(`cannot run ${binary()}: ${e.message} (build it: cargo build --release -p glassbox-cli)`)));
    child.on('exit', (code) => reject(new Error(`glassbox exited with ${code} before printing its URL; stderr: ${stderr.join('')}`)));
  });
  return { child, url, lines, stderr };
}

export async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return; // already ended
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await once(child, 'exit');
  clearTimeout(timer);
}

/** Debian's chromium, headless, with nothing reaching the network on its own. */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * A page that records console errors and uncaught exceptions into `problems`; `options`
 * go to browser.newPage (e.g. a viewport, or bypassCSP to inject axe-core).
 */
export async function openPage(browser, url, options = {}) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, ...options });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
  await page.goto(url);
  return { page, problems };
}

/** Saves a screenshot to $GLASSBOX_SCREENSHOTS/NAME.png when that folder is set. */
export async function screenshot(page, name, options = {}) {
  const dir = process.env.GLASSBOX_SCREENSHOTS;
  if (dir) await page.screenshot({ path: path.join(dir, `${name}.png`), ...options });
}

/** The number in an element's text ("97.5%" → 97.5), or NaN. */
export async function percent(page, testid) {
  const text = await page.getByTestId(testid).textContent();
  return parseFloat(text);
}

/**
 * Runs axe-core (npm) in the page, limited to `selector` when given, and returns the
 * violations whose impact is "serious" or "critical", each as "id: help (n nodes: …)".
 */
export async function seriousViolations(page, selector) {
  await page.addScriptTag({ path: path.join(here, 'node_modules', 'axe-core', 'axe.min.js') });
  const violations = await page.evaluate(async (sel) => {
    const result = await globalThis.axe.run(sel ? document.querySelector(sel) : document);
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
  }, selector || null);
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.length} nodes: ${v.nodes.slice(0, 5).join(', ')})`);
}
