"""Average pooling: :func:`avg_pool`, ``torch.nn.functional.avg_pool{1,2}d`` on the fast kernels.

Any kernel, stride, padding, ceil mode, ``count_include_pad`` and ``divisor_override``: the
window sum in row-major order, then one division by PyTorch's divisor, so outputs and
gradients are bit-identical to PyTorch's CPU kernels. Average pooling is linear; it runs
through :class:`poolstride.kernels.linear.LinearPool`.
"""

from __future__ import annotations

import torch

from poolstride.kernels import dispatch, fallback, generated
from poolstride.kernels.call_plan import CHANNELS_LAST, Plan, from4d, pool_plan
from poolstride.kernels.linear import LinearPool


def avg_kernel(plan: Plan, direction: str):
    """``(kernel, after, taps)`` of average pooling ``plan`` in ``direction`` (``fwd`` or
    ``bwd``), for :class:`~poolstride.kernels.linear.LinearPool`: the generated kernel where
    the window has one (its window sizes are constants), else the generic one."""
    taps = plan.kernel[0] * plan.kernel[1]
    fast = generated.pool_kernels(*plan.window).get(("avg", direction, plan.layout))
    if fast is not None:
        return fast, (*plan.padding, plan.count_include_pad, plan.divisor), taps
    after = (*plan.kernel, *plan.stride, *plan.padding, plan.count_include_pad, plan.divisor)
    return dispatch.generic_kernels().KERNELS["avg", direction, plan.layout], after, taps


def avg_pool(
    x: torch.Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
):
    """``torch.nn.functional.avg_pool{1,2}d`` with the fast CPU kernel where it applies.

    ``out = sum(window) / divisor`` with PyTorch's divisor: the window size clipped to the
    padded input (``count_include_pad``) or to the input, or ``divisor_override`` (2D only).
    Same float operations in the same order as PyTorch's CPU kernels: bit-identical outputs
    and gradients.
    """
    dim = x.ndim - 2
    reason = dispatch.fast_path_reason(x)
    if reason is None and (divisor_override is None or dim == 2):
        x4, plan = pool_plan(
            x,
            kernel_size,
            stride,
            padding,
            1,
            ceil_mode,
            count_include_pad=bool(count_include_pad),
            divisor=int(divisor_override or 0),
        )
        if (
            plan is not None
            and plan.layout == CHANNELS_LAST
            and not (x.requires_grad and torch.is_grad_enabled())
        ):
            # Where the kernels are not faster (bench/kernels.py: PyTorch's channels-last
            # average-pooling forward is as fast or faster), PyTorch serves the call.
            plan, reason = None, "channels-last average pooling without gradient"
        if plan is not None and (divisor_override is None or divisor_override != 0):
            if dispatch.log_active():
                fast = generated.pool_kernels(*plan.window)
                dispatch.note("avg", x, "poolstride generated" if fast else "poolstride generic")
            return from4d(LinearPool.apply(x4, plan, False, avg_kernel), dim)
    if dispatch.log_active():
        dispatch.note("avg", x, "pytorch", reason or "configuration not covered by the kernels")
    return fallback.avg_pool(
        x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )
