"""Whatever the artifacts contain, load, compare and render never raise."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repromatrix.report.command import render
from repromatrix.report.compare import compare
from repromatrix.report.load import collect, decode_bytes, parse_artifact
from repromatrix.report.render_markdown import MARKER, MAX_CHARS

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


def _check_all_formats(texts: list[str]) -> None:
    loaded = collect(parse_artifact(text, f"f{i:02d}.json") for i, text in enumerate(texts))
    agg = compare(loaded)
    md = render(agg, "markdown")
    assert md.startswith(MARKER + "\n") and len(md) < MAX_CHARS
    data = json.loads(render(agg, "json"))
    assert data["format"] == "repromatrix-aggregate"
    assert render(agg, "text").startswith("repromatrix: ")
    # every file shows up somewhere: as a cell, a duplicate or a rejected file
    assert len(data["cells"]) + len(data["rejected"]) == len(texts)


@SETTINGS
@given(st.lists(json_values, min_size=1, max_size=4))
def test_random_json_never_raises(values):
    _check_all_formats([json.dumps(v) for v in values])


@SETTINGS
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(
                [
                    "schema",
                    "kind",
                    "cell",
                    "status",
                    "variants",
                    "probe",
                    "fingerprint",
                    "drift",
                    "error",
                    "experiment",
                ]
            ),
            json_values,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_random_objects_with_real_keys_never_raise(objects):
    for obj in objects:
        obj["schema"], obj["kind"] = 1, "repromatrix-cell"
    _check_all_formats([json.dumps(o) for o in objects])


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, prefix + (key,)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_paths(child, prefix + (index,)))
    return out


def _mangle(doc: Any, data: st.DataObject) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 6))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(json_values)
    return doc


@SETTINGS
@given(st.data())
def test_mangled_real_artifacts_never_raise(art, data):
    docs = [_mangle(d, data) for d in art.two_group_docs()] + [art.cell("intact")]
    texts = [json.dumps(d) for d in docs]
    if data.draw(st.booleans()):  # truncate one file somewhere
        index = data.draw(st.integers(0, len(texts) - 1))
        texts[index] = texts[index][: data.draw(st.integers(0, len(texts[index])))]
    _check_all_formats(texts)


@SETTINGS
@given(st.data())
def test_mangled_settings_and_variant_probes_never_raise(art, data):
    """Random values for a variant's settings (whole or per field) and its own probe."""
    docs = art.two_group_docs()
    for doc in docs:
        for name in sorted(doc["variants"]):
            variant = doc["variants"][name]
            where = data.draw(st.sampled_from(["settings", "field", "probe", "keep"]))
            if where == "settings":
                variant["settings"] = data.draw(json_values)
            elif where == "field":
                key = data.draw(
                    st.sampled_from(["optimizer", "env", "threads", "op_determinism", "other"])
                )
                variant["settings"][key] = data.draw(json_values)
            elif where == "probe":
                variant["probe"] = data.draw(
                    json_values
                    | st.lists(
                        st.fixed_dictionaries(
                            {"op": st.text(max_size=5), "case": st.text(max_size=5)},
                            optional={"sha256": json_values},
                        ),
                        max_size=4,
                    )
                )
    _check_all_formats([json.dumps(d) for d in docs])


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(raw):
    text, _ = decode_bytes(raw)
    _check_all_formats([text])
