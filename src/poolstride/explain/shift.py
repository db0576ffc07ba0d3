"""The aliasing intuition: shift a tiny digit by one pixel and count what changes.

A downsampling by 2 cannot follow a one-pixel shift: the shifted input falls between two
positions of the output grid, so the output does not move, it *changes*. We count how many
input values change and how many downsampled values change for four ways to halve the
resolution, all run with PyTorch ops:

- ``max``: ``F.max_pool2d(x, 2, 2)``
- ``avg``: ``F.avg_pool2d(x, 2, 2)``
- ``subsample``: keep every other pixel (``F.conv2d`` with a 1x1 kernel of 1, stride 2)
- ``blur-max``: max pooling 2x2 with stride 1, then a [1,2,1]x[1,2,1]/16 binomial blur applied
  with stride 2 over reflect padding (Zhang, "Making convolutional networks shift-invariant
  again", 2019)

Counts alone mislead: a blur changes more values but each by less, so we also report the
relative change ``||y(shifted) - y(x)|| / ||y(x)||``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from rich.text import Text

from poolstride.errors import PoolstrideError, unknown
from poolstride.explain.parse import parse_matrix
from poolstride.explain.render import STYLE_CURRENT, fmt, side_by_side, to_string
from poolstride.layers import make_downsample

# 8x8 digits with an empty border, so a one-pixel shift loses no ink.
PATTERNS = {
    "7": (
        "0 0 0 0 0 0 0 0; 0 1 1 1 1 1 0 0; 0 0 0 0 0 1 0 0; 0 0 0 0 1 0 0 0;"
        "0 0 0 0 1 0 0 0; 0 0 0 1 0 0 0 0; 0 0 0 1 0 0 0 0; 0 0 0 0 0 0 0 0"
    ),
    "1": (
        "0 0 0 0 0 0 0 0; 0 0 0 1 0 0 0 0; 0 0 1 1 0 0 0 0; 0 0 0 1 0 0 0 0;"
        "0 0 0 1 0 0 0 0; 0 0 0 1 0 0 0 0; 0 0 1 1 1 0 0 0; 0 0 0 0 0 0 0 0"
    ),
}
DIRECTIONS = {"right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0)}
SHIFT_OPS = ("max", "avg", "subsample", "blur-max")
OP_LABELS = {
    "max": "max 2x2, stride 2",
    "avg": "avg 2x2, stride 2",
    "subsample": "subsample (every other pixel)",
    "blur-max": "blur-max (max 2x2 s1, blur 3x3 s2)",
}
_TOL = 1e-9  # a value "changes" when it moves by more than float rounding


def downsample(x: torch.Tensor, op: str) -> torch.Tensor:
    """Halve a (H, W) or (L,) float64 tensor with ``op`` (one of SHIFT_OPS).

    The operators are poolstride's own (``make_downsample``), the same ones ``compare`` trains.
    """
    if op not in SHIFT_OPS:
        raise unknown("shift op", op, SHIFT_OPS)
    layer = make_downsample(op, 1, dim=x.ndim).to(x.dtype)
    return layer(x.reshape(1, 1, *x.shape))[0, 0]


def shift(x: torch.Tensor, pixels: int, direction: str) -> torch.Tensor:
    """Translate ``x`` by ``pixels`` in ``direction``, filling the vacated edge with zeros."""
    if direction not in DIRECTIONS:
        raise unknown("direction", direction, DIRECTIONS)
    dr, dc = (d * pixels for d in DIRECTIONS[direction])
    if x.ndim == 1:
        if dr:
            raise PoolstrideError(
                f"direction {direction!r} needs a 2-D input; a 1-D row shifts 'left' or 'right'"
            )
        dr, dc = dc, 0
    out = torch.roll(x, shifts=(dr, dc) if x.ndim == 2 else (dr,), dims=tuple(range(x.ndim)))
    # roll wraps around; zero the wrapped strip so the shift is a true translation
    for axis, d in enumerate((dr, dc)[: x.ndim]):
        if d > 0:
            out.narrow(axis, 0, d).zero_()
        elif d < 0:
            out.narrow(axis, x.shape[axis] + d, -d).zero_()
    return out


@dataclass(frozen=True, eq=False)
class ShiftResult:
    """One downsampling op on the original and the shifted input."""

    op: str
    before: torch.Tensor
    after: torch.Tensor
    # even shifts only: ||after - shift(before, pixels / 2)|| / ||before||, 0 = perfectly equivariant
    equivariance_error: float | None = None

    @property
    def changed(self) -> torch.Tensor:
        return (self.after - self.before).abs() > _TOL

    @property
    def n_changed(self) -> int:
        return int(self.changed.sum())

    @property
    def relative_change(self) -> float:
        norm = float(self.before.norm())
        return float((self.after - self.before).norm()) / norm if norm else float("nan")


@dataclass(frozen=True, eq=False)
class ShiftDemo:
    """``x`` and its shifted copy, and what each downsampling op makes of them."""

    name: str
    x: torch.Tensor
    shifted: torch.Tensor
    pixels: int
    direction: str
    results: tuple[ShiftResult, ...]

    @property
    def input_changed(self) -> torch.Tensor:
        return (self.shifted - self.x).abs() > _TOL

    @property
    def input_relative_change(self) -> float:
        norm = float(self.x.norm())
        return float((self.shifted - self.x).norm()) / norm if norm else float("nan")

    def render_text(self, plain: bool = True, width: int | None = None) -> str:
        return to_string(self.lines(), plain=plain, width=width)

    def lines(self) -> list[Text]:
        def grid(t, changed):
            rows = [t] if t.ndim == 1 else list(t)
            marks = [changed] if t.ndim == 1 else list(changed)
            width = max(len(fmt(float(v))) for v in t.flatten())
            out = []
            for row, mrow in zip(rows, marks):
                line = Text()
                for v, m in zip(row, mrow):
                    cell = fmt(float(v)).rjust(width)
                    line.append(f"[{cell}]" if m else f" {cell} ", style=STYLE_CURRENT if m else "")
                out.append(line)
            return out

        n_in, total_in = int(self.input_changed.sum()), self.x.numel()
        px = "one pixel" if self.pixels == 1 else f"{self.pixels} pixels"
        lines = [
            Text(
                f"shift {self.name} by {px} {self.direction}: "
                f"{n_in} of {total_in} input values change",
                style="bold",
            ),
            Text("changed cells are marked [v]; left: before the shift, right: after", style="dim"),
        ]
        lines += side_by_side(
            grid(self.x, self.input_changed), grid(self.shifted, self.input_changed)
        )
        for r in self.results:
            lines.append(Text(""))
            lines.append(
                Text(
                    f"{OP_LABELS[r.op]}: {r.n_changed} of {r.before.numel()} values change "
                    f"(relative change {r.relative_change:.2f})",
                    style="bold",
                )
            )
            lines += side_by_side(grid(r.before, r.changed), grid(r.after, r.changed))
        lines += [
            Text(""),
            Text("summary", style="bold"),
            Text(f"  {'':38}{'changed':>9}{'of':>5}{'relative change':>18}"),
            Text(f"  {'input':38}{n_in:>9}{total_in:>5}{self.input_relative_change:>18.2f}"),
        ]
        for r in self.results:
            lines.append(
                Text(
                    f"  {OP_LABELS[r.op]:38}{r.n_changed:>9}{r.before.numel():>5}{r.relative_change:>18.2f}"
                )
            )
        if self.pixels % 2:
            story = [
                "A stride-2 output grid cannot follow an odd shift: the content lands between",
                "two output positions, so the pooled values change instead of moving (aliasing).",
                "Blurring before subsampling spreads the change over more cells, each by less:",
                "compare the relative change ||y(shifted) - y(x)|| / ||y(x)||, not only the counts.",
            ]
        else:
            story = [
                "An even shift moves the stride-2 grid by whole cells: the pooled values move with",
                "the content (compare the grids), so what changes is the position, not the values.",
                "Aliasing shows with odd shifts; try --pixels 1.",
                f"Error against the output shifted by {self.pixels // 2}: "
                + ", ".join(f"{r.op} {r.equivariance_error:.2f}" for r in self.results),
                "(0 = follows exactly; padding at the borders adds error).",
            ]
        lines += [Text("")] + [Text(line) for line in story]
        return lines


def shift_demo(
    x=None,
    pattern: str = "7",
    pixels: int = 1,
    direction: str = "right",
    ops: tuple[str, ...] = SHIFT_OPS,
) -> ShiftDemo:
    """Shift ``x`` (default: the 8x8 ``pattern`` digit, "7" or "1") and compare ``ops``."""
    if x is None:
        if pattern not in PATTERNS:
            raise unknown("pattern", pattern, PATTERNS)
        x, name = parse_matrix(PATTERNS[pattern]), f'an 8x8 "{pattern}"'
    else:
        x = (
            parse_matrix(x, "--input")
            if isinstance(x, str)
            else torch.as_tensor(x, dtype=torch.float64).clone()
        )
        if x.ndim not in (1, 2):
            raise PoolstrideError(f"input has shape {tuple(x.shape)}; give a 1-D row or 2-D matrix")
        name = "the input"
    if not isinstance(pixels, int) or pixels < 1:
        raise PoolstrideError(f"pixels={pixels!r} is invalid; shift by an integer >= 1")
    if min(x.shape) < 4:
        raise PoolstrideError(
            f"input of shape {'x'.join(map(str, x.shape))} is too small; every side must be >= 4"
        )
    if pixels >= max(x.shape):
        raise PoolstrideError(
            f"pixels={pixels} shifts everything out of a {'x'.join(map(str, x.shape))} input; use fewer"
        )
    for op in ops:
        if op not in SHIFT_OPS:
            raise unknown("shift op", op, SHIFT_OPS)
    shifted = shift(x, pixels, direction)
    results = []
    for op in ops:
        before, after = downsample(x, op), downsample(shifted, op)
        err = None
        if (
            pixels % 2 == 0
        ):  # the output grid can follow: compare with the output shifted by pixels/2
            norm = float(before.norm())
            moved = shift(before, pixels // 2, direction)
            err = float((after - moved).norm()) / norm if norm else float("nan")
        results.append(ShiftResult(op, before, after, err))
    results = tuple(results)
    return ShiftDemo(name, x, shifted, pixels, direction, results)
