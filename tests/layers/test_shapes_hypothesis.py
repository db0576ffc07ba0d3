"""Random (kind, dim, channels, size, factor, kernel): the output shape follows the documented
floor rule (written out independently here) and gradients reach the input."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from poolstride.errors import PoolstrideError
from poolstride.layers import KINDS, make_downsample

# Kinds whose geometry is a window of `kernel` at stride `factor` (kernel option allowed).
WINDOWED = ("max", "avg", "lp", "soft", "mixed", "gated", "conv", "dwconv")


def expected_length(kind: str, size: int, factor: int, kernel: int | None, filt: int) -> int:
    """Output length by the documented rules (the tests' own arithmetic, not the library's)."""
    if kind in WINDOWED:
        k = factor if kernel is None else kernel
        pad = 0 if kind == "lp" or k <= factor else (k - 1) // 2
        return (size + 2 * pad - k) // factor + 1
    if kind == "subsample":
        return (size - 1) // factor + 1
    if kind in ("space-to-depth",):
        return size // factor
    if kind == "none":
        return size
    if kind in ("adaptive-max", "adaptive-avg"):
        return max(1, size // factor)
    dense = {"blur-avg": size, "blur-max": size - 1, "blur-conv": size}[kind]
    if dense - 1 < filt // 2:  # reflect padding needs more samples than it pads
        return 0
    return (dense - 1) // factor + 1


@given(
    kind=st.sampled_from(KINDS),
    dim=st.sampled_from([1, 2]),
    channels=st.integers(1, 4),
    out_channels=st.one_of(st.none(), st.integers(1, 5)),
    size=st.integers(1, 14),
    factor=st.integers(1, 4),
    kernel=st.one_of(st.none(), st.integers(1, 5)),
    filt=st.integers(1, 5),
)
def test_shape_follows_the_rule_and_gradients_flow(
    kind, dim, channels, out_channels, size, factor, kernel, filt
):
    options = {}
    if kind in WINDOWED and kernel is not None:
        options["kernel_size"] = kernel
    if kind.startswith("blur"):
        options["filt_size"] = filt
    module = make_downsample(kind, channels, out_channels, factor=factor, dim=dim, **options)
    x = torch.randn(2, channels, *(size,) * dim)
    if kind == "lp":
        x = x.abs() + 0.1
    x.requires_grad_()
    length = expected_length(kind, size, factor, kernel, filt)
    if length < 1:
        with pytest.raises(PoolstrideError, match="smaller than the window"):
            module(x)
        with pytest.raises(PoolstrideError, match="smaller than the window"):
            module.output_size(size)
        return
    y = module(x)
    out_c = channels if out_channels is None else out_channels
    assert tuple(y.shape) == (2, out_c, *(length,) * dim)
    assert module.output_size(size) == (length,) * dim
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0
