"""The spec mini-language: a quick layer stack in one string, built into a real ``nn.Module``.

It lives next to the operators because its words are theirs (any downsampling kind, any
head); the arithmetic it checks shapes with is :mod:`poolstride.geometry`'s, and the input
shape string is parsed by :func:`poolstride.geometry.shape_strings.parse_shape`.

Example: ``"conv3-96, conv3-96, max2, conv3-192/2, gap, fc-10"`` on input ``3x32x32``.

Grammar (items separated by commas; case and spaces are ignored)::

    item   := conv | pool | fc | head | act | norm | drop | kind
    conv   := "conv" K "-" OUT ["/" STRIDE] (":" copt)*      copt: pN | same | valid | dN | gN | dw | nobias
    pool   := ("max" | "avg") K ["/" STRIDE] (":" popt)*     popt: pN | dN (max only) | ceil
    fc     := "fc" ["-"] N                                  flattens first if the input is still spatial
    head   := "gap" | "gmp" | "avgmax" | "catavgmax" | "flatten"
    act    := "relu" | "gelu" | "silu" | "tanh" | "sigmoid"
    norm   := "bn"
    drop   := "drop" [P]                                    dropout, P in [0, 1) (default 0.5)
    kind   := KIND (":" TOKEN)* ["-" OUT] ["/" FACTOR]      any poolstride kind, e.g. blur-max:filt5,
                                                            conv:k3-128/2, space-to-depth, lp:p3

``conv`` pads ``dilation * (K - 1) // 2`` by default (the "keeps the size" padding for odd K),
stride 1; ``pool`` has stride K and no padding by default (PyTorch's defaults). A ``kind`` item
is built with :func:`poolstride.layers.make_downsample` (factor 2 unless ``/FACTOR``), heads with
:func:`poolstride.layers.make_head`; the input ``CxL`` gives 1D layers, ``CxHxW`` 2D.

Every malformed item raises a one-line :class:`PoolstrideError` naming the item number, the
character position in the spec and what was expected; impossible geometry (an output size
below 1) is reported the same way, with the numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from torch import nn

from poolstride.errors import PoolstrideError, closest
from poolstride.geometry.output_size import conv_output_shape, pool_output_shape, resolve_padding
from poolstride.geometry.shape_strings import parse_shape
from poolstride.layers import HEADS, KINDS, head_features, make_downsample, make_head
from poolstride.layers.dims import AVG_POOL, BATCH_NORM, CONV, MAX_POOL

__all__ = [
    "SpecItem",
    "SpecNet",
    "parse_spec",
    "build_spec",
    "spec_shapes",
    "GRAMMAR",
]

GRAMMAR = (
    "conv<k>-<out>[/<stride>][:p<n>|:same|:valid|:d<n>|:g<n>|:dw|:nobias], max<k>[/<stride>][:p<n>|:d<n>|:ceil], "
    "avg<k>[/<stride>][:p<n>|:ceil], fc-<n>, gap, gmp, avgmax, catavgmax, flatten, relu, gelu, silu, tanh, "
    "sigmoid, bn, drop[<p>], or a downsampling kind KIND[:opts][-<out>][/<factor>] (e.g. blur-max:filt5)"
)

_EXPECT = {
    "conv": "conv<k>-<out>[/<stride>][:p<n>|:same|:valid|:d<n>|:g<n>|:dw|:nobias], e.g. conv3-64 or conv3-128/2:p0",
    "max": "max<k>[/<stride>][:p<n>|:d<n>|:ceil], e.g. max2 or max3/2:p1",
    "avg": "avg<k>[/<stride>][:p<n>|:ceil], e.g. avg2 or avg3/2:p1",
    "fc": "fc-<n> with n >= 1, e.g. fc-10",
    "drop": "drop or drop<p> with 0 <= p < 1, e.g. drop0.5",
}
ACT_NAMES = ("relu", "gelu", "silu", "tanh", "sigmoid")
_WORDS = ("conv", "max", "avg", "fc", "bn", "drop", *HEADS, *ACT_NAMES)

_CONV_RE = re.compile(r"conv(?P<k>\d+)-(?P<out>\d+)(?:/(?P<s>\d+))?(?P<opts>(?::[a-z0-9.]+)*)")
_POOL_RE = re.compile(r"(?P<op>max|avg)(?P<k>\d+)(?:/(?P<s>\d+))?(?P<opts>(?::[a-z0-9.]+)*)")
_FC_RE = re.compile(r"fc-?(?P<n>\d+)")
_DROP_RE = re.compile(r"drop(?P<p>0?\.\d+|0)?")
_KIND_TAIL_RE = re.compile(r"(?P<opts>(?::[a-z0-9.x]+)*)(?:-(?P<out>\d+))?(?:/(?P<f>\d+))?")


@dataclass(frozen=True)
class SpecItem:
    """One parsed item: where it is in the spec and what it asks for."""

    text: str  # as written (lower case, spaces removed)
    number: int  # 1-based item number
    position: int  # 0-based character index of the item in the spec
    op: str  # conv | pool | fc | head | act | norm | drop | kind
    name: str  # conv, max, avg, fc, gap, relu, bn, drop, or the kind with its options
    kernel: int | None = None
    out: int | None = None  # output channels / features
    stride: int | None = None  # stride (pool/conv) or factor (kind)
    options: dict = field(default_factory=dict)

    def where(self) -> str:
        return f"item {self.number} {self.text!r} at character {self.position}"

    def error(self, message: str) -> PoolstrideError:
        return PoolstrideError(f"spec {self.where()}: {message}")


def parse_spec(spec: str) -> list[SpecItem]:
    """Parse a spec string into items (no shapes yet); errors carry item number and position."""
    if not isinstance(spec, str) or not spec.strip():
        raise PoolstrideError(
            f"empty spec {spec!r}; expected comma-separated layers, e.g. 'conv3-32, max2, gap, fc-10'"
        )
    items, offset = [], 0
    for number, raw in enumerate(spec.split(","), start=1):
        position = offset + (len(raw) - len(raw.lstrip()))
        offset += len(raw) + 1
        text = re.sub(r"\s+", "", raw).lower()
        if not text:
            raise PoolstrideError(
                f"spec item {number} at character {position} is empty; expected a layer: {GRAMMAR}"
            )
        items.append(_parse_item(text, number, position))
    return items


def _parse_item(text: str, number: int, position: int) -> SpecItem:
    def fail(expected: str, hint: str | None = None) -> PoolstrideError:
        msg = f"spec item {number} {text!r} at character {position}: expected {expected}"
        return PoolstrideError(msg + (f" (did you mean {hint!r}?)" if hint else ""))

    # Kinds first when they are written as kinds (max, avg, conv alone or with ':'/'-'/'/').
    kind = _match_kind(text, KINDS)
    if text.startswith("conv") and len(text) > 4 and text[4].isdigit():
        m = _CONV_RE.fullmatch(text)
        if not m:
            raise fail(_EXPECT["conv"])
        opts = _conv_options(m["opts"], lambda o: fail(_EXPECT["conv"] + f"; bad option {o!r}"))
        k, out = int(m["k"]), int(m["out"])
        if k < 1 or out < 1 or (m["s"] is not None and int(m["s"]) < 1):
            raise fail(_EXPECT["conv"] + "; kernel, channels and stride must be >= 1")
        return SpecItem(text, number, position, "conv", "conv", k, out, int(m["s"] or 1), opts)
    if text[:3] in ("max", "avg") and len(text) > 3 and text[3].isdigit():
        m = _POOL_RE.fullmatch(text)
        if not m:
            raise fail(_EXPECT[text[:3]])
        opts = _pool_options(
            m["op"], m["opts"], lambda o: fail(_EXPECT[text[:3]] + f"; bad option {o!r}")
        )
        k = int(m["k"])
        s = int(m["s"]) if m["s"] is not None else k
        if k < 1 or s < 1:
            raise fail(_EXPECT[text[:3]] + "; kernel and stride must be >= 1")
        return SpecItem(text, number, position, "pool", m["op"], k, None, s, opts)
    if text.startswith("fc"):
        m = _FC_RE.fullmatch(text)
        if not m or int(m["n"]) < 1:
            raise fail(_EXPECT["fc"])
        return SpecItem(text, number, position, "fc", "fc", out=int(m["n"]))
    if text in HEADS:
        return SpecItem(text, number, position, "head", text)
    if text in ACT_NAMES:
        return SpecItem(text, number, position, "act", text)
    if text == "bn":
        return SpecItem(text, number, position, "norm", "bn")
    if text.startswith("drop") and kind is None:
        m = _DROP_RE.fullmatch(text)
        if not m:
            raise fail(_EXPECT["drop"])
        return SpecItem(text, number, position, "drop", "drop", options={"p": float(m["p"] or 0.5)})
    if kind is not None:
        m = _KIND_TAIL_RE.fullmatch(text[len(kind) :])
        if not m:
            raise fail(
                f"a downsampling kind as KIND[:opts][-<out>][/<factor>], e.g. {kind}:k3-64/2"
            )
        name = kind + m["opts"]
        factor = int(m["f"]) if m["f"] is not None else 2
        out = int(m["out"]) if m["out"] is not None else None
        if factor < 1 or (out is not None and out < 1):
            raise fail("a factor and channel count >= 1")
        return SpecItem(text, number, position, "kind", name, None, out, factor)
    word = re.match(r"[a-z-]*", text)[0] or text
    hint = closest(word, (*_WORDS, *KINDS))
    if hint and hint == word:
        hint = None
    raise fail(f"a layer: {GRAMMAR}", hint)


def _match_kind(text: str, kinds: tuple[str, ...]) -> str | None:
    """Longest kind name that ``text`` starts with, followed by an end, ':', '-' or '/'."""
    for kind in sorted(kinds, key=len, reverse=True):
        if text.startswith(kind) and (len(text) == len(kind) or text[len(kind)] in ":-/"):
            return kind
    return None


def _conv_options(opts: str, fail) -> dict:
    out: dict = {}
    for opt in filter(None, opts.split(":")):
        if m := re.fullmatch(r"p(\d+)", opt):
            out["padding"] = int(m[1])
        elif opt in ("same", "valid"):
            out["padding"] = opt
        elif m := re.fullmatch(r"d(\d+)", opt):
            out["dilation"] = int(m[1])
        elif m := re.fullmatch(r"g(\d+)", opt):
            out["groups"] = int(m[1])
        elif opt == "dw":
            out["groups"] = "dw"
        elif opt == "nobias":
            out["bias"] = False
        else:
            raise fail(opt)
    if out.get("dilation", 1) < 1 or (isinstance(out.get("groups"), int) and out["groups"] < 1):
        raise fail(opts)
    return out


def _pool_options(op: str, opts: str, fail) -> dict:
    out: dict = {}
    for opt in filter(None, opts.split(":")):
        if m := re.fullmatch(r"p(\d+)", opt):
            out["padding"] = int(m[1])
        elif op == "max" and (m := re.fullmatch(r"d(\d+)", opt)) and int(m[1]) >= 1:
            out["dilation"] = int(m[1])
        elif opt == "ceil":
            out["ceil_mode"] = True
        else:
            raise fail(opt)
    return out


# --------------------------------------------------------------------------------------------
# Shapes (pure geometry) and modules


def _item_shape(item: SpecItem, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Output shape ``(C, *spatial)`` or ``(F,)`` of one item, by geometry alone."""
    spatial = shape[1:]
    if item.op in ("conv", "pool") and not spatial:
        raise item.error(
            f"needs a spatial input (C, ...) but gets features of shape {shape}; put it before gap/flatten/fc"
        )
    if item.op == "conv":
        k, d = item.kernel, item.options.get("dilation", 1)
        padding = item.options.get("padding", d * (k - 1) // 2)
        if padding == "same":
            padding = [resolve_padding("same", n, k, item.stride, d) for n in spatial]
        groups = _groups(item, shape[0])
        if shape[0] % groups or item.out % groups:
            raise item.error(
                f"groups={groups} must divide the input channels {shape[0]} and the output channels {item.out}"
            )
        return (item.out, *conv_output_shape(spatial, k, item.stride, padding, d))
    if item.op == "pool":
        o = item.options
        return (
            shape[0],
            *pool_output_shape(
                spatial,
                item.kernel,
                item.stride,
                o.get("padding", 0),
                o.get("dilation", 1),
                o.get("ceil_mode", False),
                f"{item.name} pool",
            ),
        )
    if item.op == "fc":
        return (item.out,)
    if item.op == "head":
        if not spatial:
            raise item.error(f"needs a spatial input (C, ...) but gets features of shape {shape}")
        return (head_features(item.name, shape[0], spatial),)
    return shape  # act, norm, drop keep the shape; kinds are measured on the module


def _groups(item: SpecItem, channels: int) -> int:
    g = item.options.get("groups", 1)
    return channels if g == "dw" else g


def _item_module(item: SpecItem, shape: tuple[int, ...]) -> nn.Module:
    dim = len(shape) - 1
    if item.op == "conv":
        k, d = item.kernel, item.options.get("dilation", 1)
        padding = item.options.get("padding", d * (k - 1) // 2)
        layer = CONV[dim](
            shape[0],
            item.out,
            k,
            item.stride,
            0 if padding == "same" else padding,
            d,
            groups=_groups(item, shape[0]),
            bias=item.options.get("bias", True),
        )
        if padding != "same":
            return layer
        # PyTorch refuses padding="same" with stride > 1: pad explicitly (TensorFlow's rule).
        pads = [resolve_padding("same", n, k, item.stride, d) for n in shape[1:]]
        flat = tuple(p for pair in reversed(pads) for p in pair)  # F.pad order: last axis first
        return nn.Sequential(nn.ZeroPad1d(flat) if dim == 1 else nn.ZeroPad2d(flat), layer)
    if item.op == "pool":
        o = item.options
        if item.name == "max":
            return MAX_POOL[dim](
                item.kernel,
                item.stride,
                o.get("padding", 0),
                o.get("dilation", 1),
                ceil_mode=o.get("ceil_mode", False),
            )
        return AVG_POOL[dim](
            item.kernel, item.stride, o.get("padding", 0), ceil_mode=o.get("ceil_mode", False)
        )
    if item.op == "fc":
        features = shape[0] if len(shape) == 1 else _numel(shape)
        linear = nn.Linear(features, item.out)
        return linear if len(shape) == 1 else nn.Sequential(nn.Flatten(1), linear)
    if item.op == "head":
        return make_head(item.name, shape[0], dim=dim)
    if item.op == "act":
        return {
            "relu": nn.ReLU,
            "gelu": nn.GELU,
            "silu": nn.SiLU,
            "tanh": nn.Tanh,
            "sigmoid": nn.Sigmoid,
        }[item.name]()
    if item.op == "norm":
        if len(shape) == 1:
            return nn.BatchNorm1d(shape[0])
        return BATCH_NORM[dim](shape[0])
    if item.op == "drop":
        return nn.Dropout(item.options["p"])
    if len(shape) == 1:
        raise item.error(f"needs a spatial input (C, ...) but gets features of shape {shape}")
    return make_downsample(item.name, shape[0], item.out, factor=item.stride, dim=dim)


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def spec_shapes(spec: str | list[SpecItem], input_shape) -> list[tuple[SpecItem, tuple[int, ...]]]:
    """Each item with its output shape ``(C, *spatial)`` or ``(F,)``, by geometry alone.

    Kind items are sized by the operator's own geometry (its ``output_size``); no tensors run.
    """
    items = parse_spec(spec) if isinstance(spec, str) else spec
    shape = parse_shape(input_shape)
    _check_elements(shape, "the input")
    out = []
    for item in items:
        if item.op == "kind":
            if item.out is not None and item.out > MAX_CHANNELS:
                raise item.error(f"{item.out} channels is more than {MAX_CHANNELS}")
            module = _built(item, shape)
            new = (module.out_channels or shape[0], *module.output_size(shape[1:]))
        else:
            new = _wrapped(item, _item_shape, shape)
            _check_weights(item, shape)
        _check_elements(new, f"the output of {item.where()}", item)
        shape = new
        out.append((item, shape))
    return out


#: Largest tensor (elements per example) and weight a spec may ask for: 2**28 float32
#: values are 1 GiB. Sizes are known from arithmetic before anything is allocated, so a
#: typo such as ``conv99999999-16`` or an input of 3x100000x100000 is refused at once.
MAX_ELEMENTS = 2**28
MAX_CHANNELS = 2**16


def _check_elements(shape: tuple[int, ...], what: str, item: SpecItem | None = None) -> None:
    n = _numel(shape)
    if n > MAX_ELEMENTS:
        message = (
            f"{what} has {n:,} values per example ({'x'.join(map(str, shape))}), more than "
            f"{MAX_ELEMENTS:,} (1 GiB of float32); use a smaller input or fewer channels"
        )
        raise item.error(message) if item is not None else PoolstrideError(f"spec: {message}")


def _check_weights(item: SpecItem, shape: tuple[int, ...]) -> None:
    """Refuse a conv or fc item whose weight alone would exceed :data:`MAX_ELEMENTS`."""
    if item.op == "conv":
        if item.out > MAX_CHANNELS:
            raise item.error(f"{item.out} channels is more than {MAX_CHANNELS}")
        weight = item.out * (shape[0] // _groups(item, shape[0])) * item.kernel ** (len(shape) - 1)
    elif item.op == "fc":
        weight = item.out * _numel(shape)
    else:
        return
    if weight > MAX_ELEMENTS:
        raise item.error(
            f"its weight would hold {weight:,} values, more than {MAX_ELEMENTS:,} (1 GiB of "
            "float32); use a smaller kernel or fewer channels"
        )


def _wrapped(item: SpecItem, fn, shape):
    try:
        return fn(item, shape)
    except PoolstrideError as err:
        message = str(err)
        if message.startswith("spec item"):
            raise
        raise item.error(message) from None


def _built(item: SpecItem, shape):
    module = _wrapped(item, _item_module, shape)
    if item.op == "kind":
        try:
            size = module.output_size(shape[1:])
        except PoolstrideError as err:
            raise item.error(str(err)) from None
        if min(size) < 1:
            raise item.error(
                f"output size {'x'.join(map(str, size))} < 1 for input {'x'.join(map(str, shape[1:]))}; "
                "use a larger input or fewer downsampling steps"
            )
    return module


def build_spec(spec: str | list[SpecItem], input_shape) -> SpecNet:
    """Build a :class:`SpecNet` (an ``nn.Sequential`` with one child per item) for ``input_shape``.

    Shapes are checked item by item with the geometry rules first, so an impossible stack fails
    with the item number and position before any module is created.
    """
    items = parse_spec(spec) if isinstance(spec, str) else spec
    shape = parse_shape(input_shape)
    modules = []
    for item, out_shape in spec_shapes(items, shape):
        modules.append(_built(item, shape))
        shape = out_shape
    return SpecNet(items, modules, parse_shape(input_shape))


class SpecNet(nn.Sequential):
    """An ``nn.Sequential`` built from a spec: child ``str(i)`` is item ``i + 1``."""

    def __init__(self, items, modules, input_shape):
        super().__init__(*modules)
        self.items = list(items)
        self.input_shape = tuple(input_shape)

    @property
    def spec(self) -> str:
        return ", ".join(item.text for item in self.items)
