"""The argument checks every model builder starts with, each failing with one line that names
the model and the bad value."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from poolstride.errors import PoolstrideError

__all__ = ["check_builder_args", "check_classes", "check_input_shape", "check_positive"]


def check_input_shape(model: str, input_shape: Sequence[int]) -> tuple[int, ...]:
    """Validate ``(C, L)`` or ``(C, H, W)`` and return it as a tuple of ints."""
    try:
        shape = tuple(int(s) for s in input_shape)
        ok = (
            len(shape) in (2, 3)
            and all(s >= 1 for s in shape)
            and all(int(s) == s for s in input_shape)
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise PoolstrideError(
            f"{model}: input_shape must be (C, L) or (C, H, W) of positive ints, got {input_shape!r}"
        )
    return shape


def check_positive(model: str, what: str, value, default: int) -> int:
    """``value`` as a positive int (any integer type, e.g. numpy's), or ``default`` if None."""
    if value is None:
        return default
    if not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= 1:
        return int(value)
    raise PoolstrideError(f"{model}: {what} must be a positive integer, got {value!r}")


def check_classes(model: str, num_classes) -> int:
    if num_classes is None:
        raise PoolstrideError(f"{model}: num_classes must be a positive integer, got None")
    return check_positive(model, "num_classes", num_classes, 0)


def check_builder_args(
    model: str, input_shape, num_classes, width, default_width: int, depth=None
) -> tuple[tuple[int, ...], int, int, int]:
    """The checks every builder starts with: ``(shape, num_classes, dim, width)``.

    ``depth`` is for ``simple`` only: a fixed-depth model passes what it was given here, and
    anything but None is rejected.
    """
    if depth is not None:
        raise PoolstrideError(f"{model} has a fixed depth; depth={depth!r} is only for 'simple'")
    shape = check_input_shape(model, input_shape)
    num_classes = check_classes(model, num_classes)
    width = check_positive(model, "width", width, default_width)
    return shape, num_classes, len(shape) - 1, width
