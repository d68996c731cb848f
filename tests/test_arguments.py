"""The argparse value types: what they accept and the message of what they refuse."""

from __future__ import annotations

import argparse

import pytest

from repromatrix.config.arguments import env_pair, positive


def test_env_pair() -> None:
    assert env_pair("A=b=c") == ("A", "b=c") and env_pair("A=") == ("A", "")
    for text in ("A", "=b", ""):
        with pytest.raises(argparse.ArgumentTypeError) as caught:
            env_pair(text)
        assert str(caught.value) == f"expected NAME=VALUE, got {text!r}"


def test_positive() -> None:
    assert positive("1") == 1 and positive("64") == 64
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        positive("0")
    assert str(caught.value) == "must be at least 1, got 0"
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        positive("1.5")
    assert str(caught.value) == "expected a whole number, got '1.5'"
