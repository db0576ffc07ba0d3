"""One colour (and marker) per variant, shared by every plot and table of a report.

Colours are the Okabe–Ito palette (Okabe & Ito, "Color Universal Design", 2008), chosen to
stay distinguishable under the common forms of colour blindness. Yellow is last because it
is faint on white. Each variant also gets its own marker shape, so lines stay tellable apart
in greyscale print, and with more variants than colours the (colour, marker) pair is still
unique (for up to ``len(COLORS) * len(MARKERS)`` = 64 variants).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Okabe–Ito, ordered so the first few (the usual grid) are the most distinct on white.
COLORS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
#: Marker shapes (the i-th variant's marker is shifted by one for every full round of colours).
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")


@dataclass(frozen=True)
class Style:
    """How one variant is drawn: ``color`` (hex), ``marker`` (matplotlib code)."""

    color: str
    marker: str


def variant_styles(variants: Iterable[str]) -> dict[str, Style]:
    """``{variant: Style}`` in the order given (duplicates keep their first style).

    The i-th distinct variant gets colour ``i mod 8`` and marker ``(i + i // 8) mod 8``; the
    mapping depends only on the variant order, which a report takes from its run's config:
    the same run always gets the same colours, in every figure and table.
    """
    styles: dict[str, Style] = {}
    for name in variants:
        if name in styles:
            continue
        i = len(styles)
        styles[name] = Style(
            COLORS[i % len(COLORS)], MARKERS[(i + i // len(COLORS)) % len(MARKERS)]
        )
    return styles


__all__ = ["COLORS", "MARKERS", "Style", "variant_styles"]
