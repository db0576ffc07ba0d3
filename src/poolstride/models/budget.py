"""Matching budgets: widen or narrow a variant until its parameters or MACs equal a baseline's.

Comparing ``max`` against ``conv`` at equal width confounds the operator with capacity: the
strided convolution brings its own weights. :func:`match_budget` returns the width at which
the variant costs the same as the baseline (within a tolerance, 5% by default), so a
comparison can hold either parameters or compute fixed.

Costs: parameters are counted directly (``sum(p.numel())``); MACs for one example are
counted by :class:`poolstride.analysis.ops.CostCounter`, the profiler's per-call counting (one
convention everywhere: the multiply-accumulates of convolutions, linear layers and matrix
products, equal to ``FlopCounterMode``'s FLOPs / 2). Pooling operations are counted there too,
but separately: they are comparisons or additions, not MACs, so a MACs budget leaves them out.
"""

from __future__ import annotations

import torch
from torch import nn

from poolstride.analysis.ops import CostCounter
from poolstride.errors import PoolstrideError, unknown
from poolstride.models.registry import build_model

BUDGETS = ("params", "macs")
_MAX_WIDTH = 4096


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, input_shape) -> int:
    """Multiply-accumulates of conv/linear layers for one example of ``input_shape``."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), CostCounter() as counter:
            model(torch.zeros(1, *input_shape))
    finally:
        model.train(was_training)
    return counter.macs


def model_cost(name, kind, input_shape, num_classes, by: str = "params", **kw) -> int:
    """Parameters or MACs of ``build_model(name, kind, input_shape, num_classes, **kw)``."""
    if by not in BUDGETS:
        raise unknown("budget", by, BUDGETS)
    model = build_model(name, kind, input_shape, num_classes, **kw)
    return count_params(model) if by == "params" else count_macs(model, input_shape)


def match_budget(
    name: str,
    kind,
    baseline_kind,
    input_shape,
    num_classes: int,
    by: str = "params",
    *,
    tolerance: float = 0.05,
    **kw,
) -> int:
    """Width at which model ``name`` with ``kind`` costs what it costs with ``baseline_kind``.

    The baseline is built with ``kw`` as given (its ``width`` included, default otherwise);
    the variant with the same ``kw`` except ``width``. Cost grows with width, so the
    smallest width whose cost reaches the baseline's is found by bisection and compared with
    the width just below; the closer one is returned.

    Raises:
        PoolstrideError: when no integer width brings the cost within ``tolerance`` (relative)
            of the baseline's — e.g. a variant that costs more than the baseline even at width 1,
            or very narrow models, where one channel more or less moves the cost by more than
            the tolerance (cost grows ~quadratically: a step of about 2/width).
    """
    if by not in BUDGETS:
        raise unknown("budget", by, BUDGETS)
    target = model_cost(name, baseline_kind, input_shape, num_classes, by, **kw)
    variant_kw = {k: v for k, v in kw.items() if k != "width"}

    cache: dict[int, int] = {}

    def cost(width: int) -> int:
        if width not in cache:
            cache[width] = model_cost(
                name, kind, input_shape, num_classes, by, width=width, **variant_kw
            )
        return cache[width]

    # Bracket: lo has cost < target (or is 1), hi has cost >= target.
    hi = kw.get("width") or 8
    while cost(hi) < target:
        if hi >= _MAX_WIDTH:
            break
        hi = min(2 * hi, _MAX_WIDTH)
    lo = 1
    if cost(lo) >= target:
        hi = lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if cost(mid) >= target:
            hi = mid
        else:
            lo = mid
    best = min({lo, hi}, key=lambda w: (abs(cost(w) - target), w))
    error = abs(cost(best) - target) / target
    if error > tolerance:
        raise PoolstrideError(
            f"cannot match {name} with kind {str(kind)!r} to the {by} of kind "
            f"{str(baseline_kind)!r} ({target:,}) within {tolerance:.0%}: the closest width "
            f"{best} gives {cost(best):,} ({error:.1%} off)"
        )
    return best
