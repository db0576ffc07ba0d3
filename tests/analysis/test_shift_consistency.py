"""poolstride.analysis.shift_consistency: the per-run shift-robustness metrics."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from poolstride.analysis.shift_consistency import (
    consistency_by_offset,
    downsampling_layers,
    feature_stability,
    shift,
    shift_consistency,
    shift_per_sample,
)
from poolstride.errors import PoolstrideError


@given(st.integers(1, 3), st.sampled_from([1, 2]), st.integers(1, 7), st.data())
def test_circular_shift_is_torch_roll_per_sample(n, dim, size, data):
    x = torch.randn(n, 2, *([size] * dim))
    offsets = torch.tensor(
        data.draw(
            st.lists(
                st.lists(st.integers(-9, 9), min_size=dim, max_size=dim), min_size=n, max_size=n
            )
        )
    )
    out = shift_per_sample(x, offsets, "circular")
    for i in range(n):
        ref = torch.roll(x[i], tuple(offsets[i].tolist()), dims=tuple(range(1, dim + 1)))
        assert torch.equal(out[i], ref)


@given(st.integers(1, 3), st.sampled_from([1, 2]), st.integers(1, 7), st.data())
def test_crop_shift_moves_content_and_fills_zeros(n, dim, size, data):
    x = torch.randn(n, 2, *([size] * dim))
    offsets = torch.tensor(
        data.draw(
            st.lists(
                st.lists(st.integers(-4, 4), min_size=dim, max_size=dim), min_size=n, max_size=n
            )
        )
    )
    out = shift_per_sample(x, offsets, "crop")
    p = 4
    padded = F.pad(x, [p] * (2 * dim))
    for i in range(n):
        # content moved by +d = a window starting d before the original one in the padding
        sl = [slice(None)] + [slice(p - int(d), p - int(d) + size) for d in offsets[i]]
        assert torch.equal(out[i], padded[i][tuple(sl)])


def test_shift_helpers_and_bad_mode():
    x = torch.arange(5.0).view(1, 1, 5)
    assert shift(x, 1, "circular").flatten().tolist() == [4, 0, 1, 2, 3]
    assert shift(x, -2, "crop").flatten().tolist() == [2, 3, 4, 0, 0]
    assert torch.equal(shift(x, 0, "crop"), x)
    with pytest.raises(PoolstrideError, match="unknown shift mode 'wrap'"):
        shift(x, 1, "wrap")


class GlobalSum(nn.Module):
    """Exactly invariant to circular shifts: a pointwise conv, a global sum, a linear map."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 8, 1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).sum(-1))


class PositionReader(nn.Module):
    """Reads the argmax position: changes its answer under almost any shift."""

    def forward(self, x):
        return F.one_hot(x.flatten(1).argmax(1) % 4, 4).float()


def test_shift_consistency_of_invariant_and_position_sensitive_models():
    x = torch.randn(200, 1, 12, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    inv = GlobalSum().double()
    assert shift_consistency(inv, x, max_shift=3, mode="circular", generator=g) == 1.0
    reader = PositionReader()
    value = shift_consistency(reader, x, max_shift=3, mode="circular", generator=g)
    # two independent offsets in [-3, 3] agree mod 4 with probability 13/49 (~0.27)
    assert 0.1 < value < 0.45
    assert shift_consistency(reader, x, max_shift=0, generator=g) == 1.0
    by = consistency_by_offset(reader, x, [-1, 0, 4], mode="circular")
    assert by[0] == 1.0 and by[4] == 1.0 and by[-1] == 0.0


def test_downsampling_layers_finds_sites_once():
    class Site(nn.Module):  # a poolstride-style module: kind + factor, with a conv inside
        kind, factor = "conv", 2

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 4, 3, stride=2, padding=1)

        def forward(self, x):
            return self.conv(x)

    model = nn.Sequential(
        nn.Conv1d(1, 4, 3, padding=1),
        nn.MaxPool1d(2),
        Site(),
        nn.Conv1d(4, 4, 3, stride=2),
        nn.AdaptiveAvgPool1d(1),
    )
    assert [name for name, _ in downsampling_layers(model)] == ["1", "2", "3"]


def test_feature_stability_zero_for_invariant_layers_positive_for_pooling():
    model = nn.Sequential(nn.Conv1d(1, 3, 1, bias=False), nn.MaxPool1d(2), nn.Flatten())
    x = torch.randn(16, 1, 20)
    out = feature_stability(model, x)
    assert set(out) == {"1"} and out["1"] > 0.1
    # step 0: nothing moves, nothing changes
    identity = feature_stability(model, x, layers=[("conv", model[0])], step=0)
    assert identity == {"conv": 0.0}
    # the definition, by hand: ||f(shift(x)) - f(x)|| / ||f(x)||
    moved = shift(x, 1)
    ref = model[0](x)
    expect = (model[0](moved) - ref).norm() / ref.norm()
    assert feature_stability(model, x, layers=[("c", model[0])])["c"] == pytest.approx(
        expect.item(), rel=1e-5
    )
