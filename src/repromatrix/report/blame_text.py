"""Raw (unescaped) text of a comparison's root cause, likely causes and element differences,
shared by the text and markdown renderers (each escapes it its own way)."""

from __future__ import annotations

from typing import Any

from repromatrix.report.likely_causes import cause_text

MAX_CAUSES = 5  # likely causes named per comparison; the JSON has them all


def blame_lines(comparison: Any) -> list[str]:
    """``root cause: ...`` and ``likely cause: ...`` lines of a Comparison (none if nothing)."""
    lines = []
    if comparison.root_cause is not None:
        lines.append("root cause: " + comparison.root_cause.reading())
    causes = comparison.likely_causes[:MAX_CAUSES]
    if causes:
        # one entry per cause, its fingerprint keys together: "oneDNN (a: x | y, b: 0 | 1)"
        by_cause: dict[str, list[str]] = {}
        for cause in causes:
            by_cause.setdefault(cause.cause, []).append(cause_text(cause)[len(cause.cause) + 2:-1])
        shown = "; ".join(f"{name} ({', '.join(keys)})" for name, keys in by_cause.items())
        left = len(comparison.likely_causes) - len(causes)
        more = f" and {left:d} more" if left > 0 else ""
        lines.append("likely cause{}: {}{}".format("s" if len(by_cause) > 1 else "", shown, more))
    return lines


def tensor_figures(max_ulp: int | None, max_abs: float | None,
                   max_rel: float | None, units: str = "ULP") -> str:
    """e.g. "2795 ULP, abs 1.19e-07, rel 3.3e-05" (``units`` "float64 ULP" for float64 tensors);
    ULP "n/a" when every differing element crosses zero (no meaningful distance), "?" without
    raw data."""
    if max_abs is None:
        return "?" if max_ulp is None else f"{max_ulp:d} {units}"
    ulp = f"n/a {units} (crosses zero)" if not max_ulp else f"{max_ulp:d} {units}"
    return f"{ulp}, abs {max_abs:.3g}, rel {max_rel or 0.0:.3g}"
