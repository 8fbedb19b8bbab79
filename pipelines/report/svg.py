"""Small SVG charts drawn on the server, so the report needs no script and works offline.

Every chart is an `<svg class="chart">` whose marks carry `class="mark"` and a `<title>`
(the browser shows it as a tooltip), so a test can count what was drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000")
WIDTH = 720
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    # Points drawn hollow (e.g. a cohort whose window is still open); same length as values.
    hollow: Sequence[bool] = ()


def percent(value: float) -> str:
    return f"{value:.0%}" if value >= 0.1 or value == 0 else f"{value:.1%}"


def _svg(name: str, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(name)}" role="img" viewBox="0 0 {WIDTH} {height}"'
        f' width="{WIDTH}" height="{height}" {FONT}><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def funnel(name: str, steps: Sequence[tuple[str, int]], title: str) -> str:
    """Horizontal bars, one per step, labelled with entities and the share of step 1."""
    label_width, bar_left, row = 190, 200, 30
    first = steps[0][1] if steps and steps[0][1] else 1
    span = WIDTH - bar_left - 110
    body = []
    for index, (step, entities) in enumerate(steps):
        y = 10 + index * row
        length = max(1.0, span * entities / first)
        share = percent(entities / first)
        body.append(_text(label_width, y + 16, f"{index + 1}. {step}", "end"))
        body.append(
            f'<rect class="mark" data-label="{escape(step)}" data-value="{entities}"'
            f' x="{bar_left}" y="{y}" width="{length:.1f}" height="22" fill="{PALETTE[0]}">'
            f"<title>{escape(step)}: {entities:,} ({share})</title></rect>"
        )
        body.append(_text(bar_left + length + 6, y + 16, f"{entities:,} · {share}"))
    return _svg(name, 20 + row * len(steps), body, title)


def lines(
    name: str,
    labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    *,
    threshold: float | None = None,
    y_max: float = 1.0,
    flagged: Sequence[bool] = (),
) -> str:
    """Lines over categorical x labels (days, weeks), y a fraction from 0 to `y_max`.
    `threshold` draws a dashed rule; `flagged` x positions get a red band behind them."""
    left, right, top, bottom, height = 48, 16, 12, 44, 260
    plot_width, plot_height = WIDTH - left - right, height - top - bottom
    step = plot_width / max(1, len(labels) - 1)

    def x(index: int) -> float:
        return left + index * step if len(labels) > 1 else left + plot_width / 2

    def y(value: float) -> float:
        return top + plot_height * (1 - value / y_max)

    body = []
    for index, is_flagged in enumerate(flagged):
        if is_flagged:
            body.append(
                f'<rect class="flag" data-label="{escape(labels[index])}"'
                f' x="{x(index) - step / 2:.1f}" y="{top}" width="{step:.1f}"'
                f' height="{plot_height}" fill="#D55E00" fill-opacity="0.15"/>'
            )
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        value = tick * y_max
        body.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{y(value):.1f}" y2="{y(value):.1f}"'
            ' stroke="#ddd"/>'
        )
        body.append(_text(left - 6, y(value) + 4, percent(value), "end"))
    every = max(1, len(labels) // 8)
    for index, label in enumerate(labels):
        # Every `every`-th label, and the last one unless it would overlap the tick before it.
        is_last = index == len(labels) - 1 and index % every >= every / 2
        if index % every == 0 or is_last:
            body.append(_text(x(index), height - bottom + 16, label, "middle"))
    if threshold is not None:
        body.append(
            f'<line class="threshold" x1="{left}" x2="{WIDTH - right}" y1="{y(threshold):.1f}"'
            f' y2="{y(threshold):.1f}" stroke="#D55E00" stroke-dasharray="4 3"/>'
        )
    for number, line in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        points = [(x(i), y(v)) for i, v in enumerate(line.values) if v is not None]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        body.append(
            f'<polyline class="mark" points="{path}" fill="none" stroke="{colour}"'
            f' stroke-width="2"><title>{escape(line.name)}</title></polyline>'
        )
        for index, value in enumerate(line.values):
            if value is None:
                continue
            hollow = bool(line.hollow) and line.hollow[index]
            fill = "#fff" if hollow else colour
            note = " (window still open)" if hollow else ""
            body.append(
                f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="3" fill="{fill}"'
                f' stroke="{colour}"><title>{escape(line.name)}, {escape(labels[index])}:'
                f" {percent(value)}{note}</title></circle>"
            )
    body.append(_legend([line.name for line in series], height - 12))
    return _svg(name, height, body, title)


def stacked_bars(name: str, labels: Sequence[str], series: Sequence[Series], title: str) -> str:
    """One bar per x label, stacked by series (counts)."""
    left, right, top, bottom, height = 48, 16, 12, 44, 260
    plot_width, plot_height = WIDTH - left - right, height - top - bottom
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    top_value = max(totals, default=0) or 1
    slot = plot_width / max(1, len(labels))
    bar = min(60.0, slot * 0.7)
    body = []
    for tick in range(5):
        value = top_value * tick / 4
        ty = top + plot_height * (1 - tick / 4)
        body.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#ddd"/>'
        )
        body.append(
            _text(left - 6, ty + 4, f"{value:.0f}" if top_value >= 4 else f"{value:.1f}", "end")
        )
    for index, label in enumerate(labels):
        bx = left + slot * index + (slot - bar) / 2
        base = top + plot_height
        for number, part in enumerate(series):
            value = part.values[index] or 0
            if not value:
                continue
            length = plot_height * value / top_value
            base -= length
            body.append(
                f'<rect class="mark" x="{bx:.1f}" y="{base:.1f}" width="{bar:.1f}"'
                f' height="{length:.1f}" fill="{PALETTE[number % len(PALETTE)]}"><title>'
                f"{escape(label)}, {escape(part.name)}: {value:g} of {totals[index]:g}"
                f" ({percent(value / totals[index])})</title></rect>"
            )
        body.append(_text(bx + bar / 2, height - bottom + 16, label, "middle"))
    body.append(_legend([part.name for part in series], height - 12))
    return _svg(name, height, body, title)


def heatmap(
    name: str,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    cells: dict[tuple[int, int], tuple[float, str]],
    title: str,
) -> str:
    """Rows x columns of cells shaded by a fraction (0 white, 1 dark blue), each with its
    value written in and a tooltip."""
    left, top, cell_height = 90, 28, 26
    cell_width = min(60.0, (WIDTH - left - 10) / max(1, len(column_labels)))
    body = []
    for column, label in enumerate(column_labels):
        body.append(_text(left + cell_width * (column + 0.5), top - 10, label, "middle"))
    for row, label in enumerate(row_labels):
        cy = top + row * cell_height
        body.append(_text(left - 8, cy + 17, label, "end"))
        for column in range(len(column_labels)):
            if (row, column) not in cells:
                continue
            value, tooltip = cells[(row, column)]
            colour = _blue(value)
            ink = "#fff" if value > 0.5 else "#222"
            cx = left + column * cell_width
            body.append(
                f'<rect class="mark" x="{cx:.1f}" y="{cy}" width="{cell_width - 2:.1f}"'
                f' height="{cell_height - 2}" fill="{colour}" stroke="#eee"><title>'
                f"{escape(tooltip)}</title></rect>"
            )
            body.append(
                _text(cx + cell_width / 2 - 1, cy + 17, percent(value), "middle", f' fill="{ink}"')
            )
    return _svg(name, top + cell_height * len(row_labels) + 8, body, title)


def _blue(value: float) -> str:
    """White to PALETTE[0]'s blue."""
    value = min(1.0, max(0.0, value))
    red, green, blue = (round(255 + (target - 255) * value) for target in (0, 114, 178))
    return f"#{red:02x}{green:02x}{blue:02x}"


def _legend(names: Sequence[str], y: float) -> str:
    parts, x = [], 48.0
    for number, name in enumerate(names):
        colour = PALETTE[number % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{colour}"/>')
        parts.append(_text(x + 14, y, name))
        x += 24 + 7 * len(name)
    return '<g class="legend">' + "".join(parts) + "</g>"
