"""The single dispatch point for windowed max / average pooling (and the blur of blur kinds).

Every max or average pooling computed by ``poolstride.layers`` (``max``, ``avg``, ``lp``,
``mixed``, ``gated``) calls :func:`max_pool` or :func:`avg_pool` below, never
``torch.nn.functional`` directly; the binomial blur + subsample of the ``blur-*`` kinds calls
:func:`blur_pool`, and ``blur-max`` (max at stride 1, then the blur) :func:`max_blur_pool`.
The fast CPU kernels in ``poolstride.kernels`` plug in HERE and only here:
keep these functions tiny (argument order and semantics of the first two are exactly those of
``torch.nn.functional.max_pool{1,2}d`` / ``avg_pool{1,2}d``; :func:`blur_pool` matches
``poolstride.kernels.blur_pool(x, filt_size, stride)``). The spatial dimension is
``x.ndim - 2``: inputs are batched ``(N, C, L)`` or ``(N, C, H, W)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F

from poolstride import kernels
from poolstride.errors import PoolstrideError
from poolstride.layers.dims import AVG_POOL_FN, CONV_FN, LAYOUT, MAX_POOL_FN


def _check_batched(x: torch.Tensor) -> None:
    """Raise unless ``x`` is a batched 1D or 2D tensor."""
    if x.ndim not in (3, 4):
        raise PoolstrideError(
            f"pooling expects a batched {LAYOUT[1]} or {LAYOUT[2]} tensor, got shape "
            f"{tuple(x.shape)}"
        )


def _on_device(x: torch.Tensor, fast: Callable, pytorch: Mapping[int, Callable]) -> Callable:
    """The pooling function for batched ``x``: the numba kernel ``fast`` on the CPU (it falls
    back to PyTorch where not covered), else PyTorch's function for ``x``'s dimension."""
    _check_batched(x)
    return fast if x.device.type == "cpu" else pytorch[x.ndim - 2]


def max_pool(
    x: torch.Tensor,
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...] = 0,
    dilation: tuple[int, ...] = 1,
    ceil_mode: bool = False,
) -> torch.Tensor:
    """Max pooling of a batched 1D/2D tensor. DISPATCH POINT (poolstride.kernels hooks here)."""
    geometry = (kernel_size, stride, padding, dilation, ceil_mode)
    return _on_device(x, kernels.max_pool, MAX_POOL_FN)(x, *geometry)


def avg_pool(
    x: torch.Tensor,
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> torch.Tensor:
    """Average pooling of a batched 1D/2D tensor. DISPATCH POINT (poolstride.kernels hooks here)."""
    geometry = (kernel_size, stride, padding, ceil_mode, count_include_pad)
    return _on_device(x, kernels.avg_pool, AVG_POOL_FN)(x, *geometry)


def binomial_weight(filt_size: int, dim: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalised binomial filter ``C(n-1, i) / 2**(n-1)`` (outer product in 2D), sums to 1."""
    row = torch.tensor([math.comb(filt_size - 1, i) for i in range(filt_size)], dtype=torch.float64)
    row = row / row.sum()
    return (row if dim == 1 else torch.outer(row, row)).to(dtype)


def blur_pool(
    x: torch.Tensor, filt_size: int, stride: int, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Binomial blur (reflect padding ``((n-1)//2, n//2)`` per axis) then keep every
    ``stride``-th sample. DISPATCH POINT (poolstride.kernels hooks here).

    ``weight``: the ``(1, 1, *(filt_size,) * dim)`` filter if the caller holds one (a module
    buffer, already on the right device); built from ``filt_size`` otherwise.
    """
    _check_batched(x)
    if x.device.type == "cpu":
        reason = kernels.fast_path_reason(x)
        if reason is None:  # fused blur + subsample, same filter/padding
            return kernels.blur_pool(x, filt_size, stride)
        kernels.note_pytorch("blur", x, reason)  # for kernels.dispatch_log
    dim = x.ndim - 2
    if weight is None:
        weight = binomial_weight(filt_size, dim, x.dtype).to(x.device)
        weight = weight.reshape(1, 1, *weight.shape)
    if filt_size > 1:
        x = F.pad(x, ((filt_size - 1) // 2, filt_size // 2) * dim, mode="reflect")
    n, c = x.shape[:2]
    # Fold channels into the batch: one shared single-channel filter, no per-channel copies.
    y = CONV_FN[dim](x.reshape(n * c, 1, *x.shape[2:]), weight.to(x.dtype), stride=stride)
    return y.reshape(n, c, *y.shape[2:])


def max_blur_pool(
    x: torch.Tensor, filt_size: int, stride: int, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Max over 2-windows at stride 1, then :func:`blur_pool` (the ``blur-max`` kinds).
    DISPATCH POINT: on the CPU the two run fused (``poolstride.kernels.max_blur_pool``)."""
    _check_batched(x)
    if x.device.type == "cpu":
        if kernels.fast_path_reason(x) is None:
            return kernels.max_blur_pool(x, filt_size, stride)
    dim = x.ndim - 2
    return blur_pool(max_pool(x, (2,) * dim, (1,) * dim, 0, 1, False), filt_size, stride, weight)
