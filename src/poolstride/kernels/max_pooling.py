"""Max pooling: :func:`max_pool`, ``torch.nn.functional.max_pool{1,2}d`` on the fast kernels.

Any kernel, stride, padding, dilation, ceil mode and ``return_indices``; outputs, indices and
gradients bit-identical to PyTorch's CPU kernels. The argmax is saved as a uint8 window tap
where that fits (:func:`taps_fit`), else as the int32 flat position ``h * W + w``. The
backward (:class:`_MaxScatter`) scatters the gradient to the argmax; its adjoint
(:func:`gather_at_argmax`) gathers, so any order of differentiation works.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from poolstride.kernels import dispatch, fallback, generated, threads
from poolstride.kernels.call_plan import (
    CHANNELS_LAST,
    DENSE,
    PAIRS,
    PLANAR,
    ROWS,
    Plan,
    from4d,
    pool_plan,
)

_MAX_PLANE = 2**31 - 1  # argmax is stored as int32 h * W + w


def taps_fit(plan: Plan) -> bool:
    """Whether the argmax is saved as a uint8 window tap (1/4 of int32 positions' traffic):
    NCHW windows with generated kernels; channels-last windows of at most 255 taps without
    dilation (then every window hits the input, so every tap is well defined)."""
    if plan.layout == PLANAR:
        return bool(generated.pool_kernels(*plan.window))
    return plan.dilation == (1, 1) and plan.kernel[0] * plan.kernel[1] <= 255


#: Unsigned views of float gradients and the constants the integer code needs to reproduce
#: PyTorch's ``0 + grad``: numpy float dtype -> (unsigned dtype, [sign bit, +inf bits,
#: quiet-NaN bit]).
UNSIGNED_BITS = {
    np.dtype(np.float32): (np.uint32, np.array([1 << 31, 0x7F800000, 1 << 22], np.uint32)),
    np.dtype(np.float64): (np.uint64, np.array([1 << 63, 0x7FF << 52, 1 << 51], np.uint64)),
}


class _MaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x4, plan: Plan):
        generic = dispatch.generic_kernels().KERNELS
        _, xa = plan.to_kernel(x4)
        out, oa = plan.empty(plan.out_shape)
        idx, ia = plan.empty(plan.out_shape, dtype=torch.uint8 if plan.taps else torch.int32)
        work = x4.numel()
        fast = generated.pool_kernels(*plan.window) if plan.taps else {}
        geometry = (*plan.kernel, *plan.stride, *plan.padding, *plan.dilation)
        if plan.layout == PLANAR and fast:
            if plan.stride[1] == 2 and xa.shape[2] % 2 == 0:
                # column pairs as one complex number: contiguous loads for stride 2
                pairs = xa.view(np.complex64 if xa.dtype == np.float32 else np.complex128)
                fn = fast.get(("max", "fwd", ROWS), fast["max", "fwd", PAIRS])
                threads.run(fn, (xa, pairs, oa, ia), xa.shape[0], (), work)
            else:
                fn = fast.get(("max", "fwd", DENSE), fast["max", "fwd", PLANAR])
                threads.run(fn, (xa, xa, oa, ia), xa.shape[0], (), work)
        elif plan.layout == PLANAR:
            threads.run(generic["max", "fwd", PLANAR], (xa, oa, ia), xa.shape[0], geometry, work)
        elif fast:
            rows = oa.shape[0] * oa.shape[1]
            threads.run(fast["max", "fwd", CHANNELS_LAST], (xa, oa, ia), rows, (), work)
        else:
            threads.run(
                generic["max", "fwd", CHANNELS_LAST],
                (xa, oa, ia),
                oa.shape[0] * oa.shape[1],
                (*geometry, plan.taps),
                work,
            )
        ctx.mark_non_differentiable(idx)
        # Otherwise autograd materialises a zero "gradient" for idx: a wasted allocation
        # and memset as large as the output.
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(idx)
        ctx.plan = plan
        return out, idx

    @staticmethod
    def backward(ctx, grad_out, _grad_idx):
        if grad_out is None:
            return None, None
        (idx,) = ctx.saved_tensors
        return _MaxScatter.apply(grad_out, idx, ctx.plan), None


def _positions(idx: torch.Tensor, plan: Plan) -> torch.Tensor:
    """Saved argmax -> int64 flat input positions ``h * W + w`` (PyTorch's indices)."""
    if not plan.taps:
        return idx.to(torch.int64)
    kw, (sh, sw), (ph, pw) = plan.kernel[1], plan.stride, plan.padding
    (dh, dw), (oh, ow), width = plan.dilation, plan.out_shape[2:], plan.in_shape[3]
    taps = idx.to(torch.int64)
    rows = torch.arange(oh).view(oh, 1) * sh - ph + taps // kw * dh
    cols = torch.arange(ow) * sw - pw + taps % kw * dw
    # the saved index's strides (PyTorch returns them in the output's layout)
    return torch.empty_like(idx, dtype=torch.int64).copy_(rows * width + cols)


def _flat(t: torch.Tensor, layout: str) -> torch.Tensor:
    """(N, C, H, W) in ``layout`` -> planar (N*C, H*W) or channels-last (N, H*W, C) view."""
    n, c, h, w = t.shape
    if layout == PLANAR:
        return t.contiguous().view(n * c, h * w)
    return t.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1).reshape(n, h * w, c)


def _unflat(t: torch.Tensor, shape, layout: str) -> torch.Tensor:
    n, c, h, w = shape
    if layout == PLANAR:
        return t.view(n, c, h, w)
    return t.view(n, h, w, c).permute(0, 3, 1, 2)


class _MaxScatter(torch.autograd.Function):
    """grad_in = scatter-add of grad_out at the argmax; its adjoint is a gather."""

    @staticmethod
    def forward(ctx, grad_out, idx, plan: Plan):
        generic = dispatch.generic_kernels().KERNELS
        _, ga = plan.to_kernel(grad_out)
        _, ia = plan.to_kernel(idx)
        grad_in, gia = plan.empty(plan.in_shape)
        n, c, h, w = plan.in_shape
        work = grad_in.numel()
        bits, consts = UNSIGNED_BITS[gia.dtype]
        if plan.layout != PLANAR:
            geometry = (*plan.kernel, *plan.stride, *plan.padding, *plan.dilation)
            threads.run(
                generic["max", "bwd", CHANNELS_LAST],
                (ga, ga.view(bits), ia, gia, gia.view(bits)),
                n,
                (*geometry, plan.taps, consts),
                work,
            )
        elif plan.taps:
            threads.run(
                generated.pool_kernels(*plan.window)["max", "bwd", PLANAR],
                (ga, ga.view(bits), ia, gia, gia.view(bits)),
                n * c,
                (consts,),
                work,
            )
        else:
            threads.run(
                generic["max", "bwd", PLANAR], (ga, ia, gia.reshape(n * c, h * w)), n * c, (), work
            )
        ctx.save_for_backward(idx)
        ctx.plan = plan
        return grad_in

    @staticmethod
    def backward(ctx, grad_grad_in):
        (idx,) = ctx.saved_tensors
        return gather_at_argmax(grad_grad_in, idx, ctx.plan), None, None


def gather_at_argmax(grad_grad_in: torch.Tensor, idx: torch.Tensor, plan: Plan) -> torch.Tensor:
    """The adjoint of the max-pool scatter: ``grad_grad_in`` read at each window's argmax
    (0 for a dilated window that misses the input), shaped like the pooling output."""
    flat_idx = _flat(_positions(idx, plan), plan.layout)
    plane = plan.in_shape[2] * plan.in_shape[3]
    inside = flat_idx < plane  # windows that miss the input got no gradient
    picked = torch.gather(_flat(grad_grad_in, plan.layout), 1, flat_idx.clamp(max=plane - 1))
    picked = torch.where(inside, picked, torch.zeros_like(picked))
    return _unflat(picked, plan.out_shape, plan.layout)


def max_pool(
    x: torch.Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """``torch.nn.functional.max_pool{1,2}d`` with the fast CPU kernel where it applies.

    ``x``: ``(N, C, L)`` or ``(N, C, H, W)``. Output ``(N, C, *out)`` with PyTorch's size rule;
    with ``return_indices`` also the int64 flat positions ``h * W + w`` of each maximum.
    Ties go to the first maximum in row-major window order and NaN wins (the last NaN of the
    window), exactly as PyTorch's CPU kernel; gradients are bit-identical too.
    """
    dim = x.ndim - 2
    if dispatch.fast_path_reason(x) is None:
        x4, plan = pool_plan(x, kernel_size, stride, padding, dilation, ceil_mode)
        if plan is not None and x4.shape[2] * x4.shape[3] <= _MAX_PLANE:
            if dim == 1 and not x.requires_grad and not return_indices:
                # PyTorch's grad-free max_pool1d has its own kernel, which returns NCL
                # contiguous output whatever the input's strides.
                plan = dataclasses.replace(plan, layout=PLANAR)
            if taps_fit(plan):
                plan = dataclasses.replace(plan, taps=True)
            if dispatch.log_active():
                dispatch.note(
                    "max",
                    x,
                    "poolstride generated"
                    if plan.taps and generated.pool_kernels(*plan.window)
                    else "poolstride generic",
                )
            out, idx = _MaxPool.apply(x4, plan)
            out = from4d(out, dim)
            if return_indices:
                return out, from4d(_positions(idx, plan), dim)
            return out
    if dispatch.log_active():
        dispatch.note("max", x, "pytorch", dispatch.fallback_reason(x))
    return fallback.max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
