"""Receptive fields measured by back-propagation, to check the graph rule.

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
from dataclasses import dataclass
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

from poolstride.analysis import extent as extents
from poolstride.analysis.ops import ADAPTIVE, MAX_POOL, SeeAllCalls, bind, window
from poolstride.geometry.output_size import pool_output_shape
from poolstride.geometry.receptive_field import ReceptiveField
from poolstride.layers.dims import ADAPTIVE_AVG_POOL_FN, CONV_FN

__all__ = ["FieldCheck", "check_receptive_fields", "measure_receptive_field", "predicted_interval"]


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
            out = ADAPTIVE_AVG_POOL_FN[dim](b["input"], b["output_size"])
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
    y = CONV_FN[dim](F.pad(x, flat), weight, None, g.stride, 0, g.dilation, channels)
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
