"""Pieces shared by the model builders: n-d layer factories, the classifier head, and the
input-size check that turns "a feature map shrank below 1" into a one-line error."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.layers import Downsample, head_features, make_downsample, make_head

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}


def conv(dim: int, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, bias=True):
    """``nn.Conv1d`` or ``nn.Conv2d`` by ``dim``."""
    return _CONV[dim](cin, cout, k, stride=stride, padding=padding, bias=bias)


def batchnorm(dim: int, channels: int) -> nn.Module:
    return _BN[dim](channels)


def downsample(kind, in_channels: int, out_channels: int | None, dim: int) -> nn.Module:
    """One downsampling site: ``make_downsample(kind, ...)`` with factor 2 — the only way the
    models here build one, so the kind string means the same thing everywhere."""
    return make_downsample(kind, in_channels, out_channels, factor=2, dim=dim)


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


def scaled(base: int, width: int, default_width: int) -> int:
    """Channels of a layer that has ``base`` channels at the default width, scaled to ``width``."""
    return max(1, round(base * width / default_width))


def is_downsampling(module: nn.Module) -> bool:
    """True for a module built by ``make_downsample`` that actually reduces resolution."""
    return isinstance(module, Downsample) and max(module.stride) > 1


def _contains_downsampling(module: nn.Module) -> bool:
    return any(is_downsampling(m) for m in module.modules())


def _run_stages(features: nn.Sequential, input_shape: tuple[int, ...]):
    """Forward one zero input stage by stage: ``(output or None, downsamplings passed)``."""
    x = torch.zeros(1, *input_shape)
    passed = 0
    for stage in features:
        try:
            x = stage(x)
        except (RuntimeError, ValueError):
            return None, passed
        if any(s < 1 for s in x.shape[2:]):
            return None, passed
        passed += _contains_downsampling(stage)
    return x, passed


def _smallest_fitting_size(
    features: nn.Sequential, channels: int, dim: int, start: int
) -> int | None:
    """Smallest ``s`` such that an ``s``×…×``s`` input passes (doubling, then bisection)."""
    fits = lambda s: _run_stages(features, (channels, *([s] * dim)))[0] is not None  # noqa: E731
    hi = max(start, 1)
    while not fits(hi):
        if hi > 4096:
            return None
        hi *= 2
    lo = 0  # lo never fits (size 0), hi fits
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi


def trace_features(
    model: str, kind, features: nn.Sequential, input_shape: tuple[int, ...], depth_hint: bool
) -> tuple[int, ...]:
    """Run ``features`` on one zero input and return the output shape ``(C, *spatial)``.

    If any stage fails or leaves a zero-sized map, raise a :class:`PoolstrideError` naming
    the model, the input size and what fits (the maximum depth for ``simple``; the smallest
    square input for fixed-depth models). Runs in eval mode without gradients (so BatchNorm
    running statistics are untouched), then restores the mode.
    """
    was_training = features.training
    features.eval()
    try:
        with torch.no_grad():
            out, passed = _run_stages(features, input_shape)
            if out is not None:
                return tuple(out.shape[1:])
            size = "x".join(map(str, input_shape[1:]))
            if depth_hint:
                fits = f"the maximum depth that fits is {passed}"
                advice = "use a larger input or a smaller depth"
            else:
                total = sum(_contains_downsampling(stage) for stage in features)
                fits = (
                    f"only {passed} of its {total} downsamplings fit"
                    if passed < total
                    else f"a layer after its {total} downsamplings needs a larger map"
                )
                least = _smallest_fitting_size(
                    features, input_shape[0], len(input_shape) - 1, max(input_shape[1:])
                )
                side = "x".join([str(least)] * (len(input_shape) - 1)) if least else "a larger one"
                advice = f"it needs at least {side}"
            raise PoolstrideError(
                f"{model} with kind {str(kind)!r}: input size {size} is too small — a feature "
                f"map shrinks below 1 ({fits}); {advice}"
            )
    finally:
        features.train(was_training)


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


def check_classes(model: str, num_classes) -> int:
    if num_classes is None:
        raise PoolstrideError(f"{model}: num_classes must be a positive integer, got None")
    return check_positive(model, "num_classes", num_classes, 0)


def check_builder_args(
    model: str, input_shape, num_classes, width, default_width: int, depth=None
) -> tuple[tuple[int, ...], int, int, int]:
    """The checks every builder starts with: ``(shape, num_classes, dim, width)``.

    ``depth`` is for ``simple`` only: a fixed-depth model passes what it was given here, and
    anything but None is rejected.
    """
    if depth is not None:
        raise PoolstrideError(f"{model} has a fixed depth; depth={depth!r} is only for 'simple'")
    shape = check_input_shape(model, input_shape)
    num_classes = check_classes(model, num_classes)
    width = check_positive(model, "width", width, default_width)
    return shape, num_classes, len(shape) - 1, width
