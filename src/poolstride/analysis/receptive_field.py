"""Receptive fields of real models: the rule per op, and a gradient-based measurement.

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

**Measurement** (:func:`measure_receptive_field`): back-propagate from the centre unit of a
layer and take the extent of the nonzero input gradient. For the gradient not to vanish or
cancel anywhere, a float64 copy of the model is prepared so that every path contributes a
positive amount: conv/linear weights set to ``1 / fan_in`` (positive), biases 0, batch norms
set to identity (eval mode, mean 0, variance 1), other parameters made positive, inputs
positive (so ReLUs stay open), saturating activations (ReLU6, hard sigmoid, clamps) replaced by
the identity, and max pooling replaced by a window *sum* with the same geometry (max pooling
sends the gradient to one element per window only, which would hide the rest of the field).
The measured interval is the predicted one clipped to the input: the centre unit of a small
input may see past the borders, into padding.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

from poolstride.analysis import extent as extents
from poolstride.analysis.ops import (
    ADAPTIVE,
    CONV_T,
    MAX_POOL,
    SeeAllCalls,
    bind,
    window,
)
from poolstride.errors import PoolstrideError
from poolstride.geometry.output_size import pool_output_shape
from poolstride.geometry.receptive_field import ReceptiveField

__all__ = [
    "Field",
    "op_receptive_field",
    "measure_receptive_field",
    "predicted_interval",
    "check_receptive_fields",
    "FieldCheck",
]


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
    inputs = [(t, field_of(t)) for t in _tensors(args, kwargs)]
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


def _tensors(args, kwargs):
    for a in (*args, *kwargs.values()):
        if isinstance(a, torch.Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from (t for t in a if isinstance(t, torch.Tensor))


def predicted_interval(rf: ReceptiveField, out_spatial, in_spatial) -> tuple[tuple[int, int], ...]:
    """Input interval of the centre output unit, clipped to the input (integer bounds)."""
    centre = tuple((n - 1) // 2 for n in out_spatial)
    result = []
    for (lo, hi), n in zip(rf.interval(centre), in_spatial):
        lo, hi = Fraction(lo), Fraction(hi)
        # Fractional bounds (adaptive pooling that does not divide) round outwards.
        lo_i = max(0, int(lo.__floor__()))
        hi_i = min(n - 1, int(hi.__ceil__()))
        result.append((lo_i, hi_i))
    return tuple(result)


# Saturating activations pass no gradient once their input is past the knee (a ReLU6 after a
# few residual additions of positive values); for the measurement they become the identity
# (inputs are positive, so this is also what a ReLU would do).
_SATURATING = {
    "relu6",
    "hardtanh",
    "hardsigmoid",
    "hardswish",
    "clamp",
    "clip",
    "clamp_",
    "hardtanh_",
}


class _DenseMaxPool(SeeAllCalls):
    """Replace max pooling by a window sum with identical geometry (gradient to every element),
    and saturating activations by the identity."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in _SATURATING and args and isinstance(args[0], torch.Tensor):
            return args[0] if name.endswith("_") else args[0] * 1.0
        if name in MAX_POOL:
            geometry = window(name, args, kwargs)
            x = bind(name, args, kwargs)["input"]
            out = _window_sum(x, geometry)
            return (
                (out, torch.zeros_like(out, dtype=torch.long))
                if bind(name, args, kwargs).get("return_indices") or name.endswith("with_indices")
                else out
            )
        if name in ADAPTIVE and "max" in ADAPTIVE[name]:
            b = bind(name, args, kwargs)
            dim = b["input"].ndim - 2
            out = (F.adaptive_avg_pool1d if dim == 1 else F.adaptive_avg_pool2d)(
                b["input"], b["output_size"]
            )
            return (
                (out, torch.zeros_like(out, dtype=torch.long))
                if name.endswith("with_indices") or b.get("return_indices")
                else out
            )
        return func(*args, **kwargs)


def _window_sum(x: torch.Tensor, g) -> torch.Tensor:
    """Sum over each pooling window: a depthwise all-ones conv, padded to PyTorch's output size."""
    dim = x.ndim - 2
    out_size = pool_output_shape(
        tuple(x.shape[2:]), g.kernel, g.stride, g.padding, g.dilation, g.ceil_mode
    )
    pads = []
    for n, k, s, p, d, m in zip(x.shape[2:], g.kernel, g.stride, g.padding, g.dilation, out_size):
        right = max((m - 1) * s + d * (k - 1) + 1 - n - p, 0)  # ceil mode may need extra room
        pads.append((p, right))
    flat = [v for pair in reversed(pads) for v in pair]
    channels = x.shape[1]
    weight = torch.ones(channels, 1, *g.kernel, dtype=x.dtype)
    conv = F.conv1d if dim == 1 else F.conv2d
    y = conv(F.pad(x, flat), weight, None, g.stride, 0, g.dilation, channels)
    return y[(slice(None), slice(None), *(slice(0, m) for m in out_size))]


def _positive_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A float64 copy in which every path from input to output has positive weight.

    Weights are random in ``[0.5, 1.5] / fan_in`` rather than equal: with equal weights every
    channel carries the same value and a LayerNorm over channels (ConvNeXt) would subtract it
    away exactly, gradient included.
    """
    model = copy.deepcopy(model).double().eval()
    generator = torch.Generator().manual_seed(seed)

    def positive(shape) -> torch.Tensor:
        return 0.5 + torch.rand(shape, generator=generator, dtype=torch.float64)

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._NormBase):
                if module.running_mean is not None:
                    module.running_mean.zero_()
                    module.running_var.fill_(1.0)
                if module.weight is not None:
                    module.weight.fill_(1.0)
                    module.bias.zero_()
            elif isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
                fan_in = (
                    module.weight[0].numel()
                    if not isinstance(module, nn.modules.conv._ConvTransposeNd)
                    else module.weight.shape[0]
                )
                module.weight.copy_(positive(module.weight.shape) / fan_in)
                if module.bias is not None:
                    module.bias.zero_()
            else:
                for param in module.parameters(recurse=False):
                    param.abs_().add_(1e-3)
    return model


def measure_receptive_field(
    model: nn.Module, input_shape, modules: dict[str, nn.Module] | None = None, seed: int = 0
) -> dict[str, tuple[tuple[int, int], ...]]:
    """Measured input interval (per spatial axis, clipped) seen by the centre unit of each layer.

    ``input_shape`` is ``(C, *spatial)`` without the batch. ``modules`` maps row names to
    modules of ``model`` to measure (default: every leaf module); only outputs with the
    input's number of spatial axes are measured. Returns ``{name: ((first, last), ...)}``.
    """
    names = {id(m): n for n, m in model.named_modules()}
    targets = (
        modules
        if modules is not None
        else {n: m for n, m in model.named_modules() if not list(m.children())}
    )
    target_names = {names[id(m)]: label for label, m in targets.items()}
    work = _positive_copy(model, seed)
    work_modules = dict(work.named_modules())
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for name, label in target_names.items():

        def hook(module, inp, out, label=label):
            if isinstance(out, torch.Tensor) and label not in outputs:
                outputs[label] = out

        handles.append(work_modules[name].register_forward_hook(hook))
    generator = torch.Generator().manual_seed(seed)
    x = (
        0.5 + torch.rand(1, *input_shape, generator=generator, dtype=torch.float64)
    ).requires_grad_(True)
    try:
        with _DenseMaxPool():
            work(x)
    finally:
        for h in handles:
            h.remove()
    spatial = tuple(input_shape[1:])
    result = {}
    for label, out in outputs.items():
        if out.ndim != len(spatial) + 2 or not out.requires_grad:
            continue
        centre = tuple((n - 1) // 2 for n in out.shape[2:])
        (grad,) = torch.autograd.grad(
            out[(slice(None), slice(None), *centre)].sum(), x, retain_graph=True
        )
        mask = grad.abs().sum(dim=(0, 1)) > 0
        extent = []
        for axis in range(len(spatial)):
            other = tuple(a for a in range(len(spatial)) if a != axis)
            hits = mask.any(dim=other).nonzero().flatten() if other else mask.nonzero().flatten()
            extent.append((int(hits.min()), int(hits.max())) if len(hits) else (0, -1))
        result[label] = tuple(extent)
    return result


@dataclass(frozen=True)
class FieldCheck:
    """Input interval of a layer's centre unit: exact prediction vs back-propagation.

    ``predicted`` comes from the per-unit extents propagated through the traced graph (exact at
    the borders too); ``theory`` is the textbook interval of the ``(size, jump, start)``
    receptive field clipped to the input, which can be larger near borders when intermediate
    windows hang into padding or floor mode drops rows.
    """

    name: str
    predicted: tuple[tuple[int, int], ...]
    measured: tuple[tuple[int, int], ...]
    theory: tuple[tuple[int, int], ...]

    @property
    def ok(self) -> bool:
        return self.predicted == self.measured


def check_receptive_fields(
    model: nn.Module, table, input_shape, names: list[str] | None = None
) -> list[FieldCheck]:
    """Measure the receptive field of the conv/pooling layers of a profile ``table`` and compare.

    Rows compared: named modules with a known receptive field and an ``(N, C, *spatial)``
    output (first call of each module), restricted to ``names`` when given. The cost is one
    backward pass per layer, so use a small input.
    """
    spatial = tuple(input_shape[1:])
    modules = dict(model.named_modules())
    chosen, seen = {}, set()
    for row in table.rows:
        rf = row.receptive_field
        if (
            row.name in seen
            or row.name not in modules
            or rf is None
            or row.extent is None
            or rf.dim != len(spatial)
        ):
            continue
        seen.add(row.name)
        if names is not None and row.name not in names:
            continue
        if names is None and row.kind is None:
            continue
        if row.output_shape is None or row.spatial_axes != tuple(range(2, len(spatial) + 2)):
            continue  # measured on (N, C, *spatial) outputs only
        centre = tuple((n - 1) // 2 for n in row.output_shape[2:])
        predicted = extents.at(row.extent, centre) or tuple((0, -1) for _ in spatial)
        chosen[row.name] = (
            modules[row.name],
            predicted,
            predicted_interval(rf, row.output_shape[2:], spatial),
        )
    measured = measure_receptive_field(model, input_shape, {n: m for n, (m, *_) in chosen.items()})
    return [FieldCheck(n, chosen[n][1], measured[n], chosen[n][2]) for n in chosen if n in measured]
