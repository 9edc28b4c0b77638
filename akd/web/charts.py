"""Inline SVG charts drawn on the server: stacked bars and lines, no script, no download.

Colours come from the page's stylesheet through classes (``st-<state>``, ``ln-<name>``),
so the charts use the same state colours as every badge and as akctl.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

Format = Callable[[float], str]


@dataclass(frozen=True)
class Frame:
    width: int = 960
    height: int = 240
    left: int = 56
    right: int = 12
    top: int = 10
    bottom: int = 26

    @property
    def plot_w(self) -> float:
        return float(self.width - self.left - self.right)

    @property
    def plot_h(self) -> float:
        return float(self.height - self.top - self.bottom)

    def y(self, value: float, top: float) -> float:
        return self.top + self.plot_h * (1 - value / top)


def nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return float(next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value * 0.999999))


def _svg(frame: Frame, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {frame.width} {frame.height}" role="img" aria-label="{escape(label)}">'
        + "".join(body)
        + "</svg>"
    )


def _y_axis(frame: Frame, top: float, fmt: Format) -> list[str]:
    out = []
    for i in range(5):
        value = top * i / 4
        y = frame.y(value, top)
        out.append(f'<line class="grid" x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(
            f'<text class="axis" x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(value))}</text>'
        )
    return out


def _x_labels(frame: Frame, labels: Sequence[str], slot: float) -> list[str]:
    every = max(1, math.ceil(len(labels) / 8))
    return [
        f'<text class="axis" x="{frame.left + slot * (i + 0.5):.1f}" y="{frame.height - 8}" text-anchor="middle">'
        f"{escape(text)}</text>"
        for i, text in enumerate(labels)
        if i % every == 0
    ]


def stacked_bars(labels: Sequence[str], series: dict[str, list[int]], label: str, frame: Frame = Frame()) -> Markup:
    """One bar per label, stacked by series in the order given (states: created .. stopped)."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = 4.0 * math.ceil(nice_max(max([1.0, *totals]) / 4))  # a whole number of sessions on every grid line
    slot = frame.plot_w / max(1, len(labels))
    body = _y_axis(frame, top, lambda v: f"{v:,.0f}")
    for i, text in enumerate(labels):
        body.extend(_stack(frame, series, i, slot, top, text))
    body.extend(_x_labels(frame, labels, slot))
    return _svg(frame, body, label)


def _stack(frame: Frame, series: dict[str, list[int]], i: int, slot: float, top: float, text: str) -> list[str]:
    out, base = [], 0
    x, w = frame.left + slot * i + slot * 0.12, max(1.0, slot * 0.76)
    for name, values in series.items():
        if not values[i]:
            continue
        y0, y1 = frame.y(base, top), frame.y(base + values[i], top)
        out.append(
            f'<rect class="bar st-{escape(name)}" x="{x:.1f}" y="{y1:.1f}" width="{w:.1f}" height="{y0 - y1:.1f}">'
            f"<title>{escape(text)}: {values[i]:,} {escape(name)}</title></rect>"
        )
        base += values[i]
    return out


def lines(
    labels: Sequence[str], series: dict[str, list[float | None]], label: str, fmt: Format, frame: Frame = Frame()
) -> Markup:
    """One line per series over the labels; a missing value (None) breaks the line."""
    peak = max((v for values in series.values() for v in values if v is not None), default=0.0)
    top = nice_max(peak)
    slot = frame.plot_w / max(1, len(labels))
    body = _y_axis(frame, top, fmt)
    for name, values in series.items():
        body.extend(_line(frame, name, values, labels, slot, top, fmt))
    body.extend(_x_labels(frame, labels, slot))
    return _svg(frame, body, label)


def _line(
    frame: Frame, name: str, values: list[float | None], labels: Sequence[str], slot: float, top: float, fmt: Format
) -> list[str]:
    out: list[str] = []
    run: list[str] = []
    for i, v in enumerate([*values, None]):
        if v is None:
            if len(run) > 1:
                out.append(f'<polyline class="ln ln-{escape(name)}" points="{" ".join(run)}"/>')
            run = []
            continue
        x, y = frame.left + slot * (i + 0.5), frame.y(v, top)
        run.append(f"{x:.1f},{y:.1f}")
        out.append(
            f'<circle class="pt ln-{escape(name)}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
            f"<title>{escape(labels[i])}: {escape(name)} {escape(fmt(v))}</title></circle>"
        )
    return out
