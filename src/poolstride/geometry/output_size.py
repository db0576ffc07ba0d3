"""Output sizes of convolutions and pooling, exactly as PyTorch computes them.

One axis at a time, integers only. With effective kernel ``e = dilation * (kernel - 1) + 1``
and padding ``p`` on each side::

    floor mode:  out = floor((size + 2p - e) / stride) + 1
    ceil mode:   out = ceil((size + 2p - e) / stride) + 1,
                 minus one if the last window would *start* in the right padding,
                 i.e. if (out - 1) * stride >= size + p

The second ceil-mode rule is why ``MaxPool1d(2, 2, padding=1, ceil_mode=True)`` maps 5 to 3
and not 4. Pooling (max and avg) also requires ``padding <= kernel // 2`` (PyTorch:
"pad should be at most half of ... kernel size"); convolutions accept any padding.

Padding may be an ``int`` (PyTorch's symmetric padding), a ``(left, right)`` pair (explicit
padding as done by ``F.pad``/``nn.ZeroPad2d`` before the op, so no half-kernel limit and the
ceil-mode rule sees the padded size), ``"valid"`` (0) or ``"same"`` (TensorFlow/timm
semantics: ``out = ceil(size / stride)``, extra padding on the right; for stride 1 this is
exactly PyTorch's ``Conv2d(padding="same")``).

Impossible geometry raises :class:`~poolstride.errors.PoolstrideError` with one line that
names the values and says what would be valid.
"""

from __future__ import annotations

from collections.abc import Sequence

from poolstride.errors import PoolstrideError

Padding = int | tuple[int, int] | str

__all__ = [
    "Padding",
    "effective_kernel",
    "same_padding",
    "resolve_padding",
    "conv_output_size",
    "pool_output_size",
    "adaptive_windows",
    "adaptive_output_size",
    "conv_output_shape",
    "pool_output_shape",
    "as_tuple",
    "ceil_div",
]


def as_tuple(value, dim: int, name: str = "value") -> tuple:
    """Normalise an int (or a length-``dim`` sequence) to a tuple of length ``dim``.

    >>> as_tuple(2, 2)
    (2, 2)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * dim
    if isinstance(value, Sequence):
        if len(value) == 1:
            return tuple(value) * dim
        if len(value) != dim:
            raise PoolstrideError(
                f"{name}={tuple(value)!r} has {len(value)} entries; expected 1 or {dim} (one per axis)"
            )
        return tuple(value)
    raise PoolstrideError(f"{name}={value!r} is not an int or a tuple of {dim} ints")


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """Span of a dilated window: ``dilation * (kernel - 1) + 1``."""
    return dilation * (kernel - 1) + 1


def same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """``(left, right)`` padding giving ``out = ceil(size / stride)`` (extra on the right).

    For stride 1 this is PyTorch's ``padding="same"``: total ``dilation * (kernel - 1)``,
    ``left = total // 2``.
    """
    _check_positive(kernel=kernel, stride=stride, dilation=dilation)
    out = ceil_div(size, stride)
    total = max((out - 1) * stride + effective_kernel(kernel, dilation) - size, 0)
    return total // 2, total - total // 2


def resolve_padding(
    padding: Padding, size: int, kernel: int, stride: int = 1, dilation: int = 1
) -> tuple[int, int]:
    """Turn any accepted padding form into an explicit ``(left, right)`` pair."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding == "same":
            return same_padding(size, kernel, stride, dilation)
        raise PoolstrideError(
            f"padding={padding!r} is not valid; use an int, (left, right), 'same' or 'valid'"
        )
    if isinstance(padding, bool):
        raise PoolstrideError(
            f"padding={padding!r} is not valid; use an int, (left, right), 'same' or 'valid'"
        )
    if isinstance(padding, int):
        pair = (padding, padding)
    elif (
        isinstance(padding, Sequence)
        and len(padding) == 2
        and all(isinstance(p, int) for p in padding)
    ):
        pair = (int(padding[0]), int(padding[1]))
    else:
        raise PoolstrideError(
            f"padding={padding!r} is not valid; use an int, (left, right), 'same' or 'valid'"
        )
    if min(pair) < 0:
        raise PoolstrideError(f"padding={padding!r} is negative; padding must be >= 0")
    return pair


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise PoolstrideError(f"{name}={value!r} is not an integer; {name} must be an int >= 1")
        if value < 1:
            raise PoolstrideError(f"{name}={value} is not valid; {name} must be >= 1")


def _check_size(size: int, what: str) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise PoolstrideError(f"{what}: input size {size!r} is not valid; it must be an int >= 1")


def _too_small(what, size, kernel, stride, pad, dilation, out) -> PoolstrideError:
    padded = size + pad[0] + pad[1]
    eff = effective_kernel(kernel, dilation)
    return PoolstrideError(
        f"{what}: output size {out} < 1 for input size {size} (padded {padded}) with "
        f"kernel_size={kernel}, stride={stride}, padding={_fmt_pad(pad)}, dilation={dilation}: "
        f"the effective kernel {eff} is larger than the padded input; use a smaller kernel or "
        f"dilation, more padding, or a larger input"
    )


def _fmt_pad(pad: tuple[int, int]) -> str:
    return str(pad[0]) if pad[0] == pad[1] else f"({pad[0]}, {pad[1]})"


def conv_output_size(
    size: int, kernel: int, stride: int = 1, padding: Padding = 0, dilation: int = 1
) -> int:
    """Output length of ``nn.Conv{1,2,3}d`` along one axis.

    ``out = floor((size + left + right - dilation * (kernel - 1) - 1) / stride) + 1``.

    >>> conv_output_size(5, 3)          # 5x5 input, f=3, s=1 -> 3x3
    3
    >>> conv_output_size(32, 3, 2, 1)   # a stride-2 3x3 conv with padding 1 halves
    16
    """
    _check_positive(kernel=kernel, stride=stride, dilation=dilation)
    _check_size(size, "conv")
    pad = resolve_padding(padding, size, kernel, stride, dilation)
    out = (size + pad[0] + pad[1] - effective_kernel(kernel, dilation)) // stride + 1
    if out < 1:
        raise _too_small("conv", size, kernel, stride, pad, dilation, out)
    return out


def pool_output_size(
    size: int,
    kernel: int,
    stride: int | None = None,
    padding: Padding = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
    op: str = "pool",
) -> int:
    """Output length of ``nn.MaxPool{1,2}d`` / ``nn.AvgPool{1,2}d`` / ``nn.LPPool`` along one axis.

    ``stride`` defaults to ``kernel`` as in PyTorch. An int padding must satisfy
    ``padding <= kernel // 2``. In ceil mode the last window must start inside the input or
    the left padding (PyTorch drops it otherwise).

    >>> pool_output_size(4, 2)                              # 4x4 -> 2x2 max pooling
    2
    >>> pool_output_size(5, 2, 2, 1, ceil_mode=True)        # not 4: last window would start in padding
    3
    """
    stride = kernel if stride is None else stride
    _check_positive(kernel=kernel, stride=stride, dilation=dilation)
    _check_size(size, op)
    if isinstance(padding, int) and not isinstance(padding, bool) and padding > kernel // 2:
        raise PoolstrideError(
            f"{op}: padding={padding} with kernel_size={kernel} is not valid; pooling padding "
            f"must be at most half of the kernel size (<= {kernel // 2}), as PyTorch requires "
            f'("pad should be at most half of kernel size")'
        )
    pad = resolve_padding(padding, size, kernel, stride, dilation)
    if not isinstance(padding, int):
        # Explicit padding happens before the op: the op sees a larger input and no padding.
        size, pad = size + pad[0] + pad[1], (0, 0)
    span = size + pad[0] + pad[1] - effective_kernel(kernel, dilation)
    if ceil_mode:
        out = ceil_div(span, stride) + 1
        # A ceil-mode window may not start in the right padding (PyTorch drops it).
        if (out - 1) * stride >= size + pad[0]:
            out -= 1
    else:
        out = span // stride + 1
    if out < 1:
        raise _too_small(op, size, kernel, stride, pad, dilation, out)
    return out


def adaptive_windows(size: int, out: int) -> list[tuple[int, int]]:
    """Half-open windows ``[start, end)`` chosen by adaptive pooling from ``size`` to ``out``.

    ``start_i = floor(i * size / out)``, ``end_i = ceil((i + 1) * size / out)``; windows may
    overlap and differ in length when ``out`` does not divide ``size``.

    >>> adaptive_windows(7, 1)      # global pooling: one window over everything
    [(0, 7)]
    >>> adaptive_windows(5, 3)
    [(0, 2), (1, 4), (3, 5)]
    """
    _check_size(size, "adaptive pool")
    if isinstance(out, bool) or not isinstance(out, int) or out < 1:
        raise PoolstrideError(
            f"adaptive pool: output size {out!r} is not valid; it must be an int >= 1"
        )
    return [((i * size) // out, ceil_div((i + 1) * size, out)) for i in range(out)]


def adaptive_output_size(size: int, out: int | None) -> int:
    """Output length of adaptive pooling (``None`` keeps the input size, as in PyTorch)."""
    _check_size(size, "adaptive pool")
    if out is None:
        return size
    if isinstance(out, bool) or not isinstance(out, int) or out < 1:
        raise PoolstrideError(
            f"adaptive pool: output size {out!r} is not valid; it must be an int >= 1"
        )
    return out


def conv_output_shape(
    shape: Sequence[int], kernel, stride=1, padding: Padding | Sequence = 0, dilation=1
) -> tuple[int, ...]:
    """Spatial output shape of a convolution (one :func:`conv_output_size` per axis)."""
    dim = len(shape)
    ks, ss, ds = (
        as_tuple(v, dim, n)
        for v, n in ((kernel, "kernel_size"), (stride, "stride"), (dilation, "dilation"))
    )
    ps = _per_axis_padding(padding, dim)
    return tuple(conv_output_size(*a) for a in zip(shape, ks, ss, ps, ds))


def pool_output_shape(
    shape: Sequence[int],
    kernel,
    stride=None,
    padding: Padding | Sequence = 0,
    dilation=1,
    ceil_mode: bool = False,
    op: str = "pool",
) -> tuple[int, ...]:
    """Spatial output shape of max/avg pooling (one :func:`pool_output_size` per axis)."""
    dim = len(shape)
    ks = as_tuple(kernel, dim, "kernel_size")
    ss = ks if stride is None or stride == () else as_tuple(stride, dim, "stride")
    ds = as_tuple(dilation, dim, "dilation")
    ps = _per_axis_padding(padding, dim)
    return tuple(
        pool_output_size(n, k, s, p, d, ceil_mode, op)
        for n, k, s, p, d in zip(shape, ks, ss, ps, ds)
    )


def _per_axis_padding(padding, dim: int) -> tuple:
    if isinstance(padding, (int, str)):
        return (padding,) * dim
    padding = tuple(padding)
    if len(padding) == 1:
        return padding * dim
    if len(padding) != dim:
        raise PoolstrideError(
            f"padding={padding!r} has {len(padding)} entries; expected 1 or {dim} (one per axis)"
        )
    return padding


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for integers (exact, no floats)."""
    return -(-a // b)
