"""A horizontal bar chart drawn on the server as inline SVG: no JavaScript, readable by a
screen reader (``<title>`` and ``<desc>``), and every label escaped."""

from __future__ import annotations

import hashlib
from typing import Callable, Sequence

from markupsafe import Markup, escape

BAR_COLOUR = "#ee4c2c"
TRACK_COLOUR = "#eceff3"
INK = "#1d2330"
MUTED = "#5f6b7a"


def _default_format(value: float) -> str:
    return f"{value:g}"


def bar_chart(rows: Sequence[tuple[str, float]], max_value: float | None = None, *, title: str,
              description: str = "", width: int = 640, bar_height: int = 20, gap: int = 8,
              label_width: int = 270, value_width: int = 70, max_label_chars: int = 40,
              value_format: Callable[[float], str] = _default_format) -> Markup:
    """One bar per ``(label, value)``, longest possible bar at ``max_value`` (default: the
    largest value). Long labels are shortened on the chart; each bar's own ``<title>`` holds
    the whole label. Returns an empty Markup when there are no rows."""
    if not rows:
        return Markup("")
    values = [max(0.0, float(value)) for _, value in rows]
    top = max_value if max_value and max_value > 0 else (max(values) or 1.0)
    track = max(10, width - label_width - value_width)
    height = len(rows) * (bar_height + gap) - gap
    ident = "chart-" + hashlib.sha1(repr((title, list(rows))).encode()).hexdigest()[:10]
    summary = description or "; ".join(f"{label}: {value_format(value)}" for (label, _), value in zip(rows, values))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(summary)}</desc>',
    ]
    for index, ((label, _), value) in enumerate(zip(rows, values)):
        y = index * (bar_height + gap)
        text_y = y + bar_height * 0.7
        bar = round(track * min(value, top) / top, 1)
        shown = label if len(label) <= max_label_chars else label[:max_label_chars - 1].rstrip() + "…"
        parts.append(
            f'<g><title>{escape(label)}: {escape(value_format(value))}</title>'
            f'<text x="{label_width - 8}" y="{text_y:.1f}" text-anchor="end" fill="{INK}">{escape(shown)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{track}" height="{bar_height}" rx="3" fill="{TRACK_COLOUR}"/>'
            f'<rect x="{label_width}" y="{y}" width="{bar}" height="{bar_height}" rx="3" fill="{BAR_COLOUR}"/>'
            f'<text x="{label_width + track + 6}" y="{text_y:.1f}" fill="{MUTED}">{escape(value_format(value))}</text>'
            f'</g>')
    parts.append("</svg>")
    return Markup("".join(parts))
