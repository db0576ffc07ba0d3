"""The input-size check of the model builders: run the feature stages once and turn "a feature
map shrank below 1" into a one-line error that says what input (or depth) fits."""

from __future__ import annotations

import torch
from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.layers import Downsample

__all__ = ["is_downsampling", "trace_features"]


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
