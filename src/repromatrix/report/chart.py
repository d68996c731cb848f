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


def y_bottom(series: Sequence[Series]) -> int:
    """The axis bottom: one decade below the smallest real difference, so the axis is not spent
    on the floor of the equal steps (drawn at this bottom); the floor itself when nothing else."""
    real = [v for s in series for v in s.values if v > FLOOR_LOG10]
    if not real:
        return int(FLOOR_LOG10)
    # rounded first: a difference of 1e-3 is log10 -3.00000000000005 in floating point
    return max(int(FLOOR_LOG10), int(math.floor(round(min(real), 6))) - 1)


def _lifted(series: Series, bottom: float) -> tuple[float, ...]:
    return tuple(max(v, bottom) for v in series.values)


def floor_note(result: VariantResult) -> str:
    """Raw text saying where the equal steps are drawn."""
    bottom = y_bottom(series_of(result))
    return (f"Steps with equal weights (and differences below 1e{bottom:d}) are drawn at "
            f"{bottom:d}, the axis bottom.")


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
            f"{series.letter} vs {result.groups[0].letter}: "
            f"{COLOUR_NAMES[index % len(COLOUR_NAMES)]}"
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
        f'    title "{mermaid_label(result.name)}: log10 of weight-sum difference vs '
        f'{mermaid_label(result.groups[0].representative)}"',
        f'    x-axis "training step" 0 --> {max(last, 1):d}',
        f'    y-axis "log10 abs difference" {y_bottom(series):d} --> {_y_top(series):d}',
    ]
    for item in series:
        lines.append("    line [{}]".format(
            ", ".join(_num(v) for v in _lifted(item, y_bottom(series)))))
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
    y_low, y_high = float(y_bottom(series)), float(_y_top(series))

    def x_of(step: int) -> float:
        return left + plot_w * step / last

    def y_of(value: float) -> float:
        return top + plot_h * (y_high - value) / (y_high - y_low)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:d}" height="{height:d}" '
        f'viewBox="0 0 {width:d} {height:d}" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left:d}" y="24" font-size="15">'
        f"{xml(result.name, 60)}: log10 |weight sum {result.groups[0].letter} - weight sum of "
        "other group|</text>",
    ]
    for tick in range(int(y_low), int(y_high) + 1, 2):
        y = y_of(tick)
        out.append(
            f'<line x1="{left:d}" y1="{y:.1f}" x2="{left + plot_w:d}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        out.append(f'<text x="{left - 6:d}" y="{y + 4:.1f}" text-anchor="end">{tick:d}</text>')
    for index in range(5):
        step = round(last * index / 4)
        x = x_of(step)
        out.append(
            f'<line x1="{x:.1f}" y1="{top:d}" x2="{x:.1f}" y2="{top + plot_h:d}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16:d}" text-anchor="middle">{step:d}</text>'
        )
    out.append(
        f'<rect x="{left:d}" y="{top:d}" width="{plot_w:d}" height="{plot_h:d}" fill="none" '
        'stroke="#333"/>'
    )
    out.append(
        f'<text x="{left + plot_w // 2:d}" y="{top + plot_h + 34:d}" text-anchor="middle">training '
        'step</text>'
    )
    out.append(
        f'<text transform="translate({left - 40:d} {top + plot_h // 2:d}) rotate(-90)" '
        'text-anchor="middle">'
        "log10 abs difference</text>"
    )
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(f"{x_of(s):.1f},{y_of(v):.1f}"
                          for s, v in zip(item.steps, _lifted(item, y_low)))
        out.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        lx = left + 10 + 110 * index
        out.append(
            f'<rect x="{lx:d}" y="{height - 18:d}" width="14" height="4" fill="{colour}"/>'
        )
        out.append(
            f'<text x="{lx + 18:d}" y="{height - 12:d}">{item.letter} vs '
            f'{result.groups[0].letter}</text>'
        )
    out.append(
        f'<text x="{left:d}" y="42" fill="#555" font-size="11">equal steps and differences below '
        f'1e{int(y_low):d} '
        f"are drawn at {int(y_low):d}</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
