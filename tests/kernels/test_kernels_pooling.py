"""Max and average pooling kernels against PyTorch over random configurations.

Both must be bit-identical to PyTorch (values, argmax indices, gradients: same tie rule, same
NaN rule, same summation and accumulation order), and the output's layout (NCHW or
channels-last strides) must match PyTorch's too.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from kernel_strategies import make_input, pool_problems

from poolstride import kernels

pytestmark = pytest.mark.skipif(not kernels.available(), reason="numba not installed")

TORCH_MAX = {3: F.max_pool1d, 4: F.max_pool2d}
TORCH_AVG = {3: F.avg_pool1d, 4: F.avg_pool2d}


@pytest.fixture
def generic_kernels(monkeypatch):
    """Random configurations exercise the generic kernels; the constant-folded ones (each
    compiled per window and dtype) are covered by test_common_windows_on_realistic_sizes."""
    from poolstride.kernels import generated

    monkeypatch.setattr(generated, "SIZES", ())


def _exact(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


def _grad(out: torch.Tensor, x: torch.Tensor, seed: int) -> torch.Tensor:
    # Integer-valued upstream gradients: overlapping windows then sum exactly, so any
    # difference is a bug in routing, not rounding; plus a float one for the general case.
    g = torch.Generator().manual_seed(seed)
    grad_out = torch.randint(-4, 5, out.shape, generator=g).to(out.dtype)
    grad_out = grad_out + torch.rand(out.shape, generator=g, dtype=out.dtype)
    (grad,) = torch.autograd.grad(out, x, grad_out)
    return grad


@pytest.mark.usefixtures("generic_kernels")
@given(pool_problems("max"), st.integers(0, 2**16))
def test_max_pool_matches_pytorch_bit_for_bit(problem, seed):
    x, kwargs = problem
    x_ref = x.detach().clone().requires_grad_()
    x_new = x.detach().clone().requires_grad_()
    ref, ref_idx = TORCH_MAX[x.ndim](x_ref, return_indices=True, **kwargs)
    out, idx = kernels.max_pool(x_new, return_indices=True, **kwargs)
    _exact(out, ref)
    assert torch.equal(idx, ref_idx)
    assert out.stride() == ref.stride() and idx.stride() == ref_idx.stride()
    _exact(_grad(out, x_new, seed), _grad(ref, x_ref, seed))


@pytest.mark.usefixtures("generic_kernels")
@given(pool_problems("max"))
def test_max_pool_without_grad_keeps_pytorch_layout(problem):
    x, kwargs = problem
    with torch.no_grad():
        out = kernels.max_pool(x, **kwargs)
        ref = TORCH_MAX[x.ndim](x, **kwargs)
    _exact(out, ref)
    assert out.stride() == ref.stride()


@pytest.mark.usefixtures("generic_kernels")
@given(pool_problems("avg"), st.integers(0, 2**16))
def test_avg_pool_matches_pytorch_bit_for_bit(problem, seed):
    x, kwargs = problem
    x_ref = x.detach().clone().requires_grad_()
    x_new = x.detach().clone().requires_grad_()
    ref = TORCH_AVG[x.ndim](x_ref, **kwargs)
    out = kernels.avg_pool(x_new, **kwargs)
    _exact(out, ref)
    assert out.stride() == ref.stride()
    _exact(_grad(out, x_new, seed), _grad(ref, x_ref, seed))


# The specialised (constant-folded) kernels, with and without padding / ceil mode. Each
# (window, dtype) compiles once per machine, so float64 gets one representative.
COMMON = [
    (torch.float32, dict(kernel_size=2, stride=2)),
    (torch.float32, dict(kernel_size=3, stride=2, padding=1)),
    (torch.float32, dict(kernel_size=3, stride=1, padding=1)),
    (torch.float32, dict(kernel_size=2, stride=1, ceil_mode=True)),
    (torch.float32, dict(kernel_size=3, stride=2, ceil_mode=True)),
    (torch.float64, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
]


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype, geometry", COMMON)
@pytest.mark.parametrize("op", ["max", "avg"])
def test_common_windows_on_realistic_sizes(dtype, layout, geometry, op):
    x = make_input((2, 3, 17, 14), dtype, layout, "normal", seed=1)
    ours, theirs = (kernels.max_pool, TORCH_MAX) if op == "max" else (kernels.avg_pool, TORCH_AVG)
    for values_x in (x, x.flatten(2)):  # 2D and 1D
        a = values_x.detach().clone().requires_grad_()
        b = values_x.detach().clone().requires_grad_()
        out = ours(a, **geometry)
        ref = theirs[values_x.ndim](b, **geometry)
        _exact(out, ref)
        _exact(_grad(out, a, 3), _grad(ref, b, 3))


@pytest.mark.parametrize("values", ["ties", "special"])
@pytest.mark.parametrize("padding, ceil_mode", [(1, False), (0, False), (0, True), (1, True)])
def test_separable_max_3x3_stride_2_matches_pytorch_bit_for_bit(padding, ceil_mode, values):
    # Rows first, then columns (max_fwd_rows, NCHW, even widths): the first maximum in
    # row-major order and the last NaN must survive the split. Widths past one vector of
    # outputs (and odd heights: a bottom border row) run its whole-vector row loops.
    for shape, dtype in (((2, 3, 15, 40), torch.float32), ((1, 2, 12, 38), torch.float64)):
        x = make_input(shape, dtype, "contiguous", values, seed=padding + 2 * ceil_mode)
        geometry = dict(kernel_size=3, stride=2, padding=padding, ceil_mode=ceil_mode)
        a = x.detach().clone().requires_grad_()
        b = x.detach().clone().requires_grad_()
        out, idx = kernels.max_pool(a, return_indices=True, **geometry)
        ref, ref_idx = F.max_pool2d(b, return_indices=True, **geometry)
        _exact(out, ref)
        assert torch.equal(idx, ref_idx)
        _exact(_grad(out, a, 3), _grad(ref, b, 3))


def test_nan_and_ties_follow_pytorch_rule():
    # Window [1, 3, 3, nan, 3, nan]: PyTorch keeps the LAST NaN; [2, 2]: the FIRST max.
    x = torch.tensor([[[1.0, 3.0, 3.0, float("nan"), 3.0, float("nan"), 2.0, 2.0]]])
    out, idx = kernels.max_pool(x, 6, 6, ceil_mode=True, return_indices=True)
    ref, ref_idx = F.max_pool1d(x, 6, 6, ceil_mode=True, return_indices=True)
    assert idx.tolist() == ref_idx.tolist() == [[[5, 6]]]
    _exact(out, ref)


def test_all_minus_inf_window_points_at_first_element():
    x = torch.full((1, 1, 3, 3), float("-inf"))
    _, idx = kernels.max_pool(x, 2, 1, 1, return_indices=True)
    _, ref = F.max_pool2d(x, 2, 1, 1, return_indices=True)
    assert torch.equal(idx, ref)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_window_missing_the_input_gets_no_gradient(layout):
    # Height 1, taps at rows -1 and 1 (dilation 2): every window misses the input. PyTorch
    # returns -inf with an index past the plane; its NCHW backward routes nothing (its
    # channels-last backward writes out of bounds, so it is not called here).
    x = make_input((2, 3, 1, 5), torch.float32, layout, "normal", seed=0).requires_grad_()
    geometry = dict(kernel_size=2, stride=(1, 2), padding=(1, 0), dilation=(2, 1))
    out, idx = kernels.max_pool(x, return_indices=True, **geometry)
    ref, ref_idx = F.max_pool2d(x.detach().contiguous(), return_indices=True, **geometry)
    _exact(out, ref)
    assert torch.equal(idx, ref_idx)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    assert torch.equal(grad, torch.zeros_like(x))
    (grad.sum() + out[out.isfinite()].sum()).backward()  # double backward: the gather side


@pytest.mark.parametrize("op", ["max", "avg"])
def test_empty_batch(op):
    x = torch.randn(0, 3, 8, 8, requires_grad=True)
    fn = kernels.max_pool if op == "max" else kernels.avg_pool
    out = fn(x, 2)
    assert out.shape == (0, 3, 4, 4)
    out.sum().backward()
    assert x.grad.shape == x.shape


@st.composite
def common_window_problems(draw):
    """(x, kwargs): 2D max pooling with a common window (generated kernels in NCHW, uint8
    taps in both layouts)."""
    k = draw(st.sampled_from((2, 3)))
    s = draw(st.sampled_from((1, 2)))
    pad = draw(st.integers(0, k // 2))  # symmetric: fewer generated modules to compile
    ceil_mode = draw(st.booleans())
    h, w = draw(st.integers(k, 13)), draw(st.integers(k, 13))
    layout = draw(st.sampled_from(("contiguous", "sliced", "channels_last")))
    values = draw(st.sampled_from(("ties", "normal", "special")))
    x = make_input(
        (draw(st.integers(1, 2)), 2, h, w),
        torch.float32,
        layout,
        values,
        draw(st.integers(0, 2**16)),
    )
    return x, dict(kernel_size=k, stride=s, padding=pad, ceil_mode=ceil_mode)


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(torch.int32 if t.dtype == torch.float32 else torch.int64)


@pytest.mark.parametrize("op", ["max", "avg"])
@given(problem=common_window_problems(), seed=st.integers(0, 2**16))
def test_common_windows_match_pytorch_bit_for_bit(op, problem, seed):
    # Common windows run the constant-folded NCHW kernels; max saves uint8 taps in both
    # layouts; windows tiling the input write the gradient once. Check values, indices and
    # gradient BITS, with -0.0, NaN and -inf in the upstream gradient (PyTorch computes
    # 0 + grad, which turns -0 into +0).
    x, kwargs = problem
    x_ref = x.detach().clone().requires_grad_()
    x_new = x.detach().clone().requires_grad_()
    if op == "max":
        ref, ref_idx = F.max_pool2d(x_ref, return_indices=True, **kwargs)
        out, idx = kernels.max_pool(x_new, return_indices=True, **kwargs)
        assert torch.equal(idx, ref_idx)
    else:
        ref, out = F.avg_pool2d(x_ref, **kwargs), kernels.avg_pool(x_new, **kwargs)
    _exact(out, ref)
    g = torch.Generator().manual_seed(seed)
    grad_out = torch.randn(out.shape, generator=g)
    pick = torch.rand(out.shape, generator=g)
    grad_out[pick < 0.2] = -0.0
    grad_out[(pick >= 0.2) & (pick < 0.25)] = float("nan")
    grad_out[(pick >= 0.25) & (pick < 0.3)] = float("-inf")
    (grad_ref,) = torch.autograd.grad(ref, x_ref, grad_out)
    (grad_new,) = torch.autograd.grad(out, x_new, grad_out)
    assert torch.equal(_bits(grad_new), _bits(grad_ref))


def test_generated_kernels_serve_common_windows_only(monkeypatch):
    from poolstride.kernels import generated
    from poolstride.kernels.call_plan import CHANNELS_LAST

    seen = []
    original = generated.pool_kernels
    monkeypatch.setattr(
        generated, "pool_kernels", lambda *window: seen.append(original(*window)) or seen[-1]
    )
    x = torch.randn(1, 2, 8, 8)
    for layout in (x, x.contiguous(memory_format=torch.channels_last)):
        kernels.max_pool(layout, 2, 2)
        assert ("max", "fwd", CHANNELS_LAST) in seen[-1]
    kernels.max_pool(x, 2, 3)  # stride 3: the generic kernel
    assert seen[-1] == {}
    kernels.max_pool(x, 2, 2, dilation=2)
    assert seen[-1] == {}


@given(
    problem=common_window_problems(),
    count_include_pad=st.booleans(),
    divisor_override=st.one_of(st.none(), st.integers(1, 7)),
    seed=st.integers(0, 2**16),
)
def test_common_avg_windows_follow_pytorch_divisor_rules(
    problem, count_include_pad, divisor_override, seed
):
    # Overlapping windows sum each input row by column phase (avg_bwd_phases): border
    # windows' divisors (padding counted or not, or overridden), ceil-mode windows past the
    # input and odd sizes must give PyTorch's gradient bits.
    x, kwargs = problem
    kwargs = dict(kwargs, count_include_pad=count_include_pad, divisor_override=divisor_override)
    x_ref = x.detach().clone().requires_grad_()
    x_new = x.detach().clone().requires_grad_()
    ref, out = F.avg_pool2d(x_ref, **kwargs), kernels.avg_pool(x_new, **kwargs)
    _exact(out, ref)
    g = torch.Generator().manual_seed(seed)
    grad_out = torch.randn(out.shape, generator=g)
    grad_out[torch.rand(out.shape, generator=g) < 0.2] = -0.0
    (grad_ref,) = torch.autograd.grad(ref, x_ref, grad_out)
    (grad_new,) = torch.autograd.grad(out, x_new, grad_out)
    assert torch.equal(_bits(grad_new), _bits(grad_ref))


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (2, 2, 1), (3, 2, 1), (3, 1, 1)])
def test_common_windows_on_planes_smaller_than_the_window(layout, kernel, stride, padding):
    # Planes of 1-4 rows and columns: every window of the generated kernels crosses a border
    # (the unrolled max border, the guard rows and columns of the phase-split average).
    geometry = dict(kernel_size=kernel, stride=stride, padding=padding)
    for h, w, ceil_mode in [(h, w, c) for h in range(1, 5) for w in range(1, 5) for c in (0, 1)]:
        if min(h, w) + 2 * padding < kernel:
            continue  # PyTorch rejects an empty output
        x = make_input((2, 3, h, w), torch.float32, layout, "special", seed=h * 10 + w)
        for ours, theirs, extra in [
            (kernels.max_pool, F.max_pool2d, {}),
            (kernels.avg_pool, F.avg_pool2d, {"count_include_pad": False}),
            (kernels.avg_pool, F.avg_pool2d, {"divisor_override": 3}),
        ]:
            a = x.detach().clone().requires_grad_()
            b = x.detach().clone().requires_grad_()
            out = ours(a, ceil_mode=bool(ceil_mode), **geometry, **extra)
            ref = theirs(b, ceil_mode=bool(ceil_mode), **geometry, **extra)
            _exact(out, ref)
            _exact(_grad(out, a, h + w), _grad(ref, b, h + w))
