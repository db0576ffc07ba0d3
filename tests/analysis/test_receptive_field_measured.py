"""Receptive fields from the traced graph against a gradient measurement (back-propagation from
the centre unit of each layer), on torchvision models and on every poolstride kind."""

from __future__ import annotations

import pytest
import torch
import torchvision
from hypothesis import event, given
from hypothesis import strategies as st
from torch import nn

from poolstride import profile
from poolstride.analysis.receptive_field_measured import (
    check_receptive_fields,
    measure_receptive_field,
)
from poolstride.errors import PoolstrideError
from poolstride.layers import KINDS, make_downsample


def _check(model: nn.Module, shape, names=None):
    table = profile(model, shape)
    checks = check_receptive_fields(model, table, shape, names)
    assert checks, "nothing was compared"
    bad = [(c.name, c.predicted, c.measured) for c in checks if not c.ok]
    assert not bad
    return table, checks


def test_resnet18_small_input():
    table, checks = _check(torchvision.models.resnet18(num_classes=10), (3, 40, 40))
    assert len(checks) >= 20  # every conv and pooling layer
    # The literature's 435 for the last stage, then global pooling over the 2x2 map (jump 32).
    assert [r for r in table.rows if r.name == "layer4.1.conv2"][0].receptive_field.size == (
        435,
        435,
    )


@pytest.mark.slow
def test_resnet50():
    table, checks = _check(torchvision.models.resnet50(num_classes=10), (3, 64, 64))
    assert len(checks) >= 50
    assert [r for r in table.rows if r.name == "layer4.2.conv3"][0].receptive_field.size == (
        427,
        427,
    )


@pytest.mark.slow
def test_vgg16():
    table, _ = _check(torchvision.models.vgg16(num_classes=10), (3, 32, 32))
    rf = {r.name: r.receptive_field.size for r in table.rows if r.receptive_field is not None}
    assert rf["features.28"] == (196, 196) and rf["features.30"] == (212, 212)  # conv5_3, pool5


def test_residual_block_with_wider_shortcut():
    # Forward-order combination reports the last branch's field; the graph union is right.
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.wide = nn.Conv2d(2, 2, 7, padding=3)
            self.narrow = nn.Conv2d(2, 2, 1)
            self.after = nn.Conv2d(2, 2, 3, stride=2, padding=1)

        def forward(self, x):
            return self.after(torch.relu(self.wide(x) + self.narrow(x)))

    table, _ = _check(Block(), (2, 32, 32), names=["wide", "narrow", "after"])
    assert [r.receptive_field.size for r in table.rows if r.name == "after"] == [(9, 9)]


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("none",)])
@pytest.mark.parametrize("dim", [1, 2])
def test_declared_geometry_of_every_kind_matches_measurement(kind, dim):
    shape = (3, 24) if dim == 1 else (3, 24, 24)
    conv = nn.Conv1d if dim == 1 else nn.Conv2d
    down = make_downsample(kind, 4, dim=dim)  # every kind exists in 1D and 2D: never skip
    model = nn.Sequential(conv(3, 4, 3, padding=1), down, conv(down.out_channels, 4, 3, padding=1))
    _check(model, shape, names=["0", "1", "2"])


def test_max_pooling_is_measured_through_every_window_element():
    # A single max pool: plain autograd would reach one element per window; the measurement
    # replaces it by a window sum with the same geometry, including ceil mode and dilation.
    pool = nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True)
    measured = measure_receptive_field(nn.Sequential(pool), (1, 15, 15), {"pool": pool})
    table = profile(nn.Sequential(pool), (1, 15, 15))
    rf = table.rows[0].receptive_field
    assert rf.size == (5, 5)
    out = table.rows[0].output_shape[2:]
    centre = tuple((n - 1) // 2 for n in out)
    assert measured["pool"] == tuple((int(a), int(b)) for a, b in rf.interval(centre))


def test_border_extent_is_exact_where_the_textbook_field_is_not():
    # Floor mode drops inputs 27..29 two layers down, so the last unit never sees them although
    # its textbook field (clipped to the input) reaches 29.
    model = nn.Sequential(
        nn.Conv1d(1, 1, 3, 2), nn.Conv1d(1, 1, 3, 2), nn.Conv1d(1, 1, 2, 2, 1), nn.Conv1d(1, 1, 4)
    )
    (check,) = check_receptive_fields(model, profile(model, (1, 30)), (1, 30), names=["3"])
    assert check.theory == ((0, 29),)
    assert check.predicted == check.measured == ((0, 26),)


layer_1d = st.one_of(
    st.builds(
        lambda k, s, p, d: nn.Conv1d(2, 2, k, s, min(p, 3), d),
        st.integers(1, 4),
        st.integers(1, 3),
        st.integers(0, 3),
        st.integers(1, 2),
    ),
    st.builds(
        lambda k, s, c: nn.MaxPool1d(k, s, k // 2, ceil_mode=c),
        st.integers(1, 4),
        st.integers(1, 3),
        st.booleans(),
    ),
    st.builds(
        lambda k, s, c: nn.AvgPool1d(k, s, 0, ceil_mode=c),
        st.integers(1, 4),
        st.integers(1, 3),
        st.booleans(),
    ),
    st.builds(lambda m: nn.AdaptiveAvgPool1d(m), st.integers(1, 6)),
    st.just(nn.ReLU()),
)


@given(layers=st.lists(layer_1d, min_size=1, max_size=5), size=st.integers(6, 40))
def test_exact_extents_match_measurement_on_random_1d_stacks(layers, size):
    model = nn.Sequential(*layers)
    try:
        table = profile(model, (2, size))
    except PoolstrideError:
        event("stack does not fit")
        return  # the stack does not fit the input
    names = [str(i) for i in range(len(layers))]
    checks = check_receptive_fields(model, table, (2, size), names)
    event(f"{len(checks)} layers compared")
    assert [(c.name, c.predicted) for c in checks] == [(c.name, c.measured) for c in checks]
