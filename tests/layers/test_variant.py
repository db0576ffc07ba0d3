"""The variant mini-language: parsing, formatting, round trips and one-line errors."""

from __future__ import annotations

import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolstride.errors import PoolstrideError
from poolstride.layers import DOWNSAMPLE_CLASSES, KIND_OPTIONS, KINDS, format_variant, parse_variant


@pytest.mark.parametrize(
    ("text", "kind", "options"),
    [
        ("max", "max", {}),
        ("max:k3", "max", {"kernel_size": 3}),
        ("max:k3:pad0", "max", {"kernel_size": 3, "padding": 0}),
        ("max:d2", "max", {"dilation": 2}),
        ("avg:ceil", "avg", {"ceil_mode": True}),
        ("avg:nocip", "avg", {"count_include_pad": False}),
        ("conv:k3", "conv", {"kernel_size": 3}),
        ("conv:k3x1:nobias", "conv", {"kernel_size": (3, 1), "bias": False}),
        ("blur-max:filt5", "blur-max", {"filt_size": 5}),
        ("lp:p3", "lp", {"p": 3.0}),
        ("lp:p2.5", "lp", {"p": 2.5}),
        ("adaptive-avg:o4x6", "adaptive-avg", {"output_size": (4, 6)}),
        (" Max:K3 ", "max", {"kernel_size": 3}),
        ("space-to-depth", "space-to-depth", {}),
    ],
)
def test_parse_examples(text, kind, options):
    assert parse_variant(text) == (kind, options)


@pytest.mark.parametrize(
    ("kind", "options", "text"),
    [
        ("max", {"kernel_size": 3}, "max:k3"),
        ("max", {"padding": 0, "kernel_size": (3, 3)}, "max:k3:pad0"),
        ("avg", {"ceil_mode": False, "count_include_pad": True}, "avg"),
        ("avg", {"ceil_mode": True, "count_include_pad": False}, "avg:ceil:nocip"),
        ("lp", {"p": 3.0}, "lp:p3"),
        ("lp", {"p": 2.5}, "lp:p2.5"),
        ("conv", {"kernel_size": (3, 1), "bias": False}, "conv:k3x1:nobias"),
        ("none", {}, "none"),
    ],
)
def test_format_examples(kind, options, text):
    assert format_variant(kind, options) == text


_VALUES = {
    "kernel_size": st.integers(1, 9),
    "stride": st.integers(1, 9),
    "padding": st.integers(0, 4),
    "dilation": st.integers(1, 4),
    "ceil_mode": st.just(True),
    "count_include_pad": st.just(False),
    "p": st.sampled_from([1.0, 2.0, 3.0, 2.5, 0.5]),
    "filt_size": st.integers(1, 7),
    "output_size": st.one_of(st.integers(1, 9), st.tuples(st.integers(1, 9), st.integers(1, 9))),
    "bias": st.just(False),
}


@st.composite
def variants(draw):
    kind = draw(st.sampled_from(KINDS))
    chosen = (
        draw(st.lists(st.sampled_from(KIND_OPTIONS[kind]), unique=True))
        if KIND_OPTIONS[kind]
        else []
    )
    return kind, {name: draw(_VALUES[name]) for name in chosen}


@given(variants())
def test_format_then_parse_round_trips(variant):
    kind, options = variant
    text = format_variant(kind, options)
    assert "," not in text  # variants are comma-separated on the command line
    parsed_kind, parsed = parse_variant(text)
    assert parsed_kind == kind
    expected = {
        k: (v[0] if isinstance(v, tuple) and len(set(v)) == 1 else v) for k, v in options.items()
    }
    assert parsed == expected
    assert format_variant(parsed_kind, parsed) == text


def test_option_table_matches_class_signatures():
    for kind, cls in DOWNSAMPLE_CLASSES.items():
        params = inspect.signature(cls.__init__).parameters
        keywords = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
        assert keywords - {"factor", "dim"} == set(KIND_OPTIONS[kind]), kind


@pytest.mark.parametrize(
    ("text", "must_mention"),
    [
        ("maxx", ["unknown downsampling kind 'maxx'", "did you mean 'max'", "blur-max"]),
        ("stride", ["unknown downsampling kind", "subsample"]),
        ("max:x3", ["'x3'", "valid options for max", "kN (kernel_size)", "ceil"]),
        ("max:k", ["'k'", "valid options for max"]),
        ("max:p3", ["'p3' does not apply to max", "dN (dilation)"]),
        ("avg:d2", ["'d2' does not apply to avg"]),
        ("max:k3:k5", ["kernel_size given twice"]),
        ("lp:p2.5x3", ["single number"]),
        ("conv:k2.5", ["needs an integer"]),
        ("subsample:k3", ["valid options for subsample: none"]),
        ("", ["empty downsampling variant"]),
    ],
)
def test_errors_are_one_line_and_name_the_problem(text, must_mention):
    with pytest.raises(PoolstrideError) as info:
        parse_variant(text)
    message = str(info.value)
    assert "\n" not in message
    for fragment in must_mention:
        assert fragment in message


def test_format_rejects_unknown_kind_and_foreign_options():
    with pytest.raises(PoolstrideError, match="unknown downsampling kind"):
        format_variant("pool", {})
    with pytest.raises(PoolstrideError, match="'filt_size' does not apply to max"):
        format_variant("max", {"filt_size": 3})
