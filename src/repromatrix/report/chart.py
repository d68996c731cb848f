"""The divergence picture: a mermaid ``xychart-beta`` for PR comments and a standalone SVG.

Both plot, per non-reference group, log10 |sum_ref[k] - sum_other[k]| over training steps.
A flat line at the floor followed by a jump shows where training forked; the slope after
it shows whether the difference grows. Only our own numbers and sanitized labels go into
either output, so a hostile variant name cannot break out of the code fence or the SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from repromatrix.report.compare import FLOOR_LOG10, Series, VariantResult
from repromatrix.report.escape import mermaid_label, xml

# Colour-blind-safe palette (Okabe-Ito); line i of the chart uses colour i.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
COLOUR_NAMES = ("blue", "orange", "green", "vermilion", "purple", "sky blue", "yellow", "black")


def series_of(result: VariantResult) -> list[Series]:
    return [c.series for c in result.comparisons if c.series is not None]


def _y_top(series: Sequence[Series]) -> int:
    top = max((v for s in series for v in s.values), default=0.0)
    return max(0, int(math.ceil(top)))


def _num(value: float) -> str:
    """Short, deterministic number text (no exponent, no '-0')."""
    text = (f"{value:.3f}").rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def legend(result: VariantResult) -> str:
    """Which colour is which group, since xychart-beta draws no legend."""
    parts = []
    for index, series in enumerate(series_of(result)):
        parts.append(
            f"{series.letter} vs {result.groups[0].letter}: {COLOUR_NAMES[index % len(COLOUR_NAMES)]}"
        )
    return "; ".join(parts)


def mermaid(result: VariantResult) -> str | None:
    """A fenced mermaid block, or None when the variant has no per-step trails to plot."""
    series = series_of(result)
    if not series:
        return None
    last = max(s.last_step for s in series)
    palette = ", ".join(PALETTE[i % len(PALETTE)] for i in range(len(series)))
    lines = [
        "```mermaid",
        '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + palette + '"}}}}%%',
        "xychart-beta",
        f'    title "{mermaid_label(result.name)}: log10 of weight-sum difference vs {result.groups[0].letter}"',
        '    x-axis "training step" 0 --> %d' % max(last, 1),
        '    y-axis "log10 abs difference" %s --> %d' % (_num(FLOOR_LOG10), _y_top(series)),
    ]
    for item in series:
        lines.append("    line [{}]".format(", ".join(_num(v) for v in item.values)))
    lines.append("```")
    return "\n".join(lines)


def svg(result: VariantResult) -> str | None:
    """A self-contained SVG of the same picture for local viewing, or None if nothing to plot."""
    series = series_of(result)
    if not series:
        return None
    width, height = 760, 400
    left, right, top, bottom = 70, 20, 50, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    last = max(max(s.last_step for s in series), 1)
    y_low, y_high = FLOOR_LOG10, float(_y_top(series))

    def x_of(step: int) -> float:
        return left + plot_w * step / last

    def y_of(value: float) -> float:
        return top + plot_h * (y_high - value) / (y_high - y_low)

    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
        'font-family="sans-serif" font-size="12">' % (width, height, width, height),
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="%d" y="24" font-size="15">'
        "%s: log10 |weight sum %s - weight sum of other group|</text>"
        % (left, xml(result.name, 60), result.groups[0].letter),
    ]
    for tick in range(int(y_low), int(y_high) + 1, 2):
        y = y_of(tick)
        out.append(
            '<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
            % (left, y, left + plot_w, y)
        )
        out.append('<text x="%d" y="%.1f" text-anchor="end">%d</text>' % (left - 6, y + 4, tick))
    for index in range(5):
        step = round(last * index / 4)
        x = x_of(step)
        out.append(
            '<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, top, x, top + plot_h)
        )
        out.append(
            '<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x, top + plot_h + 16, step)
        )
    out.append(
        '<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>'
        % (left, top, plot_w, plot_h)
    )
    out.append(
        '<text x="%d" y="%d" text-anchor="middle">training step</text>'
        % (left + plot_w // 2, top + plot_h + 34)
    )
    out.append(
        '<text transform="translate(%d %d) rotate(-90)" text-anchor="middle">'
        "log10 abs difference</text>" % (left - 40, top + plot_h // 2)
    )
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(f"{x_of(s):.1f},{y_of(v):.1f}" for s, v in zip(item.steps, item.values))
        out.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        lx = left + 10 + 110 * index
        out.append(
            '<rect x="%d" y="%d" width="14" height="4" fill="%s"/>' % (lx, height - 18, colour)
        )
        out.append(
            '<text x="%d" y="%d">%s vs %s</text>'
            % (lx + 18, height - 12, item.letter, result.groups[0].letter)
        )
    out.append(
        '<text x="%d" y="42" fill="#555" font-size="11">equal steps and differences below 1e%d '
        "are drawn at %d</text>" % (left, int(FLOOR_LOG10), int(FLOOR_LOG10))
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
