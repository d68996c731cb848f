"""Files the package ships: the built-in data set, the defaults layer, init's templates.

One helper names them, so that no module guesses where it sits relative to this folder.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def path(*parts: str) -> Path:
    """The shipped file ``parts`` (e.g. ``path("workflows", "repromatrix.yml")``)."""
    return FOLDER.joinpath(*parts)
