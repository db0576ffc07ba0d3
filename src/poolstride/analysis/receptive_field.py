"""Receptive fields of real models: the rule per op, and a gradient-based measurement.

**Rule per op** (:func:`op_receptive_field`), applied along the traced dataflow graph:

- conv / pooling: ``ReceptiveField.through`` with the op's normalised geometry;
- adaptive pooling: ``ReceptiveField.adaptive`` (global pooling sees everything);
- ``F.pad``: shifts the windows by the left padding;
- a reduction or reshape that removes the spatial axes (mean over H, W; flatten; view to
  ``(N, F)``): every unit sees the whole map (``collapse``) — for flatten itself this is the
  receptive field of the linear layer that follows;
- any other op whose output has the spatial size of its inputs (activations, norms, add, mul,
  cat along channels): the union of its inputs' receptive fields (the maximum over branches);
- anything else (upsampling, transposed convs, permutes that move the spatial axes): unknown.

**Measurement** (:func:`measure_receptive_field`): back-propagate from the centre unit of a
layer and take the extent of the nonzero input gradient. For the gradient not to vanish or
cancel anywhere, a float64 copy of the model is prepared so that every path contributes a
positive amount: conv/linear weights set to ``1 / fan_in`` (positive), biases 0, batch norms
set to identity (eval mode, mean 0, variance 1), inputs positive (so ReLUs stay open) and max
pooling replaced by a window *sum* with the same geometry (max pooling sends the gradient to
one element per window only, which would hide the rest of the field). The measured interval is
the predicted one clipped to the input: the centre unit of a small input may see past the
borders, into padding.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from poolstride.analysis.ops import (
    ADAPTIVE,
    CONV_T,
    MAX_POOL,
    REDUCE,
    bind,
    reduces_spatial,
    window,
)
from poolstride.errors import PoolstrideError
from poolstride.geometry.output_size import pool_output_shape
from poolstride.geometry.receptive_field import ReceptiveField

__all__ = ["op_receptive_field", "measure_receptive_field", "predicted_interval", "check_receptive_fields", "FieldCheck"]


def op_receptive_field(name: str, args: tuple, kwargs: dict, out: torch.Tensor, field_of) -> ReceptiveField | None:
    """Receptive field of ``out`` given the fields of the op's tensor inputs.

    ``field_of(tensor)`` returns ``(known, field)``: ``known`` False for tensors that do not
    depend on the input (weights, constants), ``field`` None when it is unknown.
    """
    inputs = [t for t in _tensors(args, kwargs) if field_of(t)[0]]
    if not inputs:
        return None
    fields = [field_of(t)[1] for t in inputs]
    if any(f is None for f in fields):
        return None
    main, rf = inputs[0], fields[0]
    if rf.dim == 0:  # an input without spatial axes (an MLP): nothing to track
        return rf
    geometry = window(name, args, kwargs)
    if geometry is not None:
        return rf.through(geometry.kernel, geometry.stride, geometry.padding, geometry.dilation)
    if name in CONV_T:
        return None
    if name in ADAPTIVE:
        return rf.adaptive(tuple(main.shape[-rf.dim:]), tuple(out.shape[-rf.dim:]))
    if name == "pad":
        pads = tuple(bind(name, args, kwargs)["pad"])
        lefts = [0] * rf.dim
        for axis in range(min(len(pads) // 2, rf.dim)):
            lefts[rf.dim - 1 - axis] = pads[2 * axis]
        return rf.through(1, 1, tuple(lefts))
    if main.ndim == rf.dim + 2 and out.ndim >= 2 and reduces_spatial(main, out):
        return _collapsed(main, rf)
    if out.ndim <= 2 or main.ndim <= 2:
        # Feature vectors: flatten / view to (N, F), or ops on already collapsed features.
        if main.ndim == rf.dim + 2:
            return _collapsed(main, rf)
        return _merge(fields)
    if out.ndim == main.ndim and tuple(out.shape[2:]) == tuple(main.shape[2:]):
        # Pointwise in space (activations, norms, add, mul, cat over channels): union.
        same = [f for t, f in zip(inputs, fields) if t.ndim == out.ndim and _broadcasts(t, out)]
        return _merge(same or fields)
    if name in REDUCE and out.ndim == main.ndim:
        return None
    return None


def _collapsed(x: torch.Tensor, rf: ReceptiveField) -> ReceptiveField:
    return rf.collapse(tuple(x.shape[-rf.dim:]))


def _broadcasts(t: torch.Tensor, out: torch.Tensor) -> bool:
    return all(a in (1, b) for a, b in zip(t.shape[2:], out.shape[2:]))


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


class _DenseMaxPool(TorchFunctionMode):
    """Replace max pooling by a window sum with identical geometry (gradient to every element)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in MAX_POOL:
            geometry = window(name, args, kwargs)
            x = bind(name, args, kwargs)["input"]
            out = _window_sum(x, geometry)
            return (out, torch.zeros_like(out, dtype=torch.long)) if bind(name, args, kwargs).get("return_indices") or name.endswith("with_indices") else out
        if name in ADAPTIVE and "max" in ADAPTIVE[name]:
            b = bind(name, args, kwargs)
            dim = b["input"].ndim - 2
            out = (F.adaptive_avg_pool1d if dim == 1 else F.adaptive_avg_pool2d)(b["input"], b["output_size"])
            return (out, torch.zeros_like(out, dtype=torch.long)) if name.endswith("with_indices") or b.get("return_indices") else out
        return func(*args, **kwargs)


def _window_sum(x: torch.Tensor, g) -> torch.Tensor:
    """Sum over each pooling window: a depthwise all-ones conv, padded to PyTorch's output size."""
    dim = x.ndim - 2
    out_size = pool_output_shape(tuple(x.shape[2:]), g.kernel, g.stride, g.padding, g.dilation, g.ceil_mode)
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


def _positive_copy(model: nn.Module) -> nn.Module:
    """A float64 copy in which every path from input to output has positive weight."""
    model = copy.deepcopy(model).double().eval()
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
                fan_in = module.weight[0].numel() if not isinstance(module, nn.modules.conv._ConvTransposeNd) else module.weight.shape[0]
                module.weight.fill_(1.0 / fan_in)
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
    targets = modules if modules is not None else {n: m for n, m in model.named_modules() if not list(m.children())}
    target_names = {names[id(m)]: label for label, m in targets.items()}
    work = _positive_copy(model)
    work_modules = dict(work.named_modules())
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for name, label in target_names.items():
        def hook(module, inp, out, label=label):
            if isinstance(out, torch.Tensor) and label not in outputs:
                outputs[label] = out
        handles.append(work_modules[name].register_forward_hook(hook))
    generator = torch.Generator().manual_seed(seed)
    x = (0.5 + torch.rand(1, *input_shape, generator=generator, dtype=torch.float64)).requires_grad_(True)
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
        (grad,) = torch.autograd.grad(out[(slice(None), slice(None), *centre)].sum(), x, retain_graph=True)
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
    """Predicted vs measured input interval of a layer's centre unit (clipped to the input)."""

    name: str
    predicted: tuple[tuple[int, int], ...]
    measured: tuple[tuple[int, int], ...]
    clipped: tuple[bool, ...] = ()

    @property
    def ok(self) -> bool:
        """Equal intervals; where the field was clipped at a border, the measured one may be
        inside it (a dilated kernel's hole can fall on the first or last input)."""
        clipped = self.clipped or (False,) * len(self.predicted)
        return all(
            p == m or (c and p[0] <= m[0] <= m[1] <= p[1])
            for p, m, c in zip(self.predicted, self.measured, clipped)
        )


def check_receptive_fields(model: nn.Module, table, input_shape, names: list[str] | None = None) -> list[FieldCheck]:
    """Measure the receptive field of the conv/pooling layers of a profile ``table`` and compare.

    Rows compared: named modules with a known, exact receptive field and a spatial output
    (first call of each module), restricted to ``names`` when given. The cost is one backward
    pass per layer, so use a small input.
    """
    spatial = tuple(input_shape[1:])
    modules = dict(model.named_modules())
    chosen, seen = {}, set()
    for row in table.rows:
        rf = row.receptive_field
        if row.name in seen or row.name not in modules or rf is None or not rf.exact or rf.dim != len(spatial):
            continue
        seen.add(row.name)
        if names is not None and row.name not in names:
            continue
        if names is None and row.kind is None:
            continue
        if row.output_shape is None or len(row.output_shape) != len(spatial) + 2:
            continue
        centre = tuple((n - 1) // 2 for n in row.output_shape[2:])
        clipped = tuple(lo < 0 or hi > n - 1 for (lo, hi), n in zip(rf.interval(centre), spatial))
        chosen[row.name] = (modules[row.name], predicted_interval(rf, row.output_shape[2:], spatial), clipped)
    measured = measure_receptive_field(model, input_shape, {n: m for n, (m, *_) in chosen.items()})
    return [FieldCheck(n, chosen[n][1], measured[n], chosen[n][2]) for n in chosen if n in measured]
