// Load test of `glassbox playground`: N tabs' sessions playing at once, as N pages would
// (each opens its session with POST /api/playground, subscribes to its own event stream
// and presses Play), for SECONDS. Prints, per N: frames/s per session (min / median /
// max), epochs per second per session (min / max), the server's RSS (VmHWM and VmRSS, Linux), and
// whether any session was lost (an error answer, an `expired` or `train-error` event, a
// stream that ended, a frame of another session's run, or a session that got no frame).
//
//   node bench/playground_load.mjs [SECONDS=10] [N…=8 30] [-- PLAYGROUND FLAGS…]
//
// e.g. `node bench/playground_load.mjs 10 8 30 -- --workers 2`. Needs Node ≥ 18 (fetch)
// and the release binary (cargo build --release -p glassbox-cli). The frames each tab
// gets are bounded above by the server's pacing (at most 60 per second per session).
// Bounded in time: each level lasts SECONDS plus start-up; the server is stopped after.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = process.env.GLASSBOX_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'release', 'glassbox');
const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const own = dash < 0 ? argv : argv.slice(0, dash);
const flags = dash < 0 ? [] : argv.slice(dash + 1);
const seconds = Number(own[0] || 10);
const levels = own.length > 1 ? own.slice(1).map(Number) : [8, 30];

function rss(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number((status.match(new RegExp(`${key}:\\s+(\\d+)`)) || [0, 0])[1]);
  return { hwm: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

async function start() {
  const child = spawn(bin, ['playground', '--port', '0', '--max-sessions', String(levels.reduce((a, b) => a + b, 0) + 2), ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no URL within 20 s')), 20000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('playground: ')) { clearTimeout(timer); resolve(line.slice(12).trim()); }
    });
    child.on('exit', (code) => reject(new Error(`glassbox exited with ${code}`)));
  });
  return { child, url };
}

// One tab: its session, its stream, its counts.
async function tab(url, seed, until, lost) {
  const post = async (route, body, session) => {
    const headers = { 'content-type': 'application/json' };
    if (session) headers['x-glassbox-session'] = session;
    const r = await fetch(url + route, { method: 'POST', headers, body: JSON.stringify(body) });
    const json = await r.json();
    if (!r.ok) throw new Error(`${route}: ${r.status} ${json.error}`);
    return json;
  };
  const s = await post('api/playground', { dataset: 'xor', seed });
  const me = { session: s.session, run: s.run, frames: 0, epoch: 0, first: null, last: null };
  const controller = new AbortController();
  const response = await fetch(`${url}api/stream?session=${s.session}`, { signal: controller.signal });
  await post('api/control', { action: 'play' }, s.session);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const stopAt = setTimeout(() => controller.abort(), until - Date.now());
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) { lost.push(`${me.session}: the stream ended`); break; }
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = (message.match(/^event: (.*)$/m) || [])[1];
        const data = message.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (event === 'frame') {
          // The run and epoch lead the frame's JSON: reading only them keeps this one
          // client thread ahead of 30 streams (a client that falls behind sees old
          // frames queued in its socket, not the server's pace).
          const head = data.slice(0, 80).match(/^\{"run":(\d+),"epoch":(\d+)/);
          if (!head) { lost.push(`${me.session}: a frame that is not JSON`); continue; }
          const f = { run: Number(head[1]), epoch: Number(head[2]) };
          if (f.run !== me.run) lost.push(`${me.session}: a frame of run ${f.run}`);
          if (f.epoch > 0) {
            me.frames += 1;
            me.epoch = f.epoch;
            if (me.first === null) { me.first = Date.now(); me.firstEpoch = f.epoch; }
            me.last = Date.now();
          }
        } else if (event === 'expired' || event === 'train-error') {
          lost.push(`${me.session}: ${event} ${data}`);
        }
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') lost.push(`${me.session}: ${e.message}`);
  } finally {
    clearTimeout(stopAt);
  }
  if (me.frames === 0) lost.push(`${me.session}: no frame`);
  // The server's own count: a new stream's first event is the session's current frame.
  const fresh = new AbortController();
  const again = await fetch(`${url}api/stream?session=${s.session}`, { signal: fresh.signal });
  const first = again.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (!/"epoch":\d+,/.test(text)) {
    const { value, done } = await first.read();
    if (done) break;
    text += value;
  }
  fresh.abort();
  me.serverEpoch = Number((text.match(/"epoch":(\d+),/) || [0, 0])[1]);
  me.serverAt = Date.now();
  await post('api/control', { action: 'pause' }, s.session);
  return me;
}

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const { child, url } = await start();
try {
  console.log(`glassbox playground ${flags.join(' ')} — ${seconds} s per level, xor (400 points, 2-8-8-2 tanh, adam), 1 epoch per frame`);
  console.log('sessions  frames/s per tab (min / median / max)  epochs/s per tab (min / max)  RSS MiB (now / peak)  lost');
  for (const n of levels) {
    const lost = [];
    const until = Date.now() + seconds * 1000;
    const tabs = await Promise.all(Array.from({ length: n }, (_, k) => tab(url, k + 1, until, lost)));
    // Rates over each tab's own time from its first frame to its last (the tabs start
    // one after another while the others already play).
    const span = (t) => Math.max(1e-3, (t.last - t.first) / 1000);
    const fps = tabs.map((t) => (t.frames - 1) / span(t));
    const epochs = tabs.map((t) => (t.serverEpoch - t.firstEpoch) / Math.max(1e-3, (t.serverAt - t.first) / 1000));
    if (process.env.DEBUG) console.log(tabs.map((t, k) => `${k}:${epochs[k].toFixed(1)}`).join(" "));
    const m = rss(child.pid);
    console.log(`${String(n).padStart(8)}  ${Math.min(...fps).toFixed(1).padStart(8)} / ${median(fps).toFixed(1)} / ${Math.max(...fps).toFixed(1)}`.padEnd(50)
      + `${Math.min(...epochs).toFixed(1)} / ${Math.max(...epochs).toFixed(1)}`.padEnd(28) + `${m.now.toFixed(0)} / ${m.hwm.toFixed(0)}`.padEnd(22) + (lost.length ? lost.slice(0, 3).join('; ') : 'none'));
    if (lost.length) process.exitCode = 1;
    // Let the paused-by-disconnect sessions be: they are idle and freed later.
  }
} finally {
  child.kill('SIGINT');
}
