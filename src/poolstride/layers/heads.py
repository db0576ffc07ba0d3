"""Global heads: ``(N, C, *spatial) -> (N, F)`` feature vectors for a classifier.

=============  ==================================  ===========================
kind           output                              features F
=============  ==================================  ===========================
``gap``        mean over all positions             C
``gmp``        max over all positions              C
``avgmax``     (mean + max) / 2                    C
``catavgmax``  [mean, max] concatenated            2 C
``flatten``    every position kept (no pooling)    C * prod(spatial)
=============  ==================================  ===========================

``gap`` of a 7x7x1000 map gives 1000 features (the ResNet/NiN head). ``flatten`` depends on the
spatial size, so the classifier after it must know ``head_features(kind, C, spatial)``.
Global means and maxima are reductions (``mean``/``amax``), not windowed pooling.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from poolstride.errors import PoolstrideError, unknown
from poolstride.layers.base import check_dim
from poolstride.layers.dims import LAYOUT


class GlobalHead(nn.Module):
    """Base: checks the input is a batched ``dim``-D map, then reduces all positions."""

    kind: ClassVar[str] = ""
    features_per_channel: ClassVar[int] = 1

    def __init__(self, in_channels: int | None = None, dim: int = 2) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.dim = check_dim(dim, self.kind)
        self._ndim = self.dim + 2
        self._axes = tuple(range(2, self._ndim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != self._ndim or (
            self.in_channels is not None and x.shape[1] != self.in_channels
        ):
            channels = f"{self.in_channels} channels, " if self.in_channels is not None else ""
            raise PoolstrideError(
                f"{self.kind} head expects a {self._ndim}-D input {LAYOUT[self.dim]} "
                f"({channels}dim={self.dim}), got shape {tuple(x.shape)}"
            )
        return self.reduce(x)

    def reduce(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, dim={self.dim}, in_channels={self.in_channels}"


class GlobalAvgPool(GlobalHead):
    kind = "gap"

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(self._axes)


class GlobalMaxPool(GlobalHead):
    kind = "gmp"

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(self._axes)


class AvgMaxPool(GlobalHead):
    kind = "avgmax"

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x.mean(self._axes) + x.amax(self._axes))


class CatAvgMaxPool(GlobalHead):
    kind = "catavgmax"
    features_per_channel = 2

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x.mean(self._axes), x.amax(self._axes)), dim=1)


class FlattenHead(GlobalHead):
    kind = "flatten"

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


_HEAD_CLASSES = {
    cls.kind: cls for cls in (GlobalAvgPool, GlobalMaxPool, AvgMaxPool, CatAvgMaxPool, FlattenHead)
}

#: Names of the global heads accepted by :func:`make_head`.
HEADS: tuple[str, ...] = tuple(_HEAD_CLASSES)


def make_head(kind: str, in_channels: int | None = None, dim: int = 2) -> nn.Module:
    """Build a global head ``(N, C, *spatial) -> (N, head_features(kind, C, spatial))``."""
    if kind not in _HEAD_CLASSES:
        raise unknown("head", kind, HEADS)
    return _HEAD_CLASSES[kind](in_channels, dim)


def head_features(kind: str, channels: int, spatial: Any = ()) -> int:
    """Number of features the head outputs for ``channels`` maps of size ``spatial``."""
    if kind not in _HEAD_CLASSES:
        raise unknown("head", kind, HEADS)
    if kind == "flatten":
        sizes = (spatial,) if isinstance(spatial, int) else tuple(spatial)
        return channels * math.prod(sizes)
    return channels * _HEAD_CLASSES[kind].features_per_channel
