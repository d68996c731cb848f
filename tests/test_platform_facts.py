"""The platform facts are data (resources/platforms.toml): they load into the tables the matrix
loader and preflight use, with the types those expect, and agree with each other."""

from __future__ import annotations

from repromatrix import platform_facts as facts
from repromatrix.config import matrix
from repromatrix.host import preflight


def test_the_layers_use_the_loaded_tables() -> None:
    assert matrix.HOSTED_LABELS is facts.HOSTED_LABELS and matrix.WHEEL_GAPS is facts.WHEEL_GAPS
    assert preflight.PLATFORM_TAGS is facts.PLATFORM_TAGS
    assert preflight.MARKER_ENV is facts.MARKER_ENV


def test_types_as_the_checks_expect() -> None:
    assert facts.HOSTED_LABELS["macos-15-intel"] == ("macos", "x86_64")
    assert facts.EXACT_PYTHON["3.9.2"]["uv"] == frozenset(
        {"linux-x86_64", "macos-x86_64", "macos-arm64"})
    assert facts.NO_PYTHON_MINOR == {"3.9": frozenset({"windows-arm64"})}
    # no "use": no build under any name (TOML has no null)
    assert facts.WHEEL_GAPS == {("tensorflow", "2.12.0"): {"windows-arm64": None,
                                                          "macos-arm64": "tensorflow-macos"}}
    assert facts.PLATFORM_TAGS["linux-x86_64"][0] == "manylinux_2_35_x86_64"
    assert facts.PLATFORM_TAGS["linux-x86_64"][-1] == "manylinux2014_x86_64"
    assert all(isinstance(tags, tuple) for tags in facts.PLATFORM_TAGS.values())


def test_every_hosted_platform_has_tags_and_markers() -> None:
    platforms = {f"{os}-{arch}" for os, arch in facts.HOSTED_LABELS.values()}
    assert platforms == set(facts.PLATFORM_TAGS) == set(facts.MARKER_ENV)
    assert set(facts.MOVING_LABELS.values()) <= set(facts.HOSTED_LABELS)
