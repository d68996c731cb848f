"""Command-line options that several subcommands share, each declared once (as nox's
``_options.py`` does), so that their spelling, default and help cannot drift apart."""

from __future__ import annotations

import argparse

from repromatrix.config.matrix import DEFAULT_MATRIX


def add_matrix_option(parser: argparse.ArgumentParser) -> None:
    """``--matrix PATH``: run, lab, plan and preflight all read the same file by default."""
    parser.add_argument("--matrix", default=str(DEFAULT_MATRIX),
                        help="matrix file (default: ./matrix.toml)")
