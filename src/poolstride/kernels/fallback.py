"""Pure-PyTorch implementations: used whenever the fast kernels do not cover a call
(CUDA, half precision, tensor subclasses, torch.compile, 3D, kernels disabled, numba missing)
and as the oracle in the tests. Same arguments as the fast entry points."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from poolstride.errors import PoolstrideError

# The functional ops by spatial dimension; ``poolstride.layers.dims`` re-exports these tables
# for the layers and everything above them (kernels sit below layers, so the tables live here).
#: ``F.max_pool{1,2,3}d`` by spatial dimension.
MAX_POOL_FN = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
#: ``F.avg_pool{1,2,3}d`` by spatial dimension.
AVG_POOL_FN = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
#: ``F.conv{1,2}d`` by spatial dimension.
CONV_FN = {1: F.conv1d, 2: F.conv2d}


def binomial_filter(size: int) -> tuple[float, ...]:
    """Normalised binomial (Pascal row) weights: size 3 -> (1, 2, 1) / 4."""
    if size < 1:
        raise PoolstrideError(f"blur filter size must be >= 1, got {size}")
    row = [math.comb(size - 1, k) for k in range(size)]
    total = float(sum(row))
    return tuple(r / total for r in row)


def blur_padding(size: int) -> tuple[int, int]:
    """Default padding of a size-``size`` filter: ``((size-1)//2, ceil((size-1)/2))``, so a
    stride-1 blur keeps the length (the extra tap goes right for even sizes)."""
    return (size - 1) // 2, size // 2


def max_pool(
    x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """``torch.nn.functional.max_pool{x.ndim - 2}d``."""
    pool = MAX_POOL_FN[x.ndim - 2]
    return pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool(
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """``torch.nn.functional.avg_pool{x.ndim - 2}d`` (1D has no ``divisor_override``)."""
    dim = x.ndim - 2
    if dim == 1:
        if divisor_override is not None:
            raise PoolstrideError(f"avg_pool1d has no divisor_override (got {divisor_override})")
        return F.avg_pool1d(x, kernel_size, stride, padding, ceil_mode, count_include_pad)
    return AVG_POOL_FN[dim](
        x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def blur_pool(
    x: torch.Tensor,
    weights: Sequence[float],
    stride: int = 2,
    padding: tuple[int, int] = (1, 1),
    pad_mode: str = "reflect",
) -> torch.Tensor:
    """Depthwise separable filter ``weights`` on every spatial axis, then subsample.

    ``x`` is ``(N, C, L)`` or ``(N, C, H, W)``; each axis is padded by ``padding = (lo, hi)``
    (``"reflect"`` or ``"zeros"``), filtered by ``weights`` (2D: their outer product) and
    sampled every ``stride``: ``out = (size + lo + hi - len(weights)) // stride + 1``.
    """
    dim = x.ndim - 2
    f = torch.tensor(weights, dtype=x.dtype, device=x.device)
    kernel = f if dim == 1 else torch.outer(f, f)
    channels = x.shape[1]
    kernel = kernel.expand(channels, 1, *kernel.shape)
    lo, hi = padding
    if pad_mode == "reflect":
        x = F.pad(x, (lo, hi) * dim, mode="reflect")
    else:
        x = F.pad(x, (lo, hi) * dim)
    return CONV_FN[dim](x, kernel, stride=stride, groups=channels)
