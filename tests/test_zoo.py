"""poolstride.zoo: models by name, adapted to a dataset's classes and channels; no downloads."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

from poolstride import zoo
from poolstride.errors import PoolstrideError

HAS_TIMM = importlib.util.find_spec("timm") is not None


@pytest.mark.parametrize(
    "name, shape",
    [
        ("torchvision:resnet18", (3, 32, 32)),
        ("resnet18", (1, 28, 28)),  # bare name = torchvision; MNIST-like: 1 channel
        ("torchvision:vgg11", (3, 32, 32)),
        ("torchvision:mobilenet_v2", (3, 32, 32)),
        ("torchvision:squeezenet1_0", (3, 64, 64)),  # classifier is a 1x1 conv
        ("torchvision:googlenet", (3, 64, 64)),  # aux heads off: plain logits
    ],
)
def test_load_model_adapts_classes_and_channels(name, shape):
    model = zoo.load_model(name, num_classes=10, input_shape=shape)
    model.train()
    out = model(torch.randn(2, *shape))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 10)


@pytest.mark.skipif(not HAS_TIMM, reason="timm not installed")
def test_timm_model_is_built_untrained_with_classes_and_channels():
    model = zoo.load_model("timm:resnet18", num_classes=4, input_shape="1x32x32")
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 4)
    assert model.conv1.in_channels == 1


def test_input_too_small_for_the_downsampling_is_a_clear_error():
    with pytest.raises(PoolstrideError) as err:
        zoo.load_model("torchvision:vgg11", num_classes=10, input_shape=(3, 16, 16))
    message = str(err.value)
    assert "3x16x16" in message and "'features.20'" in message and "too small" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "name, pattern",
    [
        (
            "torchvision:resnet81",
            r"unknown torchvision model 'resnet81' \(did you mean torchvision:resnet18\?\)",
        ),
        ("vgg111", r"did you mean torchvision:vgg11"),
        ("keras:resnet18", r"unknown model source 'keras'; valid: timm, torchvision"),
        ("timm:", r"model name missing"),
    ],
)
def test_unknown_names_are_one_line_errors_with_the_closest_match(name, pattern):
    with pytest.raises(PoolstrideError, match=pattern):
        zoo.load_model(name)


@pytest.mark.skipif(not HAS_TIMM, reason="timm not installed")
def test_unknown_timm_name_suggests_the_closest():
    with pytest.raises(PoolstrideError, match=r"did you mean timm:resnet18"):
        zoo.load_model("timm:resnt18")


def test_timm_missing_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "timm" else real(name, *a)
    )
    with pytest.raises(
        PoolstrideError, match=r"timm is not installed; install it with `pip install timm`"
    ):
        zoo.load_model("timm:resnet18")


class _WithHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Conv2d(3, 8, 3)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))

    def forward(self, x):
        return self.head(self.body(x))


def test_replace_classifier_finds_fc_classifier_and_head():
    model = zoo.replace_classifier(_WithHead(), 6)
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 6)
    assert torch.equal(model.body.weight, model.body.weight)
    with pytest.raises(PoolstrideError, match="cannot find the final classifier of Sequential"):
        zoo.replace_classifier(nn.Sequential(nn.Conv2d(3, 3, 1)), 2)


def test_adapt_input_channels_rebuilds_only_the_first_conv():
    model = _WithHead()
    zoo.adapt_input_channels(model, 1)
    assert model.body.in_channels == 1 and model.body.kernel_size == (3, 3)
    assert model(torch.randn(1, 1, 8, 8)).shape == (1, 3)


def test_list_models():
    names = zoo.list_models("torchvision")
    assert "resnet18" in names and "densenet121" in names
    with pytest.raises(PoolstrideError, match="unknown model source"):
        zoo.list_models("keras")
