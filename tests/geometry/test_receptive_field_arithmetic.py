"""Receptive-field arithmetic against autograd on random 1D stacks, and its merge rule."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from poolstride.errors import PoolstrideError
from poolstride.geometry import conv_output_size
from poolstride.geometry.receptive_field import ReceptiveField

layer = st.tuples(
    st.integers(1, 5), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2)
)  # k, s, p, d


def _measured(layers, size: int, unit: int):
    """Input positions that unit ``unit`` of the last layer depends on (autograd, ones weights)."""
    x = torch.ones(1, 1, size, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, p, d in layers:
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, padding=p, dilation=d)
    (grad,) = torch.autograd.grad(y[0, 0, unit], x)
    hits = grad[0, 0].nonzero().flatten()
    return (int(hits.min()), int(hits.max())) if len(hits) else None


@given(layers=st.lists(layer, min_size=1, max_size=4), size=st.integers(30, 60), data=st.data())
def test_interval_matches_autograd_on_random_stacks(layers, size, data):
    n = size
    for k, s, p, d in layers:
        if n + 2 * p < d * (k - 1) + 1:
            return  # impossible geometry: covered by the output-size tests
        n = conv_output_size(n, k, s, p, d)
    unit = data.draw(st.integers(0, n - 1))
    rf = ReceptiveField.identity(1)
    for k, s, p, d in layers:
        rf = rf.through(k, s, p, d)
    lo, hi = rf.interval(unit)[0]
    measured = _measured(layers, size, unit)
    if measured is None:  # the unit sees only padding (a 1-wide window in the padding)
        assert lo < 0 or hi > size - 1
        return
    if 0 <= lo and hi <= size - 1:
        # Dilation leaves holes inside, but both extremes of the field are always reached.
        assert (lo, hi) == measured
    else:
        # At a border the textbook field is an upper bound: intermediate windows may hang into
        # padding or be dropped by floor mode (poolstride.analysis.extent tracks that exactly).
        assert lo <= measured[0] <= measured[1] <= hi


def test_classic_numbers():
    # Two 3x3 convs see 5x5; three see 7x7 (VGG's argument); a 2x2/2 pool then doubles the jump.
    rf = ReceptiveField.identity(2).through(3, 1, 1).through(3, 1, 1)
    assert rf.size == (5, 5)
    rf = rf.through(3, 1, 1)
    assert rf.size == (7, 7) and rf.start == (0, 0)
    pooled = ReceptiveField.identity(2).through(2, 2)
    assert pooled.size == (2, 2) and pooled.jump == (2, 2) and pooled.start == (Fraction(1, 2),) * 2
    # The seeds' 5x5 input with f=3, s=1: each of the 3x3 outputs sees 3x3 of the input.
    field = ReceptiveField.identity(2).through(3)
    assert field.interval((1, 1)) == ((1, 3), (1, 3)) and field.interval((2, 2)) == ((2, 4), (2, 4))


def test_global_pooling_sees_everything():
    # 7x7 map with jump 32 (ResNet's last stage) -> global pooling -> 1x1 unit seeing 7 + 6 * 32.
    rf = ReceptiveField((7, 7), (32, 32), (0, 0))
    g = rf.collapse((7, 7))
    assert g.size == (7 + 6 * 32,) * 2 and g.exact
    # From the first unit's left edge (-3) to the last unit's right edge (6 * 32 + 3).
    assert g.interval() == ((-3, 195), (-3, 195))


def test_adaptive_pooling_exact_only_when_divisible():
    rf = ReceptiveField.identity(1)
    assert rf.adaptive((8,), (4,)) == rf.through(2, 2)
    uneven = rf.adaptive((5,), (3,))
    assert not uneven.exact and uneven.size == (3,)  # windows (0,2), (1,4), (3,5): longest is 3
    assert str(uneven).startswith("≈")


def test_merge_is_the_union_of_branches():
    main = ReceptiveField.identity(1).through(1)  # 1-wide path
    shortcut = ReceptiveField.identity(1).through(5, 1, 2)  # 5-wide path centred on the same unit
    merged = ReceptiveField.merge([main, shortcut])
    assert merged.size == (5,) and merged.start == (0,)
    # Offset branches: the union is wider than either branch.
    left = ReceptiveField((3,), (1,), (0,))
    right = ReceptiveField((3,), (1,), (2,))
    assert ReceptiveField.merge([left, right]).size == (5,)
    with pytest.raises(PoolstrideError):
        ReceptiveField.merge([])


def test_to_dict_and_describe():
    rf = ReceptiveField.identity(2).through(2, 2)
    assert rf.to_dict() == {"size": [2, 2], "jump": [2, 2], "start": [0.5, 0.5], "exact": True}
    assert rf.describe() == "2×2 j2 c0.5"


def test_jump_text_is_one_number_when_axes_agree():
    rf = ReceptiveField.identity(2).through((2, 1), (2, 1))
    assert rf.jump == (2, 1) and rf.jump_text() == "2×1"
    assert rf.through((1, 2), (1, 2)).jump_text() == "2"
    # An adaptive pool from 3 to 2 moves by 3/2 input samples: printed as a decimal.
    assert ReceptiveField.identity(1).adaptive((3,), (2,)).jump_text() == "1.5"
