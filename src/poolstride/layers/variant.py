"""The variant mini-language: a kind name plus options, e.g. ``max:k3`` or ``blur-max:filt5``.

Grammar (parsed here and nowhere else)::

    variant := KIND (":" TOKEN)*
    TOKEN   := KEY NUMBER        # k3, pad0, d2, filt5, p2.5, o4, k3x1 (one value per dim)
             | FLAG              # ceil, nocip, nobias

Tokens are separated by ``:`` because whole variants are separated by ``,`` on the command
line (``--variants max,avg:k3,conv:k3``). Case and surrounding spaces are ignored.

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

Which options each kind accepts is the table :data:`KIND_OPTIONS` (the factory validates
keyword options against the same table).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from poolstride.errors import PoolstrideError, unknown

_GEOM = ("kernel_size", "stride", "padding")

#: Options each downsampling kind accepts, in canonical (formatting) order.
KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    "max": (*_GEOM, "dilation", "ceil_mode"),
    "avg": (*_GEOM, "ceil_mode", "count_include_pad"),
    "lp": ("p", "kernel_size", "stride", "ceil_mode"),
    "soft": _GEOM,
    "mixed": (*_GEOM, "ceil_mode", "count_include_pad"),
    "gated": _GEOM,
    "blur-max": ("filt_size",),
    "blur-avg": ("filt_size",),
    "blur-conv": ("kernel_size", "filt_size", "bias"),
    "conv": (*_GEOM, "dilation", "bias"),
    "dwconv": (*_GEOM, "dilation", "bias"),
    "space-to-depth": ("bias",),
    "subsample": (),
    "none": (),
    "adaptive-max": ("output_size",),
    "adaptive-avg": ("output_size",),
}

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


def valid_tokens(kind: str) -> str:
    """Human-readable list of the tokens ``kind`` accepts (for error messages)."""
    parts = []
    for option in KIND_OPTIONS[kind]:
        if option in _OPTION_TO_KEY:
            parts.append(f"{_OPTION_TO_KEY[option]}N ({option})")
        else:
            parts.append(_OPTION_TO_FLAG[option][0])
    return ", ".join(parts) if parts else "none"


def _parse_number(kind: str, text: str, token: str, option: str, typ: type) -> Any:
    pieces = text.split("x")
    if len(pieces) > 1 and option not in _TUPLE_OPTIONS:
        raise PoolstrideError(f"{kind}: option {token!r} takes a single number, not {text!r}")
    try:
        values = [typ(piece) for piece in pieces]
    except ValueError:
        raise PoolstrideError(
            f"{kind}: option {token!r} needs {'an integer' if typ is int else 'a number'}; "
            f"valid options for {kind}: {valid_tokens(kind)}"
        ) from None
    return values[0] if len(values) == 1 else tuple(values)


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
    allowed = KIND_OPTIONS[kind]
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
                    f"{valid_tokens(kind)}"
                )
            option, typ = _KEYS[key]
            value = _parse_number(kind, number, token, option, typ)
        if option not in allowed:
            raise PoolstrideError(
                f"option {token!r} does not apply to {kind} (in {text!r}); valid options for "
                f"{kind}: {valid_tokens(kind)}"
            )
        if option in options:
            raise PoolstrideError(f"option {option} given twice in variant {text!r}")
        options[option] = value
    return kind, options


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


def format_variant(kind: str, options: Mapping[str, Any] | None = None) -> str:
    """Inverse of :func:`parse_variant`: ``format_variant("max", {"kernel_size": 3}) == "max:k3"``.

    Options are written in the canonical order of :data:`KIND_OPTIONS`; flags at their default
    value (``ceil_mode=False``, ``count_include_pad=True``, ``bias=True``) and ``None`` values
    are omitted, so equal configurations format to equal strings.
    """
    if kind not in KIND_OPTIONS:
        raise unknown("downsampling kind", kind, KIND_OPTIONS)
    options = dict(options or {})
    extra = sorted(set(options) - set(KIND_OPTIONS[kind]))
    if extra:
        raise PoolstrideError(
            f"option {extra[0]!r} does not apply to {kind}; valid: "
            f"{', '.join(KIND_OPTIONS[kind]) or 'none'}"
        )
    parts = [kind]
    for option in KIND_OPTIONS[kind]:
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
