"""Average pooling and blur resampling are linear maps: one autograd Function runs either.

:class:`LinearPool` runs a pooling family's kernel forward, or with ``adjoint`` its
transpose; the backward of one is the other, so any order of differentiation works. The
family (:mod:`~poolstride.kernels.avg_pooling`, :mod:`~poolstride.kernels.blur_pooling`)
passes the function that picks its kernel.
"""

from __future__ import annotations

import torch

from poolstride.kernels import threads
from poolstride.kernels.call_plan import PLANAR, Plan


class LinearPool(torch.autograd.Function):
    """``LinearPool.apply(x4, plan, adjoint, kernel_for)``: the linear pooling of ``plan``
    (or with ``adjoint`` its transpose) of the 4D tensor ``x4``.

    ``kernel_for(plan, direction)`` (direction ``fwd`` or ``bwd``) returns ``(kernel,
    after, taps)``: the kernel, the arguments it takes after ``lo, hi``, and the taps per
    output (to size the work for the threads)."""

    @staticmethod
    def forward(ctx, x4, plan: Plan, adjoint: bool, kernel_for):
        ctx.plan = plan
        ctx.adjoint = adjoint
        ctx.kernel_for = kernel_for
        _, xa = plan.to_kernel(x4)
        n, c = plan.in_shape[:2]
        kernel, after, taps = kernel_for(plan, "bwd" if adjoint else "fwd")
        work = max(x4.numel(), 1) * taps
        out, oa = plan.empty(plan.in_shape if adjoint else plan.out_shape)
        if plan.layout == PLANAR:
            threads.run(kernel, (xa, oa), n * c, after, work)
        else:
            # backward: output rows overlap in the input, so slice by sample only
            threads.run(kernel, (xa, oa), n if adjoint else n * plan.out_shape[2], after, work)
        return out

    @staticmethod
    def backward(ctx, grad):
        return LinearPool.apply(grad, ctx.plan, not ctx.adjoint, ctx.kernel_for), None, None, None
