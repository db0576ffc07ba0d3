"""swap_downsampling on small hand-built models: semantics, shapes, weights, errors, costs."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from poolstride.errors import PoolstrideError
from poolstride.layers import make_downsample
from poolstride.surgery import (
    SplitStride,
    TrailingPad,
    find_sites,
    model_variant,
    module_cost,
    swap_downsampling,
    trace_shapes,
)

POOL_TARGETS = ["max", "avg", "blur-max", "blur-avg", "lp", "space-to-depth", "max:k3"]
_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_MAX = {1: nn.MaxPool1d, 2: nn.MaxPool2d}
_AVG = {1: nn.AvgPool1d, 2: nn.AvgPool2d}


class TinyResNet(nn.Module):
    """Stem (7x7/2 conv + 3x3/2 max pool), one residual stage with a 1x1/2 shortcut."""

    def __init__(self, channels: int = 3, num_classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(channels, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU()
        )
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.conv1 = nn.Conv2d(8, 16, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, 1, 1, bias=False)
        self.shortcut = nn.Sequential(nn.Conv2d(8, 16, 1, 2, bias=False), nn.BatchNorm2d(16))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes))

    def forward(self, x):
        x = self.pool(self.stem(x))
        y = self.conv2(torch.relu(self.bn1(self.conv1(x))))
        return self.head(torch.relu(y + self.shortcut(x)))


def _site_geometry(model: nn.Module, path: str) -> tuple:
    m = model.get_submodule(path)
    keys = ("kernel_size", "stride", "padding", "dilation", "groups", "ceil_mode")
    return (type(m), tuple(getattr(m, k, None) for k in keys))


def _params_equal_except(original: nn.Module, new: nn.Module, split: set[str]) -> None:
    """Every parameter/buffer of ``original`` is bit-identical in ``new`` (split convs moved)."""
    new_state = new.state_dict()
    for name, value in original.state_dict().items():
        owner, _, leaf = name.rpartition(".")
        key = f"{owner}.conv.{leaf}" if owner in split else name
        assert key in new_state, key
        assert torch.equal(new_state[key], value), key


# --- the rewrite itself ----------------------------------------------------------------


@pytest.mark.parametrize("target", POOL_TARGETS)
def test_every_site_rewritten_shapes_and_classes_kept(target):
    model = TinyResNet()
    new, changes = swap_downsampling(model, target, input_shape=(3, 32, 32))
    assert [c.path for c in changes] == ["stem.0", "pool", "conv1", "shortcut.0"]
    before = trace_shapes(model, torch.zeros(1, 3, 32, 32))
    after = trace_shapes(new, torch.zeros(1, 3, 32, 32))
    for path, calls in before.calls.items():
        if path in after.calls:
            assert after.calls[path][0][1] == calls[0][1], path
    assert after.output == (1, 5)
    split = {c.path for c in changes if c.action == "split"}
    assert split == {"stem.0", "conv1", "shortcut.0"}
    _params_equal_except(model, new, split)


def test_strided_conv_becomes_stride1_conv_then_pool_and_shortcut_pool_first():
    new, _ = swap_downsampling(TinyResNet(), "blur-max", input_shape=(3, 32, 32))
    stem, shortcut = new.stem[0], new.shortcut[0]
    assert isinstance(stem, SplitStride) and not stem.down_first
    assert stem.conv.stride == (1, 1) and stem.conv.padding == (3, 3)
    assert stem.down.kind == "blur-max"
    # 1x1 convs: downsample first, so the conv keeps its cost (and linear pools commute).
    assert isinstance(shortcut, SplitStride) and shortcut.down_first


def test_split_with_subsample_equals_the_strided_conv():
    """Oracle: a stride-s conv == the stride-1 conv followed by keeping every s-th output."""
    conv = nn.Conv2d(4, 6, 5, stride=3, padding=2, dilation=1)
    x = torch.randn(2, 4, 17, 13)
    dense = copy.deepcopy(conv)
    dense.stride = (1, 1)
    split = SplitStride(
        dense, make_downsample("subsample", 6, factor=3), stride=(3, 3), down_first=False
    )
    torch.testing.assert_close(split(x), conv(x))


def test_pool_first_equals_pool_after_for_linear_pools_on_pointwise_convs():
    conv = nn.Conv2d(4, 6, 1)
    x = torch.randn(2, 4, 16, 16)
    for kind in ("avg", "blur-avg"):
        first = SplitStride(conv, make_downsample(kind, 4), stride=(2, 2), down_first=True)
        after = SplitStride(conv, make_downsample(kind, 6), stride=(2, 2), down_first=False)
        torch.testing.assert_close(first(x), after(x), atol=1e-5, rtol=1e-5)


@settings(max_examples=40)
@given(
    dim=st.sampled_from([1, 2]),
    kernel=st.integers(1, 5),
    stride=st.integers(2, 3),
    pad_frac=st.integers(0, 2),
    dilation=st.integers(1, 2),
    depthwise=st.booleans(),
    size=st.integers(9, 23),
    target=st.sampled_from(["max", "avg", "blur-max", "blur-avg", "space-to-depth"]),
)
def test_any_strided_conv_swaps_preserving_shape_and_inverts_exactly(
    dim, kernel, stride, pad_frac, dilation, depthwise, size, target
):
    padding = min(pad_frac, kernel // 2)
    channels = 4
    model = nn.Sequential(
        _CONV[dim](channels, channels, 1),
        _CONV[dim](
            channels,
            channels,
            kernel,
            stride,
            padding,
            dilation,
            groups=channels if depthwise else 1,
        ),
        nn.ReLU(),
    )
    shape = (channels, *(size,) * dim)
    new, changes = swap_downsampling(model, target, input_shape=shape)
    x = torch.randn(2, *shape)
    assert new(x).shape == model(x).shape
    assert changes[0].action == "split"
    back, undo = swap_downsampling(new, "original", input_shape=shape)
    assert undo[0].action == "restored"
    assert _site_geometry(back, "1") == _site_geometry(model, "1")
    torch.testing.assert_close(back(x), model(x), rtol=0, atol=0)  # same weights, same op


@settings(max_examples=40)
@given(
    dim=st.sampled_from([1, 2]),
    pool=st.sampled_from(["max", "avg"]),
    kernel=st.integers(2, 4),
    stride=st.integers(2, 3),
    pad=st.integers(0, 2),
    ceil_mode=st.booleans(),
    size=st.integers(8, 21),
    target=st.sampled_from(["max", "avg", "blur-max", "conv", "conv:k3", "lp", "subsample"]),
)
def test_any_pool_swaps_preserving_shape_and_inverts(
    dim, pool, kernel, stride, pad, ceil_mode, size, target
):
    padding = min(pad, kernel // 2)
    cls = _MAX[dim] if pool == "max" else _AVG[dim]
    model = nn.Sequential(
        _CONV[dim](3, 4, 3, padding=1), cls(kernel, stride, padding, ceil_mode=ceil_mode)
    )
    shape = (3, *(size,) * dim)
    new, _ = swap_downsampling(model, target, input_shape=shape)
    x = torch.randn(1, *shape)
    assert new(x).shape == model(x).shape
    back, _ = swap_downsampling(new, "original", input_shape=shape)
    assert _site_geometry(back, "1") == _site_geometry(model, "1")
    assert torch.equal(back[0].weight, model[0].weight)


def test_odd_sizes_are_fitted_with_ceil_mode_or_a_trailing_pad():
    model = TinyResNet()
    new, _ = swap_downsampling(model, "blur-max", input_shape="3x33x33")
    assert isinstance(new.pool, nn.Sequential) and isinstance(new.pool[0], TrailingPad)
    assert new(torch.randn(1, 3, 33, 33)).shape == (1, 5)
    new, changes = swap_downsampling(model, "max", input_shape=(3, 33, 33))
    assert "ceil" in changes.by_path()["stem.0"].after  # ceil_mode does it: no padding needed


def test_trailing_pad_extends_by_replication_and_crops():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    padded = TrailingPad((1, -1))(x)
    assert padded.shape == (1, 1, 4, 3)
    assert torch.equal(padded[0, 0, 3], x[0, 0, 2, :3])  # replicated last row


def test_sites_already_of_the_target_kind_are_kept():
    model = TinyResNet()
    _, changes = swap_downsampling(model, "max", input_shape=(3, 32, 32))
    assert changes.by_path()["pool"].action == "kept"
    _, changes = swap_downsampling(model, "max:k3", input_shape=(3, 32, 32))
    assert changes.by_path()["pool"].reason == "same operator and geometry"
    new, changes = swap_downsampling(model, "conv", input_shape=(3, 32, 32))
    assert [c.path for c in changes.changed] == ["pool"]  # strided convs already are 'conv'
    assert new.pool.kind == "conv"
    _, changes = swap_downsampling(model, "subsample", input_shape=(3, 32, 32))
    assert {c.path for c in changes.changed} == {"pool"}


def test_blur_conv_keeps_the_conv_and_blurs_after_it():
    new, _ = swap_downsampling(TinyResNet(), "blur-conv:filt5", input_shape=(3, 32, 32))
    assert isinstance(new.conv1, SplitStride)
    assert new.conv1.down.kind == "blur-avg" and new.conv1.down.filt_size == 5
    assert new.pool.kind == "blur-conv"  # a pooling site gets a new learned blur-conv


def test_swaps_do_not_stack_and_original_restores():
    model = TinyResNet()
    twice, _ = swap_downsampling(
        swap_downsampling(model, "max", input_shape=(3, 32, 32))[0], "avg", input_shape=(3, 32, 32)
    )
    once, _ = swap_downsampling(model, "avg", input_shape=(3, 32, 32))
    assert repr(twice) == repr(once)
    back = model_variant(twice, "original", input_shape=(3, 32, 32))
    assert repr(back) == repr(model)
    for path in ("stem.0", "pool", "conv1", "shortcut.0"):
        assert _site_geometry(back, path) == _site_geometry(model, path)
    _params_equal_except(model, back, set())


def test_input_model_is_not_modified_and_training_mode_is_kept():
    model = TinyResNet().train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    text = repr(model)
    new, _ = swap_downsampling(model, "blur-max", input_shape=(3, 32, 32))
    assert repr(model) == text
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(m.training for m in new.modules())
    new, _ = swap_downsampling(model.eval(), "conv", input_shape=(3, 32, 32))
    assert not any(m.training for m in new.modules())


def test_original_state_dict_loads_into_the_swapped_model():
    model = TinyResNet()
    new, _ = swap_downsampling(TinyResNet(), "blur-max", input_shape=(3, 32, 32))
    new.load_state_dict(model.state_dict())  # strict: split convs accept their old keys
    model.eval(), new.eval()
    assert torch.equal(new.stem[0].conv.weight, model.stem[0].weight)


def test_poolstride_modules_are_sites_too():
    model = nn.Sequential(
        nn.Conv1d(2, 4, 3, padding=1),
        make_downsample("max", 4, dim=1),
        nn.Conv1d(4, 4, 3, padding=1),
        make_downsample("avg:k3", 4, dim=1),
    )
    sites = find_sites(model)
    assert [s.path for s in sites] == ["1", "3"] and all(s.role == "pool" for s in sites)
    new, changes = swap_downsampling(model, "conv", input_shape=(2, 40))
    assert [type(m).__name__ for m in new][1::2] == ["StridedConv", "StridedConv"]
    assert new(torch.randn(1, 2, 40)).shape == (1, 4, 10)
    _, changes = swap_downsampling(model, "max", input_shape=(2, 40))
    assert [c.action for c in changes] == ["kept", "replaced"]


# --- selection -------------------------------------------------------------------------


def test_include_exclude_min_channels_skip_stem():
    model = TinyResNet()
    shape = (3, 32, 32)
    _, ch = swap_downsampling(model, "avg", input_shape=shape, include="shortcut.*")
    assert [c.path for c in ch.changed] == ["shortcut.0"]
    _, ch = swap_downsampling(model, "avg", input_shape=shape, exclude=["stem.*", "pool"])
    assert [c.path for c in ch.changed] == ["conv1", "shortcut.0"]
    assert ch.by_path()["pool"].reason == "excluded"
    _, ch = swap_downsampling(model, "avg", input_shape=shape, min_channels=4)
    assert "stem.0" not in {c.path for c in ch.changed}  # 3 input channels
    _, ch = swap_downsampling(model, "avg", input_shape=shape, skip_stem=True)
    assert ch.by_path()["stem.0"].reason == "stem" and len(ch.changed) == 3


# --- bad input -------------------------------------------------------------------------


def test_target_that_cannot_keep_the_shape_names_site_and_shapes():
    with pytest.raises(PoolstrideError, match=r"'stem.0'.*'none'.*1x3x32x32 -> 1x8x16x16") as e:
        swap_downsampling(TinyResNet(), "none", input_shape=(3, 32, 32))
    assert "\n" not in str(e.value)


def test_model_without_sites_unknown_target_and_empty_include():
    flat = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    with pytest.raises(PoolstrideError, match="Sequential has no downsampling site"):
        swap_downsampling(flat, "max", input_shape=(3, 8, 8))
    with pytest.raises(PoolstrideError, match="unknown downsampling kind 'blurmax'.*blur-max"):
        swap_downsampling(TinyResNet(), "blurmax", input_shape=(3, 32, 32))
    with pytest.raises(PoolstrideError, match="'layer9.*' match no site.*stem.0"):
        swap_downsampling(TinyResNet(), "max", input_shape=(3, 32, 32), include="layer9.*")


def test_input_too_small_names_the_layer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(2), nn.MaxPool2d(2))
    with pytest.raises(PoolstrideError, match=r"input 3x5x5 at '2' \(MaxPool2d"):
        swap_downsampling(model, "avg", input_shape=(3, 5, 5))


# --- the change table and costs ----------------------------------------------------------


def test_changes_costs_match_flop_counter_and_pool_arithmetic():
    model = TinyResNet()
    _, ch = swap_downsampling(model, "max", input_shape=(3, 32, 32))
    conv1 = ch.by_path()["conv1"]
    # The 3x3 conv now runs at 8x8 instead of 4x4 output: 4x the MACs.
    dense = nn.Conv2d(8, 16, 3, 1, 1, bias=False)
    counter = FlopCounterMode(display=False)
    with counter:
        dense(torch.zeros(1, 8, 8, 8))
    assert conv1.d_macs == counter.get_total_flops() // 2 - 16 * 4 * 4 * 8 * 9
    assert conv1.d_pool_ops == 16 * 4 * 4 * (2 * 2)  # outputs x window elements
    assert conv1.d_params == 0
    _, ch = swap_downsampling(model, "conv", input_shape=(3, 32, 32))
    assert ch.by_path()["pool"].d_params == 8 * 8 * 2 * 2 + 8
    assert ch.by_path()["pool"].d_pool_ops == -(8 * 8 * 8 * 9)  # the 3x3 max pool is gone


@pytest.mark.parametrize(
    "module, shape",
    [
        (nn.Conv2d(4, 6, 3, 2, 1, groups=2), (1, 4, 9, 9)),
        (nn.Conv1d(3, 5, 4, 3), (2, 3, 20)),
        (nn.Linear(7, 3), (4, 7)),
    ],
)
def test_module_cost_macs_match_torch_flop_counter(module, shape):
    counter = FlopCounterMode(display=False)
    with counter:
        module(torch.zeros(shape))
    assert module_cost(module, shape).macs == counter.get_total_flops() // 2 // shape[0]


def test_changes_renders_markdown_rich_and_json():
    _, ch = swap_downsampling(TinyResNet(), "blur-max", input_shape=(3, 32, 32), name="tiny")
    md = ch.to_markdown()
    assert md.count("\n| ") == 1 + len(ch) + 1  # header, one row per site, the total
    assert "tiny downsampling -> 'blur-max'" in md and "FLOPs = 2 x MACs" in md
    data = json.loads(json.dumps(ch.to_dict()))
    assert data["totals"]["changed"] == 4 and len(data["sites"]) == 4
    assert ch.to_rich().row_count == len(ch) + 1
    assert str(ch) == md


def test_model_variant_original_is_an_equal_copy():
    model = TinyResNet()
    same = model_variant(model, "original", input_shape=(3, 32, 32))
    assert same is not model and repr(same) == repr(model)
    _params_equal_except(model, same, set())
    blur = model_variant(model, "blur-max", input_shape=(3, 32, 32))
    assert isinstance(blur.conv1, SplitStride)


class _FunctionalPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, 2, 1)
        self.block = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        x = self.conv(x)
        return nn.functional.max_pool2d(self.block(x), 2)  # downsampling no module holds


def test_functional_downsampling_is_reported_not_swapped():
    new, ch = swap_downsampling(_FunctionalPool(), "avg", input_shape=(3, 16, 16))
    assert [c.path for c in ch] == ["conv"]
    assert ch.notes == ["the top-level forward() calls max_pool2d (stride 2) in forward()"]
    assert "Not swappable (functions, not modules)" in ch.to_markdown()
    assert ch.to_dict()["notes"] == ch.notes
    # Pooling inside sites (nn.MaxPool2d, poolstride modules) is not reported.
    _, ch = swap_downsampling(TinyResNet(), "blur-max", input_shape=(3, 32, 32))
    assert ch.notes == []


def test_float64_model_gets_float64_replacements():
    model = TinyResNet().double()
    new, _ = swap_downsampling(model, "conv", input_shape=(3, 32, 32))
    assert new.pool.conv.weight.dtype == torch.float64
    assert new(torch.randn(1, 3, 32, 32, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_model_stays_on_cuda():
    model = TinyResNet().cuda()
    new, _ = swap_downsampling(model, "blur-max", input_shape=(3, 32, 32))
    assert all(t.is_cuda for t in (*new.parameters(), *new.buffers()))
    assert new(torch.randn(1, 3, 32, 32, device="cuda")).shape == (1, 5)
