"""``Classifier``: ``head(features(x))``, the shape of every model here, and its
``ClassifierHead`` (a global head then a linear layer)."""

from __future__ import annotations

import torch
from torch import nn

from poolstride.layers import head_features, make_head
from poolstride.models.input_size import is_downsampling

__all__ = ["Classifier", "ClassifierHead"]


class ClassifierHead(nn.Module):
    """``make_head(head)`` (``(N, C, *spatial) -> (N, F)``) followed by ``Linear(F, classes)``.

    ``skip_linear_if_equal``: for All-CNN, whose last 1x1 convolution already produces one map
    per class, the linear layer is left out whenever ``F == num_classes`` (gap, gmp, avgmax).
    ``hidden``: an extra ``Linear(F, hidden) → ReLU`` in front (LeNet-5's F6 layer).
    """

    def __init__(
        self,
        head: str,
        channels: int,
        spatial: tuple[int, ...],
        num_classes: int,
        dim: int,
        skip_linear_if_equal: bool = False,
        hidden: int | None = None,
    ) -> None:
        super().__init__()
        self.kind = head
        self.pool = make_head(head, channels, dim=dim)
        self.num_features = int(head_features(head, channels, spatial))
        if hidden is not None:
            self.fc: nn.Module = nn.Sequential(
                nn.Linear(self.num_features, hidden),
                nn.ReLU(inplace=True),
                nn.Linear(hidden, num_classes),
            )
        elif skip_linear_if_equal and self.num_features == num_classes:
            self.fc = nn.Identity()
        else:
            self.fc = nn.Linear(self.num_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x))


def _kind_name(kind, features: nn.Module) -> str:
    """The kind as a string: as given, or (for a class or partial) the variant string of the
    first downsampling module it built, e.g. ``"conv:k3"``."""
    if isinstance(kind, str):
        return kind
    for module in features.modules():
        if isinstance(getattr(module, "variant", None), str) and is_downsampling(module):
            return module.variant
    return getattr(kind, "__name__", repr(kind))


class Classifier(nn.Module):
    """``head(features(x))``: every model here has this shape, so tools can find the parts.

    Attributes: ``model_name``, ``kind`` (the downsampling kind string), ``features``
    (an ``nn.Sequential`` of stages) and ``head`` (:class:`ClassifierHead`).
    """

    def __init__(self, model_name: str, kind, features: nn.Sequential, head: ClassifierHead):
        super().__init__()
        self.model_name = model_name
        self.kind = _kind_name(kind, features)
        self.features = features
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def extra_repr(self) -> str:
        return f"model={self.model_name!r}, kind={self.kind!r}"
