"""Pure-Python planning for the kernels: geometry, memory layout, resampling tables.

Nothing here imports numba. PyTorch is the oracle for every rule below; the tests compare
against it. Kept local (not in ``poolstride.geometry``) because layers, and therefore the
kernels they dispatch to, sit left of geometry in the one-way data flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from poolstride.errors import PoolstrideError

PLANAR = "planar"  # NCHW: numpy view (N*C, H, W)
CHANNELS_LAST = "channels_last"  # NHWC: numpy view (N, H, W, C)


def tuple_arg(value, dim: int, name: str) -> tuple[int, ...]:
    """``2`` or ``(2,)`` / ``(2, 2)`` -> a tuple of ``dim`` ints (PyTorch's broadcasting)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * dim
    values = tuple(int(v) for v in value)
    if len(values) == 1:
        return values * dim
    if len(values) != dim:
        raise PoolstrideError(f"{name} must be an int or {dim} ints, got {value!r}")
    return values


def is_channels_last(x: torch.Tensor) -> bool:
    """True when PyTorch's ``suggest_memory_format`` would say channels_last (4D ``x``).

    Port of c10's ``is_channels_last_strides_2d``: strides must grow in the order
    C, W, H, N (size-1 dims ambiguous, resolved towards NCHW like PyTorch does).
    """
    sizes, strides = x.shape, x.stride()
    if strides[1] == 0:
        return False
    smallest = 0
    for d in (1, 3, 2, 0):
        if sizes[d] == 0 or strides[d] < smallest:
            return False
        if d == 0 and smallest == strides[1]:
            return False
        smallest = strides[d] * sizes[d] if sizes[d] > 1 else strides[d]
    return True


@dataclass(frozen=True, eq=False)
class Plan:
    """Everything a kernel call needs besides the data: shapes, layout and geometry.

    ``in_shape``/``out_shape`` are 4D ``(N, C, H, W)``; 1D problems use ``H = 1``.
    """

    layout: str
    dtype: torch.dtype
    in_shape: tuple[int, int, int, int]
    out_shape: tuple[int, int, int, int]
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    count_include_pad: bool = True  # avg
    divisor: int = 0  # avg: divisor_override, 0 = none
    tables: tuple | None = None  # blur: separable resampling tables (rows..., cols...)
    taps: bool = False  # max: argmax saved as uint8 window taps (generated kernels), else int32 h*W+w

    def to_kernel(self, t: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
        """A 4D tensor in this plan's layout -> (owner tensor, C-contiguous numpy view)."""
        t = t.detach()
        if self.layout == PLANAR:
            t = t.contiguous()
            n, c, h, w = t.shape
            return t, t.view(n * c, h, w).numpy()
        t = t.contiguous(memory_format=torch.channels_last)
        return t, t.permute(0, 2, 3, 1).numpy()

    def empty(self, shape, dtype=None) -> tuple[torch.Tensor, np.ndarray]:
        """A new 4D tensor of ``shape`` in this plan's layout, with its numpy view."""
        dtype = dtype or self.dtype
        if self.layout == PLANAR:
            t = torch.empty(shape, dtype=dtype)
            n, c, h, w = shape
            view = t.view(n * c, h, w)
        else:
            t = torch.empty(shape, dtype=dtype, memory_format=torch.channels_last)
            view = t.permute(0, 2, 3, 1)
        return t, view.numpy()


def np_dtype(dtype: torch.dtype):
    """The numpy dtype matching a supported torch float dtype."""
    return np.float32 if dtype == torch.float32 else np.float64


def _pack(entries: list[list[tuple[int, float]]], size: int, dtype) -> tuple[np.ndarray, ...]:
    """Ragged per-output (index, weight) lists -> dense arrays for the kernels:

    ``(idx, wts, cnt)`` of shape ``(out, K)``, ``(out, K)``, ``(out,)`` (row-major, ragged
    via ``cnt``) and ``(idx_t, wts_t)`` of shape ``(K, out)`` padded to K taps for every
    output: padding taps have weight 0 and point at index ``size``, a zero slot the kernels
    append to their row buffer (so ``0 * inf`` never happens). The uniform, transposed form
    lets the column pass vectorise across outputs.
    """
    width = max((len(e) for e in entries), default=0) or 1
    idx = np.zeros((len(entries), width), dtype=np.int64)
    wts = np.zeros((len(entries), width), dtype=dtype)
    cnt = np.zeros(len(entries), dtype=np.int64)
    idx_t = np.full((width, len(entries)), size, dtype=np.int64)
    wts_t = np.zeros((width, len(entries)), dtype=dtype)
    for o, e in enumerate(entries):
        cnt[o] = len(e)
        for t, (i, w) in enumerate(e):
            idx[o, t] = idx_t[t, o] = i
            wts[o, t] = wts_t[t, o] = w
    tables = (idx, wts, cnt, idx_t, wts_t)
    for a in tables:
        a.setflags(write=False)
    return tables


@lru_cache(maxsize=256)
def filter_axis_table(size, weights, stride, pad_lo, pad_hi, pad_mode, np_dtype):
    """A strided 1D filter with reflect or zero padding along one axis as a table.

    ``out[o] = sum_t weights[t] * x[pad(o * stride - pad_lo + t)]`` where ``pad`` reflects
    (``-1 -> 1``, ``size -> size - 2``, like ``F.pad(mode="reflect")``) or drops taps that
    fall outside (zero padding).
    """
    k = len(weights)
    out = (size + pad_lo + pad_hi - k) // stride + 1
    entries = []
    for o in range(out):
        row = []
        for t, w in enumerate(weights):
            i = o * stride - pad_lo + t
            if pad_mode == "reflect":
                i = -i if i < 0 else i
                i = 2 * (size - 1) - i if i >= size else i
            elif not 0 <= i < size:
                continue
            row.append((i, w))
        entries.append(row)
    return _pack(entries, size, np_dtype)
