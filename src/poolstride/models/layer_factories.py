"""The n-d layers the model builders use: ``conv``, ``batchnorm`` and ``downsample`` by
``dim`` (1 or 2), and ``scaled`` channel counts."""

from __future__ import annotations

from torch import nn

from poolstride.layers import make_downsample
from poolstride.layers.dims import BATCH_NORM, CONV

__all__ = ["batchnorm", "conv", "downsample", "scaled"]


def conv(dim: int, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, bias=True):
    """``nn.Conv1d`` or ``nn.Conv2d`` by ``dim``."""
    return CONV[dim](cin, cout, k, stride=stride, padding=padding, bias=bias)


def batchnorm(dim: int, channels: int) -> nn.Module:
    return BATCH_NORM[dim](channels)


def downsample(kind, in_channels: int, out_channels: int | None, dim: int) -> nn.Module:
    """One downsampling site: ``make_downsample(kind, ...)`` with factor 2 — the only way the
    models here build one, so the kind string means the same thing everywhere."""
    return make_downsample(kind, in_channels, out_channels, factor=2, dim=dim)


def scaled(base: int, width: int, default_width: int) -> int:
    """Channels of a layer that has ``base`` channels at the default width, scaled to ``width``."""
    return max(1, round(base * width / default_width))
