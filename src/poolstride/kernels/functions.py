"""Fast CPU pooling behind ``torch.autograd.Function``s, with the PyTorch fallback.

Entry points mirror ``torch.nn.functional`` (the spatial dimension is ``x.ndim - 2``):

- :func:`max_pool` — ``max_pool{1,2}d``: any kernel, stride, padding, dilation, ceil mode,
  ``return_indices``; outputs and gradients bit-identical to PyTorch.
- :func:`avg_pool` — ``avg_pool{1,2}d``: any kernel, stride, padding, ceil mode,
  ``count_include_pad``, ``divisor_override``; outputs and gradients bit-identical too.
- :func:`blur_pool` — depthwise binomial (or any separable) filter, reflect or zero padding,
  then subsample by ``stride``, fused in one pass.

Each returns its output in the input's memory format (NCHW or channels-last, following
PyTorch's ``suggest_memory_format``). Calls the kernels do not cover go to
:mod:`poolstride.kernels.fallback` (see :func:`fast_path_reason`). All three ops are linear in
the gradient, so backward is itself a differentiable Function (double backward works).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.utils._python_dispatch

from poolstride.errors import PoolstrideError, unknown
from poolstride.geometry.output_size import pool_output_size
from poolstride.kernels import _plan, fallback
from poolstride.kernels._plan import CHANNELS_LAST, PLANAR, Plan

_FLOATS = (torch.float32, torch.float64)
_MAX_PLANE = 2**31 - 1  # argmax is stored as int32 h * W + w
_state = {"enabled": os.environ.get("POOLSTRIDE_KERNELS", "1") != "0", "jit": None}


def _jit():
    """Import the numba kernels on first use (keeps ``import poolstride`` cheap)."""
    if _state["jit"] is None:
        try:
            from poolstride.kernels import _jit as jit_module
        except ImportError:  # numba missing or broken: the fallback serves every call
            jit_module = False
        _state["jit"] = jit_module
    return _state["jit"]


_MIN_WORK_PER_THREAD = 1 << 16  # elements; below this a thread hand-off costs more than it saves
_CHUNKS_PER_THREAD = 4
# The thread pool, recreated after a fork: a forked child inherits the executor object but
# not its threads, and would wait forever on work nobody picks up.
_pool: dict = {"executor": None, "workers": 0, "pid": None}


def _run(fn, before: tuple, count: int, after: tuple = (), work: int = 0) -> None:
    """``fn(*before, lo, hi, *after)`` over ``[0, count)`` split across threads.

    Uses ``torch.get_num_threads()`` threads (fewer for small ``work``): the calling thread
    and a persistent pool take chunks from a shared counter (the kernels release the GIL).
    Chunks, not one static slice per thread: right after a PyTorch op, PyTorch's OpenMP
    workers keep spinning on their cores for a while, so a pool thread may start late or
    run slowly; the calling thread then simply takes more chunks.
    """
    threads = max(1, min(torch.get_num_threads(), count, work // _MIN_WORK_PER_THREAD))
    if threads == 1:
        fn(*before, 0, count, *after)
        return
    if _pool["workers"] < threads - 1 or _pool["pid"] != os.getpid():
        _pool["executor"] = ThreadPoolExecutor(threads - 1, thread_name_prefix="poolstride")
        _pool["workers"] = threads - 1
        _pool["pid"] = os.getpid()
    chunks = min(count, threads * _CHUNKS_PER_THREAD)
    bounds = [count * i // chunks for i in range(chunks + 1)]
    counter = itertools.count()  # next() on it is atomic under the GIL

    def work_through() -> None:
        for i in iter(counter.__next__, None):
            if i >= chunks:
                return
            fn(*before, bounds[i], bounds[i + 1], *after)

    futures = [_pool["executor"].submit(work_through) for _ in range(threads - 1)]
    work_through()
    for future in futures:
        future.result()


_log: dict = {"calls": None}  # the active dispatch_log list, if any


@contextlib.contextmanager
def dispatch_log() -> Iterator[list[dict]]:
    """Record which implementation serves each pooling call made inside the block.

    Yields a list that fills with one dict per call: ``op`` (``max``, ``avg``, ``blur``),
    ``shape`` (input shape), ``layout`` (``contiguous`` or ``channels_last``), ``kernel``
    (``poolstride generated`` = constant-folded for the window, ``poolstride generic``, or
    ``pytorch``) and ``reason`` (why PyTorch served it, else ``""``).
    """
    before = _log["calls"]
    calls: list[dict] = []
    _log["calls"] = calls
    try:
        yield calls
    finally:
        _log["calls"] = before


def _note(op: str, x: torch.Tensor, kernel: str, reason: str = "") -> None:
    calls = _log["calls"]
    if calls is not None:
        x4 = _as4d(x) if x.ndim == 3 else x
        layout = "channels_last" if x4.ndim == 4 and _plan.is_channels_last(x4) else "contiguous"
        calls.append(
            {
                "op": op,
                "shape": tuple(x.shape),
                "layout": layout,
                "kernel": kernel,
                "reason": reason,
            }
        )


def note_pytorch(op: str, x: torch.Tensor, reason: str) -> None:
    """Log a call that a caller served with PyTorch itself (see :func:`dispatch_log`)."""
    if _log["calls"] is not None:
        _note(op, x, "pytorch", reason)


def _fallback_reason(x: torch.Tensor) -> str:
    return fast_path_reason(x) or "configuration not covered by the kernels"


def enabled() -> bool:
    """Whether the fast kernels are used where they apply (env ``POOLSTRIDE_KERNELS=0`` off)."""
    return bool(_state["enabled"])


def set_enabled(flag: bool) -> None:
    """Switch the fast kernels on or off process-wide (off: PyTorch for every call)."""
    _state["enabled"] = bool(flag)


@contextlib.contextmanager
def use_kernels(flag: bool = True) -> Iterator[None]:
    """Context manager: ``with use_kernels(False): ...`` runs PyTorch's ops inside."""
    before = _state["enabled"]
    _state["enabled"] = bool(flag)
    try:
        yield
    finally:
        _state["enabled"] = before


def available() -> bool:
    """True when numba imports, i.e. the fast kernels can run at all."""
    return bool(_jit())


def _observed() -> bool:
    """True while a TorchFunctionMode or TorchDispatchMode is active.

    Those modes (FlopCounterMode, poolstride's profiler) must see every op; the numba kernels
    run outside torch's dispatch, so under a mode the PyTorch path is taken instead.
    """
    if torch._C._is_torch_function_mode_enabled():
        return True
    return torch.utils._python_dispatch._get_current_dispatch_mode() is not None


def fast_path_reason(x: torch.Tensor) -> str | None:
    """Why ``x`` goes to the PyTorch fallback, or None if the fast kernels take it.

    (Geometry PyTorch rejects also goes to the fallback, so PyTorch raises its own error.)
    """
    if not _state["enabled"]:
        return "kernels disabled"
    if type(x) not in (torch.Tensor, torch.nn.Parameter):
        return f"tensor subclass {type(x).__name__}"
    if x.device.type != "cpu" or x.layout != torch.strided:
        return f"device {x.device.type} / layout {x.layout}"
    if x.dtype not in _FLOATS:
        return f"dtype {x.dtype}"
    if x.ndim not in (3, 4):
        return f"{x.ndim}D input (need batched 1D or 2D)"
    if 0 in x.shape[1:]:
        return "empty channel or spatial dimension"
    if torch.jit.is_scripting() or torch.jit.is_tracing() or torch.compiler.is_compiling():
        return "tracing / compiling"
    if _observed():
        return "a torch function/dispatch mode is watching (profiling, FLOP counting)"
    functorch_active = getattr(torch._C, "_are_functorch_transforms_active", None)
    if functorch_active is not None and functorch_active():
        return "torch.func transform"
    if not _jit():
        return "numba unavailable"
    return None


def _as4d(x: torch.Tensor) -> torch.Tensor:
    # 1D pooling is 2D pooling of an (N, C, 1, L) view, exactly as PyTorch computes it, so
    # both the kernel and the output layout rule are shared.
    return x.unsqueeze(-2) if x.ndim == 3 else x


def _layout(x4: torch.Tensor) -> str:
    return CHANNELS_LAST if _plan.is_channels_last(x4) else PLANAR


def _from4d(t: torch.Tensor, dim: int) -> torch.Tensor:
    return t.squeeze(-2) if dim == 1 else t


def _geometry(dim, kernel_size, stride, padding, dilation):
    kernel = _plan.tuple_arg(kernel_size, dim, "kernel_size")
    stride = kernel if stride is None or stride == () or stride == [] else stride
    stride = _plan.tuple_arg(stride, dim, "stride")
    padding = _plan.tuple_arg(padding, dim, "padding")
    dilation = _plan.tuple_arg(dilation, dim, "dilation")
    if dim == 1:  # the (N, C, 1, L) view: a 1-tap, stride-1 window over the dummy axis
        return (1, *kernel), (1, *stride), (0, *padding), (1, *dilation)
    return kernel, stride, padding, dilation


def _valid(shape4, kernel, stride, padding, dilation, ceil_mode) -> list | None:
    """Output (OH, OW), or None where PyTorch would raise (then the fallback raises).

    The size rule is geometry's (the one place it lives), PyTorch's limits included.
    """
    try:
        return [
            pool_output_size(size, k, s, p, d, ceil_mode)
            for size, k, s, p, d in zip(shape4[2:], kernel, stride, padding, dilation)
        ]
    except PoolstrideError:
        return None


# ---------------------------------------------------------------- max pooling


def _generated(plan: Plan):
    """The constant-folded kernels for ``plan``'s window (both layouts), or None."""
    from poolstride.kernels._specialize import specialized

    return specialized(plan.kernel, plan.stride, plan.padding, plan.dilation)


def _taps_fit(plan: Plan) -> bool:
    """Whether the argmax is saved as a uint8 window tap (1/4 of int32 positions' traffic):
    NCHW windows with generated kernels; channels-last windows of at most 255 taps without
    dilation (then every window hits the input, so every tap is well defined)."""
    if plan.layout == PLANAR:
        return _generated(plan) is not None
    return plan.dilation == (1, 1) and plan.kernel[0] * plan.kernel[1] <= 255


# Unsigned views of float gradients and the constants the integer code needs to reproduce
# PyTorch's ``0 + grad``: (sign bit, +inf bits, quiet-NaN bit).
_BITS = {
    np.dtype(np.float32): (np.uint32, np.array([1 << 31, 0x7F800000, 1 << 22], np.uint32)),
    np.dtype(np.float64): (np.uint64, np.array([1 << 63, 0x7FF << 52, 1 << 51], np.uint64)),
}


class _MaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x4, plan: Plan):
        jit = _jit()
        _, xa = plan.to_kernel(x4)
        out, oa = plan.empty(plan.out_shape)
        idx, ia = plan.empty(plan.out_shape, dtype=torch.uint8 if plan.taps else torch.int32)
        work = x4.numel()
        module = _generated(plan) if plan.taps else None
        geometry = (*plan.kernel, *plan.stride, *plan.padding, *plan.dilation)
        if plan.layout == PLANAR and module is not None:
            if plan.stride[1] == 2 and xa.shape[2] % 2 == 0:
                # column pairs as one complex number: contiguous loads for stride 2
                pairs = xa.view(np.complex64 if xa.dtype == np.float32 else np.complex128)
                _run(module.max_fwd_pairs, (xa, pairs, oa, ia), xa.shape[0], (), work)
            else:
                fn = getattr(module, "max_fwd_dense", module.max_fwd_planar)
                _run(fn, (xa, xa, oa, ia), xa.shape[0], (), work)
        elif plan.layout == PLANAR:
            _run(jit.max_fwd_planar, (xa, oa, ia), xa.shape[0], geometry, work)
        elif module is not None:
            _run(module.max_fwd_cl, (xa, oa, ia), oa.shape[0] * oa.shape[1], (), work)
        else:
            _run(
                jit.max_fwd_cl,
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
        jit = _jit()
        _, ga = plan.to_kernel(grad_out)
        _, ia = plan.to_kernel(idx)
        grad_in, gia = plan.empty(plan.in_shape)
        n, c, h, w = plan.in_shape
        work = grad_in.numel()
        bits, consts = _BITS[gia.dtype]
        if plan.layout != PLANAR:
            geometry = (*plan.kernel, *plan.stride, *plan.padding, *plan.dilation)
            _run(
                jit.max_bwd_cl,
                (ga, ga.view(bits), ia, gia, gia.view(bits)),
                n,
                (*geometry, plan.taps, consts),
                work,
            )
        elif plan.taps:
            _run(
                _generated(plan).max_bwd_planar,
                (ga, ga.view(bits), ia, gia, gia.view(bits)),
                n * c,
                (consts,),
                work,
            )
        else:
            _run(jit.max_bwd_planar, (ga, ia, gia.reshape(n * c, h * w)), n * c, (), work)
        ctx.save_for_backward(idx)
        ctx.plan = plan
        return grad_in

    @staticmethod
    def backward(ctx, grad_grad_in):
        (idx,) = ctx.saved_tensors
        return _gather_at_argmax(grad_grad_in, idx, ctx.plan), None, None


def _gather_at_argmax(grad_grad_in: torch.Tensor, idx: torch.Tensor, plan: Plan) -> torch.Tensor:
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
    if fast_path_reason(x) is None:
        kernel, stride_, pad, dil = _geometry(dim, kernel_size, stride, padding, dilation)
        x4 = _as4d(x)
        out_hw = _valid(x4.shape, kernel, stride_, pad, dil, ceil_mode)
        if out_hw is not None and x4.shape[2] * x4.shape[3] <= _MAX_PLANE:
            layout = _layout(x4)
            if dim == 1 and not x.requires_grad and not return_indices:
                # PyTorch's grad-free max_pool1d has its own kernel, which returns NCL
                # contiguous output whatever the input's strides.
                layout = PLANAR
            plan = Plan(
                layout,
                x.dtype,
                tuple(x4.shape),
                (*x4.shape[:2], *out_hw),
                kernel,
                stride_,
                pad,
                dil,
            )
            if _taps_fit(plan):
                plan = dataclasses.replace(plan, taps=True)
            if _log["calls"] is not None:
                _note(
                    "max",
                    x,
                    "poolstride generated"
                    if plan.taps and _generated(plan)
                    else "poolstride generic",
                )
            out, idx = _MaxPool.apply(x4, plan)
            out = _from4d(out, dim)
            if return_indices:
                return out, _from4d(_positions(idx, plan), dim)
            return out
    if _log["calls"] is not None:
        _note("max", x, "pytorch", _fallback_reason(x))
    return fallback.max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


# ------------------------------------------- average and blur pooling (linear ops)


class _LinearPool(torch.autograd.Function):
    """Average pooling (``plan.tables is None``) or blur resampling (tables), or with
    ``adjoint`` their transposes. Backward of one is the other, so any order of
    differentiation works."""

    @staticmethod
    def forward(ctx, x4, plan: Plan, adjoint: bool):
        ctx.plan = plan
        ctx.adjoint = adjoint
        jit = _jit()
        _, xa = plan.to_kernel(x4)
        n, c = plan.in_shape[:2]
        planar = plan.layout == PLANAR
        if plan.tables is None:
            family = "avg"
            after = (
                *plan.kernel,
                *plan.stride,
                *plan.padding,
                plan.count_include_pad,
                plan.divisor,
            )
            taps = plan.kernel[0] * plan.kernel[1]
        else:
            family = "resample"
            after = plan.tables
            taps = len(plan.tables[0][0]) + len(plan.tables[6][0])
        work = max(x4.numel(), 1) * taps
        direction = "bwd" if adjoint else "fwd"
        out, oa = plan.empty(plan.in_shape if adjoint else plan.out_shape)
        layout = "planar" if planar else "cl"
        fast = None
        if family == "avg":
            fast = getattr(_generated(plan), f"avg_{direction}_{layout}", None)
            if fast is not None:
                after = (*plan.padding, plan.count_include_pad, plan.divisor)
        else:
            fast = _blur_kernel(plan, xa, direction)
        if fast is None:
            fast = getattr(jit, f"{family}_{direction}_{layout}")
        if planar:
            _run(fast, (xa, oa), n * c, after, work)
        else:
            # backward: output rows overlap in the input, so slice by sample only
            _run(fast, (xa, oa), n if adjoint else n * plan.out_shape[2], after, work)
        return out

    @staticmethod
    def backward(ctx, grad):
        return _LinearPool.apply(grad, ctx.plan, not ctx.adjoint), None, None


def avg_pool(
    x: torch.Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
):
    """``torch.nn.functional.avg_pool{1,2}d`` with the fast CPU kernel where it applies.

    ``out = sum(window) / divisor`` with PyTorch's divisor: the window size clipped to the
    padded input (``count_include_pad``) or to the input, or ``divisor_override`` (2D only).
    Same float operations in the same order as PyTorch's CPU kernels: bit-identical outputs
    and gradients.
    """
    dim = x.ndim - 2
    reason = fast_path_reason(x)
    if reason is None and (divisor_override is None or dim == 2):
        kernel, stride_, pad, _ = _geometry(dim, kernel_size, stride, padding, 1)
        x4 = _as4d(x)
        out_hw = _valid(x4.shape, kernel, stride_, pad, (1, 1), ceil_mode)
        layout = _layout(x4)
        if layout == CHANNELS_LAST and not (x.requires_grad and torch.is_grad_enabled()):
            # Where the kernels are not faster (bench/kernels.py: PyTorch's channels-last
            # average-pooling forward is as fast or faster), PyTorch serves the call.
            out_hw, reason = None, "channels-last average pooling without gradient"
        if out_hw is not None and (divisor_override is None or divisor_override != 0):
            plan = Plan(
                layout,
                x.dtype,
                tuple(x4.shape),
                (*x4.shape[:2], *out_hw),
                kernel,
                stride_,
                pad,
                count_include_pad=bool(count_include_pad),
                divisor=int(divisor_override or 0),
            )
            if _log["calls"] is not None:
                _note(
                    "avg", x, "poolstride generated" if _generated(plan) else "poolstride generic"
                )
            return _from4d(_LinearPool.apply(x4, plan, False), dim)
    if _log["calls"] is not None:
        _note("avg", x, "pytorch", reason or "configuration not covered by the kernels")
    return fallback.avg_pool(
        x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


_PAD_MODES = ("reflect", "zeros")


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
    if fast_path_reason(x) is None:
        x4 = _as4d(x)
        plan = _blur_plan(x4, dim, weights, stride, (lo, hi), pad_mode)
        if plan is not None:
            if _log["calls"] is not None:
                from poolstride.kernels._specialize import specialized_blur

                generated = specialized_blur(k, stride, lo, str(x.dtype).removeprefix("torch."))
                _note("blur", x, "poolstride generated" if generated else "poolstride generic")
            return _from4d(_LinearPool.apply(x4, plan, False), dim)
    if _log["calls"] is not None:
        _note("blur", x, "pytorch", _fallback_reason(x))
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
    tables = _plan.blur_tables(
        h, w, weights, stride, lo, hi, pad_mode, _plan.np_dtype(x4.dtype), dim
    )
    out_shape = (*shape4[:2], len(tables[2]), len(tables[8]))
    return Plan(_layout(x4), x4.dtype, shape4, out_shape, tables=tables)


# ----------------------------------------- max pooling then blur, fused (blur-max kinds)

_FUSED_CHUNK = 1 << 16  # intermediate elements per chunk: 256 KB of float32, cache-resident


def _chunks(units: int, per_unit: int):
    """Chunk size (in planes or samples) whose intermediate stays in cache."""
    return max(1, min(units, _FUSED_CHUNK // max(per_unit, 1)))


class _MaxBlur(torch.autograd.Function):
    """``blur(max_pool(x, 2, stride=1))`` chunk by chunk: the dense max map of a few planes
    (NCHW) or samples (channels-last) lives in a cache-sized scratch buffer and is blurred
    right away, so the full-size intermediate is never written to memory; only the uint8
    taps of its argmax are kept for the backward."""

    @staticmethod
    def forward(ctx, x4, max_plan: Plan, blur_plan: Plan):
        module = _generated(max_plan)
        _, xa = max_plan.to_kernel(x4)
        out, oa = blur_plan.empty(blur_plan.out_shape)
        taps, ta = max_plan.empty(max_plan.out_shape, dtype=torch.uint8)
        planar = max_plan.layout == PLANAR
        blur_fwd = _blur_kernel(blur_plan, xa)
        max_fwd = getattr(module, "max_fwd_dense", module.max_fwd_planar)
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
                    module.max_fwd_cl(xa[c0:c1], d, ta[c0:c1], 0, (c1 - c0) * rows_m)
                    blur_fwd(d, oa[c0:c1], 0, (c1 - c0) * rows_o, *blur_plan.tables)

        _run(work, (), xa.shape[0], (), x4.numel())
        ctx.mark_non_differentiable(taps)
        ctx.save_for_backward(taps)
        ctx.plans = (max_plan, blur_plan)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (taps,) = ctx.saved_tensors
        return _MaxBlurAdjoint.apply(grad_out, taps, *ctx.plans), None, None


def _blur_kernel(plan: Plan, xa: np.ndarray, direction: str = "fwd"):
    """The blur kernel for ``plan`` and ``direction`` (``fwd``/``bwd``), generated where
    available, else the generic one."""
    from poolstride.kernels._specialize import specialized_blur

    layout = "planar" if plan.layout == PLANAR else "cl"
    filt, stride, pad = plan.tables[9:12]
    module = specialized_blur(len(filt), stride, pad, str(xa.dtype))
    fast = getattr(module, f"resample_{direction}_{layout}", None)
    return fast or getattr(_jit(), f"resample_{direction}_{layout}")


class _MaxBlurAdjoint(torch.autograd.Function):
    """The gradient of :class:`_MaxBlur`: the blur's adjoint into a cache-sized scratch
    buffer, then the max pooling's scatter, chunk by chunk. Its own adjoint (double
    backward) gathers at the argmax and blurs."""

    @staticmethod
    def forward(ctx, grad_out, taps, max_plan: Plan, blur_plan: Plan):
        jit = _jit()
        module = _generated(max_plan)
        _, ga = blur_plan.to_kernel(grad_out)
        _, ta = max_plan.to_kernel(taps)
        grad_in, gia = max_plan.empty(max_plan.in_shape)
        bits, consts = _BITS[gia.dtype]
        planar = max_plan.layout == PLANAR
        blur_bwd = _blur_kernel(blur_plan, gia, "bwd")
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
                    module.max_bwd_planar(d, d.view(bits), ta[c0:c1], g, gb, 0, c1 - c0, consts)
                else:
                    jit.max_bwd_cl(
                        d, d.view(bits), ta[c0:c1], g, gb, 0, c1 - c0, *geometry, True, consts
                    )

        _run(work, (), gia.shape[0], (), grad_in.numel())
        ctx.save_for_backward(taps)
        ctx.plans = (max_plan, blur_plan)
        return grad_in

    @staticmethod
    def backward(ctx, grad_grad_in):
        (taps,) = ctx.saved_tensors
        max_plan, blur_plan = ctx.plans
        picked = _gather_at_argmax(grad_grad_in, taps, max_plan)
        return _LinearPool.apply(picked, blur_plan, False), None, None, None


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
    if fast_path_reason(x) is None and dim in (1, 2):
        x4 = _as4d(x)
        kernel = (1, 2) if dim == 1 else (2, 2)
        dense = _valid(x4.shape, kernel, (1, 1), (0, 0), (1, 1), False)
        if dense is not None:
            max_plan = Plan(
                _layout(x4),
                x.dtype,
                tuple(x4.shape),
                (*x4.shape[:2], *dense),
                kernel,
                (1, 1),
                (0, 0),
                (1, 1),
                taps=True,
            )
            blur_plan = _blur_plan(x4, dim, weights, stride, padding, pad_mode, max_plan.out_shape)
            if blur_plan is not None and _generated(max_plan) is not None:
                _note("max+blur", x, "poolstride generated (fused)")
                return _from4d(_MaxBlur.apply(x4, max_plan, blur_plan), dim)
    dense = max_pool(x, (2,) * dim, 1)
    return blur_pool(dense, weights, stride, padding, pad_mode)
