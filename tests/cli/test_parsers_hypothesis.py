"""Property tests: the parsers of user text raise nothing but PoolstrideError.

Whatever a user types as a spec, a shape or a config file, the answer is a result or one
:class:`PoolstrideError` line — never a TypeError, OverflowError or a traceback.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poolstride.errors import PoolstrideError
from poolstride.experiment.config import (
    CompareConfig,
    load_config_file,
    make_config,
    parse_seeds,
)
from poolstride.geometry.shape_strings import parse_input_shape, parse_shape, shape_or_none
from poolstride.layers.spec import parse_spec, spec_shapes

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

# text built from the spec language's own pieces, so that many examples get deep
_WORDS = st.sampled_from(
    [
        "conv",
        "max",
        "avg",
        "fc",
        "gap",
        "bn",
        "drop",
        "relu",
        "blur-max",
        "space-to-depth",
        "lp",
        "none",
        "subsample",
        "conv:k3",
        ":p1",
        ":ceil",
        ":d2",
        ":g2",
        ":dw",
        "-",
        "/",
        ":",
        ".",
        "0",
        "1",
        "2",
        "3",
        "16",
        "99999999999",
        "-1",
    ]
)
_SPEC_TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.lists(_WORDS, max_size=5).map("".join), max_size=5).map(", ".join),
)


@SETTINGS
@given(_SPEC_TEXT)
def test_parse_spec_raises_only_poolstride_errors(text):
    try:
        items = parse_spec(text)
    except PoolstrideError as err:
        assert "\n" not in str(err)
        return
    assert items


@SETTINGS
@given(_SPEC_TEXT, st.sampled_from(["3x16x16", "1x40", "2x9x7"]))
def test_spec_shapes_raise_only_poolstride_errors(text, shape):
    try:
        spec_shapes(text, shape)
    except PoolstrideError as err:
        assert "\n" not in str(err)


_SHAPE_TEXT = st.one_of(
    st.text(max_size=20),
    st.lists(st.integers(-5, 10**12).map(str), max_size=5).map("x".join),
    st.lists(st.one_of(st.integers(), st.text(max_size=3), st.none()), max_size=5),
)


@SETTINGS
@given(_SHAPE_TEXT)
def test_shape_parsers_raise_only_poolstride_errors(text):
    shape_or_none(text)
    for parse in (parse_shape, parse_input_shape):
        try:
            shape = parse(text)
        except PoolstrideError:
            continue
        assert all(isinstance(s, int) and s >= 1 for s in shape)


@SETTINGS
@given(st.one_of(st.text(max_size=30), st.integers()))
def test_parse_seeds_raises_only_poolstride_errors(text):
    try:
        parse_seeds(text)
    except PoolstrideError:
        pass


_FIELDS = sorted(CompareConfig.__dataclass_fields__)
_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.sampled_from(["max", "conv", "adam", "t", "cpu", "3", "0-2", "5-2", "1e-3", "inf"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_MAPPINGS = st.dictionaries(
    st.one_of(st.sampled_from(_FIELDS), st.sampled_from(["batch-size", "lr", "seeds"])),
    _VALUES,
    max_size=5,
) | st.dictionaries(st.text(max_size=8), _VALUES, max_size=3)


@SETTINGS
@given(_MAPPINGS)
def test_config_from_mapping_raises_only_poolstride_errors(data):
    try:
        cfg = CompareConfig.from_mapping(data)
    except PoolstrideError as err:
        assert "\n" not in str(err)
        return
    assert cfg.runs()  # a config that loads expands into runs


_YAML = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.tuples(st.sampled_from(_FIELDS), st.text(max_size=10)).map(
            lambda kv: f"{kv[0]}: {kv[1]}"
        ),
        max_size=4,
    ).map("\n".join),
)


@SETTINGS
@given(_YAML)
def test_config_files_raise_only_poolstride_errors(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "grid.yaml"
        try:
            path.write_text(text, encoding="utf-8")
        except UnicodeEncodeError:  # lone surrogates cannot be written to a file at all
            return
        try:
            make_config(load_config_file(path))
        except PoolstrideError as err:
            assert "\n" not in str(err)
