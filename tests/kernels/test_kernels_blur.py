"""Fused blur + subsample against the pure-PyTorch reference (pad, depthwise conv)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from kernel_strategies import LAYOUTS_1D, LAYOUTS_2D, make_input

from poolstride import kernels
from poolstride.kernels import fallback

pytestmark = pytest.mark.skipif(not kernels.available(), reason="numba not installed")


@st.composite
def blur_problems(draw):
    dim = draw(st.sampled_from((1, 2)))
    if draw(st.booleans()):
        filt = draw(st.integers(1, 5))
        weights = fallback.binomial_filter(filt)
    else:
        weights = tuple(draw(st.lists(st.floats(-2, 2, width=32), min_size=1, max_size=4)))
        filt = weights
    k = len(weights)
    stride = draw(st.integers(1, 3))
    pad = (draw(st.integers(0, k)), draw(st.integers(0, k)))
    mode = draw(st.sampled_from(("reflect", "zeros")))
    spatial = tuple(draw(st.integers(1, 10)) for _ in range(dim))
    for size in spatial:
        assume(size + sum(pad) >= k)
        assume(mode == "zeros" or max(pad) < size)  # PyTorch's reflect-pad limit
    n, c = draw(st.integers(0, 3)), draw(st.integers(1, 4))
    dtype = draw(st.sampled_from((torch.float32, torch.float64)))
    layout = draw(st.sampled_from(LAYOUTS_2D if dim == 2 else LAYOUTS_1D))
    x = make_input((n, c, *spatial), dtype, layout, "normal", draw(st.integers(0, 2**16)))
    return x, dict(stride=stride, padding=pad, pad_mode=mode), filt, weights


@pytest.fixture
def generic_blur(monkeypatch):
    """Random filters exercise the generic kernels; the generated ones (compiled per filter
    size, stride, padding and dtype) are covered by test_generated_blur_kernels."""
    from poolstride.kernels import generated

    monkeypatch.setattr(generated, "BLUR_SIZES", ())


@pytest.mark.usefixtures("generic_blur")
@given(blur_problems(), st.integers(0, 2**16))
def test_blur_pool_matches_reference(problem, seed):
    x, kwargs, filt, weights = problem
    a = x.detach().clone().requires_grad_()
    b = x.detach().clone().requires_grad_()
    out = kernels.blur_pool(a, filt, **kwargs)
    ref = fallback.blur_pool(b, weights, **kwargs)
    torch.testing.assert_close(out, ref)
    grad_out = torch.randn(
        ref.shape, generator=torch.Generator().manual_seed(seed), dtype=ref.dtype
    )
    (ga,) = torch.autograd.grad(out, a, grad_out)
    (gb,) = torch.autograd.grad(ref, b, grad_out)
    torch.testing.assert_close(ga, gb)


def test_default_padding_keeps_length_at_stride_one():
    x = torch.randn(2, 3, 9, 8)
    for size in (1, 2, 3, 4, 5):
        assert kernels.blur_pool(x, size, stride=1).shape == x.shape


def test_binomial_filter():
    assert fallback.binomial_filter(3) == (0.25, 0.5, 0.25)
    assert fallback.binomial_filter(1) == (1.0,)
    assert sum(fallback.binomial_filter(7)) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [dict(stride=0), dict(pad_mode="circular"), dict(padding=-1)])
def test_bad_arguments_raise(bad):
    with pytest.raises(ValueError):
        kernels.blur_pool(torch.randn(1, 1, 8, 8), 3, **bad)


def test_equals_timm_blurpool2d():
    timm_layers = pytest.importorskip("timm.layers")
    x = torch.randn(2, 5, 16, 13)
    layer = timm_layers.BlurPool2d(5, filt_size=3, stride=2)
    torch.testing.assert_close(kernels.blur_pool(x, 3, 2, padding=(1, 1)), layer(x))


def test_equals_kornia_maxblurpool2d():
    kornia = pytest.importorskip("kornia")
    x = torch.randn(2, 5, 16, 13)
    layer = kornia.filters.MaxBlurPool2D(3)
    ours = kernels.blur_pool(kernels.max_pool(x, 2, 1), 3, 2, padding=(1, 1), pad_mode="zeros")
    torch.testing.assert_close(ours, layer(x))


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize(
    "filt, stride, padding, pad_mode, dtype",
    [
        (3, 2, (1, 1), "reflect", torch.float32),  # timm BlurPool2d
        (3, 2, (1, 1), "zeros", torch.float64),  # kornia
        (4, 2, None, "reflect", torch.float32),  # antialiased-cnns default padding
        (2, 1, (0, 1), "zeros", torch.float32),
    ],
)
def test_generated_blur_kernels(filt, stride, padding, pad_mode, dtype, layout):
    from poolstride.kernels.generated import blur_kernels

    k = filt
    assert blur_kernels(k, stride, (padding or ((k - 1) // 2, 0))[0], str(dtype)[6:])
    for shape in [(2, 3, 17, 14), (2, 3, 9), (1, 2, 3, 4)]:
        x = make_input(shape, dtype, layout if len(shape) == 4 else "contiguous", "normal", 5)
        a = x.detach().clone().requires_grad_()
        b = x.detach().clone().requires_grad_()
        kwargs = dict(stride=stride, padding=padding, pad_mode=pad_mode)
        weights = fallback.binomial_filter(filt)
        pad = padding or fallback.blur_padding(k)
        out = kernels.blur_pool(a, filt, **kwargs)
        ref = fallback.blur_pool(b, weights, stride, pad, pad_mode)
        torch.testing.assert_close(out, ref)
        grad_out = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
        (ga,) = torch.autograd.grad(out, a, grad_out)
        (gb,) = torch.autograd.grad(ref, b, grad_out)
        torch.testing.assert_close(ga, gb)


@st.composite
def max_blur_problems(draw):
    dim = draw(st.sampled_from((1, 2)))
    filt = draw(st.integers(1, 5))
    k = len(fallback.binomial_filter(filt))
    stride = draw(st.integers(1, 3))
    pad = (draw(st.integers(0, k)), draw(st.integers(0, k)))
    mode = draw(st.sampled_from(("reflect", "zeros")))
    spatial = tuple(draw(st.integers(2, 10)) for _ in range(dim))
    for size in spatial:  # the blur sees the dense max map, one sample shorter
        assume(size - 1 + sum(pad) >= k)
        assume(mode == "zeros" or max(pad) < size - 1)
    n, c = draw(st.integers(0, 3)), draw(st.integers(1, 4))
    dtype = draw(st.sampled_from((torch.float32, torch.float64)))
    layout = draw(st.sampled_from(LAYOUTS_2D if dim == 2 else LAYOUTS_1D))
    values = draw(st.sampled_from(("ties", "normal")))
    x = make_input((n, c, *spatial), dtype, layout, values, draw(st.integers(0, 2**16)))
    return x, dict(stride=stride, padding=pad, pad_mode=mode), filt


@pytest.mark.usefixtures("generic_blur")
@given(max_blur_problems(), st.integers(0, 2**16))
def test_fused_max_blur_matches_the_composition(problem, seed):
    x, kwargs, filt = problem
    a = x.detach().clone().requires_grad_()
    b = x.detach().clone().requires_grad_()
    with kernels.dispatch_log() as calls:
        out = kernels.max_blur_pool(a, filt, **kwargs)
    assert calls[0]["op"] == "max+blur"  # the fused path ran, not the fallback composition
    weights = fallback.binomial_filter(filt)
    ref = fallback.blur_pool(
        fallback.max_pool(b, (2,) * (x.ndim - 2), 1),
        weights,
        kwargs["stride"],
        kwargs["padding"],
        kwargs["pad_mode"],
    )
    torch.testing.assert_close(out, ref)
    grad_out = torch.randn(
        ref.shape, generator=torch.Generator().manual_seed(seed), dtype=ref.dtype
    )
    (ga,) = torch.autograd.grad(out, a, grad_out)
    (gb,) = torch.autograd.grad(ref, b, grad_out)
    torch.testing.assert_close(ga, gb)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_fused_max_blur_second_derivatives(layout):
    x = make_input((1, 2, 6, 5), torch.float64, layout, "normal", 3).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: kernels.max_blur_pool(t, 3, 2), (x,))


def test_fused_max_blur_equals_kornia():
    kornia = pytest.importorskip("kornia")
    x = torch.randn(2, 5, 16, 13)
    layer = kornia.filters.MaxBlurPool2D(3)
    ours = kernels.max_blur_pool(x, 3, 2, padding=(1, 1), pad_mode="zeros")
    torch.testing.assert_close(ours, layer(x))
