"""The target of a swap: a downsampling variant (``"blur-max:filt5"``) or ``"original"``."""

from __future__ import annotations

from poolstride.layers import parse_variant

__all__ = ["ORIGINAL", "parse_target"]

#: The target that undoes earlier swaps (restores every site as it was).
ORIGINAL = "original"


def parse_target(to: str) -> tuple[str, dict]:
    """``"blur-max:filt5"`` -> ``("blur-max", {"filt_size": 5})``; ``"original"`` passes."""
    if isinstance(to, str) and to.strip().lower() == ORIGINAL:
        return ORIGINAL, {}
    return parse_variant(to)
