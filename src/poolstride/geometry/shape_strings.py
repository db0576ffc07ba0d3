"""Shape strings: ``"3x32x32"`` <-> ``(3, 32, 32)``, parsed and written in this one place.

A shape here is one example's shape without the batch: channels, then the spatial sizes.
Pure Python (no torch): the CLI, the spec language, the profiler, the model zoo and surgery all
parse their ``--input`` / ``input_shape`` strings with these functions.
"""

from __future__ import annotations

from poolstride.errors import PoolstrideError

__all__ = ["format_shape", "parse_input_shape", "parse_shape", "shape_or_none"]


def shape_or_none(text, max_dims: int = 2) -> tuple[int, ...] | None:
    """``"3x32x32"`` -> ``(3, 32, 32)``, or None if ``text`` is not a shape (no error).

    One example's shape without the batch: channels, then 1 to ``max_dims`` positive spatial
    sizes (``x``, ``×`` or ``,`` between them; a tuple or list passes through, checked). The one
    parser of shape strings: :func:`parse_shape` and :func:`parse_input_shape` word the error.
    """
    if isinstance(text, (tuple, list)):
        parts = list(text)
    else:
        parts = str(text).lower().replace("×", "x").replace(",", "x").split("x")
    try:
        shape = tuple(int(str(p).strip()) for p in parts)
    except ValueError:
        return None
    return shape if 2 <= len(shape) <= max_dims + 1 and min(shape) >= 1 else None


#: The most values one example may hold (2**28 float32 values = 1 GiB): a larger input is a
#: typo (``3x100000x100000``), refused before anything is allocated.
MAX_INPUT_VALUES = 2**28


def _within_memory(text, shape: tuple[int, ...]) -> tuple[int, ...]:
    n = 1
    for s in shape:
        n *= s
    if n > MAX_INPUT_VALUES:
        raise PoolstrideError(
            f"input shape {text!r} has {n:,} values per example, more than "
            f"{MAX_INPUT_VALUES:,} (1 GiB of float32); use a smaller input"
        )
    return shape


def parse_shape(text) -> tuple[int, ...]:
    """``"3x32x32"`` -> ``(3, 32, 32)``; ``"1x40"`` -> ``(1, 40)`` (1D). Tuples pass through."""
    shape = shape_or_none(text)
    if shape is None:
        raise PoolstrideError(
            f"input shape {text!r} is not valid; expected CxL (1D) or CxHxW (2D) with sizes >= 1, e.g. 3x32x32"
        )
    return _within_memory(text, shape)


def parse_input_shape(text: str | tuple | list) -> tuple[int, ...]:
    """Like :func:`parse_shape`, also accepting CxDxHxW (3D models of the zoo and surgery).

    ``"3x224x224"`` -> ``(3, 224, 224)``; ``"1x40"`` -> ``(1, 40)``.
    """
    shape = shape_or_none(text, max_dims=3)
    if shape is None:
        raise PoolstrideError(
            f"bad input shape {text!r}; expected CxL, CxHxW or CxDxHxW with positive sizes, "
            "e.g. 3x224x224"
        )
    return _within_memory(text, shape)


def format_shape(shape) -> str:
    """``(1, 64, 56, 56)`` -> ``'1x64x56x56'``; nested tuples joined with commas; None -> ``-``."""
    if shape is None:
        return "-"
    if all(isinstance(s, int) for s in shape):
        return "x".join(str(s) for s in shape)
    return "(" + ", ".join(format_shape(s) for s in shape) + ")"
