"""A swap to ``subsample`` folds the decimation into the convolution feeding the site: the
strided conv it equals (same weights, same outputs, 1/4 of the conv's MACs in 2D)."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings
from torch import nn

from poolstride.analysis import profile
from poolstride.layers.reshaping import Subsample
from poolstride.surgery import find_sites, model_variant, module_cost, swap_downsampling
from poolstride.surgery.modules import FoldedSubsample

CONV = {1: nn.Conv1d, 2: nn.Conv2d}
MAX = {1: nn.MaxPool1d, 2: nn.MaxPool2d}
BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}


def decimated(model: nn.Sequential, x: torch.Tensor, stride: int) -> torch.Tensor:
    """The reference: the unswapped model's layers before the site, then keep every
    ``stride``-th sample, then the layers after it."""
    site = next(i for i, m in enumerate(model) if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)))
    h = model[:site](x)
    h = h[..., ::stride] if h.ndim == 3 else h[..., ::stride, ::stride]
    return model[site + 1 :](h)


@settings(max_examples=40, deadline=None)
@given(
    dim=st.sampled_from([1, 2]),
    k=st.integers(1, 5),
    pad=st.integers(0, 2),
    dilation=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    stride=st.integers(2, 3),
    size=st.integers(12, 21),
    act=st.sampled_from([None, nn.ReLU, nn.GELU, nn.LeakyReLU]),
)
def test_folded_swap_equals_the_decimated_stride1_conv(
    dim, k, pad, dilation, groups, stride, size, act
):
    padding = min(pad, k // 2)
    layers = [CONV[dim](4, 6, k, padding=padding, dilation=dilation, groups=groups)]
    layers += [act()] if act else []
    layers += [MAX[dim](stride, stride, ceil_mode=True), CONV[dim](6, 3, 1)]
    torch.manual_seed(k * size)
    model = nn.Sequential(*layers).double()
    shape = (4, *(size,) * dim)
    new, changes = swap_downsampling(model, "subsample", input_shape=shape)
    site = len(layers) - 2
    assert isinstance(new[site], FoldedSubsample)
    assert new[0].stride == (stride,) * dim
    x = torch.randn(2, *shape, dtype=torch.float64)
    torch.testing.assert_close(new(x), decimated(model, x, stride), atol=1e-6, rtol=0)
    # Same weights: the state dict (keys and values) of the conv is untouched.
    assert new.state_dict().keys() == model.state_dict().keys()
    assert torch.equal(new[0].weight, model[0].weight)
    # The change row counts the conv's saving: dense MACs x (1 - kept fraction).
    dense = module_cost(model[:1], (1, *shape)).macs
    strided = module_cost(new[:1], (1, *shape)).macs
    assert changes[0].d_macs == strided - dense < 0


def test_a_quarter_of_the_macs_in_2d_and_half_in_1d():
    for dim, ratio in ((1, 2), (2, 4)):
        model = nn.Sequential(CONV[dim](3, 8, 3, padding=1), nn.ReLU(), MAX[dim](2))
        shape = (3, *(16,) * dim)
        new, _ = swap_downsampling(model, "subsample", input_shape=shape)
        assert profile(model, shape).totals.macs == ratio * profile(new, shape).totals.macs


@pytest.mark.parametrize(
    "between",
    [lambda dim: BATCH_NORM[dim](6), lambda dim: nn.Dropout(0.1)],
    ids=["batchnorm", "dropout"],
)
def test_no_fold_through_batchnorm_or_dropout(between):
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), between(2), nn.ReLU(), nn.MaxPool2d(2))
    new, changes = swap_downsampling(model, "subsample", input_shape=(3, 8, 8))
    assert type(new[3]) is Subsample and new[0].stride == (1, 1)
    assert changes[0].d_macs == 0


def test_no_fold_without_a_conv_in_front_or_outside_a_sequential():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            return self.pool(self.conv(x))

    new, _ = swap_downsampling(Branchy(), "subsample", input_shape=(3, 8, 8))
    assert type(new.pool) is Subsample
    first = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(3, 4, 3))
    new, _ = swap_downsampling(first, "subsample", input_shape=(3, 8, 8))
    assert type(new[0]) is Subsample


def test_folds_undo_and_never_stack():
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    folded, _ = swap_downsampling(model, "subsample", input_shape=(3, 8, 8))
    # The folded conv is not a site of its own: the one site is still the pool.
    assert [(s.path, s.kind) for s in find_sites(folded)] == [("2", "max")]
    again, _ = swap_downsampling(folded, "subsample", input_shape=(3, 8, 8))
    assert repr(again) == repr(folded)
    avg, changes = swap_downsampling(folded, "avg", input_shape=(3, 8, 8))
    assert avg[0].stride == (1, 1) and avg[2].kind == "avg"
    assert changes[0].before.startswith("subsample s2 by 0") and changes[0].d_macs > 0
    back = model_variant(folded, "original", input_shape=(3, 8, 8))
    assert repr(back) == repr(model)
    assert folded[0].stride == (2, 2)  # swapping never modifies its input


def test_training_mode_gradients_match_the_decimated_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
    new, _ = swap_downsampling(model, "subsample", input_shape=(3, 10, 10))
    x = torch.randn(4, 3, 10, 10)
    new(x).square().sum().backward()
    decimated(model, x, 2).square().sum().backward()
    torch.testing.assert_close(new[0].weight.grad, model[0].weight.grad, atol=1e-5, rtol=1e-5)
