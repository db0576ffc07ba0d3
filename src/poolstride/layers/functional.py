"""The single dispatch point for windowed max / average pooling.

Every max or average pooling computed by ``poolstride.layers`` (``max``, ``avg``, ``lp``,
``mixed``, ``gated``, ``blur-max``) calls :func:`max_pool` or :func:`avg_pool` below, never
``torch.nn.functional`` directly. The fast CPU kernels in ``poolstride.kernels`` plug in HERE
and only here: keep these two functions tiny (argument order and semantics are exactly those of
``torch.nn.functional.max_pool{1,2}d`` / ``avg_pool{1,2}d``; the spatial dimension is
``x.ndim - 2``, so inputs are batched ``(N, C, L)`` or ``(N, C, H, W)``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from poolstride.errors import PoolstrideError

# Indexed by x.ndim (batched 1D -> 3, batched 2D -> 4).
_MAX_POOL = {3: F.max_pool1d, 4: F.max_pool2d}
_AVG_POOL = {3: F.avg_pool1d, 4: F.avg_pool2d}


def _unsupported(x: torch.Tensor) -> PoolstrideError:
    return PoolstrideError(
        f"pooling expects a batched (N, C, L) or (N, C, H, W) tensor, got shape {tuple(x.shape)}"
    )


def max_pool(
    x: torch.Tensor,
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...] = 0,
    dilation: tuple[int, ...] = 1,
    ceil_mode: bool = False,
) -> torch.Tensor:
    """Max pooling of a batched 1D/2D tensor. DISPATCH POINT (poolstride.kernels hooks here)."""
    op = _MAX_POOL.get(x.ndim)
    if op is None:
        raise _unsupported(x)
    return op(x, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool(
    x: torch.Tensor,
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> torch.Tensor:
    """Average pooling of a batched 1D/2D tensor. DISPATCH POINT (poolstride.kernels hooks here)."""
    op = _AVG_POOL.get(x.ndim)
    if op is None:
        raise _unsupported(x)
    return op(x, kernel_size, stride, padding, ceil_mode, count_include_pad)
