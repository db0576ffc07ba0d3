"""The variant mini-language: a kind name plus options, e.g. ``max:k3`` or ``blur-max:filt5``.

Vocabulary: the *kind* is the downsampling family (``max``, ``blur-max``; the keys of
:data:`~poolstride.layers.kinds.DOWNSAMPLE_CLASSES`), a *variant* is a kind with its options
written as one string (``max:k3:pad0``). Every module's ``kind`` and ``variant`` attributes
follow this.

Grammar (parsed here and nowhere else)::

    variant := KIND (":" TOKEN)*
    TOKEN   := KEY NUMBER        # k3, pad0, d2, filt5, p2.5, o4, k3x1 (one value per dim)
             | FLAG              # ceil, nocip, nobias

The tokens and the keyword options they stand for are listed in
:mod:`poolstride.layers.option_tokens`. Tokens are separated by ``:`` because whole variants
are separated by ``,`` on the command line (``--variants max,avg:k3,conv:k3``). Case and
surrounding spaces are ignored.

Which options each kind accepts is the table :data:`~poolstride.layers.kinds.KIND_OPTIONS`,
read from the module classes' signatures (the factory validates keyword options against the
same table).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from poolstride.errors import PoolstrideError, unknown
from poolstride.layers.kinds import KIND_OPTIONS
from poolstride.layers.option_tokens import describe_tokens, format_options, parse_options

__all__ = ["KIND_OPTIONS", "format_variant", "parse_variant", "valid_tokens"]


def valid_tokens(kind: str) -> str:
    """Human-readable list of the tokens ``kind`` accepts (for error messages)."""
    return describe_tokens(KIND_OPTIONS[kind])


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """Split ``"max:k3:pad0"`` into ``("max", {"kernel_size": 3, "padding": 0})``.

    Raises :class:`PoolstrideError` (one line) for an unknown kind (naming the valid kinds and
    the closest match), an unknown or malformed token (naming the valid tokens for the kind),
    an option the kind does not take, or the same option given twice.
    """
    if not isinstance(text, str) or not text.strip():
        raise PoolstrideError(
            f"empty downsampling variant {text!r}; valid kinds: {', '.join(KIND_OPTIONS)}"
        )
    kind, *tokens = (part.strip() for part in text.strip().lower().split(":"))
    if kind not in KIND_OPTIONS:
        raise unknown("downsampling kind", kind, KIND_OPTIONS)
    return kind, parse_options(kind, KIND_OPTIONS[kind], tokens, text)


def format_variant(kind: str, options: Mapping[str, Any] | None = None) -> str:
    """Inverse of :func:`parse_variant`: ``format_variant("max", {"kernel_size": 3}) == "max:k3"``.

    Options are written in the canonical order of :data:`KIND_OPTIONS`; flags at their default
    value (``ceil_mode=False``, ``count_include_pad=True``, ``bias=True``) and ``None`` values
    are omitted, so equal configurations format to equal strings.
    """
    if kind not in KIND_OPTIONS:
        raise unknown("downsampling kind", kind, KIND_OPTIONS)
    return format_options(kind, KIND_OPTIONS[kind], options)
