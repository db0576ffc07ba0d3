"""The n-d layers the model builders use: ``conv``, ``batchnorm`` and ``downsample`` by
``dim`` (1 or 2), ``scaled`` channel counts, and ``strides_conv`` (when the convolution in
front of a site does the site's striding itself)."""

from __future__ import annotations

from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.layers import make_downsample, parse_variant
from poolstride.layers.dims import BATCH_NORM, CONV

__all__ = ["batchnorm", "conv", "downsample", "scaled", "strides_conv"]


def conv(dim: int, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, bias=True):
    """``nn.Conv1d`` or ``nn.Conv2d`` by ``dim``."""
    return CONV[dim](cin, cout, k, stride=stride, padding=padding, bias=bias)


def batchnorm(dim: int, channels: int) -> nn.Module:
    return BATCH_NORM[dim](channels)


def downsample(kind, in_channels: int, out_channels: int | None, dim: int) -> nn.Module:
    """One downsampling site: ``make_downsample(kind, ...)`` with factor 2 — the only way the
    models here build one, so the kind string means the same thing everywhere."""
    return make_downsample(kind, in_channels, out_channels, factor=2, dim=dim)


def strides_conv(kind) -> bool:
    """True when ``kind`` is plain ``subsample`` (no options): a convolution in front of the
    site is then built at stride 2 and the site left out.

    Keeping every 2nd output of a stride-1 convolution *is* the stride-2 convolution (same
    weights, same outputs), so building it strided computes only what is kept: 1/2 of the
    MACs and time in 1D, 1/4 in 2D. The builders put the stride on the convolution before
    its BatchNorm, as He et al. do — so in training mode BatchNorm's batch statistics are
    over the kept positions only (in eval mode the two networks are identical).
    """
    if not isinstance(kind, str):
        return False
    try:
        name, options = parse_variant(kind)
    except PoolstrideError:
        return False
    return name == "subsample" and not options


def scaled(base: int, width: int, default_width: int) -> int:
    """Channels of a layer that has ``base`` channels at the default width, scaled to ``width``."""
    return max(1, round(base * width / default_width))
