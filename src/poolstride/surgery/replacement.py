"""What one downsampling site becomes, and how the replacement keeps its output shape.

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
nothing fits (``none``: no downsampling at all) a one-line error names the site and the
shapes.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.geometry.output_size import as_tuple
from poolstride.geometry.shape_strings import format_shape
from poolstride.layers import KIND_OPTIONS, Downsample, make_downsample
from poolstride.shape_trace import zeros_like_model
from poolstride.surgery.describe import describe
from poolstride.surgery.modules import SplitStride, TrailingPad
from poolstride.surgery.sites import Site, mark_original, module_dim, operator_kind
from poolstride.surgery.target import ORIGINAL

__all__ = ["fit_downsample", "output_shape", "rewrite_site"]

# Targets for which a strided convolution already is the answer (the site is kept).
_CONV_KEEPS = {
    "conv": "already a strided conv",
    "dwconv": "already a strided conv",
    "subsample": "strided conv = stride-1 conv + subsample",
}


def _spatial(shape) -> tuple[int, ...]:
    return tuple(shape[2:])


def output_shape(module: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...] | None:
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


def fit_downsample(
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
        if "stride" not in KIND_OPTIONS[kind]:
            raise PoolstrideError(
                f"cannot swap {site.path!r} to {target!r}: its stride {stride} differs per "
                f"dimension and {kind} takes a single factor"
            )
        extra["stride"] = stride
    factor = max(stride)

    def make(**more) -> nn.Module:
        return make_downsample(
            target, channels, want[1], factor=factor, dim=site.dim, **extra, **more
        )

    # Ways to round like the original, tried in order: the kind's defaults, ceil_mode, the
    # original window's padding (a padded 2x2/2 pool maps 8 -> 5), both.
    variations: list[dict] = [{}]
    allowed = KIND_OPTIONS[kind]
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
        got = output_shape(down, in_shape)
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
            if output_shape(down, probe) == want:
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


def rewrite_site(site: Site, live: nn.Module, kind: str, options: dict, target: str):
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
            not isinstance(site.original, Downsample)
            and operator_kind(site.original) == kind
            and not options
        ):
            return _restore(site, live), "kept", f"already {operator_kind(site.original)}"
        down = fit_downsample(site, kind, options, target, in_shape[1], in_shape, want)
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
        down = fit_downsample(
            site,
            kind,
            options,
            target,
            channels,
            in_shape,
            (in_shape[0], channels, *_spatial(want)),
        )
    else:
        dense = output_shape(conv, in_shape)
        down = fit_downsample(site, kind, options, target, conv.out_channels, dense, want)
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
