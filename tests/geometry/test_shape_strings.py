"""Shape strings: one parser (``shape_or_none``), two wordings of its error, one formatter."""

from __future__ import annotations

import pytest

from poolstride.errors import PoolstrideError
from poolstride.geometry.shape_strings import (
    format_shape,
    parse_input_shape,
    parse_shape,
    shape_or_none,
)


@pytest.mark.parametrize("text", ["3x32", "3x32x32", "1x40", "3×8×8"])
def test_parse_shape_accepts(text):
    assert len(parse_shape(text)) in (2, 3)


@pytest.mark.parametrize("text", ["3", "3x0x4", "axb", "1x2x3x4"])
def test_parse_shape_rejects(text):
    with pytest.raises(PoolstrideError, match="expected CxL"):
        parse_shape(text)


@pytest.mark.parametrize(
    "text, shape",
    [
        ("3x224x224", (3, 224, 224)),
        ("1x40", (1, 40)),
        ("3×32×32", (3, 32, 32)),
        ((3, 8, 8), (3, 8, 8)),
    ],
)
def test_parse_input_shape(text, shape):
    assert parse_input_shape(text) == shape


@pytest.mark.parametrize("text", ["3x", "axb", "0x32x32", "32", "3x-1x4"])
def test_parse_input_shape_rejects_bad_shapes(text):
    with pytest.raises(PoolstrideError, match="bad input shape"):
        parse_input_shape(text)


def test_shape_or_none_is_quiet():
    assert shape_or_none("3x8x8") == (3, 8, 8)
    assert shape_or_none("3x8x8x8") is None  # 3D only when asked for
    assert shape_or_none("3x8x8x8", max_dims=3) == (3, 8, 8, 8)
    assert shape_or_none("nope") is None


def test_format_shape():
    assert format_shape((1, 64, 56, 56)) == "1x64x56x56"
    assert format_shape(((1, 2), (3,))) == "(1x2, 3)"
    assert format_shape(None) == "-"
