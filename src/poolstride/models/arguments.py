"""The argument checks of every model, each failing with one line that names the model and the
bad value; :func:`check_model_args` runs them once (in ``build_model``) and hands the builder a
:class:`ModelArgs`."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.models.classifier import Classifier, ClassifierHead
from poolstride.models.input_size import trace_features

__all__ = [
    "ModelArgs",
    "check_classes",
    "check_input_shape",
    "check_model_args",
    "check_positive",
]


def check_input_shape(model: str, input_shape: Sequence[int]) -> tuple[int, ...]:
    """Validate ``(C, L)`` or ``(C, H, W)`` and return it as a tuple of ints."""
    try:
        shape = tuple(int(s) for s in input_shape)
        ok = (
            len(shape) in (2, 3)
            and all(s >= 1 for s in shape)
            and all(int(s) == s for s in input_shape)
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise PoolstrideError(
            f"{model}: input_shape must be (C, L) or (C, H, W) of positive ints, got {input_shape!r}"
        )
    return shape


def check_positive(model: str, what: str, value, default: int) -> int:
    """``value`` as a positive int (any integer type, e.g. numpy's), or ``default`` if None."""
    if value is None:
        return default
    if not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= 1:
        return int(value)
    raise PoolstrideError(f"{model}: {what} must be a positive integer, got {value!r}")


def check_classes(model: str, num_classes) -> int:
    if num_classes is None:
        raise PoolstrideError(f"{model}: num_classes must be a positive integer, got None")
    return check_positive(model, "num_classes", num_classes, 0)


@dataclass(frozen=True)
class ModelArgs:
    """The checked arguments every builder gets: ``shape`` = ``(C, *spatial)``, ``dim =
    len(shape) - 1``."""

    name: str
    kind: Any
    shape: tuple[int, ...]
    num_classes: int
    width: int
    head: str

    @property
    def dim(self) -> int:
        return len(self.shape) - 1

    def classifier(
        self, features: nn.Sequential, *, depth_hint: bool = False, **head_options
    ) -> Classifier:
        """``features`` -> ``head`` -> logits: the feature output ``(C, *out)`` is traced
        on one input (a too-small input fails here, naming the model)."""
        out = trace_features(self.name, self.kind, features, self.shape, depth_hint)
        head = ClassifierHead(
            self.head, out[0], out[1:], self.num_classes, self.dim, **head_options
        )
        return Classifier(self.name, self.kind, features, head)


def check_model_args(
    name: str, kind, input_shape, num_classes, head: str, width, default_width: int
) -> ModelArgs:
    """The checks every model starts with (``width`` None means ``default_width``)."""
    shape = check_input_shape(name, input_shape)
    num_classes = check_classes(name, num_classes)
    width = check_positive(name, "width", width, default_width)
    return ModelArgs(name, kind, shape, num_classes, width, head)
