"""The argparse value types: what they accept and the message of what they refuse."""

from __future__ import annotations

import argparse

import pytest

from repromatrix.config.arguments import check_cell_id, env_pair, positive
from repromatrix.errors import UsageError


def test_env_pair() -> None:
    assert env_pair("A=b=c") == ("A", "b=c") and env_pair("A=") == ("A", "")
    for text in ("A", "=b", ""):
        with pytest.raises(argparse.ArgumentTypeError) as caught:
            env_pair(text)
        assert str(caught.value) == f"expected NAME=VALUE, got {text!r}"
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        env_pair("A=b\x00c")  # the operating system refuses it: said before the slow start
    assert str(caught.value) == "environment variable 'A' contains a NUL character"


def test_positive() -> None:
    assert positive("1") == 1 and positive("64") == 64
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        positive("0")
    assert str(caught.value) == "must be at least 1, got 0"
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        positive("1.5")
    assert str(caught.value) == "expected a whole number, got '1.5'"


def test_check_cell_id() -> None:
    assert check_cell_id("ubuntu-24.04_x") == "ubuntu-24.04_x"
    with pytest.raises(UsageError) as caught:
        check_cell_id("../x", "--only")
    assert str(caught.value) == ("--only '../x': use letters, digits, '.', '_' and '-' only "
                                 "(64 characters at most)")
