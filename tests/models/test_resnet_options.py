"""CIFAR ResNets at depth 20/56/110 with their ``shortcut`` and ``stem`` options."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.models import build_model, count_params
from poolstride.models.registry import split_model_name
from poolstride.models.resnet import SHORTCUTS, STEMS, check_depth


def bn(c):  # BatchNorm: weight and bias
    return 2 * c


def resnet_params(n, w=16, classes=10, shortcut="projection", shape=(3, 32, 32)):
    """Hand count of a CIFAR ResNet with ``n`` blocks per stage (He et al. 2016, 4.2)."""
    k = 3 ** (len(shape) - 1)  # a 3x3 (or 3-tap) kernel
    total = shape[0] * k * w + bn(w)  # conv3 stem
    for i, c in enumerate((w, 2 * w, 4 * w)):
        for b in range(n):
            cin = c // 2 if (i > 0 and b == 0) else c
            total += cin * k * c + bn(c) + c * k * c + bn(c)
            if i > 0 and b == 0:
                total += {
                    "projection": cin * c + c + bn(c),  # subsample + 1x1 conv (bias) + BN
                    "avgpool-pad": 0,
                    "avgpool-concat": 0,
                    "resnet-d": cin * c + bn(c),  # avg-pool + 1x1 conv (no bias) + BN
                }[shortcut]
    return total + 4 * w * classes + classes


@pytest.mark.parametrize("depth,n,published", [(20, 3, 0.27), (56, 9, 0.85), (110, 18, 1.7)])
def test_depths_have_the_papers_parameter_counts(depth, n, published):
    model = build_model(f"resnet{depth}", None, (3, 32, 32), 10)
    assert count_params(model) == resnet_params(n)
    assert abs(count_params(model) / 1e6 - published) < 0.035  # the paper rounds loosely


@pytest.mark.parametrize("shortcut", SHORTCUTS)
@pytest.mark.parametrize("shape", [(3, 16, 16), (2, 15, 13), (1, 24)])
def test_shortcuts_shapes_params_and_finite_gradients(shortcut, shape):
    model = build_model(f"resnet20,shortcut={shortcut}", None, shape, 7, width=4)
    assert count_params(model) == resnet_params(3, 4, 7, shortcut, shape)
    x = torch.randn(2, *shape)
    out = model(x)
    assert out.shape == (2, 7)
    out.sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_pooling_shortcuts_compute_what_they_say():
    x = torch.randn(2, 4, 6, 6)
    pad = build_model("resnet20,shortcut=avgpool-pad", None, (3, 8, 8), 10, width=4)
    out = pad.features[2][0].shortcut(x)
    torch.testing.assert_close(out[:, :4], nn.functional.avg_pool2d(x, 2))
    assert out.shape == (2, 8, 3, 3) and not out[:, 4:].any()
    cat = build_model("resnet20,shortcut=avgpool-concat", None, (3, 8, 8), 10, width=4)
    out = cat.features[2][0].shortcut(x)
    pools = [nn.functional.avg_pool2d(x, 2), nn.functional.max_pool2d(x, 2)]
    torch.testing.assert_close(out, torch.cat(pools, 1))


@pytest.mark.parametrize("size", [64, 65, 96])
def test_conv7s2_max_stem_has_torchvisions_shapes(size):
    ours = build_model("resnet20,stem=conv7s2-max", None, (3, size, size), 10, width=64)
    stem = ours.features[0]
    reference = torchvision.models.resnet18()
    theirs = nn.Sequential(reference.conv1, reference.bn1, reference.relu, reference.maxpool)
    x = torch.randn(1, 3, size, size)
    ours_shapes, theirs_shapes = [], []
    for module, shapes in ((stem, ours_shapes), (theirs, theirs_shapes)):
        h = x
        for layer in module:
            h = layer(h)
            shapes.append(tuple(h.shape))
    assert ours_shapes == theirs_shapes
    assert count_params(stem) == count_params(theirs) == 64 * 3 * 49 + bn(64)


@pytest.mark.parametrize("stem", STEMS)
def test_stems_downsample_4x_except_cifars(stem):
    model = build_model(f"resnet20,stem={stem}", None, (3, 64, 64), 10, width=8)
    out = model.features[0](torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 8, *(2 * [64 if stem == "conv3" else 16]))
    expected = {
        "conv3": 3 * 9 * 8 + bn(8),
        "conv7s2-max": 3 * 49 * 8 + bn(8),
        "conv7-pool": 3 * 49 * 8 + bn(8),
        "deep3x3": 3 * 9 * 4 + bn(4) + 4 * 9 * 4 + bn(4) + 4 * 9 * 8 + bn(8),
    }[stem]
    assert count_params(model.features[0]) == expected
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_model_name_carries_options():
    assert split_model_name("resnet56,shortcut=resnet-d,stem=Deep3x3") == (
        "resnet56",
        {"shortcut": "resnet-d", "stem": "deep3x3"},
    )
    assert split_model_name("simple,kernel_size=5,batch_norm=false")[1] == {
        "kernel_size": 5,
        "batch_norm": False,
    }
    model = build_model("simple,kernel_size=5", "max", (1, 16), 10)
    assert model.features[0][0].kernel_size == (5,)


@pytest.mark.parametrize(
    "name,match",
    [
        ("resnet20,shortcut=option-a", "unknown resnet20 shortcut 'option-a'.*avgpool-pad"),
        ("resnet20,stem=conv5", "unknown resnet20 stem 'conv5'.*deep3x3"),
        ("resnet20,stem", "options are written NAME,option=value"),
        ("resnet20,colour=red", "unknown option"),
    ],
)
def test_bad_options_are_one_line_errors(name, match):
    with pytest.raises(PoolstrideError, match=match) as info:
        build_model(name, None, (3, 16, 16), 10)
    assert "\n" not in str(info.value)


def test_depth_must_be_6n_plus_2():
    assert check_depth("resnet", 110) == 18
    with pytest.raises(PoolstrideError, match="6n \\+ 2.*got 21"):
        check_depth("resnet", 21)
