"""``repromatrix aggregate``: compare cell artifacts and explain any divergence.

Modules, one concern each: ``load`` (read and validate, never raise on content),
``compare`` (groups, reference, divergence, suspects), ``escape`` (untrusted strings),
``table``, ``render_text``, ``render_markdown``, ``render_json``, ``chart`` and
``command`` (argparse wiring plus the pure ``aggregate``/``render`` API).
"""

from __future__ import annotations

from repromatrix.report.command import add_parser, aggregate, render, run

__all__ = ["add_parser", "aggregate", "render", "run"]
