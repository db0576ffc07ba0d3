"""Exact input extents of every unit of a feature map, per spatial axis (numpy, vectorised).

The receptive field ``(size, jump, start)`` is the textbook summary: it assumes the windows of
every layer see an infinite, padded map. At the borders of a real input the truth is smaller:
a window that hangs into an intermediate layer's padding, or rows dropped by floor mode, never
reach some inputs. Here each unit carries the first and last input index it depends on, per
axis, propagated exactly through the same ops (``lo = +inf, hi = -inf`` for units that see only
padding). This is what back-propagation from a unit measures (up to holes inside the field), so
the measured check can be an equality everywhere, also for deep layers on small inputs.

An extent is a tuple, one entry per spatial axis of the input, of ``(lo, hi)`` float arrays
whose length is the map's size along that axis.
"""

from __future__ import annotations

import numpy as np

from poolstride.geometry.output_size import adaptive_windows

Extent = tuple[tuple[np.ndarray, np.ndarray], ...]


def identity(spatial) -> Extent:
    """Each input position sees itself."""
    return tuple((np.arange(n, dtype=float), np.arange(n, dtype=float)) for n in spatial)


def window(extent: Extent, kernel, stride, padding, dilation, out_sizes) -> Extent:
    """Through a sliding window: union of the extents of the taps that land inside the map."""
    result = []
    for (lo, hi), k, s, p, d, m in zip(extent, kernel, stride, padding, dilation, out_sizes):
        taps = np.arange(m)[:, None] * s - p + np.arange(k)[None, :] * d  # (out, k) input indices
        valid = (taps >= 0) & (taps < len(lo))
        idx = np.clip(taps, 0, max(len(lo) - 1, 0))
        result.append(
            (
                np.where(valid, lo[idx], np.inf).min(axis=1),
                np.where(valid, hi[idx], -np.inf).max(axis=1),
            )
        )
    return tuple(result)


def adaptive(extent: Extent, out_sizes) -> Extent:
    """Through adaptive pooling: union over each of its windows."""
    result = []
    for (lo, hi), m in zip(extent, out_sizes):
        windows = adaptive_windows(len(lo), int(m))
        result.append(
            (
                np.array([lo[a:b].min() for a, b in windows]),
                np.array([hi[a:b].max() for a, b in windows]),
            )
        )
    return tuple(result)


def pad(extent: Extent, lefts, rights, mode: str = "constant") -> Extent:
    """Through ``F.pad``: constant padding sees nothing; reflect/replicate/circular copy a unit."""
    result = []
    for (lo, hi), left, right in zip(extent, lefts, rights):
        n = len(lo)
        index = np.arange(-left, n + right)
        if mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            index = np.abs((index % period + period) % period)
            index = np.where(index > n - 1, period - index, index)
        elif mode == "replicate":
            index = np.clip(index, 0, n - 1)
        elif mode == "circular":
            index = index % n
        inside = (index >= 0) & (index < n)
        safe = np.clip(index, 0, n - 1)
        result.append((np.where(inside, lo[safe], np.inf), np.where(inside, hi[safe], -np.inf)))
    return tuple(result)


def sliced(extent: Extent, starts, steps, out_sizes) -> Extent:
    """Through ``x[..., a::s]``."""
    return tuple(
        (lo[a::s][:m], hi[a::s][:m]) for (lo, hi), a, s, m in zip(extent, starts, steps, out_sizes)
    )


def collapse(extent: Extent) -> Extent:
    """Everything of the map seen by one unit (global pooling, flatten)."""
    return tuple((np.array([lo.min()]), np.array([hi.max()])) for lo, hi in extent)


def merge(extents: list[Extent]) -> Extent | None:
    """Union of branches (elementwise; a length-1 map, e.g. a gate, broadcasts)."""
    extents = [e for e in extents if e is not None]
    if not extents or len({len(e) for e in extents}) != 1:
        return None
    result = []
    for axis in range(len(extents[0])):
        size = max(len(e[axis][0]) for e in extents)
        los = [
            e[axis][0] if len(e[axis][0]) == size else np.full(size, e[axis][0].min())
            for e in extents
        ]
        his = [
            e[axis][1] if len(e[axis][1]) == size else np.full(size, e[axis][1].max())
            for e in extents
        ]
        result.append((np.minimum.reduce(los), np.maximum.reduce(his)))
    return tuple(result)


def at(extent: Extent, index) -> tuple[tuple[int, int], ...] | None:
    """``((first, last), ...)`` of the unit at ``index`` (None if it sees only padding)."""
    out = []
    for (lo, hi), i in zip(extent, index):
        if not np.isfinite(lo[i]):
            return None
        out.append((int(lo[i]), int(hi[i])))
    return tuple(out)
