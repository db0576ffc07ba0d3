"""What every downsampling module shares: normalised geometry, input checks, projection.

Geometry is normalised once, at construction, to tuples of length ``dim`` (``kernel_size``,
``stride``, ``padding``, ``dilation``) plus ``ceil_mode``, so analysis code never meets a bare
int. For composite operators (blur kinds) the attributes describe the whole operator as one
window: its total extent, its stride and its left padding, which is what receptive-field
arithmetic needs.

Output size — ONE rule, PyTorch's (floor unless ``ceil_mode``), per spatial dimension::

    out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1

With ``ceil_mode=True`` the division rounds up, except that a last window starting in the right
padding is dropped (as PyTorch). Odd sizes therefore round down: a 2x2/2 pool maps 7 -> 3.
The arithmetic lives in :mod:`poolstride.geometry.output_size`; :meth:`Downsample.output_size`
applies it per dimension and gives the exact size for any module (composites included).

Inputs must be batched: ``(N, C, L)`` for ``dim=1``, ``(N, C, H, W)`` for ``dim=2``. Unlike
PyTorch's pooling layers, unbatched ``(C, L)`` / ``(C, H, W)`` inputs are rejected (a 3-D tensor
would be ambiguous between unbatched 2D and batched 1D); add the batch dimension with
``x.unsqueeze(0)``. Checks at forward time are a few integer comparisons.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.geometry.output_size import (
    as_tuple,
    conv_output_size,
    effective_kernel,
    pool_output_size,
)
from poolstride.layers.dims import CONV, LAYOUT
from poolstride.layers.option_tokens import format_options


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def to_tuple(value: Any, dim: int, name: str, owner: str, minimum: int) -> tuple[int, ...]:
    """Normalise an int or a length-``dim`` sequence of ints to a tuple; check ``>= minimum``.

    Stricter than :func:`poolstride.geometry.output_size.as_tuple`, which does the
    broadcasting: ints only, and a sequence must have exactly ``dim`` entries."""
    exact = isinstance(value, (tuple, list)) and len(value) == dim and all(map(_is_int, value))
    if not (_is_int(value) or exact):
        raise PoolstrideError(
            f"{owner}: {name} must be an int or a tuple of {dim} ints, got {value!r}"
        )
    values = tuple(int(v) for v in as_tuple(value, dim, name))
    if min(values) < minimum:
        raise PoolstrideError(f"{owner}: {name} must be >= {minimum}, got {value!r}")
    return values


def check_dim(dim: Any, owner: str) -> int:
    if dim not in (1, 2) or isinstance(dim, bool):
        raise PoolstrideError(f"{owner}: dim must be 1 or 2, got {dim!r}")
    return int(dim)


def require_channels(kind: str, in_channels: Any, has: str) -> None:
    """Learnable kinds need ``in_channels`` to size their weights (``has``: what they hold)."""
    if in_channels is None:
        raise PoolstrideError(f"{kind}: in_channels is required (it has {has})")


def check_factor(factor: Any, owner: str) -> int:
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise PoolstrideError(f"{owner}: factor must be an integer >= 1, got {factor!r}")
    return int(factor)


def halving_padding(
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pool_limit: bool = True,
) -> tuple[int, ...]:
    """Default padding: ``(effective_kernel - 1) // 2`` when windows overlap, else 0.

    With it an overlapping window (``max:k3`` = 3x3 window, stride 2, padding 1) still maps a
    size that is a multiple of the stride ``s`` to exactly ``size / s`` (for ``s >= 2``), like
    the non-overlapping ``k = s`` window; non-overlapping windows are never padded. For pooling
    (``pool_limit``) it is capped at PyTorch's limit ``kernel_size // 2``, which only bites for
    dilated windows (``max:k3:d2`` pads 1, not 2).
    """
    pads = []
    for k, s, d in zip(kernel, stride, dilation):
        eff = effective_kernel(k, d)
        pad = (eff - 1) // 2 if eff > s else 0
        pads.append(min(pad, k // 2) if pool_limit else pad)
    return tuple(pads)


def check_padding(owner: str, kernel, padding, dilation) -> None:
    """PyTorch's pooling limit: padding at most half the kernel size (``padding <= k // 2``).

    PyTorch compares with the kernel size itself, not the dilated extent, so this does too.
    """
    for k, p, d in zip(kernel, padding, dilation):
        if p > k // 2:
            raise PoolstrideError(
                f"{owner}: padding {p} is more than half the kernel size {k} (dilation {d}); "
                f"valid: padding <= {k // 2}"
            )


def conv1x1(dim: int, in_channels: int, out_channels: int, bias: bool = True) -> nn.Module:
    """A 1x1 (pointwise) convolution, used to change the channel count after a fixed pool."""
    return CONV[dim](in_channels, out_channels, kernel_size=1, bias=bias)


# Keyword-only parameters every kind's ``__init__`` takes that are not kind options.
_NOT_OPTIONS = ("factor", "dim")

#: Each kind option once, as ``name: (annotation, default)``. A kind class lists the options
#: it takes in ``option_names``; its ``__init__`` signature is built from them and this table
#: (:func:`kind_signature`), so ``inspect.signature(MaxPool)`` shows ``kernel_size: Any = None``.
OPTION_DEFAULTS: dict[str, tuple[str, Any]] = {
    "p": ("float", 2.0),
    "kernel_size": ("Any", None),
    "stride": ("Any", None),
    "padding": ("Any", None),
    "dilation": ("Any", 1),
    "ceil_mode": ("bool", False),
    "count_include_pad": ("bool", True),
    "filt_size": ("int", 3),
    "output_size": ("Any", None),
    "bias": ("bool", True),
}

_P = inspect.Parameter


def kind_signature(cls: type[Downsample]) -> inspect.Signature:
    """``(self, in_channels=None, out_channels=None, *, factor=2, dim=2, <options>)`` of a kind
    class: its ``option_names``, with the defaults of :data:`OPTION_DEFAULTS` (or of the
    class's ``option_defaults``); ``in_channels`` is required where the kind
    ``needs_channels``."""
    channels = (
        _P("in_channels", _P.POSITIONAL_OR_KEYWORD, annotation="int")
        if cls.needs_channels
        else _P("in_channels", _P.POSITIONAL_OR_KEYWORD, default=None, annotation="int | None")
    )
    table = {**OPTION_DEFAULTS, **cls.option_defaults}
    options = [
        _P(name, _P.KEYWORD_ONLY, default=table[name][1], annotation=table[name][0])
        for name in cls.option_names
    ]
    return inspect.Signature(
        [
            _P("self", _P.POSITIONAL_OR_KEYWORD),
            channels,
            _P("out_channels", _P.POSITIONAL_OR_KEYWORD, default=None, annotation="int | None"),
            _P("factor", _P.KEYWORD_ONLY, default=2, annotation="int"),
            _P("dim", _P.KEYWORD_ONLY, default=2, annotation="int"),
            *options,
        ],
        return_annotation="None",
    )


def _with_kind_signature(cls: type[Downsample]) -> Callable[..., None]:
    """``cls.__init__`` behind :func:`kind_signature`: the call is bound to the kind's signature
    (a ``TypeError`` names an option the kind does not take, as Python's would), ``in_channels``
    and ``factor`` are checked, then ``cls.__init__`` gets every option by keyword, defaults
    filled in: ``init(self, in_channels, out_channels, factor=, dim=, **options)``."""
    init = getattr(cls.__init__, "__wrapped__", cls.__init__)  # a parent kind's: unwrapped
    signature = kind_signature(cls)

    def __init__(self: Downsample, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}.__init__() {exc}") from None
        bound.apply_defaults()
        options = dict(bound.arguments)
        del options["self"]
        in_channels, out_channels = options.pop("in_channels"), options.pop("out_channels")
        if self.needs_channels:
            require_channels(self.kind, in_channels, self.needs_channels)
        factor = check_factor(options.pop("factor"), self.kind)
        init(self, in_channels, out_channels, factor=factor, **options)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__doc__ = init.__doc__
    __init__.__wrapped__ = init  # type: ignore[attr-defined]
    return __init__


class Downsample(nn.Module):
    """Base class: geometry attributes, batched-input checks, optional 1x1 projection.

    Subclasses set ``kind`` (the family name, e.g. ``"max"``), ``learnable`` (True if the
    kind has parameters of its own) and implement :meth:`downsample` (the operator without
    the projection). A kind class lists its options in ``option_names`` (the source of
    :data:`poolstride.layers.kinds.KIND_OPTIONS`): its ``__init__`` then takes
    ``(in_channels, out_channels=None, *, factor=2, dim=2, <options>)`` with the defaults of
    :data:`OPTION_DEFAULTS` (:func:`kind_signature`) and receives every option by keyword. A
    class that writes its own keyword-only signature instead gets ``option_names`` from it. A
    module's :attr:`variant` is its kind with the options it was built with (``"max:k3"``),
    however it was built.

    If ``out_channels`` differs from ``in_channels`` for a kind that does not change channels
    itself, a 1x1 convolution ``proj`` follows the operator (as ResNet shortcut "option B"
    with a pool in front).
    """

    kind: ClassVar[str] = ""
    #: Whether the kind has learnable parameters of its own (besides a 1x1 projection).
    learnable: ClassVar[bool] = False
    #: The kind's options, in canonical order (declared by kind classes, see above).
    option_names: ClassVar[tuple[str, ...]] = ()
    #: Defaults of this kind that differ from :data:`OPTION_DEFAULTS`, same form.
    option_defaults: ClassVar[dict[str, tuple[str, Any]]] = {}
    #: What the kind holds that needs ``in_channels`` (then required), e.g. ``"a 1x1 conv"``.
    needs_channels: ClassVar[str] = ""
    #: The options this module was built with (by keyword), as given.
    options: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "option_names" in vars(cls):
            cls.__init__ = _with_kind_signature(cls)  # type: ignore[method-assign]
            return
        params = inspect.signature(cls.__init__).parameters.values()
        cls.option_names = tuple(
            p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in _NOT_OPTIONS
        )

    def __new__(cls, *args: Any, **kwargs: Any) -> Downsample:
        module = super().__new__(cls)
        # The options the caller gave (keyword-only in every signature), for `variant`;
        # set before nn.Module.__init__, so written to the instance dict directly.
        module.__dict__["options"] = {k: v for k, v in kwargs.items() if k in cls.option_names}
        return module

    def __init__(
        self,
        in_channels: int | None,
        out_channels: int | None,
        *,
        dim: int,
        kernel_size: Any,
        stride: Any,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
        project: bool = True,
    ) -> None:
        super().__init__()
        owner = self.kind or type(self).__name__
        self.dim = check_dim(dim, owner)
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise PoolstrideError(f"{owner}: {name} must be a positive int, got {value!r}")
        if out_channels is not None and in_channels is None and project:
            raise PoolstrideError(
                f"{owner}: out_channels={out_channels} needs in_channels (for the 1x1 projection)"
            )
        self.in_channels = in_channels
        self.out_channels = in_channels if out_channels is None else out_channels
        self.kernel_size = to_tuple(kernel_size, self.dim, "kernel_size", owner, 1)
        self.stride = to_tuple(stride, self.dim, "stride", owner, 1)
        self.padding = to_tuple(padding, self.dim, "padding", owner, 0)
        self.dilation = to_tuple(dilation, self.dim, "dilation", owner, 1)
        if not isinstance(ceil_mode, bool):
            raise PoolstrideError(f"{owner}: ceil_mode must be True or False, got {ceil_mode!r}")
        self.ceil_mode = ceil_mode
        self.proj: nn.Module | None = None
        if project and self.out_channels != in_channels:
            self.proj = conv1x1(self.dim, in_channels, self.out_channels)
        self._ndim = self.dim + 2
        # Smallest spatial size that yields one output (checked at every forward).
        self.min_size = tuple(
            max(1, effective_kernel(k, d) - 2 * p)
            for k, p, d in zip(self.kernel_size, self.padding, self.dilation)
        )

    @property
    def variant(self) -> str:
        """The kind and the options the module was built with, e.g. ``"max:k3"`` (only the
        options given; flags at their default are left out): the same for
        ``MaxPool(16, kernel_size=3)`` and ``make_downsample("max:k3", 16)``."""
        return format_options(self.kind, self.option_names, self.options)

    def _move_proj_last(self) -> None:
        """Re-register ``proj`` after submodules a subclass added, so ``named_modules()`` lists
        them in execution order (operator first, then the 1x1 projection)."""
        if self._modules.get("proj") is not None:
            self._modules["proj"] = self._modules.pop("proj")

    @property
    def factor(self) -> int | tuple[int, ...]:
        """The downsampling factor (the stride; a tuple only if it differs per dimension)."""
        return self.stride[0] if len(set(self.stride)) == 1 else self.stride

    def downsample(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Hot path: a handful of int comparisons, then the operator.
        if x.ndim != self._ndim or (
            self.in_channels is not None and x.shape[1] != self.in_channels
        ):
            raise self._bad_input(x)
        for size, least in zip(x.shape[2:], self.min_size):
            if size < least:
                raise self._bad_input(x)
        y = self.downsample(x)
        return y if self.proj is None else self.proj(y)

    def _bad_input(self, x: torch.Tensor) -> PoolstrideError:
        shape = tuple(x.shape)
        layout = LAYOUT[self.dim]
        if x.ndim != self._ndim:
            hint = (
                " (unbatched input? add a batch dimension with x.unsqueeze(0))"
                if x.ndim == self._ndim - 1
                else ""
            )
            return PoolstrideError(
                f"{self.describe()} expects a {self._ndim}-D input {layout}, got shape {shape}{hint}"
            )
        if self.in_channels is not None and shape[1] != self.in_channels:
            return PoolstrideError(
                f"{self.describe()} expects {self.in_channels} input channels, got shape {shape}"
            )
        return self._too_small(shape[2:])

    def _too_small(self, size: tuple[int, ...]) -> PoolstrideError:
        return PoolstrideError(
            f"{self.describe()}: input spatial size {'x'.join(map(str, size))} is smaller "
            f"than the window; valid: at least {'x'.join(map(str, self.min_size))}"
        )

    def _checked_size(self, size: Any) -> tuple[int, ...]:
        """``size`` as a tuple, or the forward pass's error if it is smaller than the window."""
        size = to_tuple(size, self.dim, "size", self.kind, 1)
        if any(s < least for s, least in zip(size, self.min_size)):
            raise self._too_small(size)
        return size

    def output_size(self, size: Any) -> tuple[int, ...]:
        """Exact spatial output size for a spatial input size (int or tuple of length dim).

        Raises :class:`PoolstrideError` exactly where the forward pass would (input smaller
        than the window), so shape inference needs no tensors.
        """
        size = self._checked_size(size)
        geometry = zip(size, self.kernel_size, self.stride, self.padding, self.dilation)
        if self.ceil_mode:  # only pooling has ceil_mode (and so obeys the half-kernel padding)
            return tuple(pool_output_size(*axis, ceil_mode=True) for axis in geometry)
        # Floor mode: pooling and convolution share one rule (and convs may pad more).
        return tuple(conv_output_size(*axis) for axis in geometry)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def describe(self) -> str:
        """One line: variant, geometry and channels, e.g. ``max:k3 (k=3x3 s=2x2 p=1x1 ...)``."""

        def fmt(t: tuple[int, ...]) -> str:
            return "x".join(map(str, t))

        text = (
            f"{self.variant} (k={fmt(self.kernel_size)} s={fmt(self.stride)} "
            f"p={fmt(self.padding)} d={fmt(self.dilation)}"
        )
        if self.ceil_mode:
            text += " ceil"
        if self.in_channels is not None:
            text += f", {self.in_channels}->{self.out_channels} ch"
        return text + ")"

    def extra_repr(self) -> str:
        parts = [
            f"variant={self.variant!r}",
            f"dim={self.dim}",
            f"kernel_size={self.kernel_size}",
            f"stride={self.stride}",
            f"padding={self.padding}",
            f"dilation={self.dilation}",
            f"ceil_mode={self.ceil_mode}",
        ]
        if self.in_channels is not None:
            parts.append(f"in_channels={self.in_channels}, out_channels={self.out_channels}")
        return ", ".join(parts)
