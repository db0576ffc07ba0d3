"""Shift invariance of a trained classifier: prediction consistency and feature stability.

Two ways to move a signal by ``d`` samples along each spatial axis:

- ``circular``: :func:`torch.roll` — nothing is lost, what leaves one side enters the other;
- ``crop``: content moves and the vacated border is zero — the same as cropping a window at
  offset ``d`` from a zero-padded input (antialiased-cnns' "random crops" in spirit).

Metrics (all in eval mode, no gradients):

- :func:`shift_consistency` — the share of inputs whose predicted class is the same under two
  independent random shifts with offsets in ``[-max_shift, max_shift]`` per axis
  (Zhang 2019, "Making convolutional networks shift-invariant again").
- :func:`consistency_by_offset` — for each offset ``d``, the share of inputs whose prediction
  when shifted by ``d`` (on every spatial axis) equals the unshifted prediction.
- :func:`feature_stability` — per downsampling layer, the relative change of its output when
  the input moves by one sample: ``||f(shift(x)) - f(x)||₂ / ||f(x)||₂`` over the batch.
  0 means the layer's output did not change at all; a stride-2 layer cannot be exactly
  equivariant to a one-sample shift, so this measures how much aliasing perturbs it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from poolstride.errors import unknown

SHIFT_MODES = ("circular", "crop")


def shift_per_sample(
    x: torch.Tensor, offsets: torch.Tensor, mode: str = "circular"
) -> torch.Tensor:
    """Shift sample ``i`` of ``x`` ``(N, C, *spatial)`` by ``offsets[i]`` ``(N, n_spatial)``.

    A positive offset moves content towards higher indices (like ``torch.roll``).
    """
    if mode not in SHIFT_MODES:
        raise unknown("shift mode", mode, SHIFT_MODES)
    n = x.shape[0]
    spatial = x.shape[2:]
    offsets = offsets.to(device=x.device, dtype=torch.long).view(n, len(spatial))
    pad = int(offsets.abs().max()) if (mode == "crop" and offsets.numel()) else 0
    out = F.pad(x, [pad] * (2 * len(spatial))) if pad else x
    for axis, size in enumerate(spatial):
        dim = 2 + axis
        src = torch.arange(size, device=x.device)[None, :] - offsets[:, axis : axis + 1]
        src = src % size if mode == "circular" else src + pad  # (N, size) source positions
        shape = [n] + [1] * (out.ndim - 1)
        shape[dim] = size
        sizes = [out.shape[d] if d not in (0, dim) else shape[d] for d in range(out.ndim)]
        out = torch.gather(out, dim, src.view(shape).expand(*sizes))
    return out


def shift(x: torch.Tensor, offset: int | Sequence[int], mode: str = "circular") -> torch.Tensor:
    """Shift every sample of ``x`` by the same ``offset`` (an int: on every spatial axis)."""
    k = x.ndim - 2
    per_axis = [offset] * k if isinstance(offset, int) else list(offset)
    offsets = torch.tensor(per_axis, dtype=torch.long).expand(x.shape[0], k)
    return shift_per_sample(x, offsets, mode)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted class per sample (eval mode, batched); the model's mode is restored."""
    was_training = model.training
    model.eval()
    preds = [model(x[i : i + batch_size]).argmax(1) for i in range(0, x.shape[0], batch_size)]
    model.train(was_training)
    return torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long, device=x.device)


def shift_consistency(
    model: nn.Module,
    x: torch.Tensor,
    *,
    max_shift: int,
    mode: str = "circular",
    generator: torch.Generator | None = None,
    batch_size: int = 1000,
) -> float:
    """Share of inputs predicted the same under two random shifts in ``[-max_shift, max_shift]``.

    Offsets are drawn independently per sample and per spatial axis (on the CPU generator
    ``generator``, so the result is reproducible on any device).
    """
    if x.shape[0] == 0:
        return float("nan")
    shape = (x.shape[0], x.ndim - 2)
    a = torch.randint(-max_shift, max_shift + 1, shape, generator=generator)
    b = torch.randint(-max_shift, max_shift + 1, shape, generator=generator)
    pa = predict(model, shift_per_sample(x, a, mode), batch_size)
    pb = predict(model, shift_per_sample(x, b, mode), batch_size)
    return float((pa == pb).double().mean())


def consistency_by_offset(
    model: nn.Module,
    x: torch.Tensor,
    offsets: Sequence[int],
    *,
    mode: str = "circular",
    batch_size: int = 1000,
) -> dict[int, float]:
    """For each offset ``d``: share of inputs whose prediction at shift ``d`` equals shift 0."""
    base = predict(model, x, batch_size)
    return {
        int(d): float((predict(model, shift(x, int(d), mode), batch_size) == base).double().mean())
        for d in offsets
    }


def downsampling_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's downsampling sites, outermost first.

    A site is a module carrying poolstride's ``kind`` and ``factor`` attributes (every module
    built by ``make_downsample``), else a plain PyTorch pooling layer or a convolution with a
    stride above 1. Modules nested inside a site are not listed again.
    """
    sites: list[tuple[str, nn.Module]] = []
    inside: list[str] = []
    for name, module in model.named_modules():
        if not name or any(name.startswith(prefix + ".") for prefix in inside):
            continue
        if _is_downsampling(module):
            sites.append((name, module))
            inside.append(name)
    return sites


def _is_downsampling(module: nn.Module) -> bool:
    if isinstance(getattr(module, "kind", None), str) and hasattr(module, "factor"):
        return True
    pools = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.LPPool1d, nn.LPPool2d)
    if isinstance(module, pools):
        return True
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return any(s > 1 for s in module.stride)
    return False


@torch.no_grad()
def feature_stability(
    model: nn.Module,
    x: torch.Tensor,
    *,
    step: int = 1,
    mode: str = "circular",
    layers: Sequence[tuple[str, nn.Module]] | None = None,
) -> dict[str, float]:
    """Relative L2 change of each downsampling layer's output when the input moves ``step``.

    Returns ``{layer name: ||f(shift(x)) - f(x)|| / ||f(x)||}`` in model order (an all-zero
    output gives 0 when unchanged, inf otherwise).
    """
    layers = downsampling_layers(model) if layers is None else list(layers)
    outputs: dict[str, list[torch.Tensor]] = {name: [] for name, _ in layers}
    hooks = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: outputs[name].append(out.detach())
        )
        for name, module in layers
    ]
    was_training = model.training
    model.eval()
    try:
        model(x)
        model(shift(x, step, mode))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    result = {}
    for name, (ref, moved) in ((k, v[:2]) for k, v in outputs.items() if len(v) >= 2):
        num = torch.linalg.vector_norm((moved - ref).double())
        den = torch.linalg.vector_norm(ref.double())
        result[name] = float(num / den) if den > 0 else (0.0 if num == 0 else float("inf"))
    return result
