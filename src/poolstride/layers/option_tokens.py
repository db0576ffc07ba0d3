"""Option tokens: how a variant string spells each keyword option (``k3`` is
``kernel_size=3``), read and written for one downsampling kind.

=========  =====================  =========================================================
token      keyword option         meaning
=========  =====================  =========================================================
``kN``     ``kernel_size=N``      window / kernel size (``k3x1``: per-dimension)
``sN``     ``stride=N``           stride (default: the downsampling factor)
``padN``   ``padding=N``          zero (-inf for max) padding on both sides
``dN``     ``dilation=N``         spacing between window elements
``pX``     ``p=X``                the power of Lp pooling (float allowed: ``p2.5``)
``filtN``  ``filt_size=N``        binomial blur filter size (anti-aliased kinds)
``oN``     ``output_size=N``      target size of adaptive pooling (``o4x6``: per-dimension)
``ceil``   ``ceil_mode=True``     round the output size up (PyTorch ``ceil_mode``)
``nocip``  ``count_include_pad=False``  average only over real (unpadded) elements
``nobias`` ``bias=False``         convolution without bias
=========  =====================  =========================================================

The functions take the kind's options in canonical order (its class's keyword options, see
:data:`poolstride.layers.kinds.KIND_OPTIONS`), so this module needs no table of kinds: the
module classes format their own variant with it (:attr:`Downsample.variant
<poolstride.layers.base.Downsample.variant>`), and :mod:`poolstride.layers.variant` parses
whole variant strings with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from poolstride.errors import PoolstrideError

# Short key -> (keyword option, value type). Longest keys are tried first ("pad" before "p").
_KEYS: dict[str, tuple[str, type]] = {
    "k": ("kernel_size", int),
    "s": ("stride", int),
    "pad": ("padding", int),
    "d": ("dilation", int),
    "p": ("p", float),
    "filt": ("filt_size", int),
    "o": ("output_size", int),
}
# Flag token -> (keyword option, value the flag sets).
_FLAGS: dict[str, tuple[str, Any]] = {
    "ceil": ("ceil_mode", True),
    "nocip": ("count_include_pad", False),
    "nobias": ("bias", False),
}
_OPTION_TO_KEY = {opt: key for key, (opt, _) in _KEYS.items()}
_OPTION_TO_FLAG = {opt: (flag, value) for flag, (opt, value) in _FLAGS.items()}
# Options whose value may be given per dimension ("k3x1").
_TUPLE_OPTIONS = {"kernel_size", "stride", "padding", "dilation", "output_size"}

_TOKEN = re.compile(r"^([a-z]+)(\d+(?:\.\d+)?(?:x\d+)*)?$")


def describe_tokens(allowed: Sequence[str]) -> str:
    """Human-readable list of the tokens for the options ``allowed`` (for error messages)."""
    parts = []
    for option in allowed:
        if option in _OPTION_TO_KEY:
            parts.append(f"{_OPTION_TO_KEY[option]}N ({option})")
        else:
            parts.append(_OPTION_TO_FLAG[option][0])
    return ", ".join(parts) if parts else "none"


def _parse_number(kind: str, text: str, token: str, option: str, typ: type, allowed) -> Any:
    pieces = text.split("x")
    if len(pieces) > 1 and option not in _TUPLE_OPTIONS:
        raise PoolstrideError(f"{kind}: option {token!r} takes a single number, not {text!r}")
    try:
        values = [typ(piece) for piece in pieces]
    except ValueError:
        raise PoolstrideError(
            f"{kind}: option {token!r} needs {'an integer' if typ is int else 'a number'}; "
            f"valid options for {kind}: {describe_tokens(allowed)}"
        ) from None
    return values[0] if len(values) == 1 else tuple(values)


def parse_options(
    kind: str, allowed: Sequence[str], tokens: Sequence[str], text: str
) -> dict[str, Any]:
    """The keyword options of ``kind``'s ``tokens`` (``["k3", "pad0"]`` ->
    ``{"kernel_size": 3, "padding": 0}``); ``text`` is the whole variant, for messages.

    Raises :class:`PoolstrideError` (one line) for an unknown or malformed token (naming the
    valid tokens), an option not in ``allowed``, or the same option given twice.
    """
    options: dict[str, Any] = {}
    for token in tokens:
        if token in _FLAGS:
            option, value = _FLAGS[token]
        else:
            match = _TOKEN.match(token)
            key, number = (match.group(1), match.group(2)) if match else (None, None)
            if key not in _KEYS or number is None:
                raise PoolstrideError(
                    f"bad option {token!r} in variant {text!r}; valid options for {kind}: "
                    f"{describe_tokens(allowed)}"
                )
            option, typ = _KEYS[key]
            value = _parse_number(kind, number, token, option, typ, allowed)
        if option not in allowed:
            raise PoolstrideError(
                f"option {token!r} does not apply to {kind} (in {text!r}); valid options for "
                f"{kind}: {describe_tokens(allowed)}"
            )
        if option in options:
            raise PoolstrideError(f"option {option} given twice in variant {text!r}")
        options[option] = value
    return options


def _format_number(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        if len(set(value)) == 1:
            return _format_number(value[0])
        return "x".join(_format_number(v) for v in value)
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return repr(value)
    return str(int(value))


def format_options(
    kind: str, allowed: Sequence[str], options: Mapping[str, Any] | None = None
) -> str:
    """The variant string of ``kind`` with ``options``: ``"max:k3"``.

    Options are written in the order of ``allowed`` (the canonical order); flags at their
    default value (``ceil_mode=False``, ``count_include_pad=True``, ``bias=True``) and
    ``None`` values are omitted, so equal configurations format to equal strings. Raises
    :class:`PoolstrideError` for an option not in ``allowed``.
    """
    options = dict(options or {})
    extra = sorted(set(options) - set(allowed))
    if extra:
        raise PoolstrideError(
            f"option {extra[0]!r} does not apply to {kind}; valid: {', '.join(allowed) or 'none'}"
        )
    parts = [kind]
    for option in allowed:
        value = options.get(option)
        if value is None:
            continue
        if option in _OPTION_TO_FLAG:
            flag, flag_value = _OPTION_TO_FLAG[option]
            if bool(value) == flag_value:
                parts.append(flag)
        else:
            parts.append(f"{_OPTION_TO_KEY[option]}{_format_number(value)}")
    return ":".join(parts)
