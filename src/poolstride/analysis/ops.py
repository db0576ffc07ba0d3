"""What a recorded torch call *is*: its window geometry and its cost.

The profiler sees calls at the ``torch.nn.functional`` level (``conv2d``, ``max_pool2d``,
``linear``, ...). This module binds their arguments by name, normalises geometry to tuples
(``MaxPool2d(2)`` stores ``kernel_size=2``; here it becomes ``(2, 2)`` with stride ``(2, 2)``)
and counts their cost under the project's convention:

- **MACs** (multiply-accumulates) for convolutions, transposed convolutions, linear layers,
  matrix products and attention (``scaled_dot_product_attention``,
  ``multi_head_attention_forward``); bias additions are not counted. FLOPs = 2 × MACs, which is
  what ``torch.utils.flop_counter.FlopCounterMode`` reports for the same ops.
- **Pooling ops**: one operation per window element per output (``out.numel() * prod(kernel)``);
  adaptive pooling counts the elements of each of its (variable) windows; a global reduction
  over the spatial axes counts every input element once.
- **Not counted**: batch norm, activations, additions (their cost is memory traffic, which the
  memory column shows).

Other tools' numbers, reconciled in :data:`CONVENTION` and ``docs/toolchain.md`` (torchvision
resnet18 at 3x224x224: 1,814,073,344 MACs here): fvcore's "flops" count one multiply-add as one
flop, so they are MACs, plus batch norm (2 per element in eval) and adaptive pooling (1,819,065,856);
ptflops' default backend counts MACs plus bias, batch norm, activations and pooling
(1,825,313,768; its aten backend: 1,814,074,344, ours plus the linear bias); torchvision's
weights metadata ``_ops`` ("GFLOPS": 1.814) are GMACs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.overrides import TorchFunctionMode

from poolstride.geometry.output_size import adaptive_windows, same_padding
from poolstride.kernels import enabled as kernels_enabled
from poolstride.kernels import set_enabled as set_kernels_enabled

#: The convention, as printed under every profile table (one fact, one place).
CONVENTION = (
    "MACs = multiply-accumulates of conv/linear/matmul (bias, batch norm, activations and "
    "additions not counted); FLOPs = 2 x MACs, as torch.utils.flop_counter. fvcore's flops and "
    "torchvision's weights GFLOPS are these MACs (fvcore adds batch norm and adaptive pooling); ptflops adds bias, "
    "batch norm, activations and pooling. Pool ops = one per window element per output; "
    "memory = bytes of each layer's output (a layer returning its input untouched, like "
    "Identity, allocates none); RF = receptive field size (union over branches of the traced "
    "graph)"
)

CONV = {"conv1d": 1, "conv2d": 2, "conv3d": 3}
CONV_T = {"conv_transpose1d": 1, "conv_transpose2d": 2, "conv_transpose3d": 3}
MAX_POOL = {
    "max_pool1d": 1,
    "max_pool2d": 2,
    "max_pool3d": 3,
    "_max_pool1d": 1,
    "_max_pool2d": 2,
    "_max_pool3d": 3,
    "max_pool1d_with_indices": 1,
    "max_pool2d_with_indices": 2,
    "max_pool3d_with_indices": 3,
}
AVG_POOL = {"avg_pool1d": 1, "avg_pool2d": 2, "avg_pool3d": 3}
LP_POOL = {"lp_pool1d": 1, "lp_pool2d": 2, "lp_pool3d": 3}
ADAPTIVE = {
    "adaptive_avg_pool1d": "adaptive-avg",
    "adaptive_avg_pool2d": "adaptive-avg",
    "adaptive_avg_pool3d": "adaptive-avg",
    "adaptive_max_pool1d": "adaptive-max",
    "adaptive_max_pool2d": "adaptive-max",
    "adaptive_max_pool3d": "adaptive-max",
    "adaptive_max_pool1d_with_indices": "adaptive-max",
    "adaptive_max_pool2d_with_indices": "adaptive-max",
}
MATMUL = {"matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "__matmul__", "__rmatmul__"}
REDUCE = {"mean", "amax", "sum", "max", "logsumexp", "nanmean", "amin", "min"}

# Positional parameter names of the functional forms (torch.nn.functional / torch._C._nn).
_PARAMS = {
    **{n: ("input", "weight", "bias", "stride", "padding", "dilation", "groups") for n in CONV},
    **{
        n: ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")
        for n in CONV_T
    },
    **{
        n: ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
        for n in MAX_POOL
    },
    **{
        n: (
            "input",
            "kernel_size",
            "stride",
            "padding",
            "ceil_mode",
            "count_include_pad",
            "divisor_override",
        )
        for n in AVG_POOL
    },
    **{n: ("input", "norm_type", "kernel_size", "stride", "ceil_mode") for n in LP_POOL},
    **{n: ("input", "output_size") for n in ADAPTIVE},
    "linear": ("input", "weight", "bias"),
    "pad": ("input", "pad", "mode", "value"),
}
_DEFAULTS = {"stride": None, "padding": 0, "dilation": 1, "groups": 1, "ceil_mode": False}


def bind(name: str, args: tuple, kwargs: dict) -> dict:
    """Arguments of a known functional op by parameter name (unknown ops: ``{}``)."""
    names = _PARAMS.get(name)
    if names is None:
        return {}
    bound = dict(zip(names, args))
    bound.update(kwargs)
    return bound


def _tuple(value, dim: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (int(value),) * dim
    value = tuple(int(v) for v in value)
    return value * dim if len(value) == 1 else value


@dataclass(frozen=True)
class Window:
    """A sliding-window op normalised: tuples of length ``dim``, explicit left padding."""

    op: str  # conv | conv_transpose | max | avg | lp
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]  # left padding per axis (the right one only changes the size)
    dilation: tuple[int, ...]
    ceil_mode: bool = False
    groups: int = 1


def window(name: str, args: tuple, kwargs: dict) -> Window | None:
    """The window geometry of a conv / pooling call, or None for other ops."""
    b = bind(name, args, kwargs)
    if name in CONV or name in MAX_POOL or name in AVG_POOL or name in LP_POOL:
        dim = CONV.get(name) or MAX_POOL.get(name) or AVG_POOL.get(name) or LP_POOL[name]
        x = b["input"]
        spatial = tuple(x.shape[-dim:])
        if name in CONV:
            kernel = tuple(b["weight"].shape[2:])
            op = "conv"
        else:
            kernel = _tuple(b["kernel_size"], dim)
            op = "max" if name in MAX_POOL else "avg" if name in AVG_POOL else "lp"
        stride = b.get("stride", None)
        stride = (
            kernel
            if stride is None or (not isinstance(stride, int) and len(stride) == 0)
            else _tuple(stride, dim)
        )
        dilation = _tuple(b.get("dilation", 1), dim)
        padding = b.get("padding", 0)
        if isinstance(padding, str):
            padding = tuple(
                same_padding(n, k, 1, d)[0] if padding == "same" else 0
                for n, k, d in zip(spatial, kernel, dilation)
            )
        else:
            padding = _tuple(padding, dim)
        return Window(
            op,
            kernel,
            stride,
            padding,
            dilation,
            bool(b.get("ceil_mode", False)),
            int(b.get("groups", 1)),
        )
    if name in CONV_T:
        dim = CONV_T[name]
        return Window(
            "conv_transpose",
            tuple(b["weight"].shape[2:]),
            _tuple(b.get("stride", 1), dim),
            _tuple(b.get("padding", 0), dim),
            _tuple(b.get("dilation", 1), dim),
            False,
            int(b.get("groups", 1)),
        )
    return None


def arg_tensors(args: tuple, kwargs: dict):
    """The tensors a call was given, positional then keyword (and inside list/tuple arguments)."""
    for a in (*args, *kwargs.values()):
        if isinstance(a, torch.Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from (t for t in a if isinstance(t, torch.Tensor))


def _first_tensor(args) -> torch.Tensor | None:
    for a in args:
        if isinstance(a, torch.Tensor):
            return a
    return None


def op_cost(name: str, args: tuple, kwargs: dict, out) -> tuple[int, int]:
    """``(macs, pool_ops)`` of one call under the project's convention (see module docstring)."""
    if not isinstance(out, torch.Tensor):
        out = (
            out[0]
            if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor)
            else None
        )
    if out is None:
        return 0, 0
    b = bind(name, args, kwargs)
    if name in CONV:
        w = b["weight"]
        return out.numel() * w.shape[1] * math.prod(w.shape[2:]), 0
    if name in CONV_T:
        w, x = b["weight"], b["input"]
        return x.numel() * w.shape[1] * math.prod(w.shape[2:]), 0
    if name == "linear":
        return out.numel() * b["weight"].shape[-1], 0
    if name in MATMUL:
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if name in ("addmm", "baddbmm", "addbmm"):
            tensors = tensors[1:]
        if len(tensors) >= 2 and tensors[0].ndim >= 1:
            inner = tensors[0].shape[-1]
            if name == "addbmm":
                return tensors[0].shape[0] * out.numel() * inner, 0
            return out.numel() * inner, 0
        return 0, 0
    if name == "multi_head_attention_forward":
        # Composite call (its inner matmuls are not seen separately): in-projections of q, k, v,
        # scores q k^T and weights x v over all heads (E = heads x head_dim), out-projection.
        q, k, v = args[:3]
        length, source = q.shape[0], k.shape[0]
        batch = q.shape[1] if q.ndim == 3 else 1
        embed = q.shape[-1]
        projections = length * embed + source * k.shape[-1] + source * v.shape[-1] + length * embed
        return batch * (projections * embed + 2 * length * source * embed), 0
    if name == "einsum":
        return einsum_macs(
            args[0], [a for a in args[1:] if isinstance(a, torch.Tensor)] or list(args[1])
        ), 0
    if name == "scaled_dot_product_attention":
        q, k, v = args[:3]
        batch = math.prod(q.shape[:-2])
        return batch * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1]), 0
    geometry = window(name, args, kwargs)
    if geometry is not None:
        return 0, out.numel() * math.prod(geometry.kernel)
    if name in ADAPTIVE:
        x = b["input"]
        dim = len(_adaptive_out(b, x))
        spatial_in = tuple(x.shape[-dim:])
        spatial_out = tuple(out.shape[-dim:])
        per_channel = math.prod(
            sum(end - start for start, end in adaptive_windows(n, m))
            for n, m in zip(spatial_in, spatial_out)
        )
        return 0, math.prod(x.shape[:-dim]) * per_channel
    if name in REDUCE:
        x = _first_tensor(args)
        if x is not None and x.ndim >= 3 and reduces_spatial(x, out):
            return 0, x.numel()
    return 0, 0


def einsum_macs(equation: str, operands) -> int:
    """MACs of an einsum evaluated left to right, pair by pair (as ``torch.einsum`` does without
    an optimised path): a pairwise product that sums over some index costs the product of the
    sizes of all its indices; one that sums nothing is an elementwise multiply (no MACs)."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands) or len(terms) < 2:
        return 0
    spare = iter("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    ellipsis = [next(spare) for _ in range(max(t.ndim for t in operands))]
    sizes: dict[str, int] = {}
    expanded = []
    for term, tensor in zip(terms, operands):
        if "..." in term:
            n = tensor.ndim - (len(term) - 3)
            term = term.replace("...", "".join(ellipsis[len(ellipsis) - n :]))
        expanded.append(term)
        for letter, size in zip(term, tensor.shape):
            sizes[letter] = max(sizes.get(letter, 1), int(size))
    if arrow:
        used = "".join(c for c in ellipsis if any(c in term for term in expanded))
        rhs = rhs.replace("...", used)
    else:
        letters = "".join(expanded)
        rhs = "".join(sorted(set(c for c in letters if letters.count(c) == 1)))
    macs, current = 0, expanded[0]
    for i, term in enumerate(expanded[1:], start=1):
        needed = set(rhs).union(*expanded[i + 1 :])
        both = set(current) | set(term)
        if both - needed:  # something is summed: a real product-accumulate (else a broadcast mul)
            macs += math.prod(sizes[c] for c in both)
        current = "".join(c for c in sorted(both) if c in needed)
    return macs


def _adaptive_out(bound: dict, x: torch.Tensor) -> tuple:
    size = bound["output_size"]
    return (size,) if isinstance(size, int) or size is None else tuple(size)


def reduces_spatial(x: torch.Tensor, out: torch.Tensor) -> bool:
    """True when ``out`` keeps the batch and channels of ``x`` but none of its spatial extent."""
    if x.ndim < 3 or out.ndim < 2 or tuple(out.shape[:2]) != tuple(x.shape[:2]):
        return False
    return out.ndim == 2 or (
        out.ndim == x.ndim
        and all(s == 1 for s in out.shape[2:])
        and any(s > 1 for s in x.shape[2:])
    )


class SeeAllCalls(TorchFunctionMode):
    """A ``TorchFunctionMode`` that sees poolstride's pooling too: the fast CPU kernels
    (:mod:`poolstride.kernels`) run outside torch's dispatch, invisible to any mode, so they are
    switched off while it is active (every pooling call then is PyTorch's own op)."""

    def __enter__(self):
        self._kernels_were_on = kernels_enabled()
        set_kernels_enabled(False)
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            set_kernels_enabled(self._kernels_were_on)


class CostCounter(SeeAllCalls):
    """Adds up :func:`op_cost` over every torch call made while it is active.

    The same per-call counting as the profiler, without its receptive-field bookkeeping::

        with torch.no_grad(), CostCounter() as counter:
            model(x)
        counter.macs, counter.pool_ops        # for the whole batch of x
    """

    def __init__(self) -> None:
        super().__init__()
        self.macs = 0
        self.pool_ops = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)  # the mode is off inside: nested calls are not seen twice
        macs, pool_ops = op_cost(getattr(func, "__name__", ""), args, kwargs, out)
        self.macs += macs
        self.pool_ops += pool_ops
        return out
