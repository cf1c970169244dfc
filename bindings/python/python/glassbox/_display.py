"""A fitted estimator's network as inline SVG, for notebooks (``_repr_html_``).

Plain SVG in an HTML ``<div>``: no JavaScript, no external file, so the drawing stays
in a notebook saved to HTML. Layers are columns of neurons; each link is coloured by
its weight's sign (blue positive, orange negative) and drawn as opaque as the weight
is large. Layers wider than ``MAX_SHOWN`` neurons show their first neurons and say how
many more there are. The loss curve is drawn beside the network.
"""

from __future__ import annotations

import html

import numpy as np

#: The most neurons drawn per layer.
MAX_SHOWN = 12

_POSITIVE = "#2166ac"
_NEGATIVE = "#d6604d"


def _neuron_positions(count, x, height, top):
    shown = min(count, MAX_SHOWN)
    step = (height - 2 * top) / max(shown, 1)
    return [(x, top + step * (i + 0.5)) for i in range(shown)]


def _loss_curve(curve, x0, y0, width, height):
    parts = [
        f'<g aria-label="loss curve"><text x="{x0}" y="{y0 - 8}" font-size="12" '
        f'fill="#333">training loss per epoch</text>',
        f'<rect x="{x0}" y="{y0}" width="{width}" height="{height}" fill="none" '
        f'stroke="#bbb"/>',
    ]
    values = np.asarray(curve, dtype=float)
    values = values[np.isfinite(values)]
    if values.size >= 1:
        low, high = float(values.min()), float(values.max())
        span = high - low or 1.0
        n = max(values.size - 1, 1)
        points = " ".join(
            f"{x0 + width * i / n:.1f},{y0 + height - height * (v - low) / span:.1f}"
            for i, v in enumerate(values)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{_POSITIVE}" stroke-width="1.5"/>'
        )
        parts.append(
            f'<text x="{x0}" y="{y0 + height + 14}" font-size="11" fill="#333">'
            f"epoch 1 … {values.size}: {values[0]:.4g} → {values[-1]:.4g}</text>"
        )
    else:
        parts.append(
            f'<text x="{x0 + 8}" y="{y0 + height / 2}" font-size="11" fill="#333">'
            "no epochs yet</text>"
        )
    parts.append("</g>")
    return parts


def network_svg(est):
    """The HTML (a ``<div>`` holding one ``<svg>``) that draws fitted estimator ``est``."""
    params = est._model.parameters()
    sizes = [est._model.inputs] + [w.shape[0] for w, _ in params]
    activations = ["input"] + [a for _, a in est._model.layers]
    column, height, top = 150, 360, 30
    net_width = column * (len(sizes) - 1) + 80
    width = net_width + 300
    positions = [
        _neuron_positions(n, 40 + column * i, height, top) for i, n in enumerate(sizes)
    ]
    title = f"{type(est).__name__}: " + " → ".join(str(s) for s in sizes)
    parts = [
        f'<div class="glassbox-network"><svg xmlns="http://www.w3.org/2000/svg" '
        f'role="img" width="{width}" height="{height + 40}" '
        f'viewBox="0 0 {width} {height + 40}" font-family="sans-serif">',
        f"<title>{html.escape(title)}</title>",
    ]
    for l, (w, _) in enumerate(params):
        shown_in, shown_out = positions[l], positions[l + 1]
        block = w[: len(shown_out), : len(shown_in)]
        scale = float(np.abs(block).max()) or 1.0
        for j, (x1, y1) in enumerate(shown_out):
            for i, (x0, y0) in enumerate(shown_in):
                weight = float(block[j, i])
                colour = _POSITIVE if weight >= 0 else _NEGATIVE
                opacity = 0.08 + 0.8 * abs(weight) / scale
                parts.append(
                    f'<line x1="{x0}" y1="{y0:.1f}" x2="{x1}" y2="{y1:.1f}" '
                    f'stroke="{colour}" stroke-opacity="{opacity:.2f}" stroke-width="1"/>'
                )
    for l, (n, shown) in enumerate(zip(sizes, positions)):
        for x, y in shown:
            parts.append(
                f'<circle cx="{x}" cy="{y:.1f}" r="6" fill="#fff" stroke="#333"/>'
            )
        label = f"{n} {activations[l]}"
        parts.append(
            f'<text x="{shown[0][0]}" y="18" font-size="12" text-anchor="middle" '
            f'fill="#333">{html.escape(label)}</text>'
        )
        if n > len(shown):
            parts.append(
                f'<text x="{shown[0][0]}" y="{height - 6}" font-size="11" '
                f'text-anchor="middle" fill="#555">+{n - len(shown)} more</text>'
            )
    parts.extend(_loss_curve(getattr(est, "loss_curve_", []), net_width + 20, 50, 260, 200))
    parts.append(
        f'<text x="{net_width + 20}" y="300" font-size="11" fill="#333">'
        f'<tspan fill="{_POSITIVE}">■</tspan> positive weight '
        f'<tspan fill="{_NEGATIVE}">■</tspan> negative weight</text>'
    )
    parts.append("</svg></div>")
    return "".join(parts)
