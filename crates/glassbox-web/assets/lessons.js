// glassbox playground — the Lessons view. Each lesson sends its settings to
// /api/lessons/… and draws the answer; every number (z, f(z), f′, losses, accuracies,
// activations) is computed by the glassbox library in the server. Nothing here
// evaluates an activation or trains anything: this file only lays out and draws.
'use strict';

(() => {
  const NAMES = ['step', 'identity', 'sigmoid', 'tanh', 'relu', 'leaky-relu'];
  const COLOURS = ['#c25400', '#0868a8', '#2e7d32', '#8e24aa']; // lines; dark enough on white
  const CLASS_FILL = [[245, 147, 34], [8, 119, 189], [58, 154, 58]];

  // -------------------------------------------------------------------------------
  // Building blocks.

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k === 'testid') node.dataset.testid = v;
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function field(label, input) {
    return el('label', { class: 'lesson-field' }, label, ' ', input);
  }

  function numberInput(id, value, attrs = {}) {
    return el('input', { id, testid: id, type: 'number', step: 'any', value: String(value), ...attrs });
  }

  async function post(path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
    } catch (e) {
      throw new Error('cannot reach the glassbox server (is it still running?)');
    }
    let json;
    try { json = await response.json(); } catch (e) { throw new Error(`the server answered ${response.status} without JSON`); }
    if (!response.ok) throw new Error(json.error || `the server answered ${response.status}`);
    return json;
  }

  // A lesson's own error line, and a runner that shows its errors there; a newer call
  // supersedes an older one (its answer is dropped): work(current, body) checks
  // current() before drawing. Event listeners pass no body.
  function runner(errorBox, work) {
    let generation = 0;
    return async (body) => {
      const mine = ++generation;
      try {
        const result = await work(() => mine === generation, body instanceof Event ? undefined : body);
        if (mine === generation) { errorBox.textContent = ''; errorBox.classList.add('hidden'); }
        return result;
      } catch (e) {
        if (mine === generation) { errorBox.textContent = e.message; errorBox.classList.remove('hidden'); }
      }
    };
  }

  const fmt = (v, digits = 4) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));
  const paren = (v) => (v < 0 ? `(${fmt(v)})` : fmt(v));
  const eta = (v) => String(Number(v.toPrecision(6))); // f32 → as typed
  const pct = (v) => (v === null || v === undefined ? '–' : `${(100 * v).toFixed(1)}%`);

  function niceStep(span, count) {
    const raw = span / Math.max(1, count);
    const mag = 10 ** Math.floor(Math.log10(raw));
    const norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  }

  function ticks(lo, hi, count) {
    const step = niceStep(hi - lo, count);
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    return out;
  }

  function tickLabel(t) {
    if (t === 0) return '0';
    const a = Math.abs(t);
    if (a >= 1000 || a < 0.01) return t.toExponential(0);
    return String(Number(t.toPrecision(3)));
  }

  // A chart: axes with labelled ticks, lines (optionally dashed), optional points and
  // vertical markers. `series`: [{x: [], y: [], colour, dash, label}].
  function chart(canvas, { series, xRange, yRange, xLabel, yLabel, logY = false, points = [], markers = [] }) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.width;
    const h = canvas.clientHeight || canvas.height;
    canvas.width = w * dpr;
    canvas.height = h * dpr;
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const m = { l: 48, r: 10, t: 10, b: 34 };
    const ty = (v) => (logY ? Math.log10(Math.max(v, 1e-12)) : v);
    let [y0, y1] = yRange.map(ty);
    if (logY) { y0 = Math.floor(y0); y1 = Math.ceil(y1); }
    if (y1 - y0 < 1e-9) { y0 -= 1; y1 += 1; }
    const [x0, x1] = xRange;
    const px = (x) => m.l + ((x - x0) / (x1 - x0 || 1)) * (w - m.l - m.r);
    const py = (y) => h - m.b - ((ty(y) - y0) / (y1 - y0)) * (h - m.t - m.b);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#444';
    ctx.strokeStyle = '#e4e4e4';
    ctx.lineWidth = 1;
    ctx.textAlign = 'center';
    for (const t of ticks(x0, x1, 6)) {
      ctx.beginPath(); ctx.moveTo(px(t), m.t); ctx.lineTo(px(t), h - m.b); ctx.stroke();
      ctx.fillText(tickLabel(t), px(t), h - m.b + 13);
    }
    ctx.textAlign = 'right';
    const yTicks = logY ? Array.from({ length: y1 - y0 + 1 }, (_, i) => 10 ** (y0 + i)) : ticks(y0, y1, 5);
    for (const t of yTicks) {
      ctx.beginPath(); ctx.moveTo(m.l, py(t)); ctx.lineTo(w - m.r, py(t)); ctx.stroke();
      ctx.fillText(tickLabel(t), m.l - 4, py(t) + 4);
    }
    ctx.strokeStyle = '#888';
    ctx.beginPath();
    if (!logY && y0 < 0 && y1 > 0) { ctx.moveTo(m.l, py(0)); ctx.lineTo(w - m.r, py(0)); }
    if (x0 < 0 && x1 > 0) { ctx.moveTo(px(0), m.t); ctx.lineTo(px(0), h - m.b); }
    ctx.stroke();
    ctx.textAlign = 'center';
    ctx.fillText(xLabel, (m.l + w - m.r) / 2, h - 6);
    ctx.save(); ctx.translate(11, (m.t + h - m.b) / 2); ctx.rotate(-Math.PI / 2); ctx.fillText(yLabel, 0, 0); ctx.restore();
    ctx.save();
    ctx.beginPath(); ctx.rect(m.l, m.t, w - m.l - m.r, h - m.t - m.b); ctx.clip();
    for (const s of series) {
      ctx.strokeStyle = s.colour; ctx.lineWidth = s.width || 2; ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      let pen = false;
      s.y.forEach((y, i) => {
        if (!Number.isFinite(y)) { pen = false; return; }
        if (pen) ctx.lineTo(px(s.x[i]), py(y)); else ctx.moveTo(px(s.x[i]), py(y));
        pen = true;
      });
      ctx.stroke();
    }
    ctx.setLineDash([]);
    for (const mk of markers) {
      ctx.strokeStyle = mk.colour; ctx.lineWidth = 1.5; ctx.setLineDash([4, 3]);
      ctx.beginPath(); ctx.moveTo(px(mk.x), m.t); ctx.lineTo(px(mk.x), h - m.b); ctx.stroke();
      ctx.setLineDash([]); ctx.fillStyle = mk.colour; ctx.textAlign = 'left';
      ctx.fillText(mk.label, px(mk.x) + 4, m.t + 12);
    }
    for (const p of points) {
      ctx.fillStyle = p.colour; ctx.strokeStyle = '#fff'; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(px(p.x), py(p.y), 5, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    }
    ctx.restore();
  }

  function decode(b64) {
    const raw = atob(b64);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  // Decision regions (one class byte per grid point, rows from the top) and points.
  function regions(canvas, answer, regionsB64, showTest = true) {
    const n = answer.grid;
    const size = canvas.width;
    const ctx = canvas.getContext('2d');
    const image = ctx.createImageData(n, n);
    decode(regionsB64).forEach((c, i) => {
      const [r, g, b] = CLASS_FILL[c % CLASS_FILL.length];
      image.data.set([255 + (r - 255) * 0.35, 255 + (g - 255) * 0.35, 255 + (b - 255) * 0.35, 255], 4 * i);
    });
    const tmp = document.createElement('canvas');
    tmp.width = n; tmp.height = n;
    tmp.getContext('2d').putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tmp, 0, 0, size, size);
    const e = answer.extent;
    const at = (v) => ((v + e) / (2 * e)) * size;
    const dot = ([x, y, c], rim) => {
      const [r, g, b] = CLASS_FILL[c % CLASS_FILL.length];
      ctx.fillStyle = `rgb(${r},${g},${b})`; ctx.strokeStyle = rim; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.arc(at(x), size - at(y), 3, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    };
    if (showTest) for (const p of answer.test) dot(p, '#000');
    for (const p of answer.train) dot(p, '#fff');
  }

  function legend(items) {
    return el('div', { class: 'lesson-legend' }, ...items.map(([colour, text, dash]) => {
      const key = el('span', { class: dash ? 'key dashed' : 'key' });
      key.style.borderColor = colour;
      return el('span', { class: 'item' }, key, text);
    }));
  }

  function lesson(number, title, paragraphs) {
    const id = `lesson-${number}-title`;
    const error = el('div', { class: 'lesson-error hidden', role: 'alert' });
    const body = el('div', { class: 'lesson-body' });
    const node = el('article', { class: 'lesson', testid: 'lesson', 'aria-labelledby': id },
      el('h2', { id }, `${number}. ${title}`),
      ...paragraphs.map((p) => el('p', { class: 'lesson-text' }, p)),
      body, error);
    return { node, body, error };
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  // -------------------------------------------------------------------------------
  // 1. One neuron.

  function neuronLesson() {
    const l = lesson(1, 'One neuron', [
      'A neuron multiplies each input by a weight, adds them up with a bias, and passes the sum z through an activation function f. Its output a = f(z) is what the next layer sees.',
      'Type numbers for the inputs, the weights and the bias, and pick f: the server runs one neuron of the glassbox library and returns z and a.',
    ]);
    const inputs = {
      x1: numberInput('neuron-x1', 1), x2: numberInput('neuron-x2', 0.5),
      w1: numberInput('neuron-w1', 0.8), w2: numberInput('neuron-w2', -1.2), b: numberInput('neuron-b', 0.1),
    };
    const SYMBOLS = { x1: 'x₁', x2: 'x₂', w1: 'w₁', w2: 'w₂', b: 'b' };
    const select = el('select', { id: 'neuron-activation', testid: 'neuron-activation' },
      ...NAMES.map((n) => el('option', { value: n, text: n })));
    select.value = 'sigmoid';
    const sum = el('div', { class: 'formula', testid: 'neuron-sum', 'aria-live': 'polite' });
    const out = el('b', { testid: 'neuron-output', id: 'neuron-output' }, '–');
    const outLine = el('div', { class: 'formula' }, 'a = f(z) = ', el('span', { id: 'neuron-f' }), ' = ', out);
    const graph = el('canvas', { class: 'lesson-chart', width: 420, height: 220, role: 'img', 'aria-label': 'graph of the activation f with the point (z, a)' });
    l.body.append(
      el('div', { class: 'lesson-controls' },
        field('x₁', inputs.x1), field('x₂', inputs.x2), field('w₁', inputs.w1), field('w₂', inputs.w2),
        field('b', inputs.b), field('activation f', select)),
      sum, outLine, graph);
    const update = runner(l.error, async (current) => {
      const body = { activation: select.value };
      for (const [k, input] of Object.entries(inputs)) {
        const v = input.valueAsNumber;
        if (!Number.isFinite(v)) throw new Error(`${SYMBOLS[k]}: type a number`);
        body[k] = v;
      }
      const r = await post('/api/lessons/neuron', body);
      if (!current()) return;
      sum.textContent = `z = w₁x₁ + w₂x₂ + b = ${paren(body.w1)}·${paren(body.x1)} + ${paren(body.w2)}·${paren(body.x2)} + ${paren(body.b)} = ${fmt(r.z)}`;
      l.node.querySelector('#neuron-f').textContent = `${r.activation}(${fmt(r.z)})`;
      out.textContent = fmt(r.a);
      const c = r.curve;
      const lo = Math.min(...c.f, r.a); const hi = Math.max(...c.f, r.a);
      const pad = (hi - lo) * 0.08 || 0.5;
      chart(graph, {
        series: [{ x: c.z, y: c.f, colour: COLOURS[1] }],
        xRange: [c.z[0], c.z[c.z.length - 1]], yRange: [lo - pad, hi + pad],
        xLabel: 'z', yLabel: `a = ${r.activation}(z)`,
        points: [{ x: r.z, y: r.a, colour: COLOURS[0] }],
      });
      graph.setAttribute('aria-label', `graph of ${r.activation}, with the point z = ${fmt(r.z)}, a = ${fmt(r.a)}`);
    });
    const soon = debounce(update, 120);
    for (const input of Object.values(inputs)) input.addEventListener('input', soon);
    select.addEventListener('change', update);
    return { node: l.node, start: update };
  }

  // -------------------------------------------------------------------------------
  // 2. Activation functions and their derivatives.

  function activationLesson() {
    const l = lesson(2, 'Activation functions and their slopes', [
      'Learning means nudging every weight in the direction that lowers the error. Back-propagation finds that direction with the chain rule, and the chain passes through each neuron\'s slope f′(z): where f′ is 0, no correction gets through.',
      'The step function is 0 or 1: flat everywhere, with a jump at 0. Its slope is 0 wherever it exists, so gradient descent cannot learn with it — and the library refuses to try. Smooth functions (sigmoid, tanh) and ReLU have a slope to follow.',
    ]);
    const select = el('select', { id: 'activation-pick', testid: 'activation-pick' },
      ...NAMES.map((n) => el('option', { value: n, text: n })));
    select.value = 'step';
    const graph = el('canvas', { class: 'lesson-chart', width: 420, height: 220, role: 'img', 'aria-label': 'the activation f and its derivative' });
    const verdict = el('div', { class: 'verdict', testid: 'activation-verdict', 'aria-live': 'polite' });
    l.body.append(
      el('div', { class: 'lesson-controls' }, field('activation', select)),
      graph, legend([[COLOURS[1], 'f(z)'], [COLOURS[0], 'f′(z)', true]]), verdict);
    const update = runner(l.error, async (current) => {
      const r = await post('/api/lessons/activation', { activation: select.value });
      if (!current()) return;
      const c = r.curve;
      const all = [...c.f, ...c.df];
      const lo = Math.min(...all); const hi = Math.max(...all);
      const pad = (hi - lo) * 0.08 || 0.5;
      chart(graph, {
        series: [{ x: c.z, y: c.f, colour: COLOURS[1] }, { x: c.z, y: c.df, colour: COLOURS[0], dash: [6, 4] }],
        xRange: [c.z[0], c.z[c.z.length - 1]], yRange: [lo - pad, hi + pad], xLabel: 'z', yLabel: 'f and f′',
      });
      graph.setAttribute('aria-label', `${r.activation} (solid) and its derivative (dashed) for z from ${c.z[0]} to ${c.z[c.z.length - 1]}`);
      verdict.classList.toggle('refused', !r.trainable);
      verdict.textContent = r.trainable
        ? `The library trains a network of ${r.activation} neurons (2 → 4 ${r.activation} → 2) on XOR: test accuracy ${pct(r.xor_accuracy)}.${r.activation === 'identity' ? ' Only a straight line: layers of identity neurons add up to one linear function, which cannot separate XOR.' : ''}`
        : `The library refuses to train it: “${r.message}”`;
    });
    select.addEventListener('change', update);
    return { node: l.node, start: update };
  }

  // -------------------------------------------------------------------------------
  // 3. Shallow against deep.

  function depthLesson() {
    const l = lesson(3, 'Shallow against deep', [
      'Each neuron of the first hidden layer draws one straight line across the plane. A single hidden layer can only combine those lines once; a second layer combines the first layer\'s regions into new shapes, so with the same few neurons per layer it can draw curves that one layer cannot.',
      'Both networks below have the same number of neurons per layer, the same data and the same training; one has one hidden layer, the other two.',
    ]);
    const dataset = el('select', { id: 'depth-dataset' }, ...['spirals', 'circles', 'xor'].map((n) => el('option', { value: n, text: n })));
    const neurons = numberInput('depth-neurons', 6, { min: 1, max: 64, step: 1 });
    const epochs = numberInput('depth-epochs', 200, { min: 1, max: 300, step: 1 });
    const button = el('button', { class: 'primary', testid: 'depth-train' }, 'Train both');
    const panes = [0, 1].map((k) => {
      const canvas = el('canvas', { width: 240, height: 240, class: 'lesson-plane', role: 'img', 'aria-label': `decision regions of the network with ${k + 1} hidden layer${k ? 's' : ''}` });
      const caption = el('div', { class: 'caption', testid: k ? 'depth-deep' : 'depth-shallow' });
      return { canvas, caption, node: el('figure', {}, canvas, el('figcaption', {}, caption)) };
    });
    l.body.append(
      el('div', { class: 'lesson-controls' }, field('data', dataset), field('neurons per layer', neurons), field('epochs', epochs), button),
      el('div', { class: 'side-by-side' }, ...panes.map((p) => p.node)),
      el('p', { class: 'hint' }, 'Shaded: the class each network gives each point of the plane. Dots: training points (white rim) and test points (black rim).'));
    const update = runner(l.error, async (current) => {
      button.disabled = true;
      try {
        const r = await post('/api/lessons/depth', {
          dataset: dataset.value, neurons: neurons.valueAsNumber, epochs: epochs.valueAsNumber,
        });
        if (!current()) return;
        r.networks.forEach((n, k) => {
          regions(panes[k].canvas, r, n.regions);
          const hidden = n.sizes.slice(1, -1);
          panes[k].caption.textContent = `${hidden.length} hidden layer${hidden.length > 1 ? 's' : ''} (${n.sizes.join(' → ')}, ${n.parameters} weights and biases): test accuracy ${pct(n.curves.test_accuracy)}`;
        });
      } finally { button.disabled = false; }
    });
    button.addEventListener('click', update);
    return { node: l.node, start: update };
  }

  // -------------------------------------------------------------------------------
  // 4. The learning rate.

  function rateLesson() {
    const l = lesson(4, 'The learning rate', [
      'After each example, gradient descent moves every weight a step against the slope of the error: w ← w − η·∂C/∂w. The learning rate η is the size of that step.',
      'Too small, and the network crawls: after many epochs the error has hardly moved. Too large, and each step overshoots the valley — the error jumps about or grows without end. The same network, from the same first weights, on the same three blobs:',
    ]);
    const rates = [0.001, 0.1, 8].map((v, k) => numberInput(`rate-${k}`, v, { min: 0, max: 100 }));
    const epochs = numberInput('rate-epochs', 40, { min: 1, max: 300, step: 1 });
    const button = el('button', { class: 'primary', testid: 'rate-train' }, 'Train three');
    const graph = el('canvas', { class: 'lesson-chart', width: 420, height: 240, role: 'img', 'aria-label': 'training loss per epoch for each learning rate' });
    const keys = el('div');
    const summary = el('ul', { class: 'lesson-list', testid: 'rate-summary' });
    l.body.append(
      el('div', { class: 'lesson-controls' }, field('η small', rates[0]), field('η right', rates[1]), field('η large', rates[2]), field('epochs', epochs), button),
      graph, keys, summary);
    const update = runner(l.error, async (current) => {
      button.disabled = true;
      try {
        const r = await post('/api/lessons/learning-rate', { rates: rates.map((i) => i.valueAsNumber), epochs: epochs.valueAsNumber });
        if (!current()) return;
        const finite = r.runs.flatMap((run) => run.curves.train_loss.filter((v) => Number.isFinite(v) && v > 0));
        const longest = Math.max(...r.runs.map((run) => run.curves.train_loss.length));
        chart(graph, {
          series: r.runs.map((run, k) => ({ x: run.curves.train_loss.map((_, i) => i + 1), y: run.curves.train_loss, colour: COLOURS[k] })),
          xRange: [1, Math.max(2, longest)], yRange: finite.length ? [Math.min(...finite), Math.max(...finite)] : [0.01, 1], logY: true,
          xLabel: 'epoch', yLabel: 'training loss (log scale)',
        });
        keys.replaceChildren(legend(r.runs.map((run, k) => [COLOURS[k], `η = ${eta(run.rate)}`])));
        summary.replaceChildren(...r.runs.map((run) => {
          const last = run.curves.train_loss[run.curves.train_loss.length - 1];
          return el('li', {}, run.curves.diverged
            ? `η = ${eta(run.rate)}: diverged — ${run.curves.diverged}`
            : `η = ${eta(run.rate)}: loss ${fmt(last)} after ${run.curves.train_loss.length} epochs, test accuracy ${pct(run.curves.test_accuracy)}`);
        }));
      } finally { button.disabled = false; }
    });
    button.addEventListener('click', update);
    return { node: l.node, start: update };
  }

  // -------------------------------------------------------------------------------
  // 5. Over-fitting.

  function overfitLesson() {
    const l = lesson(5, 'Over-fitting', [
      'A big network can learn its training points by heart, noise and all. Its training error keeps falling, but on new points — the test set, never used for training — the error stops falling and rises again: the two curves part. The network has over-fitted.',
      'Three remedies: stop early (watch a separate validation set and keep the best epoch), dropout (switch off random neurons while training, so none can be relied on alone), or more data.',
    ]);
    const early = el('input', { type: 'checkbox', id: 'overfit-early', testid: 'overfit-early' });
    const dropout = el('input', { type: 'checkbox', id: 'overfit-dropout', testid: 'overfit-dropout' });
    const more = el('input', { type: 'checkbox', id: 'overfit-more', testid: 'overfit-more' });
    const graph = el('canvas', { class: 'lesson-chart', width: 420, height: 240, role: 'img', 'aria-label': 'training and test loss per epoch' });
    const plane = el('canvas', { width: 200, height: 200, class: 'lesson-plane small', role: 'img', 'aria-label': 'decision regions after training' });
    const summary = el('div', { class: 'verdict', testid: 'overfit-summary', 'aria-live': 'polite' });
    l.body.append(
      el('div', { class: 'lesson-controls' },
        el('label', { class: 'lesson-field' }, early, ' early stopping (patience 10)'),
        el('label', { class: 'lesson-field' }, dropout, ' dropout 0.5'),
        el('label', { class: 'lesson-field' }, more, ' more data (600 points, not 30)')),
      el('div', { class: 'side-by-side' }, el('div', {}, graph, legend([[COLOURS[1], 'train loss'], [COLOURS[0], 'test loss'], [COLOURS[2], 'validation loss', true]])), plane),
      summary);
    const update = runner(l.error, async (current) => {
      const body = { points: more.checked ? 600 : 30, dropout: dropout.checked ? 0.5 : 0 };
      if (early.checked) body.early_stopping = 10;
      const r = await post('/api/lessons/overfit', body);
      if (!current()) return;
      const c = r.curves;
      const epochs = c.train_loss.map((_, i) => i + 1);
      const all = [...c.train_loss, ...c.test_loss, ...c.validation_loss].filter((v) => v > 0 && Number.isFinite(v));
      chart(graph, {
        series: [
          { x: epochs, y: c.train_loss, colour: COLOURS[1] },
          { x: epochs, y: c.test_loss, colour: COLOURS[0] },
          { x: epochs, y: c.validation_loss, colour: COLOURS[2], dash: [6, 4] },
        ],
        xRange: [1, Math.max(2, epochs.length)], yRange: [Math.min(...all), Math.max(...all)], logY: true,
        xLabel: 'epoch', yLabel: 'loss (log scale)',
        markers: c.best_epoch ? [{ x: c.best_epoch, colour: '#333', label: `best epoch ${c.best_epoch}` }] : [],
      });
      regions(plane, r, r.regions);
      const bestTest = Math.min(...c.test_loss);
      summary.textContent = `${r.train.length} training points, network ${r.sizes.join(' → ')}: training loss ${fmt(c.train_loss[c.train_loss.length - 1])}, test loss ${fmt(c.test_loss[c.test_loss.length - 1])} (lowest ${fmt(bestTest)}), test accuracy ${pct(c.test_accuracy)}`
        + (c.best_epoch ? `; stopped early, keeping epoch ${c.best_epoch}'s weights.` : '.');
    });
    for (const box of [early, dropout, more]) box.addEventListener('change', update);
    return { node: l.node, start: update };
  }

  // -------------------------------------------------------------------------------
  // 6. An image classifier.

  function grey(canvas, values, w, h) {
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext('2d');
    const image = ctx.createImageData(w, h);
    values.forEach((v, i) => { const g = Math.max(0, Math.min(1, v)) * 255; image.data.set([g, g, g, 255], 4 * i); });
    ctx.putImageData(image, 0, 0);
  }

  // A weight image: bytes 0–255 over [min, max]; blue = positive, orange = negative.
  function weights(canvas, img, w, h) {
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext('2d');
    const image = ctx.createImageData(w, h);
    const bound = Math.max(Math.abs(img.min), Math.abs(img.max)) || 1;
    decode(img.data).forEach((q, i) => {
      const v = (img.min + (q / 255) * (img.max - img.min)) / bound;
      const [r, g, b] = v < 0 ? [245, 147, 34] : [8, 119, 189];
      const s = Math.abs(v);
      image.data.set([255 + (r - 255) * s, 255 + (g - 255) * s, 255 + (b - 255) * s, 255], 4 * i);
    });
    ctx.putImageData(image, 0, 0);
  }

  function digitsLesson() {
    const l = lesson(6, 'An image classifier', [
      'An 8×8 image is 64 numbers, one per pixel, from 0 (black) to 1 (white). Each neuron of the first hidden layer weighs all 64: its weights, drawn as an 8×8 picture, show which strokes excite it (blue) and which hold it back (orange). The output layer has one neuron per digit; the most active one is the answer.',
      'Train a small network on the embedded handwritten digits (a few seconds), then draw a digit — or pick a test image — and follow it through every layer.',
    ]);
    const hidden = numberInput('digits-hidden', 16, { min: 1, max: 64, step: 1 });
    const epochs = numberInput('digits-epochs', 10, { min: 1, max: 30, step: 1 });
    const button = el('button', { class: 'primary', testid: 'digits-train' }, 'Train');
    const accuracy = el('span', { class: 'stat', testid: 'digits-accuracy' });
    const pad = el('canvas', { width: 160, height: 160, class: 'draw-pad', testid: 'digits-draw', tabindex: '0', role: 'img', 'aria-label': 'drawing pad: draw a digit with the mouse or a finger; or pick a test image below' });
    const clear = el('button', {}, 'Clear');
    const index = numberInput('digits-test-index', 0, { min: 0, step: 1 });
    const show = el('button', { testid: 'digits-test-show' }, 'Show test image');
    const seen = el('canvas', { class: 'seen', role: 'img', 'aria-label': 'the 8×8 image the network sees' });
    const layers = el('div', { class: 'digit-path' });
    const answer = el('b', { testid: 'digits-prediction' }, '–');
    const weightBox = el('div', { class: 'weight-grid' });
    l.body.append(
      el('div', { class: 'lesson-controls' }, field('hidden neurons', hidden), field('epochs', epochs), button, accuracy),
      el('h3', {}, 'First-layer weights, one picture per neuron'), weightBox,
      el('h3', {}, 'One image\'s path to its answer'),
      el('div', { class: 'side-by-side' },
        el('div', {}, pad, el('div', {}, clear), field('test image', index), show),
        el('div', {}, el('div', { class: 'caption' }, 'input (8×8)'), seen),
        el('div', { class: 'grow' }, layers, el('div', { class: 'answer' }, 'answer: ', answer))));

    let trained = null;
    const settings = () => ({ hidden: hidden.valueAsNumber, epochs: epochs.valueAsNumber });
    function drawPath(r) {
      const p = r.prediction;
      if (!p) return;
      const input = r.test_image ? r.test_image.pixels : lastPixels;
      grey(seen, input, 8, 8);
      layers.replaceChildren(...p.activations.map((a, k) => {
        const last = k === p.activations.length - 1;
        const max = Math.max(...a, 1e-6);
        const bars = el('div', { class: 'bars' }, ...a.map((v, j) => {
          const bar = el('span', { class: j === p.class && last ? 'bar best' : 'bar', title: `${last ? r.classes[j] : `neuron ${j + 1}`}: ${fmt(v, 3)}` });
          bar.style.height = `${Math.max(1, (v / max) * 48)}px`;
          return bar;
        }));
        const labels = last ? el('div', { class: 'bar-labels' }, ...r.classes.map((c) => el('span', {}, c))) : null;
        return el('div', { class: 'path-layer' },
          el('div', { class: 'caption' }, last ? `output: ${a.length} neurons (softmax: probabilities)` : `hidden layer ${k + 1}: ${a.length} ReLU neurons`),
          bars, labels);
      }));
      answer.textContent = `${p.prediction} (${pct(p.probabilities[p.class])})`;
    }
    let lastPixels = new Array(64).fill(0);
    const train = runner(l.error, async (current) => {
      button.disabled = true;
      accuracy.textContent = 'training…';
      try {
        const r = await post('/api/lessons/digits', { ...settings(), test_index: index.valueAsNumber || 0 });
        if (!current()) return;
        trained = settings();
        accuracy.textContent = `test accuracy ${pct(r.test_accuracy)} (${r.sizes.join(' → ')})`;
        weightBox.replaceChildren(...r.weight_images.map((img, j) => {
          const c = el('canvas', { role: 'img', 'aria-label': `weights of hidden neuron ${j + 1}`, title: `neuron ${j + 1}: weights ${fmt(img.min, 2)} to ${fmt(img.max, 2)}, bias ${fmt(img.bias, 2)}` });
          weights(c, img, r.shape.width, r.shape.height);
          return c;
        }));
        drawPath(r);
      } finally { button.disabled = false; }
    });
    const predict = runner(l.error, async (current, body) => {
      if (!trained) return;
      const r = await post('/api/lessons/digits', { ...trained, ...body });
      if (current()) drawPath(r);
    });

    // Drawing: a thick white stroke on black; the pad is averaged down to 8×8.
    const ctx = pad.getContext('2d', { willReadFrequently: true });
    function blank() { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, pad.width, pad.height); }
    blank();
    // The ink's bounding box is scaled to fill the 8×8 frame and centred, as the
    // digits' images are (the image view does the same for its drawings).
    function pixels() {
      const data = ctx.getImageData(0, 0, pad.width, pad.height).data;
      let [x0, y0, x1, y1] = [Infinity, Infinity, -1, -1];
      for (let y = 0; y < pad.height; y++) {
        for (let x = 0; x < pad.width; x++) {
          if (data[4 * (y * pad.width + x)] > 25) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
        }
      }
      if (x1 < 0) return new Array(64).fill(0);
      const k = 8;
      const big = document.createElement('canvas');
      big.width = 8 * k; big.height = 8 * k;
      const b = big.getContext('2d');
      b.fillStyle = '#000'; b.fillRect(0, 0, big.width, big.height);
      const [bw, bh] = [x1 - x0 + 1, y1 - y0 + 1];
      const scale = Math.min(big.width / bw, big.height / bh);
      b.imageSmoothingEnabled = true; b.imageSmoothingQuality = 'high';
      b.drawImage(pad, x0, y0, bw, bh, (big.width - bw * scale) / 2, (big.height - bh * scale) / 2, bw * scale, bh * scale);
      const px = b.getImageData(0, 0, big.width, big.height).data;
      const out = [];
      for (let r = 0; r < 8; r++) {
        for (let c = 0; c < 8; c++) {
          let sum = 0;
          for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) sum += px[4 * ((r * k + dy) * big.width + c * k + dx)];
          out.push(sum / (k * k * 255));
        }
      }
      return out;
    }
    let drawing = false; let last = null;
    const point = (e) => { const b = pad.getBoundingClientRect(); return [(e.clientX - b.left) * (pad.width / b.width), (e.clientY - b.top) * (pad.height / b.height)]; };
    const sendDrawing = debounce(() => { lastPixels = pixels(); predict({ pixels: lastPixels }); }, 60);
    pad.addEventListener('pointerdown', (e) => { drawing = true; last = point(e); pad.setPointerCapture(e.pointerId); });
    pad.addEventListener('pointermove', (e) => {
      if (!drawing) return;
      const p = point(e);
      ctx.strokeStyle = '#fff'; ctx.lineWidth = 16; ctx.lineCap = 'round';
      ctx.beginPath(); ctx.moveTo(...last); ctx.lineTo(...p); ctx.stroke();
      last = p;
      sendDrawing();
    });
    pad.addEventListener('pointerup', () => { drawing = false; sendDrawing(); });
    clear.addEventListener('click', () => { blank(); lastPixels = new Array(64).fill(0); predict({ pixels: lastPixels }); });
    show.addEventListener('click', () => predict({ test_index: index.valueAsNumber || 0 }));
    button.addEventListener('click', train);
    return { node: l.node, start: train };
  }

  // -------------------------------------------------------------------------------
  // The view: built once, the first time its tab is opened.

  let built = false;
  function build() {
    if (built) return;
    built = true;
    const view = document.getElementById('view-lessons');
    const lessons = [neuronLesson(), activationLesson(), depthLesson(), rateLesson(), overfitLesson(), digitsLesson()];
    view.replaceChildren(
      el('p', { class: 'lessons-intro' }, 'The ideas of the article “Demystifying machine learning using neural networks”, one at a time. Every number below is computed by the glassbox library in this server — the same code that trains on the command line.'),
      el('div', { class: 'lessons' }, ...lessons.map((x) => x.node)));
    for (const x of lessons) x.start();
  }

  window.addEventListener('DOMContentLoaded', () => {
    // Built the first time the view is shown, by a click or the tablist's arrow keys.
    document.addEventListener('glassbox:view', (e) => { if (e.detail === 'lessons') build(); });
    const tab = document.querySelector('[data-testid=view-lessons]');
    if (new URLSearchParams(location.search).get('view') === 'lessons' && tab) tab.click();
  });
})();
