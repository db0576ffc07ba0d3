"""Shared strategies: random pooling problems and input layouts, PyTorch as the oracle."""

from __future__ import annotations

import torch
from hypothesis import assume
from hypothesis import strategies as st

from poolstride.errors import PoolstrideError
from poolstride.geometry.output_size import pool_output_size

LAYOUTS_2D = ("contiguous", "channels_last", "sliced", "transposed")
LAYOUTS_1D = ("contiguous", "channels_last", "sliced")


def make_input(shape, dtype, layout, values, seed) -> torch.Tensor:
    """A tensor of logical ``shape`` with the requested memory layout.

    ``values``: "ties" (integers in [-3, 3]: many equal maxima), "normal", or "special"
    (ties plus NaN and +-inf sprinkled in). Non-contiguous layouts are views of a larger
    buffer, so strides are genuinely unusual.
    """
    g = torch.Generator().manual_seed(seed)
    n, c, *spatial = shape
    if layout == "sliced":  # every other element of the last axis
        big = (n, c, *spatial[:-1], 2 * spatial[-1])
    else:
        big = shape
    if values == "normal":
        data = torch.randn(big, generator=g, dtype=torch.float64)
    else:
        data = torch.randint(-3, 4, big, generator=g).to(torch.float64)
        if values == "special":
            pick = torch.rand(big, generator=g)
            data[pick < 0.05] = float("nan")
            data[(pick >= 0.05) & (pick < 0.1)] = float("inf")
            data[(pick >= 0.1) & (pick < 0.15)] = float("-inf")
    data = data.to(dtype)
    if layout == "sliced":
        return data[..., ::2]
    if layout == "channels_last":
        if len(spatial) == 2:
            return data.contiguous(memory_format=torch.channels_last)
        return data.transpose(1, 2).contiguous().transpose(1, 2)  # (N, C, L) strides (LC, 1, C)
    if layout == "transposed":  # H and W swapped in memory
        return data.transpose(2, 3).contiguous().transpose(2, 3)
    return data.contiguous()


def window_hits_input(o, size, kernel, stride, pad, dilation) -> bool:
    """Whether output ``o``'s window has at least one tap inside ``[0, size)``."""
    return any(0 <= o * stride - pad + t * dilation < size for t in range(kernel))


@st.composite
def pool_problems(draw, kind: str):
    """(x, kwargs) for ``max`` or ``avg`` pooling, valid for PyTorch."""
    dim = draw(st.sampled_from((1, 2)))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(dim))
    stride = tuple(draw(st.integers(1, 4)) for _ in range(dim))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(dim)) if kind == "max" else (1,) * dim
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)  # PyTorch's limit
    ceil_mode = draw(st.booleans())
    spatial = tuple(draw(st.integers(1, 11)) for _ in range(dim))
    for size, k, s, p, d in zip(spatial, kernel, stride, padding, dilation):
        try:
            out = pool_output_size(size, k, s, p, d, ceil_mode)
        except PoolstrideError:  # output size < 1: PyTorch rejects it too
            assume(False)
        # A dilated window that misses the input entirely crashes PyTorch's own channels-last
        # backward; that case has its own test.
        assume(all(window_hits_input(o, size, k, s, p, d) for o in range(out)))
    n = draw(st.integers(0, 3))
    c = draw(st.integers(1, 5))
    dtype = draw(st.sampled_from((torch.float32, torch.float64)))
    layout = draw(st.sampled_from(LAYOUTS_2D if dim == 2 else LAYOUTS_1D))
    values = draw(st.sampled_from(("ties", "normal", "special")))
    x = make_input((n, c, *spatial), dtype, layout, values, draw(st.integers(0, 2**16)))
    kwargs = {"kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil_mode}
    if kind == "max":
        kwargs["dilation"] = dilation
    else:
        kwargs["count_include_pad"] = draw(st.booleans())
        if dim == 2 and draw(st.booleans()):
            kwargs["divisor_override"] = draw(st.integers(1, 7))
    return x, kwargs
