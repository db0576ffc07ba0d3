"""Output sizes against PyTorch itself: same shape when PyTorch accepts, an error when it refuses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from poolstride.errors import PoolstrideError
from poolstride.geometry import (
    adaptive_windows,
    conv_output_shape,
    conv_output_size,
    pool_output_shape,
    pool_output_size,
    same_padding,
)

# Pure arithmetic against tiny tensors: thousands of cases run in a couple of seconds.
MANY = settings(max_examples=1000)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")


def _torch_shape(fn):
    """Spatial output shape of ``fn()``, or None when PyTorch rejects the configuration."""
    try:
        return tuple(fn().shape[2:])
    except RuntimeError:
        return None


def _ours(fn):
    try:
        return tuple(fn())
    except PoolstrideError as err:
        assert "\n" not in str(err)
        return None


axis = st.fixed_dictionaries(
    {
        "size": st.integers(1, 24),
        "kernel": st.integers(1, 7),
        "stride": st.integers(1, 5),
        "padding": st.integers(0, 4),
        "dilation": st.integers(1, 3),
    }
)


def _unzip(axes):
    return {k: tuple(a[k] for a in axes) for k in axes[0]}


@MANY
@given(axes=st.lists(axis, min_size=1, max_size=2), ceil_mode=st.booleans())
def test_max_pool_matches_torch(axes, ceil_mode):
    g = _unzip(axes)
    x = torch.zeros(1, 1, *g["size"])
    pool = F.max_pool1d if len(axes) == 1 else F.max_pool2d
    expected = _torch_shape(
        lambda: pool(x, g["kernel"], g["stride"], g["padding"], g["dilation"], ceil_mode)
    )
    ours = _ours(
        lambda: pool_output_shape(
            g["size"], g["kernel"], g["stride"], g["padding"], g["dilation"], ceil_mode, "max pool"
        )
    )
    assert ours == expected


@MANY
@given(axes=st.lists(axis, min_size=1, max_size=2), ceil_mode=st.booleans())
def test_avg_pool_matches_torch(axes, ceil_mode):
    g = _unzip(axes)
    x = torch.zeros(1, 1, *g["size"])
    pool = F.avg_pool1d if len(axes) == 1 else F.avg_pool2d
    expected = _torch_shape(lambda: pool(x, g["kernel"], g["stride"], g["padding"], ceil_mode))
    ours = _ours(
        lambda: pool_output_shape(
            g["size"], g["kernel"], g["stride"], g["padding"], 1, ceil_mode, "avg pool"
        )
    )
    assert ours == expected


@MANY
@given(axes=st.lists(axis, min_size=1, max_size=2))
def test_conv_matches_torch(axes):
    g = _unzip(axes)
    x = torch.zeros(1, 1, *g["size"])
    conv = F.conv1d if len(axes) == 1 else F.conv2d
    w = torch.zeros(1, 1, *g["kernel"])
    expected = _torch_shape(lambda: conv(x, w, None, g["stride"], g["padding"], g["dilation"]))
    ours = _ours(
        lambda: conv_output_shape(g["size"], g["kernel"], g["stride"], g["padding"], g["dilation"])
    )
    assert ours == expected


@given(size=st.integers(1, 30), kernel=st.integers(1, 7), dilation=st.integers(1, 3))
def test_same_padding_equals_torch_same_conv(size, kernel, dilation):
    x = torch.zeros(1, 1, size)
    w = torch.zeros(1, 1, kernel)
    expected = _torch_shape(lambda: F.conv1d(x, w, padding="same", dilation=dilation))
    assert expected == (size,)
    assert conv_output_size(size, kernel, 1, "same", dilation) == size
    # The (left, right) split is PyTorch's too: padding explicitly gives identical values.
    left, right = same_padding(size, kernel, 1, dilation)
    xr, wr = torch.randn(1, 1, size), torch.randn(1, 1, kernel)
    torch.testing.assert_close(
        F.conv1d(F.pad(xr, (left, right)), wr, dilation=dilation),
        F.conv1d(xr, wr, padding="same", dilation=dilation),
    )


@given(size=st.integers(1, 30), kernel=st.integers(1, 6), stride=st.integers(1, 4))
def test_strided_same_padding_gives_ceil_of_size_over_stride(size, kernel, stride):
    out = conv_output_size(size, kernel, stride, "same")
    assert out == -(-size // stride)
    left, right = same_padding(size, kernel, stride)
    assert 0 <= right - left <= 1
    y = F.conv1d(
        F.pad(torch.zeros(1, 1, size), (left, right)), torch.zeros(1, 1, kernel), stride=stride
    )
    assert y.shape[-1] == out


@MANY
@given(
    size=st.integers(1, 20),
    kernel=st.integers(1, 6),
    stride=st.integers(1, 4),
    left=st.integers(0, 5),
    right=st.integers(0, 5),
    ceil_mode=st.booleans(),
)
def test_asymmetric_padding_is_explicit_padding(size, kernel, stride, left, right, ceil_mode):
    x = torch.zeros(1, 1, size)
    expected = _torch_shape(
        lambda: F.max_pool1d(F.pad(x, (left, right)), kernel, stride, 0, 1, ceil_mode)
    )
    ours = _ours(lambda: (pool_output_size(size, kernel, stride, (left, right), 1, ceil_mode),))
    assert ours == expected


@given(size=st.integers(1, 30), out=st.integers(1, 30))
def test_adaptive_windows_are_the_ones_pytorch_uses(size, out):
    # Row j of the identity is an impulse at position j: output i is nonzero iff j is in window i.
    impulses = torch.eye(size).unsqueeze(1)
    member = F.adaptive_avg_pool1d(impulses, out)[:, 0, :] > 0  # (size, out)
    windows = adaptive_windows(size, out)
    for i, (start, end) in enumerate(windows):
        assert member[:, i].nonzero().flatten().tolist() == list(range(start, end))


def test_seed_examples():
    # 4x4 -> 2x2 max pooling; 5x5 with f=3, s=1 -> 3x3; 7x7x1000 global pooling -> 1x1x1000.
    assert pool_output_shape((4, 4), 2) == (2, 2)
    assert F.max_pool2d(torch.zeros(1, 1, 4, 4), 2).shape[2:] == (2, 2)
    assert conv_output_shape((5, 5), 3, 1) == (3, 3)
    assert adaptive_windows(7, 1) == [(0, 7)]
    assert F.adaptive_avg_pool2d(torch.zeros(1, 1000, 7, 7), 1).shape == (1, 1000, 1, 1)


def test_ceil_mode_window_may_not_start_in_padding():
    # ceil((5 + 2 - 2) / 2) + 1 = 4, but window 3 would start at 6 = 5 + 1 (in the right padding).
    assert pool_output_size(5, 2, 2, 1, ceil_mode=True) == 3
    assert F.max_pool1d(torch.zeros(1, 1, 5), 2, 2, 1, ceil_mode=True).shape[-1] == 3
    assert pool_output_size(6, 3, 2, 0, ceil_mode=True) == 3  # partial last window kept


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: pool_output_size(10, 3, 1, 2), "at most half of the kernel size (<= 1)"),
        (lambda: pool_output_size(2, 3), "output size 0 < 1"),
        (lambda: conv_output_size(2, 3), "effective kernel 3 is larger than the padded input"),
        (lambda: conv_output_size(10, 3, 0), "stride=0"),
        (lambda: conv_output_size(10, 0), "kernel=0"),
        (lambda: conv_output_size(10, 3, 1, -1), "negative"),
        (lambda: conv_output_size(10, 3, 1, "full"), "'same' or 'valid'"),
        (lambda: pool_output_size(0, 2), "input size 0"),
        (lambda: adaptive_windows(5, 0), "output size 0"),
        (lambda: pool_output_shape((4, 4), (2, 2, 2)), "expected 1 or 2"),
    ],
)
def test_errors_are_one_line_and_name_the_value(call, needle):
    with pytest.raises(PoolstrideError) as info:
        call()
    message = str(info.value)
    assert needle in message
    assert "\n" not in message
