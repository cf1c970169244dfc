// glassbox playground — the page. It draws what the server computes and sends the
// settings back; no arithmetic of the network happens here (forward passes, training
// and explanations all run in the server, in the glassbox library).
'use strict';

const $ = (id) => document.getElementById(id);
const FEATURES = [
  ['x1', 'x₁'], ['x2', 'x₂'], ['x1-squared', 'x₁²'], ['x2-squared', 'x₂²'],
  ['x1-x2', 'x₁x₂'], ['sin-x1', 'sin x₁'], ['sin-x2', 'sin x₂'],
];
const ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'identity', 'leaky-relu', 'step'];
const CLASS_COLOURS = ['#f59322', '#0877bd', '#3a9a3a', '#b23ab2', '#c8342c', '#7a6a2a', '#2ab2b2', '#555', '#e377c2', '#8c564b'];
const MAX_LAYERS = 10;
const MAX_NEURONS = 64;

// ---------------------------------------------------------------------------------
// Errors: one box, one message.

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.classList.remove('hidden');
}
function clearError() {
  $('error').classList.add('hidden');
  $('error').textContent = '';
}

// This tab's session: made by the server on the first settings it receives, kept in
// this page's memory only (a new tab, or a reload, gets a session of its own), and sent
// with every request and the stream.
let sessionId = null;
let serverId = null;

async function api(path, body) {
  let response;
  const headers = { 'Content-Type': 'application/json' };
  if (sessionId) headers['x-glassbox-session'] = sessionId;
  try {
    response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  } catch (e) {
    throw new Error('cannot reach the glassbox server (is it still running?)');
  }
  let json;
  try {
    json = await response.json();
  } catch (e) {
    throw new Error(`the server answered ${response.status} without JSON`);
  }
  if (response.status === 410 || response.status === 503) {
    sessionGone(json.error || `the server answered ${response.status}`, response.status === 503 ? 'refused' : 'expired');
  }
  if (!response.ok) throw new Error(json.error || `the server answered ${response.status}`);
  return json;
}

// The session is over (expired, refused, or the server restarted): nothing runs, so
// nothing may look as if it did. The tab says why and offers to start again.
function sessionGone(message, kind) {
  if (stream) { stream.close(); stream = null; }
  setPlaying(false);
  sessionId = null;
  for (const id of ['play', 'step', 'reset']) $(id).disabled = true;
  $('session-message').textContent = message;
  const box = $('session');
  box.dataset.kind = kind;
  box.classList.remove('hidden');
}

function startAgain() {
  $('session').classList.add('hidden');
  for (const id of ['play', 'step', 'reset']) $(id).disabled = false;
  clearError();
  imageModel = null;
  applyConfig();
}

// ---------------------------------------------------------------------------------
// Settings, kept in the URL so that a setting can be shared and a seeded run repeated.

const DEFAULTS = {
  dataset: 'xor', points: 400, noise: 0.05, test_ratio: 0.5,
  features: ['x1', 'x2'],
  layers: [{ neurons: 8, activation: 'tanh' }, { neurons: 8, activation: 'tanh' }],
  loss: 'cross-entropy', optimizer: 'adam', learning_rate: 0.03, batch_size: 10,
  l2: 0, dropout: 0, seed: 1, epochs_per_frame: 1,
};
let config = structuredClone(DEFAULTS);
let csvText = null;

function readUrl() {
  const q = new URLSearchParams(location.search);
  const c = structuredClone(DEFAULTS);
  const num = (k, key) => { if (q.has(k) && q.get(k) !== '' && !isNaN(Number(q.get(k)))) c[key] = Number(q.get(k)); };
  if (q.has('dataset')) c.dataset = q.get('dataset');
  num('points', 'points'); num('noise', 'noise'); num('test', 'test_ratio');
  num('lr', 'learning_rate'); num('batch', 'batch_size'); num('l2', 'l2');
  num('dropout', 'dropout'); num('seed', 'seed'); num('speed', 'epochs_per_frame');
  if (q.has('loss')) c.loss = q.get('loss');
  if (q.has('opt')) c.optimizer = q.get('opt');
  if (q.has('features')) c.features = q.get('features').split(',').filter((f) => f);
  if (q.has('layers')) {
    c.layers = q.get('layers') === '' ? [] : q.get('layers').split(',').map((s) => {
      const [n, a] = s.split(':');
      return { neurons: Number(n), activation: a || 'tanh' };
    });
  }
  return c;
}

function writeUrl() {
  const q = new URLSearchParams({
    dataset: config.dataset, points: config.points, noise: config.noise, test: config.test_ratio,
    features: config.features.join(','),
    layers: config.layers.map((l) => `${l.neurons}:${l.activation}`).join(','),
    loss: config.loss, opt: config.optimizer, lr: config.learning_rate, batch: config.batch_size,
    l2: config.l2, dropout: config.dropout, seed: config.seed, speed: config.epochs_per_frame,
  });
  history.replaceState(null, '', `${location.pathname}?${q}`);
}

const FIELDS = [
  ['dataset', 'dataset', String], ['points', 'points', Number], ['noise', 'noise', Number],
  ['test-ratio', 'test_ratio', Number], ['loss', 'loss', String], ['optimizer', 'optimizer', String],
  ['learning-rate', 'learning_rate', Number], ['batch-size', 'batch_size', Number],
  ['l2', 'l2', Number], ['dropout', 'dropout', Number], ['seed', 'seed', Number],
  ['epochs-per-frame', 'epochs_per_frame', Number],
];

function showConfig() {
  for (const [id, key] of FIELDS) $(id).value = config[key];
  for (const [name] of FEATURES) $(`feature-${name}`).checked = config.features.includes(name);
  const acts = new Set(config.layers.map((l) => l.activation));
  if (acts.size === 1) $('activation').value = [...acts][0];
  $('layer-count').textContent = config.layers.length;
}

// ---------------------------------------------------------------------------------
// Session: send the settings, receive the points; frames arrive on the stream.

let summary = null;   // the current run's points, classes, sizes
let session = 0;      // the run (settings or reset) within this tab's session
let playing = false;
let lastFrame = null;
let selected = null;  // [layer, neuron] shown in the inspector

async function applyConfig() {
  writeUrl();
  setPlaying(false);
  const body = { ...config, csv: config.dataset === 'csv' ? csvText : null };
  try {
    const s = await api('/api/playground', body);
    clearError();
    summary = s;
    session = s.run;
    const fresh = s.session !== sessionId;
    sessionId = s.session;
    serverId = s.server;
    if (fresh || !stream) connect();
    lastFrame = null;
    $('point').max = s.train.length - 1;
    if (Number($('point').value) >= s.train.length) $('point').value = 0;
    layoutNetwork();
    drawRegion();
    if (earlyFrame && earlyFrame.run === session) drawFrame(earlyFrame);
    earlyFrame = null;
    if (selected) inspect(selected[0], selected[1]);
  } catch (e) {
    showError(e.message);
  }
}

// A small inline SVG icon (a font glyph such as ⏸ is missing from many fonts).
const ICONS = {
  play: 'M4 2 L14 8 L4 14 Z',
  pause: 'M3 2 H7 V14 H3 Z M9 2 H13 V14 H9 Z',
  reset: 'M8 2 A6 6 0 1 1 2.6 5.2 L1 4 L1 9 L6 9 L4.3 7.2 A4 4 0 1 0 8 4 Z',
};
function setButton(button, icon, text) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '12');
  svg.setAttribute('height', '12');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[icon]);
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  button.replaceChildren(svg, ` ${text}`);
}

function setPlaying(on) {
  playing = on;
  setButton($('play'), on ? 'pause' : 'play', on ? 'Pause' : 'Play');
  $('play').setAttribute('aria-pressed', String(on));
  showFps();
}

// Frames drawn in the last second while playing; a dash when nothing plays.
function showFps() {
  const now = performance.now();
  while (drawnAt.length && drawnAt[0] < now - 1000) drawnAt.shift();
  $('fps').textContent = playing ? String(drawnAt.length) : '–';
}

async function act(action) {
  try {
    const r = await api('/api/control', { action });
    if (action === 'reset') {
      session = r.run;
      lastFrame = null;
      if (earlyFrame && earlyFrame.run === session) drawFrame(earlyFrame);
      earlyFrame = null;
    }
    if (!$('error').dataset.sticky) clearError();
    return true;
  } catch (e) {
    showError(e.message);
    return false;
  }
}

// ---------------------------------------------------------------------------------
// The network drawing: neurons as small canvases (heat maps), links on one canvas.

let positions = [];   // per column (inputs, hidden…, output): [{x, y}] centres
let neuronSize = 32;

function layoutNetwork() {
  const net = $('net');
  const box = $('neurons');
  box.replaceChildren();
  const sizes = summary.sizes; // input width, then every layer's neurons
  const width = net.clientWidth;
  const height = net.clientHeight;
  const widest = Math.max(...sizes);
  neuronSize = Math.max(8, Math.min(40, Math.floor((height - 20) / widest) - 4));
  const left = 70;
  const step = (width - left - 40) / Math.max(1, sizes.length - 1);
  positions = sizes.map((n, c) => {
    const gap = (height - n * neuronSize) / (n + 1);
    return Array.from({ length: n }, (_, j) => ({
      x: left + c * step,
      y: gap + j * (neuronSize + gap) + neuronSize / 2,
    }));
  });
  positions.forEach((column, c) => column.forEach((p, j) => {
    const canvas = document.createElement('canvas');
    canvas.width = summary.grid;
    canvas.height = summary.grid;
    canvas.style.width = `${neuronSize}px`;
    canvas.style.height = `${neuronSize}px`;
    canvas.style.left = `${p.x - neuronSize / 2}px`;
    canvas.style.top = `${p.y - neuronSize / 2}px`;
    if (c === 0) {
      canvas.className = 'input';
      canvas.title = summary.features[j];
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `input ${summary.features[j]} over the plane`);
      const label = document.createElement('div');
      label.className = 'feature-label';
      label.textContent = summary.features[j];
      label.style.left = `${p.x - neuronSize / 2 - 68}px`;
      label.style.top = `${p.y - 8}px`;
      box.append(label);
    } else {
      const layer = c - 1;
      const last = c === sizes.length - 1;
      canvas.dataset.testid = 'neuron';
      canvas.setAttribute('data-testid', 'neuron');
      canvas.dataset.layer = layer;
      canvas.dataset.neuron = j;
      canvas.title = last ? `output neuron ${j + 1} (class ${summary.classes[j]})` : `layer ${layer + 1}, neuron ${j + 1}`;
      canvas.tabIndex = 0;
      canvas.setAttribute('role', 'button');
      canvas.setAttribute('aria-label', `${canvas.title}: its output over the plane; press Enter for one step of its arithmetic`);
      canvas.addEventListener('click', () => inspect(layer, j));
      canvas.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); inspect(layer, j); } });
    }
    canvas.id = `n-${c}-${j}`;
    box.append(canvas);
  }));
  const links = $('links');
  links.width = width;
  links.height = height;
  layoutLayerControls(step, left);
  markSelected();
}

function layoutLayerControls(step, left) {
  const box = $('layer-controls');
  box.replaceChildren();
  config.layers.forEach((layer, l) => {
    const div = document.createElement('div');
    div.className = 'layer-control';
    div.style.left = `${left + (l + 1) * step - 48}px`;
    const row = document.createElement('div');
    const minus = document.createElement('button');
    minus.textContent = '−';
    minus.title = `one neuron fewer in layer ${l + 1}`;
    minus.setAttribute('aria-label', minus.title);
    minus.addEventListener('click', () => { if (layer.neurons > 1) { layer.neurons -= 1; applyConfig(); } });
    const plus = document.createElement('button');
    plus.textContent = '+';
    plus.title = `one neuron more in layer ${l + 1}`;
    plus.setAttribute('aria-label', plus.title);
    plus.addEventListener('click', () => { if (layer.neurons < MAX_NEURONS) { layer.neurons += 1; applyConfig(); } });
    const count = document.createElement('span');
    count.textContent = ` ${layer.neurons} `;
    row.append(minus, count, plus);
    const select = document.createElement('select');
    select.className = 'layer-activation';
    select.setAttribute('aria-label', `activation of hidden layer ${l + 1}`);
    for (const a of ACTIVATIONS) select.append(new Option(a, a, false, a === layer.activation));
    select.addEventListener('change', () => { layer.activation = select.value; applyConfig(); });
    div.append(row, select);
    box.append(div);
  });
}

// Diverging colour for a value: orange (−1) → white (0) → blue (+1).
function colour(v) {
  const t = Math.max(-1, Math.min(1, v));
  const [r0, g0, b0] = t < 0 ? [245, 147, 34] : [8, 119, 189];
  const s = Math.abs(t);
  return [255 + (r0 - 255) * s, 255 + (g0 - 255) * s, 255 + (b0 - 255) * s];
}

function decode(b64) {
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

// One neuron's heat map: its bytes index a 256-colour table made for its range, so a
// frame costs 256 colour computations per neuron, not one per grid point.
function drawHeatMap(canvas, map) {
  const ctx = canvas.getContext('2d');
  const n = summary.grid;
  const image = ctx.createImageData(n, n);
  const bytes = decode(map.data);
  const span = map.max - map.min;
  const table = new Uint32Array(256);
  for (let q = 0; q < 256; q++) {
    const [r, g, b] = colour(map.min + (q / 255) * span);
    table[q] = (255 << 24) | (Math.round(b) << 16) | (Math.round(g) << 8) | Math.round(r); // RGBA, little-endian
  }
  const pixels = new Uint32Array(image.data.buffer);
  for (let i = 0; i < n * n; i++) pixels[i] = table[bytes[i]];
  ctx.putImageData(image, 0, 0);
}

// Links are grouped by sign and by width (in steps of 0.5 px), one path per group: a
// few dozen strokes a frame instead of one per weight (8 × 32 × 32 = 8 192 for the
// biggest network the page promises).
function drawLinks(frame) {
  const canvas = $('links');
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const half = neuronSize / 2;
  const groups = new Map();
  frame.layers.forEach((layer, l) => {
    const from = positions[l];
    const to = positions[l + 1];
    const inputs = from.length;
    for (let j = 0; j < to.length; j++) {
      for (let i = 0; i < inputs; i++) {
        const w = layer.weights[j * inputs + i];
        const width = Math.round(2 * Math.min(5, 0.3 + Math.abs(w) * 1.2)) / 2;
        const key = `${w >= 0 ? '+' : '-'}${width}`;
        let path = groups.get(key);
        if (!path) { path = new Path2D(); groups.set(key, path); }
        path.moveTo(from[i].x + half, from[i].y);
        path.lineTo(to[j].x - half, to[j].y);
      }
    }
  });
  for (const [key, path] of groups) {
    ctx.strokeStyle = key[0] === '+' ? 'rgba(8,119,189,0.7)' : 'rgba(245,147,34,0.7)';
    ctx.lineWidth = Math.max(0.3, Number(key.slice(1)));
    ctx.stroke(path);
  }
}

// The weight under the pointer, for the tooltip: the nearest link within 4 px.
function linkAt(x, y) {
  if (!lastFrame) return null;
  const half = neuronSize / 2;
  let best = null;
  let bestDistance = 4;
  lastFrame.layers.forEach((layer, l) => {
    const from = positions[l];
    const to = positions[l + 1];
    if (x < from[0].x + half || x > to[0].x - half) return;
    for (let j = 0; j < to.length; j++) {
      for (let i = 0; i < from.length; i++) {
        const ax = from[i].x + half, ay = from[i].y, bx = to[j].x - half, by = to[j].y;
        const t = Math.max(0, Math.min(1, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)));
        const d = Math.hypot(x - (ax + t * (bx - ax)), y - (ay + t * (by - ay)));
        if (d < bestDistance) {
          bestDistance = d;
          best = { l, i, j, w: layer.weights[j * from.length + i] };
        }
      }
    }
  });
  return best;
}

function drawRegion() {
  const canvas = $('region');
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!summary) return;
  if (lastFrame) {
    const n = summary.grid;
    const small = document.createElement('canvas');
    small.width = n;
    small.height = n;
    const sctx = small.getContext('2d');
    const image = sctx.createImageData(n, n);
    const region = decode(lastFrame.region);
    const confidence = decode(lastFrame.confidence);
    for (let i = 0; i < n * n; i++) {
      const hex = CLASS_COLOURS[region[i] % CLASS_COLOURS.length];
      const a = 0.15 + 0.6 * (confidence[i] / 255);
      image.data[4 * i] = 255 + (parseInt(hex.slice(1, 3), 16) - 255) * a;
      image.data[4 * i + 1] = 255 + (parseInt(hex.slice(3, 5), 16) - 255) * a;
      image.data[4 * i + 2] = 255 + (parseInt(hex.slice(5, 7), 16) - 255) * a;
      image.data[4 * i + 3] = 255;
    }
    sctx.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  }
  const e = summary.extent;
  const toPx = (x, y) => [((x + e) / (2 * e)) * canvas.width, ((e - y) / (2 * e)) * canvas.height];
  const dot = ([x, y, c], stroke) => {
    const [px, py] = toPx(x, y);
    ctx.beginPath();
    ctx.arc(px, py, 3.2, 0, 2 * Math.PI);
    ctx.fillStyle = CLASS_COLOURS[c % CLASS_COLOURS.length];
    ctx.fill();
    ctx.strokeStyle = stroke;
    ctx.lineWidth = 1;
    ctx.stroke();
  };
  for (const p of summary.train) dot(p, '#fff');
  if ($('show-test').checked) for (const p of summary.test) dot(p, '#000');
  const chosen = summary.train[Number($('point').value)];
  if (chosen) {
    const [px, py] = toPx(chosen[0], chosen[1]);
    ctx.beginPath();
    ctx.arc(px, py, 7, 0, 2 * Math.PI);
    ctx.strokeStyle = '#183d4e';
    ctx.lineWidth = 2.5;
    ctx.stroke();
  }
}

// The loss chart: train loss dashed blue, test loss solid black, with its scale.
function drawChart(frame) {
  const h = frame.history;
  drawLines($('chart'), [
    { points: h.map(([e, train]) => [e, train]), colour: SERIES.train, width: 1.5, dash: [5, 3] },
    { points: h.map(([e, , test]) => [e, test]), colour: SERIES.test, width: 1.5 },
  ], { fromZero: true, left: 40 });
}

const pct = (v) => (v === null || v === undefined ? '–' : `${(100 * v).toFixed(1)}%`);
const num = (v) => (v === null || v === undefined ? '–' : v.toFixed(4));

// Frames drawn in the last second, for the frames/s figure.
const drawnAt = [];
window.glassbox = { framesDrawn: 0 };

// A frame can arrive before the answer that names its session: it waits here.
let earlyFrame = null;

function drawFrame(frame) {
  if (!summary || frame.run !== session) {
    if (frame.run > session) earlyFrame = frame;
    return;
  }
  lastFrame = frame;
  frame.maps.forEach((column, c) => column.forEach((map, j) => {
    const canvas = $(`n-${c}-${j}`);
    if (canvas) drawHeatMap(canvas, map);
  }));
  drawLinks(frame);
  drawRegion();
  drawChart(frame);
  $('epoch').textContent = frame.epoch;
  $('test-accuracy').textContent = pct(frame.test_accuracy);
  $('train-accuracy').textContent = pct(frame.train_accuracy);
  $('test-loss').textContent = num(frame.test_loss);
  $('train-loss').textContent = num(frame.train_loss);
  if (playing) drawnAt.push(performance.now());
  showFps();
  window.glassbox.framesDrawn += 1;
  if (selected && !playing) inspect(selected[0], selected[1]);
}

// ---------------------------------------------------------------------------------
// Look inside one step: the clicked neuron's numbers for the chosen training point.

function markSelected() {
  document.querySelectorAll('#neurons canvas.selected').forEach((c) => c.classList.remove('selected'));
  if (selected) {
    const c = $(`n-${selected[0] + 1}-${selected[1]}`);
    if (c) c.classList.add('selected');
  }
}

let inspecting = false;
async function inspect(layer, neuron) {
  selected = [layer, neuron];
  markSelected();
  if (inspecting) return;
  inspecting = true;
  try {
    const point = Number($('point').value);
    const r = await api('/api/explain', { point });
    const trace = r.trace.layers[layer];
    if (!trace || neuron >= trace.activations.length) { selected = null; $('inspect').classList.add('hidden'); return; }
    renderInspector(r, layer, neuron, trace);
  } catch (e) {
    showError(e.message);
  } finally {
    inspecting = false;
  }
}

function renderInspector(r, layer, j, t) {
  const box = $('inspect');
  box.replaceChildren();
  const last = layer === r.trace.layers.length - 1;
  const names = layer === 0 ? summary.features : t.input.map((_, i) => `a${sup(layer)}${sub(i + 1)}`);
  const h = document.createElement('h3');
  h.textContent = `${last ? 'Output' : `Layer ${layer + 1}`}, neuron ${j + 1} — training point ${r.point} at (${r.xy[0].toFixed(3)}, ${r.xy[1].toFixed(3)}), class ${r.class}`;
  const w = t.weights[j];
  const terms = t.input.map((x, i) => ({ i, x, w: w[i], wx: w[i] * x, g: t.grad_weights[j][i], nw: t.new_weights[j][i] }));
  terms.sort((a, b) => Math.abs(b.wx) - Math.abs(a.wx));
  // Numbers as written by hand: a true minus sign, a negative factor in brackets
  // ("(−0.75)·(−0.60)"), and a negative term subtracted ("− 1.65", not "+ -1.65").
  const magnitude = (v) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-4) ? Math.abs(v).toExponential(3) : Math.abs(v).toFixed(4));
  const f = (v) => `${v < 0 ? '−' : ''}${magnitude(v)}`;
  const factor = (v) => (v < 0 ? `(${f(v)})` : f(v));
  const plus = (v) => `${v < 0 ? '−' : '+'} ${magnitude(v)}`;
  const shown = terms.slice(0, 12);
  const sum = shown.map((s) => `${factor(s.w)}·${factor(s.x)}`).join(' + ') + (terms.length > shown.length ? ` + … (${terms.length - shown.length} smaller terms)` : '');
  const lines = [
    `z = Σ wᵢxᵢ + b = ${sum} ${plus(t.biases[j])} = ${f(t.weighted_sums[j])}`,
    `a = ${t.activation.name}(z) = ${f(t.activations[j])}`,
    `δ = ∂C/∂z = ${f(t.delta[j])}      ∂C/∂b = δ = ${f(t.grad_biases[j])}      loss of this point C = ${f(r.trace.loss)}`,
    r.optimizer === 'sgd'
      ? `b ← b − η·∂C/∂b = ${f(t.biases[j])} − ${+r.trace.learning_rate.toPrecision(6)}·${factor(t.grad_biases[j])} = ${f(t.new_biases[j])}`
      : `b ← ${r.optimizer}'s first step from b = ${f(t.biases[j])}: ${f(t.new_biases[j])}`,
  ];
  const formulas = lines.map((text) => { const p = document.createElement('div'); p.className = 'formula'; p.textContent = text; return p; });
  const table = document.createElement('table');
  const head = table.insertRow();
  const step = r.optimizer === 'sgd' ? 'new wᵢ = wᵢ − η·∂C/∂wᵢ' : `new wᵢ (${r.optimizer})`;
  for (const title of ['input', 'xᵢ', 'wᵢ', 'wᵢxᵢ', '∂C/∂wᵢ = δ·xᵢ', step]) {
    const th = document.createElement('th'); th.textContent = title; head.append(th);
  }
  for (const s of terms) {
    const row = table.insertRow();
    for (const [v, signed] of [[names[s.i], false], [f(s.x), false], [f(s.w), true], [f(s.wx), true], [f(s.g), false], [f(s.nw), false]]) {
      const cell = row.insertCell();
      cell.textContent = v;
      if (signed) cell.className = v.startsWith('-') ? 'neg' : 'pos';
    }
  }
  const note = document.createElement('p');
  note.className = 'note';
  note.textContent = `Exact numbers from glassbox::explain on the current weights: one forward pass, back-propagation and the first step that training's own ${r.optimizer} update (η = ${+r.trace.learning_rate.toPrecision(6)}) would take from this one point's gradient. Terms are sorted by |wᵢxᵢ|.`;
  const close = document.createElement('button');
  close.textContent = 'close';
  close.addEventListener('click', () => { selected = null; markSelected(); box.classList.add('hidden'); });
  box.append(h, ...formulas, table, note, close);
  box.classList.remove('hidden');
}

// Superscript digits: a¹₃ is neuron 3's activation in layer 1 (as the CLI's explain writes it).
function sup(n) {
  return String(n).replace(/[0-9]/g, (d) => '⁰¹²³⁴⁵⁶⁷⁸⁹'[d]);
}

function sub(n) {
  return String(n).split('').map((d) => '₀₁₂₃₄₅₆₇₈₉'[Number(d)]).join('');
}

// ---------------------------------------------------------------------------------
// The live stream.

let stream = null;

function connect() {
  if (stream) stream.close();
  const source = new EventSource(`/api/stream?session=${encodeURIComponent(sessionId)}`);
  stream = source;
  let lost = false;
  source.addEventListener('frame', (e) => {
    if (lost) { lost = false; clearError(); }
    drawFrame(JSON.parse(e.data));
  });
  source.addEventListener('train-error', (e) => {
    const m = JSON.parse(e.data);
    if (m.run === session) {
      setPlaying(false);
      showError(m.error);
    }
  });
  source.addEventListener('expired', (e) => sessionGone(JSON.parse(e.data).error, 'expired'));
  source.addEventListener('open', () => {
    if (lost) { lost = false; clearError(); }
  });
  source.addEventListener('error', async () => {
    if (stream !== source) return;
    lost = true;
    // Training may go on in the server, but this page cannot see it: it does not play.
    setPlaying(false);
    if (source.readyState !== EventSource.CLOSED) {
      showError('lost the connection to the glassbox server; retrying… (is `glassbox playground` still running?)');
      return;
    }
    // The server answered, but refused the stream: ask it why.
    try {
      const headers = sessionId ? { 'x-glassbox-session': sessionId } : {};
      const state = await (await fetch('/api/session', { headers })).json();
      if (state.server !== serverId) sessionGone('the glassbox server restarted: this tab\'s network is gone; start again for a new one', 'restarted');
      else if (!state.alive) sessionGone('this session is gone (it was idle too long and was freed); start again for a new one', 'expired');
      else connect();
    } catch (e) {
      showError('lost the connection to the glassbox server (is `glassbox playground` still running?)');
    }
  });
}

// ---------------------------------------------------------------------------------
// Wiring.

function setUp2d() {
  const box = $('features');
  for (const [name, label] of FEATURES) {
    const l = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.id = `feature-${name}`;
    input.addEventListener('change', () => {
      config.features = FEATURES.map(([n]) => n).filter((n) => $(`feature-${n}`).checked);
      applyConfig();
    });
    l.append(input, ` ${label}`);
    box.append(l);
  }
  for (const [id, key, type] of FIELDS) {
    $(id).addEventListener('change', () => {
      config[key] = type($(id).value);
      applyConfig();
    });
  }
  $('activation').addEventListener('change', () => {
    for (const layer of config.layers) layer.activation = $('activation').value;
    applyConfig();
  });
  $('add-layer').addEventListener('click', () => {
    if (config.layers.length >= MAX_LAYERS) return showError(`the page draws at most ${MAX_LAYERS} hidden layers`);
    const last = config.layers[config.layers.length - 1];
    config.layers.push({ neurons: last ? last.neurons : 4, activation: last ? last.activation : $('activation').value });
    showConfig();
    applyConfig();
  });
  $('remove-layer').addEventListener('click', () => {
    if (config.layers.length === 0) return;
    config.layers.pop();
    showConfig();
    applyConfig();
  });
  $('csv-file').addEventListener('change', async () => {
    const file = $('csv-file').files[0];
    if (!file) return;
    if (file.size > 1024 * 1024) return showError(`${file.name} has ${file.size} bytes: the limit is 1 MiB (1048576 bytes)`);
    csvText = await file.text();
    config.dataset = 'csv';
    showConfig();
    applyConfig();
  });
  $('play').addEventListener('click', async () => {
    if (playing) { setPlaying(false); await act('pause'); return; }
    if (await act('play')) setPlaying(true);
  });
  $('step').addEventListener('click', async () => { setPlaying(false); await act('step'); });
  $('reset').addEventListener('click', async () => { setPlaying(false); await act('reset'); });
  $('show-test').addEventListener('change', drawRegion);
  $('session-restart').addEventListener('click', startAgain);
  setButton($('reset'), 'reset', 'Reset');
  setPlaying(false);
  setInterval(showFps, 500);
  $('point').addEventListener('change', () => { drawRegion(); if (selected) inspect(selected[0], selected[1]); });
  $('region').addEventListener('click', (e) => {
    if (!summary) return;
    const r = $('region').getBoundingClientRect();
    const ex = summary.extent;
    const x = ((e.clientX - r.left) / r.width) * 2 * ex - ex;
    const y = ex - ((e.clientY - r.top) / r.height) * 2 * ex;
    let best = 0;
    summary.train.forEach((p, i) => {
      const b = summary.train[best];
      if (Math.hypot(p[0] - x, p[1] - y) < Math.hypot(b[0] - x, b[1] - y)) best = i;
    });
    $('point').value = best;
    drawRegion();
    if (selected) inspect(selected[0], selected[1]);
  });
  $('net').addEventListener('mousemove', (e) => {
    const r = $('net').getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const hit = linkAt(x, y);
    const tip = $('tooltip');
    if (!hit) { tip.classList.add('hidden'); return; }
    const from = hit.l === 0 ? summary.features[hit.i] : `layer ${hit.l} neuron ${hit.i + 1}`;
    const to = hit.l === lastFrame.layers.length - 1 ? `output ${hit.j + 1}` : `layer ${hit.l + 1} neuron ${hit.j + 1}`;
    tip.textContent = `w = ${hit.w.toFixed(4)}  (${from} → ${to})`;
    tip.style.left = `${x + 12}px`;
    tip.style.top = `${y + 12}px`;
    tip.classList.remove('hidden');
  });
  $('net').addEventListener('mouseleave', () => $('tooltip').classList.add('hidden'));
}

const VIEW_HOOKS = {};

function showView(name) {
  for (const tab of document.querySelectorAll('nav .tab')) {
    const on = tab.dataset.view === name;
    tab.classList.toggle('active', on);
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  for (const view of document.querySelectorAll('.view')) view.classList.toggle('hidden', view.id !== `view-${name}`);
  if (name === '2d' && summary) layoutNetwork();
  const hook = VIEW_HOOKS[name];
  if (hook) hook();
  // Views defined in other files (lessons.js) hear of it too.
  document.dispatchEvent(new CustomEvent('glassbox:view', { detail: name }));
}


// ---------------------------------------------------------------------------------
// The image classifier: draw, or pick a test image; the server runs the network.

let imageModel = null;       // the summary of the model being shown
let imagePrediction = null;  // the latest prediction
let selectedWeight = null;   // the first-layer neuron shown in detail
let predicting = false;
let predictAgain = null;     // pixels drawn while a prediction was in flight
let canvasTest = null;       // the test image on the drawing canvas (null: a drawing)

async function imageTrain() {
  const hidden = $('image-hidden').value.split(',').map((t) => t.trim()).filter((t) => t).map(Number);
  if (hidden.some((n) => !Number.isInteger(n) || n < 1)) return showError(`hidden layers "${$('image-hidden').value}": give widths such as 128 or 256,128`);
  $('image-source').textContent = 'training…';
  try {
    showModel(await api('/api/image/train', { dataset: $('image-dataset').value, hidden, epochs: Number($('image-epochs').value) }));
  } catch (e) {
    $('image-source').textContent = '';
    showError(e.message);
  }
}

async function imageOpen() {
  const path = $('image-path').value.trim();
  if (!path) return showError('type the path of a model file that glassbox train saved');
  try {
    showModel(await api('/api/image/open', { path }));
  } catch (e) {
    showError(e.message);
  }
}

function showModel(summary) {
  clearError();
  imageModel = summary;
  imagePrediction = null;
  selectedWeight = null;
  $('image-source').textContent = `${summary.sizes.join('-')} (${summary.activations.join(', ')}), ${summary.source}`;
  $('prediction').textContent = '–';
  $('truth').textContent = '';
  $('latency').textContent = '';
  $('probabilities').replaceChildren();
  $('activation-grids').replaceChildren();
  $('weight-detail').replaceChildren();
  $('test-index').max = Math.max(0, summary.test_images - 1);
  drawWeightImages();
  drawConfusion();
  // Something to see at once: the drawing if there is one, else the test image shown
  // (or the first one), with its true class.
  const pixels = canvasTest === null ? drawnPixels() : null;
  if (pixels) predict(pixels);
  else if (summary.test_images > 0) showTestImage(Math.min(canvasTest || 0, summary.test_images - 1));
}

// Draws `values` (h × w × channels, 0–1) on `canvas`, grey (channels averaged).
function paintGrey(canvas, values, shape) {
  const { height: h, width: w, channels: c } = shape;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    let v = 0;
    for (let k = 0; k < c; k++) v += values[i * c + k];
    v = Math.max(0, Math.min(1, v / c)) * 255;
    image.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
}

function drawWeightImages() {
  const box = $('weight-images');
  box.replaceChildren();
  const { height: h, width: w, channels: c } = imageModel.shape;
  imageModel.weight_images.forEach((wi, j) => {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    canvas.title = `neuron ${j + 1}: weights from ${wi.min.toFixed(3)} to ${wi.max.toFixed(3)}`;
    canvas.className = 'weight-image';
    const ctx = canvas.getContext('2d');
    const image = ctx.createImageData(w, h);
    const bytes = decode(wi.data);
    const scale = Math.max(Math.abs(wi.min), Math.abs(wi.max)) || 1;
    for (let i = 0; i < h * w; i++) {
      let v = 0;
      for (let k = 0; k < c; k++) v += wi.min + (bytes[i * c + k] / 255) * (wi.max - wi.min);
      image.data.set([...colour(v / c / scale), 255], 4 * i);
    }
    ctx.putImageData(image, 0, 0);
    canvas.tabIndex = 0;
    canvas.setAttribute('role', 'button');
    canvas.setAttribute('aria-label', canvas.title);
    canvas.addEventListener('click', () => { selectedWeight = j; showWeightDetail(); });
    canvas.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); selectedWeight = j; showWeightDetail(); } });
    box.append(canvas);
  });
}

function showWeightDetail() {
  const box = $('weight-detail');
  box.replaceChildren();
  document.querySelectorAll('#weight-images canvas').forEach((c, j) => c.classList.toggle('selected', j === selectedWeight));
  if (selectedWeight === null) return;
  const j = selectedWeight;
  const wi = imageModel.weight_images[j];
  const big = document.createElement('canvas');
  const source = $('weight-images').children[j];
  big.width = source.width;
  big.height = source.height;
  big.getContext('2d').drawImage(source, 0, 0);
  const lines = [`first-layer neuron ${j + 1}`, `weights ${wi.min.toFixed(4)} … ${wi.max.toFixed(4)} (blue +, orange −), b = ${wi.bias.toFixed(4)}`];
  if (imagePrediction) {
    lines.push(`for this image: z = Σ wᵢxᵢ + b = ${imagePrediction.weighted_sums[j].toFixed(4)}`);
    lines.push(`a = ${imageModel.activations[0]}(z) = ${imagePrediction.activations[0][j].toFixed(4)}`);
  } else {
    lines.push('draw or pick an image to see its weighted sum');
  }
  box.append(big, ...lines.map((t) => { const d = document.createElement('div'); d.textContent = t; return d; }));
}

function drawConfusion() {
  const box = $('confusion');
  box.replaceChildren();
  $('mistakes').replaceChildren();
  const m = imageModel.confusion;
  if (!m) {
    $('test-accuracy-image').textContent = '';
    box.textContent = 'No test set of these images and classes at hand.';
    return;
  }
  $('test-accuracy-image').textContent = `${(100 * m.accuracy).toFixed(2)}% of ${m.examples}`;
  const table = document.createElement('table');
  const head = table.insertRow();
  head.append(Object.assign(document.createElement('th'), { textContent: 'true ╲ predicted' }));
  for (const name of imageModel.classes) head.append(Object.assign(document.createElement('th'), { textContent: name, title: name, className: 'predicted', scope: 'col' }));
  m.counts.forEach((row, t) => {
    const tr = table.insertRow();
    tr.append(Object.assign(document.createElement('th'), { textContent: imageModel.classes[t], title: imageModel.classes[t], scope: 'row' }));
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((count, p) => {
      const td = tr.insertCell();
      td.textContent = count;
      const share = count / total;
      // Black text stays readable (contrast ≥ 4.5:1) on every shade up to 90% blue.
      td.style.background = t === p ? `rgba(8,119,189,${0.9 * share})` : `rgba(245,147,34,${Math.min(1, share * 4)})`;
      td.style.color = '#000';
      if (t !== p && count > 0) {
        td.className = 'off';
        td.title = `${count} test images of ${imageModel.classes[t]} taken for ${imageModel.classes[p]}: click to see them`;
        td.tabIndex = 0;
        td.setAttribute('role', 'button');
        td.setAttribute('aria-label', td.title);
        td.addEventListener('click', () => showMistakes(t, p));
        td.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); showMistakes(t, p); } });
      }
    });
  });
  box.append(table);
}

async function showMistakes(truth, predicted) {
  const box = $('mistakes');
  box.replaceChildren();
  const title = document.createElement('p');
  title.textContent = `${imageModel.classes[truth]} taken for ${imageModel.classes[predicted]} (click one to run it):`;
  box.append(title);
  for (const index of imageModel.confusion.mistakes[truth][predicted]) {
    try {
      const t = await api('/api/image/test', { index });
      const canvas = document.createElement('canvas');
      paintGrey(canvas, t.pixels, imageModel.shape);
      canvas.title = `test image ${index}, a ${t.class}`;
      canvas.addEventListener('click', () => showTestImage(index));
      box.append(canvas);
    } catch (e) {
      showError(e.message);
      return;
    }
  }
}

async function showTestImage(index) {
  if (!imageModel) return showError('no model yet: train one or open a model file first');
  try {
    const t = await api('/api/image/test', { index });
    $('test-index').value = index;
    $('truth').textContent = `test image ${index}: true class ${t.class}`;
    canvasTest = index;
    const small = document.createElement('canvas');
    paintGrey(small, t.pixels, imageModel.shape);
    const draw = $('draw').getContext('2d');
    draw.imageSmoothingEnabled = false;
    draw.fillStyle = '#000';
    draw.fillRect(0, 0, 280, 280);
    draw.drawImage(small, 0, 0, 280, 280);
    predict(t.pixels);
  } catch (e) {
    showError(e.message);
  }
}

// The drawing, cut to its ink, scaled and centred as the data set's images are, and
// averaged down to the model's pixels (0–1); null when nothing is drawn.
function drawnPixels() {
  if (!imageModel) return null;
  const { height: h, width: w, channels: c } = imageModel.shape;
  const source = $('draw');
  const data = source.getContext('2d').getImageData(0, 0, source.width, source.height).data;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -1, -1];
  for (let y = 0; y < source.height; y++) {
    for (let x = 0; x < source.width; x++) {
      if (data[4 * (y * source.width + x)] > 25) {
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return null;
  // MNIST-style images keep a margin (a 20-pixel box in 28); the 8×8 digits fill the box.
  const fill = h >= 20 ? 20 / 28 : 1;
  const k = 8; // each model pixel averages k × k samples
  const big = document.createElement('canvas');
  big.width = w * k;
  big.height = h * k;
  const ctx = big.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, big.width, big.height);
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const scale = Math.min((big.width * fill) / bw, (big.height * fill) / bh);
  const dw = bw * scale;
  const dh = bh * scale;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, x0, y0, bw, bh, (big.width - dw) / 2, (big.height - dh) / 2, dw, dh);
  const px = ctx.getImageData(0, 0, big.width, big.height).data;
  const pixels = new Array(h * w * c).fill(0);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) sum += px[4 * ((y * k + dy) * big.width + x * k + dx)];
      const v = sum / (k * k * 255);
      for (let ch = 0; ch < c; ch++) pixels[(y * w + x) * c + ch] = v;
    }
  }
  return pixels;
}

async function predict(pixels) {
  if (!imageModel) return;
  if (predicting) { predictAgain = pixels; return; }
  predicting = true;
  try {
    const started = performance.now();
    const r = await api('/api/image/predict', { pixels });
    const ms = performance.now() - started;
    window.glassbox.imageLatencies = [...(window.glassbox.imageLatencies || []), ms];
    imagePrediction = r;
    paintGrey($('seen'), pixels, imageModel.shape);
    $('prediction').textContent = r.prediction;
    $('latency').textContent = `${ms.toFixed(1)} ms round trip (${r.server_ms.toFixed(2)} ms in the server)`;
    drawProbabilities(r);
    drawActivationGrids(r);
    showWeightDetail();
  } catch (e) {
    showError(e.message);
  } finally {
    predicting = false;
    if (predictAgain) { const next = predictAgain; predictAgain = null; predict(next); }
  }
}

function drawProbabilities(r) {
  const box = $('probabilities');
  box.replaceChildren();
  r.probabilities.forEach((p, k) => {
    const row = document.createElement('div');
    row.className = k === r.class ? 'bar best' : 'bar';
    const name = document.createElement('span');
    name.textContent = imageModel.classes[k];
    const bar = document.createElement('div');
    bar.style.width = `${Math.max(1, 150 * Math.max(0, Math.min(1, p)))}px`;
    bar.setAttribute('role', 'presentation');
    const value = document.createElement('small');
    value.textContent = p.toFixed(3);
    row.append(name, bar, value);
    box.append(row);
  });
}

function drawActivationGrids(r) {
  const box = $('activation-grids');
  box.replaceChildren();
  window.glassbox.imageActive = [];
  r.activations.forEach((values, l) => {
    const n = values.length;
    const cols = Math.ceil(Math.sqrt(n));
    const rows = Math.ceil(n / cols);
    const cell = Math.max(6, Math.min(24, Math.floor(360 / cols)));
    const canvas = document.createElement('canvas');
    canvas.width = cols * cell;
    canvas.height = rows * cell;
    const ctx = canvas.getContext('2d');
    const top = Math.max(1e-9, ...values.map(Math.abs));
    values.forEach((v, i) => {
      const [cr, cg, cb] = colour(v / top);
      ctx.fillStyle = `rgb(${cr},${cg},${cb})`;
      ctx.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - 1, cell - 1);
    });
    const active = values.filter((v) => Math.abs(v) > 1e-6).length;
    window.glassbox.imageActive.push(active);
    const caption = document.createElement('div');
    caption.className = 'caption';
    const last = l === r.activations.length - 1;
    caption.textContent = `${last ? 'output' : `layer ${l + 1}`} (${imageModel.activations[l]}): ${active} of ${n} neurons non-zero, largest ${top.toFixed(3)}`;
    const div = document.createElement('div');
    div.className = 'grid-layer';
    div.append(caption, canvas);
    box.append(div);
  });
}

function setUpImage() {
  const canvas = $('draw');
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let last = null;
  let queued = false;
  const point = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * canvas.width, ((e.clientY - r.top) / r.height) * canvas.height];
  };
  const soon = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; const p = drawnPixels(); if (p) predict(p); });
  };
  canvas.addEventListener('pointerdown', (e) => { last = point(e); canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = point(e);
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 22;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(last[0], last[1]);
    ctx.lineTo(p[0], p[1]);
    ctx.stroke();
    $('truth').textContent = 'your drawing';
    canvasTest = null;
    last = p;
    soon();
  });
  const end = () => { if (last) { last = null; soon(); } };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  $('draw-clear').addEventListener('click', () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    $('prediction').textContent = '–';
    $('truth').textContent = '';
    canvasTest = null;
    $('activation-grids').replaceChildren();
    $('probabilities').replaceChildren();
  });
  $('image-train').addEventListener('click', imageTrain);
  $('image-open').addEventListener('click', imageOpen);
  $('test-show').addEventListener('click', () => showTestImage(Number($('test-index').value)));
}
VIEW_HOOKS.image = () => { if (!imageModel) imageTrain(); };
// For measurements (tests/browser/measure.js): classify the drawing as it stands.
window.glassbox.predictDrawing = () => predict(drawnPixels());


// ---------------------------------------------------------------------------------
// The dashboard of a command-line run (glassbox train … --dashboard PORT).

const SERIES = { train: '#0877bd', validation: '#2a7a2a', test: '#111', running: 'rgba(8,119,189,0.35)' };

// About `count` round steps from lo to hi (1, 2 or 5 times a power of ten).
function ticks(lo, hi, count) {
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

// Draws lines on `canvas`: series = [{ points: [[x, y]…], colour, width, dash }], with
// ticks on both axes. options: format (y labels), fromZero (the y axis starts at 0),
// yRange ([lo, hi]: the part shown; points beyond are clipped at the edge), mark (an x
// to mark with a dashed line, and its label), left (room for the y labels).
const finite = (v) => typeof v === 'number' && isFinite(v);
function drawLines(canvas, series, options = {}) {
  const format = options.format || ((v) => +v.toPrecision(3));
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const all = series.flatMap((s) => s.points).filter(([x, y]) => finite(x) && finite(y));
  if (all.length === 0) return;
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  if (x1 === x0) x1 = x0 + 1;
  let [y0, y1] = options.yRange || [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (options.fromZero) y0 = Math.min(0, y0);
  if (y1 === y0) y1 = y0 + 1;
  const left = options.left || 56, bottom = 30, top = 8, right = 10;
  const w = canvas.width - left - right, hgt = canvas.height - bottom - top;
  const X = (x) => left + ((x - x0) / (x1 - x0)) * w;
  const Y = (y) => canvas.height - bottom - ((Math.max(y0, Math.min(y1, y)) - y0) / (y1 - y0)) * hgt;
  ctx.font = '11px sans-serif';
  ctx.lineWidth = 1;
  // y ticks and grid lines
  ctx.textAlign = 'right';
  for (const v of ticks(y0, y1, Math.max(2, Math.floor(hgt / 30)))) {
    ctx.strokeStyle = '#eee';
    ctx.beginPath(); ctx.moveTo(left, Y(v)); ctx.lineTo(left + w, Y(v)); ctx.stroke();
    ctx.fillStyle = '#555';
    ctx.fillText(format(v), left - 4, Y(v) + 4);
  }
  // x ticks: whole epochs only, each once
  ctx.textAlign = 'center';
  const xt = ticks(x0, x1, Math.max(2, Math.floor(w / 50))).filter((v) => Number.isInteger(v));
  for (const v of xt) {
    ctx.fillStyle = '#555';
    ctx.fillText(String(v), X(v), canvas.height - bottom + 13);
  }
  ctx.fillText('epoch', left + w / 2, canvas.height - 3);
  ctx.textAlign = 'left';
  ctx.strokeStyle = '#bbb';
  ctx.strokeRect(left, top, w, hgt);
  if (options.mark) {
    const [mx, label] = options.mark;
    ctx.strokeStyle = '#b23ab2';
    ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(X(mx), top); ctx.lineTo(X(mx), top + hgt); ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, w, hgt);
  ctx.clip();
  for (const s of series) {
    const pts = s.points.filter(([x, y]) => finite(x) && finite(y));
    if (!pts.length) continue;
    ctx.strokeStyle = s.colour;
    ctx.fillStyle = s.colour;
    ctx.lineWidth = s.width || 2;
    ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
    ctx.stroke();
    ctx.setLineDash([]);
    if (!s.width) for (const [x, y] of pts) { ctx.beginPath(); ctx.arc(X(x), Y(y), 2.5, 0, 2 * Math.PI); ctx.fill(); }
  }
  ctx.restore();
  if (options.mark) {
    // The mark's label over the lines, on a pale box so that a curve under it cannot
    // make it unreadable.
    const [mx, label] = options.mark;
    const right = X(mx) > left + w / 2;
    const width = ctx.measureText(label).width;
    const x0 = right ? X(mx) - 4 - width : X(mx) + 4;
    ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
    ctx.fillRect(x0 - 2, top + 2, width + 4, 14);
    ctx.fillStyle = '#8a2a8a';
    ctx.fillText(label, x0, top + 12);
  }
}

function legend(id, keys) {
  const box = $(id);
  box.replaceChildren();
  for (const [name, colour] of keys) {
    // The line's colour on its mark; the name in the text colour (readable whatever
    // the line's colour).
    const span = document.createElement('span');
    span.className = 'key';
    const mark = document.createElement('span');
    mark.textContent = '━ ';
    mark.style.color = colour;
    mark.setAttribute('aria-hidden', 'true');
    span.append(mark, name);
    box.append(span);
  }
}

function drawDashboard(run) {
  $('dashboard-title').textContent = run.title;
  $('dashboard-status').textContent = run.status;
  $('dashboard-epochs').textContent = run.epochs.length;
  const e = run.epochs;
  const col = (key) => e.filter((r) => r[key] !== null && r[key] !== undefined).map((r) => [r.epoch, r[key]]);
  const loss = [
    { points: run.batches.map(([x, y]) => [x, y]), colour: SERIES.running, width: 1 },
    { points: col('train_loss'), colour: SERIES.train },
    { points: col('validation_loss'), colour: SERIES.validation },
    { points: col('test_loss'), colour: SERIES.test },
  ];
  // The first batches' loss is the untrained network's (about ln 10 = 2.3 for ten
  // classes) and would flatten every later curve: the scale is set by the epochs' losses
  // and the running loss after the first quarter epoch; earlier points are clipped.
  const scaled = loss.flatMap((s, k) => s.points.filter(([x]) => k > 0 || x >= 0.25)).map(([, y]) => y).filter(finite);
  const mark = run.best_epoch ? [run.best_epoch, `best epoch ${run.best_epoch} (early stopping)`] : null;
  drawLines($('dash-loss'), loss, { fromZero: true, yRange: scaled.length ? [0, Math.max(...scaled) * 1.05] : null, mark });
  legend('dash-loss-legend', [['train', SERIES.train], ['validation', SERIES.validation], ['test', SERIES.test], ['running, within the epoch', SERIES.running]].filter(([n]) => n.startsWith('running') || col(`${n}_loss`).length));
  const accuracy = ['train', 'validation', 'test'].map((n) => ({ points: col(`${n}_accuracy`).map(([x, y]) => [x, 100 * y]), colour: SERIES[n] }));
  // Scaled to the data (83–91% curves are not flat against a 0–100% axis).
  const shown = accuracy.flatMap((s) => s.points.map(([, y]) => y)).filter(finite);
  const pad = shown.length ? Math.max(0.5, 0.08 * (Math.max(...shown) - Math.min(...shown))) : 1;
  const range = shown.length ? [Math.max(0, Math.min(...shown) - pad), Math.min(100, Math.max(...shown) + pad)] : null;
  drawLines($('dash-accuracy'), accuracy, { format: (v) => `${+v.toFixed(1)}%`, yRange: range, mark });
  legend('dash-accuracy-legend', ['train', 'validation', 'test'].filter((n) => col(`${n}_accuracy`).length).map((n) => [n, SERIES[n]]));
  drawLines($('dash-lr'), [{ points: col('learning_rate'), colour: '#b23ab2' }], { format: (v) => v.toExponential(1), fromZero: true, mark });
  drawLines($('dash-speed'), [{ points: col('examples_per_second'), colour: '#c8342c' }], { format: (v) => v.toExponential(1), fromZero: true });
  drawHistograms(run.histograms);
  drawEpochTable(e);
}

function drawHistograms(layers) {
  const box = $('dash-histograms');
  box.replaceChildren();
  layers.forEach((epochs, l) => {
    if (!epochs.length) return;
    const bins = epochs[0].counts.length;
    const lo = Math.min(...epochs.map((h) => h.min));
    const hi = Math.max(...epochs.map((h) => h.max));
    const span = hi - lo || 1;
    const column = Math.max(3, Math.min(24, Math.floor(480 / epochs.length)));
    const rows = 60;
    const canvas = document.createElement('canvas');
    canvas.width = column * epochs.length;
    canvas.height = rows * 2;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    epochs.forEach((h, x) => {
      const peak = Math.max(...h.counts) || 1;
      h.counts.forEach((count, b) => {
        if (!count) return;
        // The bin's place on the common axis of every epoch of this layer.
        const from = h.min + (b / bins) * (h.max - h.min);
        const to = h.min + ((b + 1) / bins) * (h.max - h.min);
        const y0 = canvas.height - ((to - lo) / span) * canvas.height;
        const y1 = canvas.height - ((from - lo) / span) * canvas.height;
        ctx.fillStyle = `rgba(24,61,78,${0.1 + 0.9 * (count / peak)})`;
        ctx.fillRect(x * column, y0, column - 1, Math.max(1, y1 - y0));
      });
    });
    const div = document.createElement('div');
    div.className = 'layer';
    div.textContent = `layer ${l + 1}: ${lo.toFixed(3)} … ${hi.toFixed(3)}`;
    div.append(canvas);
    box.append(div);
  });
}

function drawEpochTable(epochs) {
  const table = $('dash-table');
  table.replaceChildren();
  const head = table.insertRow();
  for (const t of ['epoch', 'train loss', 'train acc.', 'val. loss', 'val. acc.', 'test loss', 'test acc.', 'η', 'examples/s', 's']) {
    const th = document.createElement('th'); th.textContent = t; head.append(th);
  }
  const f = (v, pctg) => (v === null || v === undefined ? '–' : pctg ? `${(100 * v).toFixed(2)}%` : v.toFixed(4));
  for (const r of epochs.slice().reverse()) {
    const row = table.insertRow();
    for (const v of [r.epoch, f(r.train_loss), f(r.train_accuracy, true), f(r.validation_loss), f(r.validation_accuracy, true), f(r.test_loss), f(r.test_accuracy, true), r.learning_rate.toPrecision(3), Math.round(r.examples_per_second), r.seconds.toFixed(3)]) {
      row.insertCell().textContent = v;
    }
  }
}

async function setUpDashboard() {
  let state;
  try {
    state = await (await fetch('/api/dashboard')).json();
  } catch (e) {
    return;
  }
  if (!state.active) return;
  drawDashboard(state.run);
  showView('dashboard');
  const source = new EventSource('/api/dashboard/stream');
  source.addEventListener('dashboard', (e) => drawDashboard(JSON.parse(e.data)));
  source.addEventListener('error', () => {
    $('dashboard-status').textContent = 'lost the connection to glassbox train (it has ended?)';
  });
}

window.addEventListener('DOMContentLoaded', () => {
  const tabs = [...document.querySelectorAll('nav .tab')];
  tabs.forEach((tab, k) => {
    tab.addEventListener('click', () => showView(tab.dataset.view));
    // A tablist's arrows move between the tabs (and show the view).
    tab.addEventListener('keydown', (e) => {
      const to = { ArrowRight: k + 1, ArrowLeft: k - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      const next = tabs[(to + tabs.length) % tabs.length];
      showView(next.dataset.view);
      next.focus();
    });
  });
  setUp2d();
  setUpImage();
  config = readUrl();
  if (config.dataset === 'csv') config.dataset = 'xor'; // an upload cannot travel in a URL
  showConfig();
  applyConfig();
  setUpDashboard();
});
