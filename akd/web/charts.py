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
        out.extend(_grid(frame, frame.y(value, top), fmt(value)))
    return out


def _grid(frame: Frame, y: float, text: str) -> list[str]:
    line = f'<line class="grid" x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y:.1f}" y2="{y:.1f}"/>'
    if not text:
        return [line]
    return [line, f'<text class="axis" x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(text)}</text>']


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
    """One line per series over the labels; a missing value (None) breaks the line. Linear y."""
    peak = max((v for values in series.values() for v in values if v is not None), default=0.0)
    top = nice_max(peak)
    body = _y_axis(frame, top, fmt)
    return _plot(frame, labels, series, label, fmt, body, lambda v: frame.y(v, top))


def log_lines(
    labels: Sequence[str], series: dict[str, list[float | None]], label: str, fmt: Format, frame: Frame = Frame()
) -> Markup:
    """Like ``lines`` on a log10 y axis from the decade below the smallest value to the one
    above the largest, so one slow outlier does not press every other point flat."""
    lo, hi = log_range([v for values in series.values() for v in values if v is not None])
    span = math.log10(hi / lo)

    def y(value: float) -> float:
        return frame.top + frame.plot_h * (1 - math.log10(max(value, lo) / lo) / span)

    body = _log_axis(frame, lo, hi, fmt, y)
    return _plot(frame, labels, series, label, fmt, body, y)


def log_range(values: Sequence[float]) -> tuple[float, float]:
    """Powers of ten around the positive values (1 ms .. 1 s without any)."""
    positive = [v for v in values if v > 0]
    if not positive:
        return 1e-3, 1.0
    lo = 10.0 ** math.floor(math.log10(min(positive)))
    hi = 10.0 ** math.ceil(math.log10(max(positive)))
    return lo, hi if hi > lo else lo * 10


def _log_axis(frame: Frame, lo: float, hi: float, fmt: Format, y: Callable[[float], float]) -> list[str]:
    decades = round(math.log10(hi / lo))
    every = max(1, math.ceil(decades / 6))
    out = []
    for i in range(decades + 1):
        value = lo * 10.0**i
        out.extend(_grid(frame, y(value), fmt(value) if i % every == 0 else ""))
    return out


def _plot(
    frame: Frame, labels: Sequence[str], series: dict[str, list[float | None]], label: str, fmt: Format,
    body: list[str], y: Callable[[float], float],
) -> Markup:  # fmt: skip
    slot = frame.plot_w / max(1, len(labels))
    for name, values in series.items():
        body.extend(_line(frame, name, values, labels, slot, y, fmt))
    body.extend(_x_labels(frame, labels, slot))
    return _svg(frame, body, label)


def _line(
    frame: Frame, name: str, values: list[float | None], labels: Sequence[str], slot: float,
    y: Callable[[float], float], fmt: Format,
) -> list[str]:  # fmt: skip
    out: list[str] = []
    run: list[str] = []
    for i, v in enumerate([*values, None]):
        if v is None:
            if len(run) > 1:
                out.append(f'<polyline class="ln ln-{escape(name)}" points="{" ".join(run)}"/>')
            run = []
            continue
        x, at = frame.left + slot * (i + 0.5), y(v)
        run.append(f"{x:.1f},{at:.1f}")
        out.append(
            f'<circle class="pt ln-{escape(name)}" cx="{x:.1f}" cy="{at:.1f}" r="3" data-value="{v:.6g}">'
            f"<title>{escape(labels[i])}: {escape(name)} {escape(fmt(v))}</title></circle>"
        )
    return out
