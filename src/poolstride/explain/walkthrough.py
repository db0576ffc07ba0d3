"""Compute a step-by-step walkthrough of max/avg pooling or a strided convolution.

Every number comes from PyTorch: the output from ``torch.nn.functional`` (``max_pool{1,2}d``,
``avg_pool{1,2}d``, ``conv{1,2}d``), the chosen cell of each max window from the indices
PyTorch returns, and the gradients from autograd (the Jacobian of each output with respect
to the input, and ``y.backward(grad)`` for the total). This module only adds the narration:
which input cells each window covers, which are padding, and the average's divisor.

Window geometry along one axis of size ``n`` (kernel ``k``, stride ``s``, padding ``p``,
dilation ``d``): output ``o`` reads input cells ``o*s - p + a*d`` for ``a = 0..k-1``; cells in
``[-p, 0)`` or ``[n, n+p)`` are padding, cells at ``>= n+p`` (only in ceil mode) are outside
and ignored. Output size ``floor((n + 2p - d(k-1) - 1)/s) + 1`` (``ceil`` in ceil mode, minus
one if the last window would start in the right padding).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from poolstride.errors import PoolstrideError, unknown
from poolstride.explain.parse import DEFAULT_INPUT, parse_ints, parse_matrix
from poolstride.explain.render import render_walkthrough, to_string
from poolstride.explain.steps import BackwardStep, Coord, ForwardStep, WalkthroughRecord
from poolstride.geometry.output_size import effective_kernel

__all__ = [
    "OPS",
    "BackwardStep",
    "ForwardStep",
    "Walkthrough",
    "default_weights",
    "walkthrough",
]

OPS = ("max", "avg", "conv")


class Walkthrough(WalkthroughRecord):
    """A :class:`~poolstride.explain.steps.WalkthroughRecord` that can show itself: as text
    (:mod:`~poolstride.explain.render`) or as an animated GIF (:mod:`~poolstride.explain.animate`).
    """

    def render_text(
        self, backward: bool = False, plain: bool = True, width: int | None = None
    ) -> str:
        """The walkthrough as text (``plain=False`` keeps rich colour markup as ANSI codes)."""
        return to_string(render_walkthrough(self, backward=backward), plain=plain, width=width)

    def write_gif(self, path, backward: bool = False, duration_ms: int = 900) -> int:
        """Write the sliding-window animation; returns the number of frames."""
        # Imported on use: the animation needs matplotlib and Pillow, slow to import.
        from poolstride.explain.animate import write_gif

        return write_gif(self, path, backward=backward, duration_ms=duration_ms)


def default_weights(kernel: Coord) -> torch.Tensor:
    """A diagonal-difference kernel: +1 at the first cell, -1 at the last, 0 elsewhere.

    Small integers keep every dot product readable, and because it is not symmetric it shows
    that PyTorch's convolution does not flip the kernel (it is a cross-correlation).
    """
    w = torch.zeros(kernel, dtype=torch.float64)
    first, last = (0,) * len(kernel), tuple(k - 1 for k in kernel)
    w[first] = 1.0
    if last != first:
        w[last] = -1.0
    return w


def _as_tensor(x, what: str) -> torch.Tensor:
    if x is None:
        return torch.tensor(DEFAULT_INPUT, dtype=torch.float64)
    if isinstance(x, str):
        return parse_matrix(x, what)
    try:
        t = torch.as_tensor(x, dtype=torch.float64).clone()
    except (TypeError, ValueError, RuntimeError):
        raise PoolstrideError(
            f"{what} must be a 1-D or 2-D array of numbers, got {type(x).__name__}"
        ) from None
    if t.ndim not in (1, 2) or t.numel() == 0:
        raise PoolstrideError(
            f"{what} has shape {tuple(t.shape)}; give a non-empty 1-D row or 2-D matrix"
        )
    if not torch.isfinite(t).all():
        raise PoolstrideError(f"{what} contains non-finite values; use finite numbers")
    return t


def _per_axis(value, dim: int, what: str, default=None) -> Coord | None:
    v = parse_ints(value, what) if value is not None else default
    if v is None:
        return None
    if len(v) == 1:
        v = v * dim
    if len(v) != dim:
        raise PoolstrideError(
            f"{what}={value!r} has {len(v)} values but the input is {dim}-D; "
            + ("give one value" if dim == 1 else f"give 1 or {dim}")
        )
    return tuple(v)


def _fmt(t: Coord) -> str:
    return "x".join(map(str, t))


def _validate(op, size, kernel, stride, padding, dilation, ceil_mode) -> None:
    for name, vals, low in (
        ("kernel", kernel, 1),
        ("stride", stride, 1),
        ("padding", padding, 0),
        ("dilation", dilation, 1),
    ):
        if any(v < low for v in vals):
            shown = str(vals[0]) if len(set(vals)) == 1 else _fmt(vals)
            raise PoolstrideError(f"{name}={shown} is invalid; every {name} must be >= {low}")
    if op == "avg" and any(d != 1 for d in dilation):
        raise PoolstrideError(
            f"dilation={_fmt(dilation)} is invalid for avg pooling (PyTorch has none); use 1"
        )
    if op == "conv" and ceil_mode:
        raise PoolstrideError(
            "ceil_mode=True is invalid for conv (PyTorch convolutions floor); use max or avg"
        )
    if op in ("max", "avg") and any(p > k // 2 for p, k in zip(padding, kernel)):
        limit = _fmt(tuple(k // 2 for k in kernel))
        raise PoolstrideError(
            f"padding={_fmt(padding)} is invalid for kernel {_fmt(kernel)}; PyTorch pooling allows at most {limit} (half the kernel)"
        )
    window = tuple(effective_kernel(k, d) for k, d in zip(kernel, dilation))
    padded = tuple(n + 2 * p for n, p in zip(size, padding))
    if any(w > n for w, n in zip(window, padded)):
        raise PoolstrideError(
            f"window {_fmt(window)} (kernel {_fmt(kernel)}, dilation {_fmt(dilation)}) is larger than the padded input {_fmt(padded)}; "
            f"use a kernel of at most {_fmt(tuple((n - 1) // d + 1 for n, d in zip(padded, dilation)))} or more padding"
        )


def _axis_cells(o: int, n: int, k: int, s: int, p: int, d: int) -> list[tuple[int, str]]:
    """Input positions read by output ``o`` along one axis, with where each one lies."""
    out = []
    for a in range(k):
        c = o * s - p + a * d
        where = "input" if 0 <= c < n else ("padding" if -p <= c < n + p else "outside")
        out.append((c, where))
    return out


def _combine(wheres: tuple[str, ...]) -> str:
    if "outside" in wheres:
        return "outside"
    return "padding" if "padding" in wheres else "input"


def walkthrough(
    x=None,
    op: str = "max",
    kernel=None,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    weights=None,
    grad=None,
) -> Walkthrough:
    """Run ``op`` (``max``, ``avg`` or ``conv``) on ``x`` and explain every output position.

    ``x``: (H, W) or (L,) numbers, or matrix text like ``"1 3; 2 9"`` (default: the 4x4
    example). ``kernel``/``stride``/``padding``/``dilation``: an int, a pair, or ``"2x3"``;
    ``kernel`` defaults to the weights' shape (conv) or 2; ``stride`` to the kernel (pooling,
    PyTorch's default) or 2 (conv: a downsampling convolution). ``weights``: the conv kernel
    (default :func:`default_weights`). ``grad``: upstream gradient of the output's shape
    (default all ones).
    """
    if op not in OPS:
        raise unknown("op", op, OPS)
    x = _as_tensor(x, "input")
    dim = x.ndim
    w = None
    if op == "conv" and weights is not None:
        w = _as_tensor(weights, "kernel weights")
        if w.ndim != dim:
            raise PoolstrideError(
                f"kernel weights have shape {_fmt(tuple(w.shape))} but the input is {dim}-D; give a {dim}-D kernel"
            )
    elif weights is not None:
        raise PoolstrideError(f"kernel weights are only used by op 'conv', not {op!r}")
    kernel = _per_axis(
        kernel, dim, "kernel", default=tuple(w.shape) if w is not None else (2,) * dim
    )
    if w is not None and tuple(w.shape) != kernel:
        raise PoolstrideError(
            f"kernel weights have shape {_fmt(tuple(w.shape))} but kernel is {_fmt(kernel)}; give {_fmt(kernel)} weights"
        )
    stride = _per_axis(stride, dim, "stride", default=kernel if op != "conv" else (2,) * dim)
    padding = _per_axis(padding, dim, "padding")
    dilation = _per_axis(dilation, dim, "dilation")
    _validate(op, tuple(x.shape), kernel, stride, padding, dilation, ceil_mode)
    if op == "conv" and w is None:
        w = default_weights(kernel)

    def forward(inp: torch.Tensor, return_indices: bool = False):
        """The PyTorch call on a (1, 1, *size) view of ``inp`` (and the argmax if asked)."""
        xb = inp.reshape(1, 1, *inp.shape)
        if op == "max":
            fn = F.max_pool1d if dim == 1 else F.max_pool2d
            res = fn(xb, kernel, stride, padding, dilation, ceil_mode, return_indices)
            return (res[0][0, 0], res[1][0, 0]) if return_indices else res[0, 0]
        if op == "avg":
            fn = F.avg_pool1d if dim == 1 else F.avg_pool2d
            return fn(xb, kernel, stride, padding, ceil_mode, count_include_pad)[0, 0]
        fn = F.conv1d if dim == 1 else F.conv2d
        return fn(xb, w.reshape(1, 1, *w.shape), None, stride, padding, dilation)[0, 0]

    try:
        with torch.no_grad():
            out, indices = forward(x, True) if op == "max" else (forward(x), None)
        jac = torch.autograd.functional.jacobian(forward, x)  # out.shape + x.shape
    except RuntimeError as err:  # anything our checks missed: keep PyTorch's reason, one line
        raise PoolstrideError(
            f"PyTorch rejected this configuration: {str(err).splitlines()[0]}"
        ) from None

    g = torch.ones_like(out) if grad is None else _as_tensor(grad, "grad")
    if g.ndim == 1 and out.ndim == 2 and out.shape[0] == 1:
        g = g.reshape(1, -1)
    if tuple(g.shape) != tuple(out.shape):
        raise PoolstrideError(
            f"grad has shape {_fmt(tuple(g.shape))} but the output is {_fmt(tuple(out.shape))}; give one value per output"
        )
    xg = x.clone().requires_grad_(True)
    forward(xg).backward(g)
    grad_input = xg.grad.detach()

    size = tuple(x.shape)
    steps, back = [], []
    for index in itertools.product(*(range(m) for m in out.shape)):
        per_axis = [
            _axis_cells(o, n, k, s, p, d)
            for o, n, k, s, p, d in zip(index, size, kernel, stride, padding, dilation)
        ]
        cells, where = [], []
        for combo in itertools.product(*per_axis):
            cells.append(tuple(c for c, _ in combo))
            where.append(_combine(tuple(wh for _, wh in combo)))
        values = tuple(float(x[c]) if wh == "input" else None for c, wh in zip(cells, where))
        chosen = divisor = None
        wts = tuple(float(v) for v in w.flatten()) if op == "conv" else None
        if op == "max":
            flat = int(indices[index])
            picked = tuple(divmod(flat, size[1])) if dim == 2 else (flat,)
            # a dilated window can lie entirely in padding: PyTorch then outputs -inf and its
            # index points at no cell of the window, so nothing is chosen
            if "input" in where:
                chosen = cells.index(picked)
        elif op == "avg":
            counted = ("input", "padding") if count_include_pad else ("input",)
            divisor = sum(wh in counted for wh in where)
        steps.append(
            ForwardStep(
                index, tuple(cells), tuple(where), values, float(out[index]), wts, chosen, divisor
            )
        )

        up = float(g[index])
        row = jac[index]
        targets = tuple(
            (c, up * float(row[c]))
            for c, wh in zip(cells, where)
            if wh == "input" and float(row[c]) != 0.0
        )
        if op == "max" and chosen is None:
            # PyTorch's CPU kernel starts each window's argmax at the flat index of its first
            # in-bounds column; a window entirely in padding keeps it, so the gradient lands
            # on that cell (even in another row), or nowhere when it is past the end.
            targets = tuple(
                (tuple(int(i) for i in c), up * float(row[tuple(c)]))
                for c in torch.nonzero(row).tolist()
            )
        dropped = 0.0
        if op == "avg" and count_include_pad:
            dropped = up * sum(wh == "padding" for wh in where) / divisor
        elif op == "conv":
            dropped = sum(up * wv for wv, wh in zip(wts, where) if wh == "padding")
        back.append(BackwardStep(index, up, targets, dropped))

    return Walkthrough(
        op,
        x,
        kernel,
        stride,
        padding,
        dilation,
        bool(ceil_mode),
        bool(count_include_pad),
        w,
        out.detach(),
        tuple(steps),
        g,
        grad_input,
        tuple(back),
    )
