"""``swap_downsampling``: rewrite every downsampling site of a model to one target variant.

The model is traced once (:mod:`poolstride.shape_trace`), its sites found
(:mod:`~poolstride.surgery.sites`), each selected site rewritten
(:mod:`~poolstride.surgery.replacement`: what a site becomes and how its output shape is
kept) and costed (:mod:`~poolstride.surgery.cost`) into the change table
(:mod:`~poolstride.surgery.changes`). Finally the whole model is traced again and every module
path common to both models must give the same output shape. The input model is never
modified: it is deep-copied and sites are replaced by path, so every other parameter and
buffer is bit-identical. A swap to ``subsample`` then folds each new decimation into the
convolution that feeds it, where one does (:mod:`~poolstride.surgery.fold`: the strided conv it
equals, 1/4 of that conv's MACs in 2D); every swap starts from the model with its folds undone.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
from collections.abc import Iterable

import torch
from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.geometry.shape_strings import format_shape, parse_input_shape
from poolstride.shape_trace import Trace, trace_shapes, zeros_like_model
from poolstride.surgery.changes import Change, Changes
from poolstride.surgery.cost import module_cost
from poolstride.surgery.describe import describe
from poolstride.surgery.fold import fold_site, folded_sites, stride_saving, unfold
from poolstride.surgery.replacement import rewrite_site
from poolstride.surgery.sites import Site, find_sites
from poolstride.surgery.target import ORIGINAL, parse_target

_DEFAULT_SIZE = 224


def default_input_shape(model: nn.Module) -> tuple[int, ...]:
    """``(C, 224, 224)`` (or ``(C, 224)`` for 1D) with ``C`` = the first conv's in_channels."""
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return (module.in_channels, *(_DEFAULT_SIZE,) * len(module.kernel_size))
    raise PoolstrideError(
        f"cannot guess the input shape of {type(model).__name__} (no convolution); "
        "pass input_shape, e.g. (3, 224, 224)"
    )


def _matches(path: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def _as_patterns(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _skip_reason(
    site: Site, index: int, include, exclude, min_channels: int, skip_stem: bool
) -> str:
    if not site.executed:
        return "not executed by the forward pass"
    if include and not _matches(site.path, include):
        return "not included"
    if exclude and _matches(site.path, exclude):
        return "excluded"
    channels = site.in_channels
    if channels is not None and channels < min_channels:
        return f"{channels} channels < min_channels"
    if skip_stem and index == 0:
        return "stem"
    return ""


def _functional_notes(trace: Trace, sites: list[Site]) -> list[str]:
    """Strided pooling/conv *function* calls outside every site: downsampling left as is."""
    inside = tuple(s.path for s in sites) + tuple(s.path + "." for s in sites)
    notes = []
    for path, func, stride in dict.fromkeys(trace.functional):
        if path and (path in inside or path.startswith(inside)):
            continue
        where = repr(path) if path else "the top-level forward()"
        step = stride[0] if len(set(stride)) == 1 else stride
        notes.append(f"{where} calls {func} (stride {step}) in forward()")
    return notes


def _set_module(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, name, module)


def _check_shapes(before: Trace, after: Trace, replaced: list[str]) -> None:
    """Every module path common to both traces must give the same output shape."""
    inside = tuple(p + "." for p in replaced)
    for path, calls in before.calls.items():
        if path.startswith(inside) or path not in after.calls:
            continue
        old = [c[1] for c in calls]
        new = [c[1] for c in after.calls[path]]
        if old != new:
            raise PoolstrideError(
                f"swap changed the output shape of {path!r}: {format_shape(old[0])} -> "
                f"{format_shape(new[0]) if new else 'not executed'}"
            )
    if before.output != after.output:
        raise PoolstrideError(
            f"swap changed the model output shape: {format_shape(before.output)} -> "
            f"{format_shape(after.output)}"
        )


def swap_downsampling(
    model: nn.Module,
    to: str,
    *,
    input_shape: tuple[int, ...] | None = None,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    min_channels: int = 0,
    skip_stem: bool = False,
    name: str = "",
) -> tuple[nn.Module, Changes]:
    """Rewrite every downsampling site of ``model`` to the kind ``to``; return (copy, changes).

    Args:
        model: any ``nn.Module``; never modified.
        to: a downsampling variant (``"max"``, ``"blur-max:filt5"``, ``"conv:k3"``...) or
            ``"original"`` (undo earlier swaps; a no-op on an unswapped model).
        input_shape: one example's shape without batch, ``(3, 64, 64)`` or ``"3x64x64"``; default the first
            conv's channels x 224 x 224. Shapes are checked and MACs counted at this size.
        include / exclude: glob patterns over module paths (``"layer*.0.downsample.0"``).
        min_channels: keep sites with fewer input channels.
        skip_stem: keep the first site in forward order (the stem's strided conv), as Zhang's
            anti-aliased networks do.
        name: model name for the change table's title.

    Returns:
        ``(new_model, changes)``: ``changes`` lists every site in forward order with its path,
        before/after, Δparams, ΔMACs and Δpooling ops per example at ``input_shape``.

    Raises:
        PoolstrideError: unknown target, no downsampling site, an include pattern matching no
        site, or a site whose output shape the target cannot preserve (named with shapes).
    """
    kind, options = parse_target(to)
    target = to.strip().lower()
    was_folded = folded_sites(model)
    model = unfold(model)  # a copy with earlier folds undone (the input is never modified)
    if input_shape is None:
        input_shape = default_input_shape(model)
    input_shape = parse_input_shape(input_shape)  # "3x64x64" or a tuple, validated
    what = name or type(model).__name__
    example = zeros_like_model(model, (1, *input_shape))
    before = trace_shapes(model, example, what=what)
    sites = find_sites(model, before)
    if not sites:
        raise PoolstrideError(
            f"{what} has no downsampling site (no pooling or convolution with stride > 1); "
            "downsampling done by functional calls in forward() cannot be swapped"
        )
    include, exclude = _as_patterns(include), _as_patterns(exclude)
    if include and not any(_matches(s.path, include) for s in sites):
        shown = ", ".join(s.path for s in sites[:6]) + (", ..." if len(sites) > 6 else "")
        raise PoolstrideError(
            f"include pattern(s) {', '.join(map(repr, include))} match no site of {what}; "
            f"sites: {shown}"
        )
    new = copy.deepcopy(model)
    changes = Changes(
        target=target, input_shape=input_shape, model=name, notes=_functional_notes(before, sites)
    )
    replaced = []
    executed = [s for s in sites if s.executed]
    for site in sites:
        index = executed.index(site) if site.executed else -1
        live = new.get_submodule(site.path)
        reason = _skip_reason(site, index, include, exclude, int(min_channels), skip_stem)
        if reason:
            module, action = live, "kept"
        else:
            module, action, reason = rewrite_site(site, live, kind, options, target)
        if module is not live:
            _set_module(new, site.path, module)
            replaced.append(site.path)
            module.train(live.training)  # new modules follow the mode of what they replace
            module.to(example.device)  # ... and the model's device and floating dtype
            if example.dtype != torch.float32:
                module.to(example.dtype)
            if action == "kept":  # an earlier swap undone: the site already is the target
                action = "restored"
        cost_before = module_cost(site.module, site.input_shape) if site.executed else None
        cost_after = module_cost(module, site.input_shape) if site.executed else None
        delta = cost_after - cost_before if site.executed else None
        changes.rows.append(
            Change(
                path=site.path,
                action=action,
                before=describe(site.module),
                after=describe(module),
                input_shape=site.input_shape,
                output_shape=site.output_shape,
                d_params=delta.params if delta else 0,
                d_macs=delta.macs if delta else 0,
                d_pool_ops=delta.pool_ops if delta else 0,
                reason=reason,
            )
        )
    if replaced:
        _check_shapes(before, trace_shapes(new, example, what=f"swapped {what}"), replaced)
    if was_folded:
        _count_from_folds(model, changes, before, was_folded)
    if target == "subsample":
        _fold_subsamples(new, changes, before)
    return new, changes


def _count_from_folds(model, changes: Changes, before: Trace, was_folded: dict) -> None:
    """Rows of sites that were folded in the input: cost and description from the fold."""
    for i, row in enumerate(changes.rows):
        folded = was_folded.get(row.path)
        if folded is None or row.input_shape is None:
            continue
        conv = model.get_submodule(folded.conv_path)
        saving = stride_saving(conv, before.calls[folded.conv_path][0][0], folded.stride)
        changes.rows[i] = dataclasses.replace(
            row, before=describe(folded), d_macs=row.d_macs - saving.macs
        )


def _fold_subsamples(model: nn.Module, changes: Changes, before: Trace) -> None:
    """Fold every replaced ``subsample`` site into the conv feeding it; update its row."""
    for i, row in enumerate(changes.rows):
        if row.action != "replaced":
            continue
        folded = fold_site(model, row.path, before)
        if folded is None:
            continue
        conv_path, delta = folded
        changes.rows[i] = dataclasses.replace(
            row,
            after=describe(model.get_submodule(row.path)),
            d_macs=row.d_macs + delta.macs,
            reason=f"decimation done by {conv_path} as a strided conv",
        )


def model_variant(
    model: nn.Module, variant: str, *, input_shape: tuple[int, ...] | None = None
) -> nn.Module:
    """The one call ``compare`` uses: ``model`` with its downsampling swapped to ``variant``.

    ``"original"`` returns an unchanged deep copy (undoing earlier swaps, if any). Sites are
    checked at ``input_shape`` (``(C, H, W)``, default ``(C, 224, 224)``).
    """
    kind, _ = parse_target(variant)
    if kind == ORIGINAL and not any(s.swapped for s in find_sites(model)):
        return copy.deepcopy(model)
    return swap_downsampling(model, variant, input_shape=input_shape)[0]


__all__ = ["default_input_shape", "model_variant", "swap_downsampling"]
