"""Warnings about wasteful or surprising window geometry (pure arithmetic).

- a stride larger than the (effective) kernel leaves inputs that no window ever covers;
  a 1-wide kernel with stride ``s`` keeps ``1 / s**dim`` of the activations;
- floor mode silently drops the last rows/columns when ``(size + 2p - e)`` is not a
  multiple of the stride;
- a receptive field already larger than the input means later layers mostly see padding.

Impossible geometry (an output size below 1) is an error, not a warning: see
:mod:`poolstride.geometry.output_size`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from poolstride.geometry.output_size import as_tuple, effective_kernel

__all__ = ["AXES", "window_warnings", "receptive_field_warnings"]


def AXES(dim: int) -> tuple[str, ...]:  # noqa: N802 - reads like a constant table
    """Axis names used in messages: ``L`` for 1D, ``H, W`` for 2D, ``D, H, W`` for 3D."""
    return {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}.get(
        dim, tuple(f"axis{i}" for i in range(dim))
    )


def window_warnings(
    spatial: Sequence[int], kernel, stride, padding=0, dilation=1, ceil_mode: bool = False
) -> list[str]:
    """Warnings for one conv/pooling window on an input of spatial size ``spatial``.

    ``padding`` is the left padding per axis (int or tuple), as PyTorch's symmetric padding.

    >>> window_warnings((32, 32), 1, 2)[0]
    'kernel 1 with stride 2 keeps 1 of every 4 activations: 3/4 are discarded'
    """
    dim = len(spatial)
    ks, ss = as_tuple(kernel, dim, "kernel_size"), as_tuple(stride, dim, "stride")
    ps, ds = as_tuple(padding, dim, "padding"), as_tuple(dilation, dim, "dilation")
    axes = AXES(dim)
    warnings = []
    effective = [effective_kernel(k, d) for k, d in zip(ks, ds)]
    if all(k == 1 for k in ks) and any(s > 1 for s in ss):
        kept = math.prod(ss)
        lost = Fraction(kept - 1, kept)
        warnings.append(
            f"kernel 1 with stride {_fmt(ss)} keeps 1 of every {kept} activations: "
            f"{lost.numerator}/{lost.denominator} are discarded"
        )
    else:
        gaps: dict[tuple, list[str]] = {}
        for axis, e, s in zip(axes, effective, ss):
            if s > e:
                gaps.setdefault((e, s), []).append(axis)
        for (e, s), names in gaps.items():
            warnings.append(
                f"stride {s} > kernel extent {e} along {','.join(names)}: {s - e} of every {s} inputs are never in a window"
            )
    if not ceil_mode:
        drops: dict[tuple, list[str]] = {}
        for axis, n, k, s, p, e in zip(axes, spatial, ks, ss, ps, effective):
            span = n + 2 * p - e
            if span < 0:
                continue
            out = span // s + 1
            # Inputs from where the (discarded) next window would start; the regular gap of a
            # stride > kernel layer before it is reported above.
            dropped = n - max(out * s - p, (out - 1) * s + e - p)
            if dropped > 0:
                drops.setdefault((dropped, n, k, s, p), []).append(axis)
        for (dropped, n, k, s, p), names in drops.items():
            warnings.append(
                f"floor mode drops the last {dropped} of {n} inputs along {','.join(names)} "
                f"(kernel {k}, stride {s}, padding {p}); use ceil_mode, padding or a size that fits"
            )
    return warnings


def receptive_field_warnings(size: Sequence, spatial: Sequence[int]) -> list[str]:
    """Warn (once, all axes together) when receptive-field ``size`` exceeds the input ``spatial``."""
    axes = AXES(len(spatial))
    over = [i for i, (r, n) in enumerate(zip(size, spatial)) if Fraction(r) > n]
    if not over:
        return []
    which = ",".join(axes[i] for i in over)
    return [
        f"receptive field {'x'.join(_num(r) for r in size)} exceeds the input "
        f"{'x'.join(map(str, spatial))} along {which}: units now see zero padding beyond the border"
    ]


def _fmt(values) -> str:
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def _num(x) -> str:
    x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else f"{float(x):.4g}"
