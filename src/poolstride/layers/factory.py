"""``make_downsample``: one factory for every downsampling kind (string, class or partial)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.layers.base import check_dim
from poolstride.layers.kinds import DOWNSAMPLE_CLASSES, KIND_OPTIONS, KINDS
from poolstride.layers.variant import parse_variant, valid_tokens


def make_downsample(
    kind: str | type[nn.Module] | Callable[..., nn.Module],
    in_channels: int | None,
    out_channels: int | None = None,
    factor: int = 2,
    dim: int = 2,
    **options: Any,
) -> nn.Module:
    """Build a downsampling module ``(N, in_channels, *L) -> (N, out_channels, *out)``.

    Args:
        kind: a kind, or a variant string (a kind with options: ``"max"``, ``"max:k3"``,
            ``"conv:k3"``, ``"blur-max:filt5"``; see :mod:`poolstride.layers.variant`), or a
            module class / ``functools.partial`` called as ``kind(in_channels, out_channels,
            factor=factor, dim=dim, **options)``. The module's ``kind`` is the family, its
            ``variant`` the kind with the options it was built with.
        in_channels: input channels (may be ``None`` for parameter-free kinds, which then
            accept any channel count).
        out_channels: output channels; default ``in_channels``. For a parameter-free kind a
            different value adds a 1x1 convolution after the operator.
        factor: downsampling factor (default stride; default kernel for pooling kinds).
        dim: 1 for ``(N, C, L)`` signals, 2 for ``(N, C, H, W)`` images.
        **options: keyword options (``kernel_size``, ``stride``, ``padding``, ``dilation``,
            ``ceil_mode``, ``count_include_pad``, ``p``, ``filt_size``, ``output_size``,
            ``bias``); must not contradict options given in the string.

    Raises:
        PoolstrideError: unknown kind (naming the valid kinds and the closest), an option the
            kind does not take, or impossible geometry.
    """
    if isinstance(kind, str):
        name, parsed = parse_variant(kind)
        allowed = KIND_OPTIONS[name]
        for key, value in options.items():
            if key not in allowed:
                raise PoolstrideError(
                    f"option {key}={value!r} does not apply to {name}; valid options: "
                    f"{', '.join(allowed) or 'none'} (tokens: {valid_tokens(name)})"
                )
            if key in parsed and parsed[key] != value:
                raise PoolstrideError(
                    f"option {key} given twice with different values: {parsed[key]!r} in "
                    f"{kind!r} and {value!r} as a keyword"
                )
        merged = {**parsed, **options}
        dim = check_dim(dim, name)  # before any class turns geometry into dim-long tuples
        # The module's variant is written from the options it is given: name + merged.
        return DOWNSAMPLE_CLASSES[name](in_channels, out_channels, factor=factor, dim=dim, **merged)
    if callable(kind):  # a module class, a functools.partial of one, or any factory function
        try:
            return kind(in_channels, out_channels, factor=factor, dim=dim, **options)
        except TypeError as exc:
            raise PoolstrideError(
                f"cannot build downsampling from {kind!r}: it must accept (in_channels, "
                f"out_channels, *, factor, dim, **options) ({exc})"
            ) from None
    raise PoolstrideError(
        f"downsampling kind must be a string, a module class or a partial, got {kind!r}; "
        f"valid kinds: {', '.join(KINDS)}"
    )
