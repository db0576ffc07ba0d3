"""``swap_downsampling``: rewrite every downsampling site of a model to one target kind.

The rewrite, per site (see :mod:`~poolstride.surgery.sites` for what a site is):

==============================  ===========================================================
site                            target ``T``
==============================  ===========================================================
pool (max/avg/lp/poolstride)    replaced by ``make_downsample(T, C, C, factor=stride)``;
                                kept if it already is ``T``
strided conv, ``T`` a pool or   ``SplitStride``: the same conv at stride 1 (weights kept) +
blur kind                       ``make_downsample(T)`` doing the striding (pointwise convs:
                                the pool goes first -- same cost, exact for linear pools)
strided conv, ``T`` = ``conv``  kept: it already is a learned strided conv (``subsample``:
/ ``dwconv`` / ``subsample``    a stride-s conv *is* a stride-1 conv then subsampling)
strided conv, ``blur-conv``     ``SplitStride``: conv at stride 1 + ``blur-avg`` (Zhang 2019)
any, ``T`` = ``original``       restored to what it was before any poolstride swap
==============================  ===========================================================

Every site keeps its output shape. Where a replacement rounds an odd size the other way than
the original (``floor`` vs ``ceil``), ``ceil_mode`` is tried first, then the original window's
padding, then a ``TrailingPad`` (replicate or crop the input end by less than two strides); if
nothing fits (``none``: no downsampling at all) a one-line error names the site and the shapes. Finally the whole model is traced again and every module path common to
both models must give the same output shape. The input model is never modified: it is deep-
copied and sites are replaced by path, so every other parameter and buffer is bit-identical.
"""

from __future__ import annotations

import copy
import fnmatch
import itertools
from collections.abc import Iterable

import torch
from torch import nn

from poolstride import layers
from poolstride.errors import PoolstrideError
from poolstride.geometry.output_size import as_tuple
from poolstride.surgery.changes import Change, Changes
from poolstride.surgery.cost import module_cost
from poolstride.surgery.modules import SplitStride, TrailingPad
from poolstride.surgery.sites import (
    Site,
    find_sites,
    mark_original,
    module_dim,
    operator_kind,
)
from poolstride.surgery.trace import Trace, format_shape, trace_shapes, zeros_like_model

ORIGINAL = "original"
# Targets for which a strided convolution already is the answer (the site is kept).
_CONV_KEEPS = {
    "conv": "already a strided conv",
    "dwconv": "already a strided conv",
    "subsample": "strided conv = stride-1 conv + subsample",
}
_DEFAULT_SIZE = 224


def parse_target(to: str) -> tuple[str, dict]:
    """``"blur-max:filt5"`` -> ``("blur-max", {"filt_size": 5})``; ``"original"`` passes."""
    if isinstance(to, str) and to.strip().lower() == ORIGINAL:
        return ORIGINAL, {}
    return layers.parse_variant(to)


def default_input_shape(model: nn.Module) -> tuple[int, ...]:
    """``(C, 224, 224)`` (or ``(C, 224)`` for 1D) with ``C`` = the first conv's in_channels."""
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return (module.in_channels, *(_DEFAULT_SIZE,) * len(module.kernel_size))
    raise PoolstrideError(
        f"cannot guess the input shape of {type(model).__name__} (no convolution); "
        "pass input_shape, e.g. (3, 224, 224)"
    )


def describe(module: nn.Module) -> str:
    """Short one-line description: ``Conv2d 64->128 k3 s2 p1``, ``MaxPool2d k3 s2 p1``."""

    def t(value) -> str:
        value = tuple(value) if isinstance(value, (tuple, list)) else (value,)
        return str(value[0]) if len(set(value)) == 1 else "x".join(map(str, value))

    if isinstance(module, SplitStride):
        conv, down = describe(module.conv), describe(module.down)
        return f"{down} -> {conv}" if module.down_first else f"{conv} -> {down}"
    if (
        isinstance(module, nn.Sequential)
        and len(module) == 2
        and isinstance(module[0], TrailingPad)
    ):
        return f"{describe(module[0])} -> {describe(module[1])}"
    if isinstance(module, TrailingPad):
        amounts = module.amounts
        if min(amounts) >= 0:
            return f"pad+{t(amounts)}"
        if max(amounts) <= 0:
            return f"crop{t(tuple(-a for a in amounts))}"
        return "pad/crop " + "x".join(f"{a:+d}" for a in amounts)
    if isinstance(module, nn.modules.conv._ConvNd):
        text = (
            f"{type(module).__name__} {module.in_channels}->{module.out_channels} "
            f"k{t(module.kernel_size)} s{t(module.stride)}"
        )
        padding = module.padding if isinstance(module.padding, str) else t(module.padding)
        text += f" p{padding}" if padding != "0" else ""
        text += f" d{t(module.dilation)}" if max(module.dilation) > 1 else ""
        if module.groups > 1:
            text += " dw" if module.groups == module.in_channels else f" g{module.groups}"
        return text
    if isinstance(module, nn.modules.pooling._LPPoolNd):
        return f"{type(module).__name__} p{module.norm_type:g} k{t(module.kernel_size)} s{t(module.stride)}"
    if isinstance(module, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
        stride = module.stride if module.stride is not None else module.kernel_size
        text = f"{type(module).__name__} k{t(module.kernel_size)} s{t(stride)}"
        text += f" p{t(module.padding)}" if t(module.padding) != "0" else ""
        text += " ceil" if module.ceil_mode else ""
        return text
    if isinstance(module, layers.Downsample):
        if module.variant.startswith("blur"):  # composites, named by their variant
            text = f"{module.variant} s{t(module.stride)}"
        else:  # the others by their window
            text = f"{module.variant.split(':')[0]} k{t(module.kernel_size)} s{t(module.stride)}"
            text += f" p{t(module.padding)}" if t(module.padding) != "0" else ""
            text += " ceil" if module.ceil_mode else ""
        if module.in_channels is not None and module.out_channels != module.in_channels:
            text += f" {module.in_channels}->{module.out_channels}"
        return text
    return type(module).__name__


def _spatial(shape) -> tuple[int, ...]:
    return tuple(shape[2:])


def _output_size(module: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """Output shape of ``module`` on zeros of ``shape`` (None if it cannot take them)."""
    training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return tuple(module(zeros_like_model(module, shape)).shape)
    except (RuntimeError, ValueError):
        return None
    finally:
        module.train(training)


def _build_down(
    site: Site,
    kind: str,
    options: dict,
    target: str,
    channels: int,
    in_shape: tuple[int, ...],
    want: tuple[int, ...],
) -> nn.Module:
    """``make_downsample`` for ``site`` (``channels`` in, ``want[1]`` out), fitted so
    ``in_shape`` maps to ``want`` (shapes with batch)."""
    stride = site.stride
    extra: dict = {}
    if len(set(stride)) > 1:
        if "stride" not in layers.KIND_OPTIONS[kind]:
            raise PoolstrideError(
                f"cannot swap {site.path!r} to {target!r}: its stride {stride} differs per "
                f"dimension and {kind} takes a single factor"
            )
        extra["stride"] = stride
    factor = max(stride)

    def make(**more) -> nn.Module:
        return layers.make_downsample(
            target, channels, want[1], factor=factor, dim=site.dim, **extra, **more
        )

    # Ways to round like the original, tried in order: the kind's defaults, ceil_mode, the
    # original window's padding (a padded 2x2/2 pool maps 8 -> 5), both.
    variations: list[dict] = [{}]
    allowed = layers.KIND_OPTIONS[kind]
    if "ceil_mode" in allowed and "ceil_mode" not in options:
        variations.append({"ceil_mode": True})
    pad = getattr(site.original, "padding", None)
    if (
        site.role == "pool"
        and "padding" in allowed
        and "padding" not in options
        and pad is not None
    ):
        pad = as_tuple(pad, site.dim)
        variations += [{**v, "padding": pad} for v in list(variations)]
    candidates = []
    tried = None
    for more in variations:
        try:
            down = make(**more)
        except PoolstrideError:  # e.g. padding larger than half the new window
            continue
        candidates.append(down)
        got = _output_size(down, in_shape)
        tried = tried or got
        if got == want:
            return down
    # Off by an output or two in some dimension: extend the input end by replication or crop
    # it, by less than two strides -- only for an operator that downsamples by the site's
    # stride ('none' cannot stand in for a stride-2 site).
    down = candidates[0] if candidates else make()
    same_stride = tuple(as_tuple(getattr(down, "stride", 1), site.dim)) == tuple(stride)
    if same_stride:
        # Dimensions are searched jointly: an operator may reject a probe whose other
        # dimensions are still too small (blur's reflect padding on a 2x2 map).
        ranges = [sorted(range(-2 * s + 1, 2 * s), key=lambda v: (abs(v), -v)) for s in stride]
        for amounts in sorted(itertools.product(*ranges), key=lambda a: sum(map(abs, a))):
            probe = (*in_shape[:2], *(n + a for n, a in zip(in_shape[2:], amounts)))
            if min(probe) < 1 or not any(amounts):
                continue
            if _output_size(down, probe) == want:
                return nn.Sequential(TrailingPad(tuple(amounts)), down)
    gives = _with_channels(tried, site)
    raise PoolstrideError(
        f"cannot swap {site.path!r} ({describe(site.original)}) to {target!r}: the site maps "
        f"{format_shape(site.input_shape)} -> {format_shape(site.output_shape)} but {target!r} "
        + (f"gives {format_shape(gives)}" if gives else "cannot take its input (too small)")
    )


def _with_channels(shape, site: Site):
    """The shape a failed replacement would give, as the site's output (for error messages)."""
    if shape is None:
        return None
    if site.role == "conv":
        return (shape[0], site.original.out_channels, *shape[2:])
    return shape


def _rewrite(site: Site, live: nn.Module, kind: str, options: dict, target: str):
    """Return ``(new module, action, reason)`` for one site; ``live`` is its module in the copy."""
    if kind == ORIGINAL:
        if not site.swapped:
            return live, "kept", "original"
        if isinstance(live, SplitStride):
            conv = live.conv
            conv.stride = live.stride
            return conv, "restored", ""
        return copy.deepcopy(site.original), "restored", ""

    in_shape, want = site.input_shape, site.output_shape
    if site.role == "pool":
        if operator_kind(site.original) == target.strip().lower() or (
            not isinstance(site.original, layers.Downsample)
            and operator_kind(site.original) == kind
            and not options
        ):
            return _restore(site, live), "kept", f"already {operator_kind(site.original)}"
        down = _build_down(site, kind, options, target, in_shape[1], in_shape, want)
        if _geometry(down) is not None and _geometry(down) == _geometry(site.original):
            return _restore(site, live), "kept", "same operator and geometry"
        return mark_original(down, site.original), "replaced", ""

    # A strided convolution: keep its weights, move the striding to a separate operator.
    if kind in _CONV_KEEPS:
        return _restore(site, live), "kept", _CONV_KEEPS[kind]
    conv = live.conv if isinstance(live, SplitStride) else live
    conv.stride = (1,) * site.dim
    pointwise = (
        max(conv.kernel_size) == 1 and not isinstance(conv.padding, str) and max(conv.padding) == 0
    )
    if kind == "blur-conv":
        down_kind = "blur-avg" + (f":filt{options['filt_size']}" if "filt_size" in options else "")
        kind, options, target = (
            "blur-avg",
            {k: v for k, v in options.items() if k == "filt_size"},
            down_kind,
        )
    if pointwise:
        channels = conv.in_channels
        down = _build_down(
            site,
            kind,
            options,
            target,
            channels,
            in_shape,
            (in_shape[0], channels, *_spatial(want)),
        )
    else:
        dense = _output_size(conv, in_shape)
        down = _build_down(site, kind, options, target, conv.out_channels, dense, want)
    return SplitStride(conv, down, stride=site.stride, down_first=pointwise), "split", ""


def _geometry(module: nn.Module) -> tuple | None:
    """(kind, kernel, stride, padding, dilation, ceil, count_include_pad) of a max/avg pool."""
    kind = operator_kind(module).split(":")[0]
    if kind not in ("max", "avg") or not hasattr(module, "kernel_size"):
        return None
    dim = module_dim(module)
    stride = module.stride if module.stride is not None else module.kernel_size
    return (
        kind,
        as_tuple(module.kernel_size, dim),
        as_tuple(stride, dim),
        as_tuple(module.padding, dim),
        as_tuple(getattr(module, "dilation", 1), dim),
        bool(module.ceil_mode),
        bool(getattr(module, "count_include_pad", True)),
    )


def _restore(site: Site, live: nn.Module) -> nn.Module:
    """The site as it originally was (for 'kept' sites of an already swapped model)."""
    if not site.swapped:
        return live
    if isinstance(live, SplitStride):
        conv = live.conv
        conv.stride = live.stride
        return conv
    return copy.deepcopy(site.original)


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
    if input_shape is None:
        input_shape = default_input_shape(model)
    from poolstride.zoo import parse_input_shape  # "3x64x64" or a tuple, validated

    input_shape = parse_input_shape(input_shape)
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
            module, action, reason = _rewrite(site, live, kind, options, target)
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
    return new, changes


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


__all__ = [
    "ORIGINAL",
    "default_input_shape",
    "describe",
    "model_variant",
    "parse_target",
    "swap_downsampling",
]
