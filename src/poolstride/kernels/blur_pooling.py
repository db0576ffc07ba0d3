"""Blur pooling: :func:`blur_pool` (blur + subsample) and :func:`max_blur_pool` (a 2-window
max at stride 1, then the blur, fused).

The blur is a depthwise binomial (or any separable) filter with reflect or zero padding,
then subsampling by ``stride``, in one pass: a *separable resampling* with per-output
index/weight tables (:func:`poolstride.kernels.call_plan.blur_tables`). It is linear and
runs through :class:`poolstride.kernels.linear.LinearPool`. ``max_blur_pool`` (the
``blur-max`` kind) never materialises the dense max map (:class:`_MaxBlur`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from poolstride.errors import PoolstrideError, unknown
from poolstride.kernels import call_plan, dispatch, fallback, generated, threads
from poolstride.kernels.call_plan import (
    CHANNELS_LAST,
    DENSE,
    PLANAR,
    Plan,
    as4d,
    from4d,
    layout_of,
    pool_plan,
)
from poolstride.kernels.linear import LinearPool
from poolstride.kernels.max_pooling import UNSIGNED_BITS, gather_at_argmax, max_pool

_PAD_MODES = ("reflect", "zeros")


def resample_kernel(plan: Plan, direction: str = "fwd"):
    """The blur kernel for ``plan`` and ``direction`` (``fwd``/``bwd``): generated where
    available, else the generic one."""
    filt, stride, pad = plan.tables[9:12]
    dtype = str(plan.dtype).removeprefix("torch.")
    key = ("resample", direction, plan.layout)
    fast = generated.blur_kernels(len(filt), stride, pad, dtype).get(key)
    return fast or dispatch.generic_kernels().KERNELS[key]


def blur_kernel(plan: Plan, direction: str):
    """``(kernel, after, taps)`` of blur ``plan`` in ``direction``, for
    :class:`~poolstride.kernels.linear.LinearPool`."""
    taps = len(plan.tables[0][0]) + len(plan.tables[6][0])
    return resample_kernel(plan, direction), plan.tables, taps


def blur_pool(
    x: torch.Tensor,
    filt: int | Sequence[float] = 3,
    stride: int = 2,
    padding: int | tuple[int, int] | None = None,
    pad_mode: str = "reflect",
) -> torch.Tensor:
    """Fused depthwise blur + subsample (anti-aliased downsampling, Zhang 2019).

    ``x``: ``(N, C, L)`` or ``(N, C, H, W)``. ``filt``: a filter size (normalised binomial
    weights, 3 -> (1, 2, 1)/4) or explicit 1D weights; 2D uses their outer product.
    ``padding``: ``(lo, hi)`` on every spatial axis, an int for both, or None for
    ``((k-1)//2, k//2)``. ``pad_mode``: ``"reflect"`` or ``"zeros"``. Each axis has
    ``out = (size + lo + hi - k) // stride + 1``. Equal to
    :func:`poolstride.kernels.fallback.blur_pool` up to float rounding.
    """
    weights, (lo, hi) = _blur_args(filt, stride, padding, pad_mode)
    k = len(weights)
    dim = x.ndim - 2
    if dispatch.fast_path_reason(x) is None:
        x4 = as4d(x)
        plan = _blur_plan(x4, dim, weights, stride, (lo, hi), pad_mode)
        if plan is not None:
            if dispatch.log_active():
                dtype = str(x.dtype).removeprefix("torch.")
                fast = generated.blur_kernels(k, stride, lo, dtype)
                dispatch.note("blur", x, "poolstride generated" if fast else "poolstride generic")
            return from4d(LinearPool.apply(x4, plan, False, blur_kernel), dim)
    if dispatch.log_active():
        dispatch.note("blur", x, "pytorch", dispatch.fallback_reason(x))
    return fallback.blur_pool(x, weights, stride, (lo, hi), pad_mode)


def _blur_args(filt, stride: int, padding, pad_mode: str) -> tuple[tuple[float, ...], tuple]:
    """Filter weights and ``(lo, hi)`` padding from blur_pool's arguments (checked)."""
    weights = (
        fallback.binomial_filter(filt) if isinstance(filt, int) else tuple(float(v) for v in filt)
    )
    k = len(weights)
    if padding is None:
        padding = fallback.blur_padding(k)
    elif isinstance(padding, int):
        padding = (padding, padding)
    lo, hi = (int(p) for p in padding)
    if pad_mode not in _PAD_MODES:
        raise unknown("pad_mode", pad_mode, _PAD_MODES)
    if stride < 1 or k < 1 or lo < 0 or hi < 0:
        raise PoolstrideError(
            f"blur_pool needs stride >= 1, a filter and padding >= 0; got "
            f"stride={stride}, filter of {k}, padding={(lo, hi)}"
        )
    return weights, (lo, hi)


def _blur_plan(
    x4: torch.Tensor, dim: int, weights, stride: int, padding, pad_mode: str, shape4=None
) -> Plan | None:
    """The resampling plan of a blur of ``x4`` (or of a tensor of ``shape4`` laid out like
    it), or None where the kernels do not apply (PyTorch then raises or pads itself)."""
    shape4 = tuple(shape4 or x4.shape)
    (lo, hi), k = padding, len(weights)
    sizes = shape4[3:] if dim == 1 else shape4[2:]
    fits = all(size + lo + hi >= k for size in sizes)
    if pad_mode == "reflect":
        fits = fits and all(max(lo, hi) < size for size in sizes)
    if not fits:
        return None
    h, w = shape4[2:]
    tables = call_plan.blur_tables(
        h, w, weights, stride, lo, hi, pad_mode, call_plan.np_dtype(x4.dtype), dim
    )
    out_shape = (*shape4[:2], len(tables[2]), len(tables[8]))
    return Plan(layout_of(x4), x4.dtype, shape4, out_shape, tables=tables)


# ----------------------------------------- max pooling then blur, fused (blur-max kinds)

#: Intermediate elements per chunk of the fused max + blur: 256 KB of float32, cache-resident.
FUSED_CHUNK = 1 << 16


def _chunks(units: int, per_unit: int):
    """Chunk size (in planes or samples) whose intermediate stays in cache."""
    return max(1, min(units, FUSED_CHUNK // max(per_unit, 1)))


class _MaxBlur(torch.autograd.Function):
    """``blur(max_pool(x, 2, stride=1))`` chunk by chunk: the dense max map of a few planes
    (NCHW) or samples (channels-last) lives in a cache-sized scratch buffer and is blurred
    right away, so the full-size intermediate is never written to memory; only the uint8
    taps of its argmax are kept for the backward."""

    @staticmethod
    def forward(ctx, x4, max_plan: Plan, blur_plan: Plan):
        fast = generated.pool_kernels(*max_plan.window)
        _, xa = max_plan.to_kernel(x4)
        out, oa = blur_plan.empty(blur_plan.out_shape)
        taps, ta = max_plan.empty(max_plan.out_shape, dtype=torch.uint8)
        planar = max_plan.layout == PLANAR
        blur_fwd = resample_kernel(blur_plan)
        max_fwd = fast.get(("max", "fwd", DENSE), fast["max", "fwd", PLANAR])
        max_fwd_cl = fast["max", "fwd", CHANNELS_LAST]
        chunk = _chunks(xa.shape[0], int(np.prod(ta.shape[1:])))
        rows_m, rows_o = ta.shape[1], oa.shape[1]

        def work(lo, hi):
            dense = np.empty((min(chunk, hi - lo), *ta.shape[1:]), xa.dtype)
            for c0 in range(lo, hi, chunk):
                c1 = min(c0 + chunk, hi)
                d = dense[: c1 - c0]
                if planar:
                    max_fwd(xa[c0:c1], xa[c0:c1], d, ta[c0:c1], 0, c1 - c0)
                    blur_fwd(d, oa[c0:c1], 0, c1 - c0, *blur_plan.tables)
                else:
                    max_fwd_cl(xa[c0:c1], d, ta[c0:c1], 0, (c1 - c0) * rows_m)
                    blur_fwd(d, oa[c0:c1], 0, (c1 - c0) * rows_o, *blur_plan.tables)

        threads.run(work, (), xa.shape[0], (), x4.numel())
        ctx.mark_non_differentiable(taps)
        ctx.save_for_backward(taps)
        ctx.plans = (max_plan, blur_plan)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (taps,) = ctx.saved_tensors
        return _MaxBlurAdjoint.apply(grad_out, taps, *ctx.plans), None, None


class _MaxBlurAdjoint(torch.autograd.Function):
    """The gradient of :class:`_MaxBlur`: the blur's adjoint into a cache-sized scratch
    buffer, then the max pooling's scatter, chunk by chunk. Its own adjoint (double
    backward) gathers at the argmax and blurs."""

    @staticmethod
    def forward(ctx, grad_out, taps, max_plan: Plan, blur_plan: Plan):
        max_bwd = generated.pool_kernels(*max_plan.window)["max", "bwd", PLANAR]
        max_bwd_cl = dispatch.generic_kernels().KERNELS["max", "bwd", CHANNELS_LAST]
        _, ga = blur_plan.to_kernel(grad_out)
        _, ta = max_plan.to_kernel(taps)
        grad_in, gia = max_plan.empty(max_plan.in_shape)
        bits, consts = UNSIGNED_BITS[gia.dtype]
        planar = max_plan.layout == PLANAR
        blur_bwd = resample_kernel(blur_plan, "bwd")
        chunk = _chunks(gia.shape[0], int(np.prod(ta.shape[1:])))
        geometry = (*max_plan.kernel, *max_plan.stride, *max_plan.padding, *max_plan.dilation)

        def work(lo, hi):
            dense = np.empty((min(chunk, hi - lo), *ta.shape[1:]), gia.dtype)
            for c0 in range(lo, hi, chunk):
                c1 = min(c0 + chunk, hi)
                d = dense[: c1 - c0]
                blur_bwd(ga[c0:c1], d, 0, c1 - c0, *blur_plan.tables)
                g, gb = gia[c0:c1], gia[c0:c1].view(bits)
                if planar:
                    max_bwd(d, d.view(bits), ta[c0:c1], g, gb, 0, c1 - c0, consts)
                else:
                    max_bwd_cl(
                        d, d.view(bits), ta[c0:c1], g, gb, 0, c1 - c0, *geometry, True, consts
                    )

        threads.run(work, (), gia.shape[0], (), grad_in.numel())
        ctx.save_for_backward(taps)
        ctx.plans = (max_plan, blur_plan)
        return grad_in

    @staticmethod
    def backward(ctx, grad_grad_in):
        (taps,) = ctx.saved_tensors
        max_plan, blur_plan = ctx.plans
        picked = gather_at_argmax(grad_grad_in, taps, max_plan)
        return LinearPool.apply(picked, blur_plan, False, blur_kernel), None, None, None


def max_blur_pool(
    x: torch.Tensor,
    filt: int | Sequence[float] = 3,
    stride: int = 2,
    padding: int | tuple[int, int] | None = None,
    pad_mode: str = "reflect",
) -> torch.Tensor:
    """``blur_pool(max_pool(x, 2, stride=1), filt, stride, padding, pad_mode)``, fused.

    The ``blur-max`` downsampling of Zhang (2019) and kornia's ``MaxBlurPool2D`` (with
    ``padding=1, pad_mode="zeros"``): a 2-window max at stride 1 (1D: 2 samples), then
    :func:`blur_pool`. The dense max map is never materialised (see :class:`_MaxBlur`).
    Values and gradients equal the unfused composition up to float rounding of the blur.
    """
    weights, padding = _blur_args(filt, stride, padding, pad_mode)
    dim = x.ndim - 2
    if dispatch.fast_path_reason(x) is None and dim in (1, 2):
        x4, max_plan = pool_plan(x, 2, 1, 0, 1, False, taps=True)
        if max_plan is not None:
            blur_plan = _blur_plan(x4, dim, weights, stride, padding, pad_mode, max_plan.out_shape)
            if blur_plan is not None and generated.pool_kernels(*max_plan.window):
                dispatch.note("max+blur", x, "poolstride generated (fused)")
                return from4d(_MaxBlur.apply(x4, max_plan, blur_plan), dim)
    dense = max_pool(x, (2,) * dim, 1)
    return blur_pool(dense, weights, stride, padding, pad_mode)
