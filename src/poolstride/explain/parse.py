"""Parse the small matrices and window options typed on the command line.

A matrix is written row by row: numbers separated by spaces or commas, rows separated by
``;`` (or new lines), e.g. ``"1 3 2 1; 2 9 1 1"``. A single row is a 1-D signal.
Every malformed value raises a one-line :class:`PoolstrideError` naming it.
"""

from __future__ import annotations

import math
import re

import torch

from poolstride.errors import PoolstrideError

# The seeds' 4x4 example: 2x2 stride-2 max pooling gives [[9, 2], [6, 3]].
DEFAULT_INPUT = (
    (1.0, 3.0, 2.0, 1.0),
    (2.0, 9.0, 1.0, 1.0),
    (1.0, 3.0, 2.0, 3.0),
    (5.0, 6.0, 1.0, 2.0),
)

_ROW_SPLIT = re.compile(r"[;\n]")
_NUM_SPLIT = re.compile(r"[,\s]+")
_INT_TUPLE_SPLIT = re.compile(r"[x×,\s]+")


def parse_matrix(text: str, what: str = "--input") -> torch.Tensor:
    """``"1 3; 2 9"`` -> float64 tensor of shape (rows, cols); a single row -> shape (cols,)."""
    rows = [r.strip() for r in _ROW_SPLIT.split(str(text).strip().strip("[]")) if r.strip()]
    if not rows:
        raise PoolstrideError(f"{what} is empty; write rows like '1 3 2 1; 2 9 1 1'")
    values: list[list[float]] = []
    for r, row in enumerate(rows):
        parsed = []
        for token in _NUM_SPLIT.split(row.strip().strip("[]")):
            if not token:
                continue
            try:
                v = float(token)
            except ValueError:
                raise PoolstrideError(
                    f"{what}: {token!r} in row {r + 1} is not a number; write rows like '1 3 2 1; 2 9 1 1'"
                ) from None
            if not math.isfinite(v):
                raise PoolstrideError(
                    f"{what}: {token!r} in row {r + 1} is not finite; use finite numbers"
                )
            parsed.append(v)
        values.append(parsed)
    widths = [len(r) for r in values]
    if len(set(widths)) != 1:
        raise PoolstrideError(
            f"{what}: ragged rows with {', '.join(map(str, widths))} values; every row needs the same count"
        )
    t = torch.tensor(values, dtype=torch.float64)
    return t[0] if t.shape[0] == 1 else t


def parse_ints(text: str | int | tuple | None, what: str) -> tuple[int, ...] | None:
    """``"2"``, ``"2x3"``, ``"2,3"``, ``2`` or ``(2, 3)`` -> tuple of ints (None stays None)."""
    if text is None:
        return None
    if isinstance(text, int) and not isinstance(text, bool):
        return (text,)
    if isinstance(text, (tuple, list)):
        items = list(text)
    else:
        items = [t for t in _INT_TUPLE_SPLIT.split(str(text).strip()) if t]
    out = []
    for item in items:
        try:
            out.append(int(item))
        except (TypeError, ValueError):
            raise PoolstrideError(f"{what}={text!r} is not an integer or 'AxB' pair") from None
    if not 1 <= len(out) <= 2:
        raise PoolstrideError(f"{what}={text!r}: give one integer or two (rows x cols)")
    return tuple(out)
