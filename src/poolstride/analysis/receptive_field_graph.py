"""Receptive fields of real models by rule, along the traced dataflow graph.

**Rule per op** (:func:`op_receptive_field`), applied along the traced dataflow graph. Each
tensor carries a :class:`Field`: its receptive field and which of its dimensions are the
input's spatial axes (so channels-last blocks and channel shuffles are followed).

- conv / pooling: ``ReceptiveField.through`` with the op's normalised geometry;
- adaptive pooling: ``ReceptiveField.adaptive`` (global pooling sees everything);
- ``F.pad`` and slicing ``x[..., a::s]``: shift the windows / subsample them (exact);
- permutes and transposes: move the spatial axes; reshapes that keep them intact too;
- a reduction or reshape that removes the spatial axes (mean over H, W; flatten; view to
  ``(N, F)``): every unit sees the whole map (``collapse``) — for flatten itself this is the
  receptive field of the linear layer that follows;
- any other op whose output keeps the spatial size of its inputs (activations, norms, add,
  mul, cat along channels, a Linear over channels-last): the union of its inputs' receptive
  fields (the maximum over branches); a 1x1 gate broadcast over a map brings its whole field;
- anything else (upsampling, transposed convs, flips, attention over flattened tokens): unknown.

The gradient-based check of these rules is :mod:`poolstride.analysis.receptive_field_measured`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from poolstride.analysis import extent as extents
from poolstride.analysis.ops import (
    ADAPTIVE,
    CONV_T,
    arg_tensors,
    bind,
    window,
)
from poolstride.errors import PoolstrideError
from poolstride.geometry.receptive_field import ReceptiveField

__all__ = ["Field", "op_receptive_field"]


@dataclass(frozen=True)
class Field:
    """What a traced tensor knows about the input: its receptive field and where its spatial
    axes are (``axes[k]`` = tensor dimension of input axis ``k``; ``None`` once the spatial
    axes are gone, e.g. after global pooling or flatten). ``rf`` None = unknown."""

    rf: ReceptiveField | None
    axes: tuple[int, ...] | None
    extent: extents.Extent | None = field(
        default=None, repr=False, compare=False
    )  # exact, per unit

    @classmethod
    def of_input(cls, x: torch.Tensor) -> Field:
        dim = max(x.ndim - 2, 0)
        if not dim:
            return cls(ReceptiveField.identity(0), None, ())
        return cls(
            ReceptiveField.identity(dim), tuple(range(2, x.ndim)), extents.identity(x.shape[2:])
        )


UNKNOWN = Field(None, None)
# Ops that keep the shape but move values across space (not pointwise).
_SPATIAL_MIXERS = {
    "flip",
    "fliplr",
    "flipud",
    "roll",
    "rot90",
    "cumsum",
    "cumprod",
    "softmax",
    "log_softmax",
    "cummax",
    "cummin",
    "sort",
    "argsort",
    "interpolate",
    "upsample",
    "grid_sample",
}
_LAYOUT = {"permute", "transpose", "swapaxes", "swapdims", "movedim", "moveaxis"}
_RESHAPE = {
    "view",
    "reshape",
    "flatten",
    "unflatten",
    "squeeze",
    "unsqueeze",
    "view_as",
    "reshape_as",
}


def op_receptive_field(name: str, args: tuple, kwargs: dict, out: torch.Tensor, field_of) -> Field:
    """The :class:`Field` of ``out`` given those of the op's tensor inputs.

    ``field_of(tensor)`` returns the input's :class:`Field`, or None for tensors that do not
    depend on the model input (weights, constants).
    """
    inputs = [(t, field_of(t)) for t in arg_tensors(args, kwargs)]
    inputs = [(t, f) for t, f in inputs if f is not None]
    if not inputs or any(f.rf is None for _, f in inputs):
        return UNKNOWN
    spatial = [(t, f) for t, f in inputs if f.axes is not None]
    if not spatial:  # feature vectors (or an MLP input): every output sees what the inputs saw
        return Field(
            _merge([f.rf for _, f in inputs]), None, extents.merge([f.extent for _, f in inputs])
        )
    if name in _SPATIAL_MIXERS:
        return UNKNOWN
    main, field = _main_input(spatial, out)
    rf, axes, ext = field.rf, field.axes, field.extent
    dims = tuple(main.shape[a] for a in axes)
    out_dims = tuple(out.shape[-rf.dim :]) if out.ndim >= rf.dim else ()
    geometry = window(name, args, kwargs)
    if geometry is not None or name in ADAPTIVE or name in CONV_T or name == "pad":
        if axes != tuple(range(main.ndim - rf.dim, main.ndim)):
            return UNKNOWN  # windows run over the trailing axes: the spatial ones must be there
        if geometry is not None:
            g = geometry
            return Field(
                rf.through(g.kernel, g.stride, g.padding, g.dilation),
                axes,
                _ext(extents.window, ext, g.kernel, g.stride, g.padding, g.dilation, out_dims),
            )
        if name in ADAPTIVE:
            return Field(rf.adaptive(dims, out_dims), axes, _ext(extents.adaptive, ext, out_dims))
        if name == "pad":
            bound = bind(name, args, kwargs)
            pads = tuple(bound["pad"])
            lefts, rights = [0] * rf.dim, [0] * rf.dim
            for axis in range(min(len(pads) // 2, rf.dim)):
                lefts[rf.dim - 1 - axis] = pads[2 * axis]
                rights[rf.dim - 1 - axis] = pads[2 * axis + 1]
            mode = bound.get("mode", "constant") or "constant"
            return Field(
                rf.through(1, 1, tuple(lefts)), axes, _ext(extents.pad, ext, lefts, rights, mode)
            )
        return UNKNOWN  # transposed convolutions: not modelled
    if name == "__getitem__" and out.ndim == main.ndim and len(args) > 1:
        sliced = _sliced(rf, main, axes, args[1])
        if sliced is None:
            return UNKNOWN
        rf2, starts, steps = sliced
        return Field(
            rf2, axes, _ext(extents.sliced, ext, starts, steps, tuple(out.shape[a] for a in axes))
        )
    if name in _LAYOUT:
        order = _permutation(name, args, kwargs, main.ndim)
        return Field(rf, tuple(order.index(a) for a in axes), ext) if order is not None else UNKNOWN
    if out.ndim == main.ndim and tuple(out.shape[a] for a in axes) == dims:
        # Pointwise in space (activations, norms, add, mul, cat over channels, a Linear over
        # channels-last, a view that only splits channels): the union of the inputs, a
        # broadcast map of size 1 (a squeeze-excitation gate) counting as the whole map.
        ordered = [(main, field)] + [
            (t, f) for t, f in inputs if t is not main
        ]  # main's jump is kept
        merged = [
            f.rf if f.axes is None or _full(t, out, f.axes) else _collapsed_field(t, f)
            for t, f in ordered
        ]
        ext_merged = [
            f.extent
            if f.axes is None or _full(t, out, f.axes) or _ones(t, f.axes)
            else _ext(extents.collapse, f.extent)
            for t, f in ordered
        ]
        return Field(_merge(merged), axes, extents.merge(ext_merged))
    moved = _reshaped_axes(main, axes, out)
    if moved is not None:
        return Field(
            _merge([f.rf for _, f in inputs]), moved, extents.merge([f.extent for _, f in inputs])
        )
    if _all_spatial_gone(main, axes, out):
        collapsed = [
            _ext(extents.collapse, f.extent) if f.axes is not None else f.extent for _, f in inputs
        ]
        return Field(
            _merge([_collapsed_field(t, f) for t, f in inputs]), None, extents.merge(collapsed)
        )
    return UNKNOWN


def _ext(fn, extent, *args):
    """Apply an extent rule, or keep None (extent unknown)."""
    return None if extent is None else fn(extent, *args)


def _ones(t: torch.Tensor, axes) -> bool:
    return all(t.shape[a] == 1 for a in axes)


def _main_input(spatial, out):
    """The input whose spatial extent the output keeps (``x`` in ``gate * x``), else the first."""
    for t, f in spatial:
        if t.ndim == out.ndim and _full(t, out, f.axes):
            return t, f
    return spatial[0]


def _full(t: torch.Tensor, out: torch.Tensor, axes) -> bool:
    return t.ndim == out.ndim and all(a < out.ndim and t.shape[a] == out.shape[a] for a in axes)


def _collapsed_field(t: torch.Tensor, f: Field) -> ReceptiveField:
    """A map reduced or broadcast over space sees all of itself (a field over its whole extent)."""
    if f.axes is None:
        return f.rf
    return f.rf.collapse(tuple(t.shape[a] for a in f.axes))


def _permutation(name: str, args, kwargs, ndim: int) -> list[int] | None:
    """``order`` with output dimension ``i`` = input dimension ``order[i]``."""
    try:
        if name == "permute":
            dims = (
                args[1:]
                if len(args) > 2 or (len(args) == 2 and isinstance(args[1], int))
                else (args[1] if len(args) > 1 else kwargs["dims"])
            )
            return [int(d) % ndim for d in dims]
        if name in ("movedim", "moveaxis"):
            src = args[1] if len(args) > 1 else kwargs["source"]
            dst = args[2] if len(args) > 2 else kwargs["destination"]
            src = [src % ndim] if isinstance(src, int) else [d % ndim for d in src]
            dst = [dst % ndim] if isinstance(dst, int) else [d % ndim for d in dst]
            order: list = [None] * ndim
            for s_, d_ in zip(src, dst):
                order[d_] = s_
            rest = iter(d for d in range(ndim) if d not in src)
            return [o if o is not None else next(rest) for o in order]
        a = args[1] if len(args) > 1 else kwargs["dim0"]
        b = args[2] if len(args) > 2 else kwargs["dim1"]
        order = list(range(ndim))
        a, b = a % ndim, b % ndim
        order[a], order[b] = order[b], order[a]
        return order
    except (KeyError, TypeError, IndexError):
        return None


def _reshaped_axes(x: torch.Tensor, axes, out: torch.Tensor) -> tuple[int, ...] | None:
    """Where the spatial axes land after a reshape that keeps them intact, else None.

    In place when every dimension up to the last spatial one is unchanged (channels-last
    ``(N, H, W, C) -> (N, H, W, heads, c)``); shifted when everything from the first spatial
    one on is unchanged (``(N, C, H, W) -> (N, g, C/g, H, W)`` in a channel shuffle).
    """
    last, first = max(axes), min(axes)
    if out.ndim > last and tuple(out.shape[: last + 1]) == tuple(x.shape[: last + 1]):
        return tuple(axes)
    tail = x.ndim - first
    if out.ndim >= tail + 1 and tuple(out.shape[-tail:]) == tuple(x.shape[first:]):
        shift = out.ndim - x.ndim
        return tuple(a + shift for a in axes)
    return None


def _all_spatial_gone(x: torch.Tensor, axes, out: torch.Tensor) -> bool:
    """Global reductions and flattening to features: ``(N, F)`` out, or every spatial size 1."""
    if out.ndim <= 2:
        return True
    return (
        out.ndim == x.ndim
        and all(out.shape[a] == 1 for a in axes)
        and any(x.shape[a] > 1 for a in axes)
    )


def _sliced(rf: ReceptiveField, x: torch.Tensor, axes, index):
    """``x[..., a::s, b::t]``: unit 0 moves to input ``a``, the jump grows by ``s`` (exact)."""
    index = index if isinstance(index, tuple) else (index,)
    if (
        any(i is None or isinstance(i, (int, torch.Tensor)) for i in index)
        or sum(i is Ellipsis for i in index) > 1
    ):
        return None
    if Ellipsis in index:
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (x.ndim - len(index) + 1) + index[at + 1 :]
    index = index + (slice(None),) * (x.ndim - len(index))
    kernel, stride, shift = [], [], []
    for a in axes:
        start, _, step = index[a].indices(x.shape[a])
        if step < 1:
            return None
        kernel.append(1)
        stride.append(step)
        shift.append(-start)  # a negative left padding: unit 0 sits at input `start`
    return rf.through(tuple(kernel), tuple(stride), tuple(shift)), [-v for v in shift], stride


def _merge(fields):
    try:
        return ReceptiveField.merge(fields)
    except PoolstrideError:
        return None
