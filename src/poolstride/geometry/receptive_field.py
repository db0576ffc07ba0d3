"""Receptive fields as exact fractions: ``(size, jump, start)`` per spatial axis.

For a feature map, along one axis, in input pixels:

- ``size``  — extent of the input seen by one unit (its receptive field),
- ``jump``  — distance between neighbouring units (product of the strides so far),
- ``start`` — centre of the receptive field of unit 0 (negative or fractional when padding
  shifts the windows).

Unit ``i`` sees the input interval ``start + i * jump ± (size - 1) / 2``. A layer with kernel
``k``, stride ``s``, left padding ``p`` and dilation ``d`` (effective kernel
``e = d (k - 1) + 1``) maps ``(r, j, c)`` to::

    r' = r + (e - 1) j        j' = j s        c' = c + ((e - 1) / 2 - p) j

Branches that meet (residual additions, concatenations) are merged by taking the *union* of
the intervals of unit 0, so the result is at least the maximum over branches: a residual block
sees what its widest path sees. (Combining layers in forward order instead, as some tools do,
under-counts residual nets.)

Adaptive pooling has windows of varying length; it is modelled with the longest window as
kernel and ``in / out`` as stride. That is exact when ``out`` divides ``in`` (global pooling
included); otherwise the field is marked ``exact=False`` (printed with a leading ``≈``): the
size is the largest over units and positions are approximate.

>>> rf = ReceptiveField.identity(2).through(kernel=3, stride=1, padding=1)
>>> rf.size, rf.jump, rf.start
((3, 3), (1, 1), (0, 0))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from poolstride.errors import PoolstrideError
from poolstride.geometry.output_size import adaptive_windows, as_tuple, effective_kernel

Number = int | Fraction


def _num(x: Fraction) -> Number:
    """Fractions that are whole become ints (so tuples print as ``(3, 3)``)."""
    x = Fraction(x)
    return int(x) if x.denominator == 1 else x


def _fmt(x: Number) -> str:
    x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else f"{float(x):.4g}"


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of the units of a feature map, one entry per spatial axis."""

    size: tuple[Number, ...]
    jump: tuple[Number, ...]
    start: tuple[Number, ...]
    exact: bool = (
        True  # False after adaptive pooling with uneven windows or a merge of different jumps
    )

    @classmethod
    def identity(cls, dim: int) -> ReceptiveField:
        """The input itself: each unit sees one pixel, neighbours are 1 apart, unit 0 at 0."""
        return cls((1,) * dim, (1,) * dim, (0,) * dim)

    @property
    def dim(self) -> int:
        return len(self.size)

    def interval(self, index: Sequence[int] | int = 0) -> tuple[tuple[Number, Number], ...]:
        """Closed input interval ``(first, last)`` per axis seen by the unit at ``index``."""
        index = as_tuple(index, self.dim, "index")
        out = []
        for r, j, c, i in zip(self.size, self.jump, self.start, index):
            centre = Fraction(c) + i * Fraction(j)
            half = (Fraction(r) - 1) / 2
            out.append((_num(centre - half), _num(centre + half)))
        return tuple(out)

    def through(self, kernel, stride=1, padding=0, dilation=1) -> ReceptiveField:
        """Receptive field after a sliding-window layer (conv or pooling).

        ``padding`` is the *left* padding per axis (an int, or a ``(left, right)`` pair per
        axis; only the left part moves the windows).
        """
        dim = self.dim
        ks = as_tuple(kernel, dim, "kernel_size")
        ss = as_tuple(stride, dim, "stride")
        ds = as_tuple(dilation, dim, "dilation")
        ps = _left_padding(padding, dim)
        size, jump, start = [], [], []
        for r, j, c, k, s, p, d in zip(self.size, self.jump, self.start, ks, ss, ps, ds):
            e = effective_kernel(k, d)
            j = Fraction(j)
            size.append(_num(r + (e - 1) * j))
            jump.append(_num(j * Fraction(s)))
            start.append(_num(c + (Fraction(e - 1, 2) - p) * j))
        return ReceptiveField(tuple(size), tuple(jump), tuple(start), self.exact)

    def adaptive(self, in_shape: Sequence[int], out_shape: Sequence[int]) -> ReceptiveField:
        """Receptive field after adaptive pooling from ``in_shape`` to ``out_shape``."""
        if len(in_shape) != self.dim or len(out_shape) != self.dim:
            raise PoolstrideError(
                f"adaptive pooling shapes {tuple(in_shape)} -> {tuple(out_shape)} do not match a "
                f"{self.dim}-d receptive field"
            )
        size, jump, start = [], [], []
        exact = self.exact and all(int(n) % int(m) == 0 for n, m in zip(in_shape, out_shape))
        for r, j, c, n, m in zip(self.size, self.jump, self.start, in_shape, out_shape):
            windows = adaptive_windows(int(n), int(m))
            longest = max(end - beg for beg, end in windows)
            first = windows[0][1] - windows[0][0]
            j = Fraction(j)
            size.append(_num(r + (longest - 1) * j))
            jump.append(_num(j * Fraction(int(n), int(m))))
            start.append(_num(c + Fraction(first - 1, 2) * j))
        return ReceptiveField(tuple(size), tuple(jump), tuple(start), exact)

    def collapse(self, in_shape: Sequence[int]) -> ReceptiveField:
        """Everything seen by a map of ``in_shape`` units (global pooling, flatten + linear)."""
        return self.adaptive(in_shape, (1,) * self.dim)

    @staticmethod
    def merge(fields: Iterable[ReceptiveField]) -> ReceptiveField:
        """Union over branches that meet (add, cat, mul): the widest path wins.

        The interval of unit 0 is the union of the branches' intervals; the jump is the first
        branch's (branches that meet normally share it; when they do not, e.g. a
        squeeze-excitation gate times a feature map, the result is marked inexact).
        """
        fields = [f for f in fields if f is not None]
        if not fields:
            raise PoolstrideError("cannot merge an empty list of receptive fields")
        if len(fields) == 1:
            return fields[0]
        dims = {f.dim for f in fields}
        if len(dims) != 1:
            raise PoolstrideError(
                f"cannot merge receptive fields of different dimensions {sorted(dims)}"
            )
        size, jump, start = [], [], []
        for axis in range(fields[0].dim):
            lo = min(f.interval()[axis][0] for f in fields)
            hi = max(f.interval()[axis][1] for f in fields)
            size.append(_num(Fraction(hi) - lo + 1))
            start.append(_num((Fraction(lo) + hi) / 2))
            jump.append(fields[0].jump[axis])
        exact = all(f.exact for f in fields) and len({f.jump for f in fields}) == 1
        return ReceptiveField(tuple(size), tuple(jump), tuple(start), exact)

    def to_dict(self) -> dict:
        """Plain-JSON form (floats for fractional values)."""
        conv = lambda xs: [int(x) if Fraction(x).denominator == 1 else float(x) for x in xs]  # noqa: E731
        return {
            "size": conv(self.size),
            "jump": conv(self.jump),
            "start": conv(self.start),
            "exact": self.exact,
        }

    def __str__(self) -> str:
        return ("" if self.exact else "≈") + "×".join(_fmt(r) for r in self.size)

    def jump_text(self) -> str:
        """The jump for tables: one number when every axis agrees (``2``), else ``2×1``."""
        return _per_axis(self.jump, "×")

    def describe(self) -> str:
        """``7×7 j2 c0.5``-style summary: size, jump and start (per axis when they differ)."""
        return f"{self} j{_per_axis(self.jump, ',')} c{_per_axis(self.start, ',')}"


def _per_axis(values: Sequence[Number], sep: str) -> str:
    """One value when every axis agrees, else each axis's value joined by ``sep``."""
    return _fmt(values[0]) if len(set(values)) == 1 else sep.join(_fmt(v) for v in values)


def _left_padding(padding, dim: int) -> tuple[int, ...]:
    if isinstance(padding, int) and not isinstance(padding, bool):
        return (padding,) * dim
    padding = tuple(padding)
    if len(padding) == 1:
        padding = padding * dim
    if len(padding) != dim:
        raise PoolstrideError(
            f"padding={padding!r} has {len(padding)} entries; expected 1 or {dim}"
        )
    return tuple(p[0] if isinstance(p, tuple) else int(p) for p in padding)
