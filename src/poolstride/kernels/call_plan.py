"""The plan of one kernel call: everything a kernel needs besides the data.

A :class:`Plan` holds the shapes, memory layout, window geometry (or blur resampling tables)
of one call; the helpers here build it from PyTorch-style arguments: the window as 2D tuples
(:func:`window_geometry`), the output size (:func:`output_hw`, geometry's rule), the layout
(:func:`layout_of`, PyTorch's ``suggest_memory_format``) and the blur's separable resampling
tables (:func:`blur_tables`). 1D problems are 2D problems of an ``(N, C, 1, L)`` view
(:func:`as4d` / :func:`from4d`).

Nothing here imports numba. PyTorch is the oracle for every rule below; the tests compare
against it. The integer arithmetic itself is ``poolstride.geometry``'s (pure integers, one
layer below the kernels).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from poolstride.errors import PoolstrideError
from poolstride.geometry.output_size import as_tuple, pool_output_size

# Memory layouts of the kernels' numpy views (the third element of a kernel table key, see
# ``poolstride.kernels.generic.KERNELS``):
PLANAR = "planar"  # NCHW: numpy view (N*C, H, W)
CHANNELS_LAST = "channels_last"  # NHWC: numpy view (N, H, W, C)
# Further forms of the generated max-pooling forward on planar data:
PAIRS = "pairs"  # stride 2: column pairs read as complex numbers
DENSE = "dense"  # stride 1, no padding: one loop over the whole plane
ROWS = "rows"  # stride 2, overlapping windows (3x3/2): row maxima first, then columns


def _tuple_arg(value, dim: int, name: str) -> tuple[int, ...]:
    """``2`` or ``(2,)`` / ``(2, 2)`` -> a tuple of ``dim`` ints (PyTorch's broadcasting)."""
    if not (isinstance(value, int) and not isinstance(value, bool)):
        value = tuple(int(v) for v in value)
    return as_tuple(value, dim, name)


def window_geometry(dim: int, kernel_size, stride, padding, dilation):
    """PyTorch-style window arguments -> 2D ``(kernel, stride, padding, dilation)`` tuples.

    ``stride`` None (or empty) means the kernel size. A 1D window becomes a 1-tap, stride-1
    window over the dummy axis of the ``(N, C, 1, L)`` view (:func:`as4d`)."""
    kernel = _tuple_arg(kernel_size, dim, "kernel_size")
    stride = kernel if stride is None or stride == () or stride == [] else stride
    stride = _tuple_arg(stride, dim, "stride")
    padding = _tuple_arg(padding, dim, "padding")
    dilation = _tuple_arg(dilation, dim, "dilation")
    if dim == 1:
        return (1, *kernel), (1, *stride), (0, *padding), (1, *dilation)
    return kernel, stride, padding, dilation


def output_hw(shape4, kernel, stride, padding, dilation, ceil_mode) -> list | None:
    """Output ``[OH, OW]``, or None where PyTorch would raise (then the fallback raises).

    The size rule is geometry's (the one place it lives), PyTorch's limits included.
    """
    try:
        return [
            pool_output_size(size, k, s, p, d, ceil_mode)
            for size, k, s, p, d in zip(shape4[2:], kernel, stride, padding, dilation)
        ]
    except PoolstrideError:
        return None


def as4d(x: torch.Tensor) -> torch.Tensor:
    """1D pooling is 2D pooling of an ``(N, C, 1, L)`` view, exactly as PyTorch computes it,
    so both the kernel and the output layout rule are shared."""
    return x.unsqueeze(-2) if x.ndim == 3 else x


def from4d(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Inverse of :func:`as4d` for a result of a ``dim``-D problem."""
    return t.squeeze(-2) if dim == 1 else t


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


def layout_of(x4: torch.Tensor) -> str:
    """The kernel layout serving a 4D tensor: :data:`CHANNELS_LAST` or :data:`PLANAR`."""
    return CHANNELS_LAST if is_channels_last(x4) else PLANAR


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
    taps: bool = (
        False  # max: argmax saved as uint8 window taps (generated kernels), else int32 h*W+w
    )

    @property
    def window(self) -> tuple[tuple[int, int], ...]:
        """``(kernel, stride, padding, dilation)``."""
        return self.kernel, self.stride, self.padding, self.dilation

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


def pool_plan(
    x: torch.Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool, **options
) -> tuple[torch.Tensor, Plan | None]:
    """``(x4, plan)`` of a pooling of ``x`` with PyTorch's window arguments: ``x`` as 4D
    (:func:`as4d`) and the plan in its layout (``options``: the other :class:`Plan` fields),
    or None where PyTorch would raise."""
    window = window_geometry(x.ndim - 2, kernel_size, stride, padding, dilation)
    x4 = as4d(x)
    out_hw = output_hw(x4.shape, *window, ceil_mode)
    if out_hw is None:
        return x4, None
    out_shape = (*x4.shape[:2], *out_hw)
    return x4, Plan(layout_of(x4), x.dtype, tuple(x4.shape), out_shape, *window, **options)


def np_dtype(dtype: torch.dtype):
    """The numpy dtype matching a supported torch float dtype."""
    return np.float32 if dtype == torch.float32 else np.float64


def _pack(entries: list[list[tuple[int, float]]], dtype) -> tuple[np.ndarray, ...]:
    """Ragged per-output (index, weight) lists -> ``(idx, wts, cnt)`` arrays of shape
    ``(out, K)``, ``(out, K)``, ``(out,)`` (row-major, ragged via ``cnt``)."""
    width = max((len(e) for e in entries), default=0) or 1
    idx = np.zeros((len(entries), width), dtype=np.int64)
    wts = np.zeros((len(entries), width), dtype=dtype)
    cnt = np.zeros(len(entries), dtype=np.int64)
    for o, e in enumerate(entries):
        cnt[o] = len(e)
        for t, (i, w) in enumerate(e):
            idx[o, t] = i
            wts[o, t] = w
    for a in (idx, wts, cnt):
        a.setflags(write=False)
    return idx, wts, cnt


def _axis_entries(size, weights, stride, pad_lo, pad_hi, pad_mode) -> list:
    """Per output: the (input index, weight) taps of a strided 1D filter with padding.

    ``out[o] = sum_t weights[t] * x[pad(o * stride - pad_lo + t)]`` where ``pad`` reflects
    (``-1 -> 1``, ``size -> size - 2``, like ``F.pad(mode="reflect")``) or drops taps that
    fall outside (zero padding).
    """
    out = (size + pad_lo + pad_hi - len(weights)) // stride + 1
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
    return entries


@lru_cache(maxsize=256)
def blur_tables(height, width, weights, stride, pad_lo, pad_hi, pad_mode, np_dtype, dim) -> tuple:
    """Everything the separable resampling kernels need, as one argument tuple:

    ``(rows, row_w, row_n)``: the vertical filter per output row (1D: one row, weight 1);
    ``(rinv, rinv_w, rinv_n)``: the same taps grouped per INPUT row (which output rows read
    it, with which weight; the backward writes each input row once from them);
    ``(cols, col_w, col_n)``: the horizontal filter per output column (border columns);
    ``filt, stride, pad_lo, ow_lo, ow_hi``: interior columns ``[ow_lo, ow_hi)`` read
    ``x[ow * stride - pad_lo + t]`` for every tap ``t`` (no padding), weight ``filt[t]``.
    """
    if dim == 1:
        row_entries = [[(0, 1.0)]]
    else:
        row_entries = _axis_entries(height, weights, stride, pad_lo, pad_hi, pad_mode)
    inverse = [[] for _ in range(height)]
    for o, taps in enumerate(row_entries):
        for i, w in taps:
            inverse[i].append((o, w))
    k = len(weights)
    col_entries = _axis_entries(width, weights, stride, pad_lo, pad_hi, pad_mode)
    ow_lo = min(-(-pad_lo // stride), len(col_entries))
    ow_hi = max(min((width - 1 + pad_lo - (k - 1)) // stride + 1, len(col_entries)), ow_lo)
    filt = np.array(weights, dtype=np_dtype)
    filt.setflags(write=False)
    return (
        *_pack(row_entries, np_dtype),
        *_pack(inverse, np_dtype),
        *_pack(col_entries, np_dtype),
        filt,
        stride,
        pad_lo,
        ow_lo,
        ow_hi,
    )
