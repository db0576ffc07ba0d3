"""Every model × every downsampling kind × 1D/2D: shapes, gradient flow, construction rules."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.layers import HEADS, KINDS, head_features
from poolstride.models import DEFAULT_KINDS, DEFAULT_WIDTHS, MODELS, build_model, count_params

# Smallest comfortable inputs and widths per model, so the whole table stays quick.
SMALL = {
    "simple": dict(shapes=[(2, 16), (3, 16, 16)], width=4),
    "allcnn-a": dict(shapes=[(1, 12), (3, 12, 12)], width=4),
    "allcnn-b": dict(shapes=[(1, 12), (3, 12, 12)], width=4),
    "allcnn-c": dict(shapes=[(1, 12), (3, 12, 12)], width=4),
    "resnet20": dict(shapes=[(1, 8), (3, 8, 8)], width=4),
    "resnet56": dict(shapes=[(1, 8), (3, 8, 8)], width=2),
    "resnet110": dict(shapes=[(1, 8), (3, 8, 8)], width=2),
    "lenet5": dict(shapes=[(1, 28), (1, 28, 28)], width=3),
}
TABLE = [
    (name, kind, shape)
    for name in MODELS
    for kind in [*KINDS, "max:k3", "conv:k3", "blur-max:filt5", "lp:p3"]
    for shape in SMALL[name]["shapes"]
]


def first_conv(model: nn.Module) -> nn.Module:
    return next(m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d)))


@pytest.mark.parametrize("name, kind, shape", TABLE)
def test_output_shape_and_gradient_reaches_first_layer(name, kind, shape):
    model = build_model(name, kind, shape, 5, width=SMALL[name]["width"])
    x = torch.randn(2, *shape)
    out = model(x)
    assert out.shape == (2, 5)
    out.square().sum().backward()
    grad = first_conv(model).weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    model.eval()
    assert torch.equal(model(x), model(x))  # deterministic in eval mode


def test_models_and_default_kinds():
    assert MODELS == (
        "simple",
        "allcnn-a",
        "allcnn-b",
        "allcnn-c",
        "resnet20",
        "resnet56",
        "resnet110",
        "lenet5",
    )
    assert set(DEFAULT_KINDS) == set(MODELS)
    model = build_model("resnet20", None, (3, 8, 8), 10, width=4)
    assert model.kind == DEFAULT_KINDS["resnet20"] == "subsample"


@pytest.mark.parametrize("name", MODELS)
def test_default_width_is_the_width_argument_default(name):
    shape = SMALL[name]["shapes"][1]
    default = count_params(build_model(name, "max", shape, 10))
    assert count_params(build_model(name, "max", shape, 10, width=DEFAULT_WIDTHS[name])) == default


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("name", ["simple", "resnet20", "lenet5", "allcnn-c"])
def test_every_head(name, head):
    shape = SMALL[name]["shapes"][1]
    model = build_model(name, "max", shape, 7, head=head, width=SMALL[name]["width"])
    assert model(torch.randn(3, *shape)).shape == (3, 7)
    features = model.features(torch.zeros(1, *shape))
    assert model.head.num_features == head_features(head, features.shape[1], features.shape[2:])


def test_allcnn_drops_the_linear_layer_when_the_head_gives_one_value_per_class():
    gap = build_model("allcnn-c", "max:k3", (3, 12, 12), 10, width=4)
    assert isinstance(gap.head.fc, nn.Identity)
    # 16 -> 8 -> 4 -> valid 3x3 -> 2x2 class maps: flatten gives 10 * 2 * 2 features.
    flat = build_model("allcnn-c", "max:k3", (3, 16, 16), 10, width=4, head="flatten")
    assert isinstance(flat.head.fc, nn.Linear) and flat.head.fc.in_features == 10 * 2 * 2


def test_kind_none_keeps_resolution():
    model = build_model("simple", "none", (1, 16), 3, width=4, head="flatten")
    assert model.features(torch.zeros(1, 1, 16)).shape == (1, 4, 16)
    assert model.head.num_features == 4 * 16


def test_build_leaves_the_model_in_training_mode_with_fresh_batchnorm():
    model = build_model("resnet20", "max", (3, 8, 8), 10, width=4)
    assert model.training
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(bn.num_batches_tracked == 0 and bn.running_mean.abs().sum() == 0 for bn in bns)


@given(
    width=st.integers(1, 6),
    depth=st.integers(1, 4),
    length=st.integers(1, 40),
    kind=st.sampled_from(["max", "avg", "conv", "subsample", "max:k3", "conv:k3"]),
    dim=st.sampled_from([1, 2]),
)
def test_simple_builds_exactly_when_the_input_fits(width, depth, length, kind, dim):
    shape = (2, length) if dim == 1 else (2, length, max(1, length // 2))
    smallest = min(shape[1:])
    # 2-tap windows with stride 2 halve with floor: L -> L // 2, so 2**depth is needed.
    # 3-tap windows with padding 1 (and subsampling) give ceil(L / 2) >= 1: always fit.
    floor_kinds = ("max", "avg", "conv")
    if kind in floor_kinds and smallest < 2**depth:
        fits = smallest.bit_length() - 1  # floor(log2(smallest))
        with pytest.raises(PoolstrideError, match=f"maximum depth that fits is {fits}"):
            build_model("simple", kind, shape, 3, width=width, depth=depth)
        return
    model = build_model("simple", kind, shape, 3, width=width, depth=depth)
    assert model(torch.randn(2, *shape)).shape == (2, 3)


@pytest.mark.parametrize(
    "name, shape, kw, match",
    [
        (
            "simple",
            (1, 16),
            {"depth": 5},
            r"simple with kind 'max': input size 16 .* maximum depth that fits is 4",
        ),
        ("simple", (1, 32, 6), {"depth": 3}, r"input size 32x6 .* maximum depth that fits is 2"),
        (
            "resnet20",
            (3, 2, 2),
            {},
            r"resnet20 .* input size 2x2 .*only 1 of its 2 downsamplings fit.* at least 4x4",
        ),
        (
            "allcnn-c",
            (3, 8, 8),
            {},
            r"allcnn-c .* input size 8x8 .*after its 2 downsamplings.* at least 12x12",
        ),
        ("lenet5", (1, 16, 16), {}, r"lenet5 .* input size 16x16 .* at least 28x28"),
        ("lenet5", (1, 20), {}, r"lenet5 .* input size 20 .* at least 28\)?$"),
    ],
)
def test_too_small_inputs_are_one_line_errors(name, shape, kw, match):
    with pytest.raises(PoolstrideError, match=match) as info:
        build_model(name, "max", shape, 10, **kw)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "args, kw, match",
    [
        (("resnet", "max", (3, 8, 8), 10), {}, "did you mean 'resnet"),
        (("simple", "maxx", (1, 16), 10), {}, "maxx"),
        (("simple", "max", (16,), 10), {}, "input_shape must be"),
        (("simple", "max", (1, 0), 10), {}, "input_shape must be"),
        (("simple", "max", (1, 2, 3, 4), 10), {}, "input_shape must be"),
        (("simple", "max", (1, 16), 0), {}, "num_classes"),
        (("simple", "max", (1, 16), None), {}, "num_classes"),
        (("simple", "max", (1, 16), 10), {"width": 0}, "width must be"),
        (("simple", "max", (1, 16), 10), {"depth": 2.5}, "depth must be"),
        (("resnet20", "max", (3, 8, 8), 10), {"depth": 3}, "fixed depth"),
        (("simple", "max", (1, 16), 10), {"extra_conv": True}, "unknown option"),
        (("simple", "max", (1, 16), 10), {"head": "mean"}, "head"),
    ],
)
def test_bad_arguments_are_one_line_errors(args, kw, match):
    with pytest.raises(PoolstrideError, match=match) as info:
        build_model(*args, **kw)
    assert "\n" not in str(info.value)


def test_kind_may_be_a_module_class_or_partial():
    import functools

    from poolstride.layers import MaxPool, StridedConv

    model = build_model("simple", MaxPool, (1, 16), 3, width=4)
    assert model.kind == "max" and model(torch.randn(2, 1, 16)).shape == (2, 3)
    model = build_model(
        "simple", functools.partial(StridedConv, kernel_size=3), (1, 16), 3, width=4
    )
    assert model.kind.split(":")[0] == "conv"  # the built module's own variant string


def test_numpy_integers_are_accepted():
    import numpy as np

    model = build_model(
        "simple", "max", (np.int64(1), np.int64(16)), np.int64(3), width=np.int32(4)
    )
    assert model(torch.randn(2, 1, 16)).shape == (2, 3)


def test_width_scales_every_layer():
    narrow = count_params(build_model("resnet20", "max", (3, 8, 8), 10, width=8))
    wide = count_params(build_model("resnet20", "max", (3, 8, 8), 10, width=16))
    assert 3.5 < wide / narrow < 4.1  # params grow ~quadratically with width
