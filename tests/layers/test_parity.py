"""Where a kind is a PyTorch op, its output equals PyTorch's exactly (torch.equal, not allclose)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from poolstride.layers import make_downsample, space_to_depth

MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d}
AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d}
LP_POOL = {1: F.lp_pool1d, 2: F.lp_pool2d}
CONV = {1: F.conv1d, 2: F.conv2d}


@st.composite
def pool_configs(draw, dilation=True, padding=True):
    dim = draw(st.sampled_from([1, 2]))
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    d = draw(st.integers(1, 2)) if dilation else 1
    eff = d * (k - 1) + 1
    p = draw(st.integers(0, k // 2)) if padding else 0  # PyTorch limit: k // 2
    ceil = draw(st.booleans())
    size = draw(st.integers(max(1, eff - 2 * p), 11))
    channels = draw(st.integers(1, 3))
    return dim, k, s, p, d, ceil, size, channels


@given(pool_configs())
def test_max_equals_torch_max_pool(cfg):
    dim, k, s, p, d, ceil, size, c = cfg
    x = torch.randn(2, c, *(size,) * dim)
    module = make_downsample(
        "max", c, dim=dim, kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil
    )
    assert torch.equal(module(x), MAX_POOL[dim](x, k, s, p, d, ceil))


@given(pool_configs(dilation=False), st.booleans())
def test_avg_equals_torch_avg_pool(cfg, cip):
    dim, k, s, p, _, ceil, size, c = cfg
    x = torch.randn(2, c, *(size,) * dim)
    module = make_downsample(
        "avg",
        c,
        dim=dim,
        kernel_size=k,
        stride=s,
        padding=p,
        ceil_mode=ceil,
        count_include_pad=cip,
    )
    assert torch.equal(module(x), AVG_POOL[dim](x, k, s, p, ceil, cip))


@given(pool_configs(dilation=False, padding=False), st.sampled_from([1.0, 2.0, 3.0, 2.5]))
def test_lp_equals_torch_lp_pool(cfg, p):
    dim, k, s, _, _, ceil, size, c = cfg
    x = torch.rand(2, c, *(size,) * dim) + 0.05
    module = make_downsample("lp", c, dim=dim, p=p, kernel_size=k, stride=s, ceil_mode=ceil)
    assert torch.equal(module(x), LP_POOL[dim](x, p, k, s, ceil))


def test_lp_variant_string_equals_torch():
    x = torch.rand(2, 3, 9, 9)
    module = make_downsample("lp:p3:k3", 3)
    assert torch.equal(module(x), F.lp_pool2d(x, 3, 3, 2))


@given(
    st.sampled_from([1, 2]),
    st.integers(1, 12),
    st.integers(1, 5),
    st.sampled_from(["adaptive-max", "adaptive-avg"]),
)
def test_adaptive_equals_torch(dim, size, out, kind):
    x = torch.randn(2, 3, *(size + 1,) * dim)
    module = make_downsample(f"{kind}:o{out}", 3, dim=dim)
    ref = {
        ("adaptive-max", 1): lambda t: F.adaptive_max_pool1d(t, out),
        ("adaptive-max", 2): lambda t: F.adaptive_max_pool2d(t, out),
        ("adaptive-avg", 1): lambda t: F.adaptive_avg_pool1d(t, out),
        ("adaptive-avg", 2): lambda t: F.adaptive_avg_pool2d(t, out),
    }[(kind, dim)]
    if size + 1 >= out:
        assert torch.equal(module(x), ref(x))


def test_adaptive_gives_one_size_for_different_inputs():
    module = make_downsample("adaptive-avg:o4x3", 2)
    for h, w in [(8, 6), (13, 7), (32, 32), (4, 3)]:
        assert module(torch.randn(1, 2, h, w)).shape == (1, 2, 4, 3)


@given(st.sampled_from([1, 2]), st.integers(1, 4), st.integers(1, 13))
def test_subsample_equals_slicing(dim, factor, size):
    x = torch.randn(2, 3, *(size,) * dim)
    y = make_downsample("subsample", 3, factor=factor, dim=dim)(x)
    ref = x[:, :, ::factor] if dim == 1 else x[:, :, ::factor, ::factor]
    assert torch.equal(y, ref)


@given(
    st.sampled_from([1, 2]),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 4),
    st.booleans(),
)
def test_conv_equals_torch_conv_with_same_weights(dim, k, factor, cin, cout, bias):
    size = 10
    module = make_downsample("conv", cin, cout, factor=factor, dim=dim, kernel_size=k, bias=bias)
    x = torch.randn(2, cin, *(size,) * dim)
    b = module.conv.bias if bias else None
    pad = (k - 1) // 2 if k > factor else 0  # the documented default
    ref = CONV[dim](x, module.conv.weight, b, stride=factor, padding=pad)
    assert torch.equal(module(x), ref)


def test_conv_k3_is_3x3_stride2_pad1():
    module = make_downsample("conv:k3", 4, 8)
    assert (module.kernel_size, module.stride, module.padding) == ((3, 3), (2, 2), (1, 1))
    x = torch.randn(1, 4, 16, 16)
    ref = F.conv2d(x, module.conv.weight, module.conv.bias, stride=2, padding=1)
    assert torch.equal(module(x), ref)


@given(st.sampled_from([1, 2]), st.integers(1, 4), st.integers(1, 3))
def test_dwconv_equals_grouped_conv(dim, k, channels):
    module = make_downsample("dwconv", channels, dim=dim, kernel_size=k)
    x = torch.randn(2, channels, *(9,) * dim)
    pad = (k - 1) // 2 if k > 2 else 0
    ref = CONV[dim](x, module.conv.weight, module.conv.bias, stride=2, padding=pad, groups=channels)
    assert torch.equal(module(x), ref)
    assert module.conv.weight.shape == (channels, 1, *(k,) * dim)


@given(st.integers(1, 3), st.integers(2, 9), st.integers(2, 9), st.integers(1, 3))
def test_space_to_depth_2d_equals_pixel_unshuffle_then_1x1_conv(factor, h, w, c):
    h, w = max(h, factor), max(w, factor)
    module = make_downsample("space-to-depth", c, 4, factor=factor)
    x = torch.randn(2, c, h, w)
    cropped = x[:, :, : h // factor * factor, : w // factor * factor]
    ref = F.conv2d(F.pixel_unshuffle(cropped, factor), module.proj.weight, module.proj.bias)
    assert torch.equal(module(x), ref)


@given(st.integers(1, 4), st.integers(1, 13), st.integers(1, 3))
def test_space_to_depth_1d_by_definition(factor, length, c):
    length = max(length, factor)
    x = torch.randn(2, c, length)
    y = space_to_depth(x, factor)
    assert y.shape == (2, c * factor, length // factor)
    for ch in range(c):
        for i in range(factor):
            assert torch.equal(
                y[:, ch * factor + i], x[:, ch, i : length // factor * factor : factor]
            )


def test_blur_avg_matches_antialiased_cnns_construction():
    """Zhang's BlurPool: reflect pad (1, 1), depthwise conv with [1,2,1]x[1,2,1]/16, stride 2."""
    c = 3
    x = torch.randn(2, c, 9, 8)
    row = torch.tensor([1.0, 2.0, 1.0])
    filt = (row[:, None] * row[None, :] / 16).expand(c, 1, 3, 3)
    ref = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), filt, stride=2, groups=c)
    torch.testing.assert_close(make_downsample("blur-avg", c)(x), ref, rtol=0, atol=1e-6)


def test_blur_max_matches_antialiased_cnns_construction():
    c = 2
    x = torch.randn(2, c, 10)
    filt = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]).div(16).expand(c, 1, 5)
    dense = F.max_pool1d(x, 2, 1)
    ref = F.conv1d(F.pad(dense, (2, 2), mode="reflect"), filt, stride=2, groups=c)
    torch.testing.assert_close(
        make_downsample("blur-max:filt5", c, dim=1)(x), ref, rtol=0, atol=1e-6
    )


def test_blur_even_filter_pads_one_more_on_the_right():
    c = 1
    x = torch.randn(1, c, 11)
    filt = torch.tensor([1.0, 3.0, 3.0, 1.0]).div(8).expand(c, 1, 4)
    ref = F.conv1d(F.pad(x, (1, 2), mode="reflect"), filt, stride=2)
    module = make_downsample("blur-avg:filt4", c, dim=1)
    torch.testing.assert_close(module(x), ref, rtol=0, atol=1e-6)
    assert module.output_size(11) == tuple(ref.shape[2:])


def test_blur_conv_is_conv_then_blur():
    module = make_downsample("blur-conv", 3, 4)
    x = torch.randn(2, 3, 8, 8)
    dense = F.conv2d(x, module.conv.weight, module.conv.bias, padding=1)
    row = torch.tensor([1.0, 2.0, 1.0])
    filt = (row[:, None] * row[None, :] / 16).expand(4, 1, 3, 3)
    ref = F.conv2d(F.pad(dense, (1, 1, 1, 1), mode="reflect"), filt, stride=2, groups=4)
    torch.testing.assert_close(module(x), ref, rtol=0, atol=1e-5)
