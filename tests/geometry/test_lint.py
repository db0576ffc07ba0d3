"""Lint warnings against the coverage autograd actually measures."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from poolstride.geometry.lint import receptive_field_warnings, window_warnings


def _covered(n: int, k: int, s: int, p: int) -> list[bool]:
    """Which inputs are read by some window of a floor-mode k/s/p window op (autograd)."""
    x = torch.ones(1, 1, n, requires_grad=True)
    y = F.conv1d(x, torch.ones(1, 1, k), stride=s, padding=p)
    (grad,) = torch.autograd.grad(y.sum(), x)
    return (grad[0, 0] != 0).tolist()


@given(n=st.integers(1, 40), k=st.integers(1, 6), s=st.integers(1, 5), p=st.integers(0, 3))
def test_warnings_describe_measured_coverage(n, k, s, p):
    assume(p <= k // 2 and n + 2 * p >= k)
    covered = _covered(n, k, s, p)
    warnings = window_warnings((n,), k, s, p)
    text = " ".join(warnings)
    if k == 1 and s > 1:
        assert f"keeps 1 of every {s} activations" in text
        return
    read = [i for i, c in enumerate(covered) if c]
    out = (n + 2 * p - k) // s + 1
    holes = any(not c for c in covered[read[0] : read[-1] + 1]) if read else False
    # A gap between windows exactly when stride > kernel (and there are two windows).
    assert ("never in a window" in text) == (s > k)
    assert holes == (s > k and out >= 2)
    # Unread inputs at the end beyond the regular gap are what floor mode dropped.
    trailing = n - 1 - read[-1] if read else n
    dropped = trailing - max(s - k, 0)
    if dropped > 0:
        assert f"floor mode drops the last {dropped} of {n}" in text
    else:
        assert "floor mode" not in text


def test_seed_style_examples():
    assert window_warnings((4, 4), 2, 2) == []  # 4x4 -> 2x2 max pooling covers everything
    assert window_warnings((5, 5), 3, 1) == []  # 5x5, f=3, s=1 -> 3x3
    assert window_warnings((7, 7), 2, 2) == [
        "floor mode drops the last 1 of 7 inputs along H,W (kernel 2, stride 2, padding 0); "
        "use ceil_mode, padding or a size that fits"
    ]
    assert window_warnings((7, 7), 2, 2, ceil_mode=True) == []
    assert window_warnings((32, 32), 1, 2) == [
        "kernel 1 with stride 2 keeps 1 of every 4 activations: 3/4 are discarded"
    ]
    # 14 windows of 2 at 0, 3, ..., 39: input 2, 5, ... never read, but nothing is dropped.
    assert window_warnings((41,), 2, 3) == [
        "stride 3 > kernel extent 2 along L: 1 of every 3 inputs are never in a window"
    ]
    # Dilation widens the extent: k=2, d=3 spans 4 > stride 3 (no gap); 13 windows end at 39.
    assert window_warnings((40,), 2, 3, dilation=3) == []
    assert window_warnings((41,), 2, 3, dilation=3) == [
        "floor mode drops the last 1 of 41 inputs along L (kernel 2, stride 3, padding 0); "
        "use ceil_mode, padding or a size that fits"
    ]


def test_receptive_field_warning():
    assert receptive_field_warnings((35, 35), (32, 32))[0].startswith(
        "receptive field 35x35 exceeds the input 32x32 along H,W"
    )
    assert receptive_field_warnings((31, 33), (32, 32))[0].endswith(
        "along W: units now see zero padding beyond the border"
    )
    assert receptive_field_warnings((32, 32), (32, 32)) == []
