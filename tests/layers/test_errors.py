"""Bad input raises a one-line PoolstrideError naming the layer, the sizes and what is valid."""

from __future__ import annotations

import functools

import pytest
import torch

from poolstride.errors import PoolstrideError
from poolstride.layers import KINDS, MaxPool, make_downsample


def _raises(fn, *fragments):
    with pytest.raises(PoolstrideError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("factor", [0, -1, 1.5, True])
def test_bad_factor(factor):
    _raises(lambda: make_downsample("max", 3, factor=factor), "factor must be an integer >= 1")


def test_unknown_kind_names_valid_and_closest():
    msg = _raises(lambda: make_downsample("avgg", 3), "unknown downsampling kind 'avgg'", "'avg'")
    for kind in KINDS:
        assert kind in msg


def test_padding_beyond_half_the_kernel():
    _raises(
        lambda: make_downsample("max:k3:pad2", 3),
        "max",
        "padding 2",
        "kernel size 3",
        "padding <= 1",
    )
    _raises(lambda: make_downsample("avg", 3, kernel_size=2, padding=2), "avg", "padding <= 1")


def test_input_smaller_than_the_window():
    module = make_downsample("max:k5:pad0", 3)
    _raises(lambda: module(torch.randn(1, 3, 4, 9)), "max:k5:pad0", "4x9", "at least 5x5")
    _raises(
        lambda: make_downsample("blur-max:filt5", 3, dim=1)(torch.randn(1, 3, 3)),
        "blur-max:filt5",
        "input spatial size 3",
        "at least 4",
    )


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_number_of_dimensions(kind):
    module = make_downsample(kind, 3, dim=2)
    _raises(
        lambda: module(torch.randn(3, 8, 8)),
        kind,
        "4-D input (N, C, H, W)",
        "(3, 8, 8)",
        "unsqueeze(0)",
    )
    _raises(lambda: module(torch.randn(1, 3, 8, 8, 8)), "4-D input")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_rejects_inputs_smaller_than_its_window(kind):
    module = make_downsample(kind, 3, dim=1, factor=4)
    least = module.min_size[0]
    assert module(torch.randn(1, 3, least)).shape[-1] >= 1
    if least > 1:
        _raises(lambda: module(torch.randn(1, 3, least - 1)), "smaller than the window")


def test_wrong_channel_count():
    _raises(
        lambda: make_downsample("conv", 3)(torch.randn(1, 4, 8, 8)),
        "expects 3 input channels",
        "(1, 4, 8, 8)",
    )


def test_keyword_option_not_valid_for_kind():
    _raises(
        lambda: make_downsample("max", 3, filt_size=3),
        "filt_size=3 does not apply to max",
        "kernel_size",
    )


def test_string_and_keyword_options_conflict():
    _raises(lambda: make_downsample("max:k3", 3, kernel_size=5), "kernel_size given twice")
    assert make_downsample("max:k3", 3, kernel_size=3).kernel_size == (3, 3)


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: make_downsample("conv", None), "in_channels is required"),
        (lambda: make_downsample("max", None, 4), "needs in_channels"),
        (lambda: make_downsample("lp", 3, p=0), "p must be a finite number > 0"),
        (lambda: make_downsample("blur-avg", 3, filt_size=0), "filt_size must be an integer >= 1"),
        (lambda: make_downsample("max", 3, dim=3), "dim must be 1 or 2"),
        (lambda: make_downsample("max", 3, kernel_size=(3, 3, 3)), "tuple of 2 ints"),
        (lambda: make_downsample("max", 0), "in_channels must be a positive int"),
        (lambda: make_downsample("adaptive-avg", 3, output_size=0), "output_size must be >= 1"),
        (lambda: make_downsample(42, 3), "must be a string, a module class or a partial"),
    ],
)
def test_constructor_errors(build, fragment):
    _raises(build, fragment)


def test_class_and_partial_are_accepted():
    assert isinstance(make_downsample(MaxPool, 3, kernel_size=3), MaxPool)
    module = make_downsample(functools.partial(MaxPool, kernel_size=3, padding=0), 3, factor=1)
    assert module.kernel_size == (3, 3) and module.stride == (1, 1)


def test_class_with_the_wrong_signature_is_reported():
    _raises(lambda: make_downsample(torch.nn.ReLU, 3), "cannot build downsampling from")


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        make_downsample("nope", 3)
