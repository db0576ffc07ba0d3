"""swap_downsampling on real architectures (torchvision, timm): shapes, classes, inverse, weights.

Small inputs (3x32x32) keep these fast; every model is built untrained (no download).
"""

from __future__ import annotations

import importlib.util

import pytest
import torch

from poolstride import zoo
from poolstride.analysis import profile
from poolstride.surgery import SplitStride, find_sites, swap_downsampling, trace_shapes

SHAPE = (3, 32, 32)
NUM_CLASSES = 7
TARGETS = ["blur-max", "max", "avg", "conv"]
HAS_TIMM = importlib.util.find_spec("timm") is not None

MODELS = [
    "torchvision:resnet18",
    pytest.param("torchvision:resnet50", marks=pytest.mark.slow),
    pytest.param("torchvision:vgg11", marks=pytest.mark.slow),  # 130M params to deep-copy
    "torchvision:squeezenet1_1",  # ceil_mode max pools
    "torchvision:mobilenet_v2",
    pytest.param("torchvision:densenet121", marks=pytest.mark.slow),
    pytest.param(
        "timm:resnet18", marks=pytest.mark.skipif(not HAS_TIMM, reason="timm not installed")
    ),
]

# Sites each architecture must expose (spot checks of the site finder on real models).
EXPECTED_SITES = {
    "torchvision:resnet18": {"conv1", "maxpool", "layer2.0.conv1", "layer2.0.downsample.0"},
    "torchvision:resnet50": {"conv1", "maxpool", "layer2.0.conv2", "layer4.0.downsample.0"},
    "torchvision:vgg11": {"features.2", "features.5", "features.20"},
    "torchvision:squeezenet1_1": {"features.0", "features.2", "features.5", "features.8"},
    "torchvision:mobilenet_v2": {"features.0.0", "features.2.conv.1.0"},  # depthwise stride 2
    "torchvision:densenet121": {"features.conv0", "features.pool0", "features.transition1.pool"},
    "timm:resnet18": {"conv1", "maxpool", "layer3.0.downsample.0"},
}


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(name):
        if name not in cache:
            torch.manual_seed(0)
            cache[name] = zoo.load_model(name, num_classes=NUM_CLASSES, input_shape=SHAPE)
        return cache[name]

    return get


def _structure(model, paths):
    """Module type and geometry at each site path."""
    keys = ("kernel_size", "stride", "padding", "dilation", "groups", "ceil_mode")
    out = {}
    for path in paths:
        m = model.get_submodule(path)
        out[path] = (type(m), tuple(getattr(m, k, None) for k in keys))
    return out


@pytest.mark.parametrize("name", MODELS)
def test_swaps_keep_every_shape_classes_weights_and_invert(models, name):
    model = models(name)
    example = torch.zeros(1, *SHAPE)
    before = trace_shapes(model, example)
    sites = [s.path for s in find_sites(model, before)]
    assert EXPECTED_SITES[name] <= set(sites)
    original_state = model.state_dict()
    for target in TARGETS:
        new, changes = swap_downsampling(model, target, input_shape=SHAPE, name=name)
        assert [c.path for c in changes] == sites
        after = trace_shapes(new, example)
        assert after.output == (1, NUM_CLASSES)
        for path, calls in before.calls.items():  # all intermediate shapes
            if path in after.calls:
                assert [c[1] for c in after.calls[path]] == [c[1] for c in calls], (target, path)
        # Untouched weights are bit-identical; split convs keep theirs under ".conv".
        new_state = new.state_dict()
        split = {c.path for c in changes if c.action == "split"}
        for key, value in original_state.items():
            owner, _, leaf = key.rpartition(".")
            moved = f"{owner}.conv.{leaf}" if owner in split else key
            assert torch.equal(new_state[moved], value), (target, key)
        for path in split:
            assert isinstance(new.get_submodule(path), SplitStride)
        # The inverse swap restores the original structure at every site.
        back, undo = swap_downsampling(new, "original", input_shape=SHAPE)
        assert _structure(back, sites) == _structure(model, sites), target
        assert [type(m) for m in back.modules()] == [type(m) for m in model.modules()]
        assert {c.path for c in undo if c.action == "restored"} == {
            c.path for c in changes if c.changed
        }


def test_resnet18_blur_max_matches_the_antialiased_recipe(models):
    """With skip_stem, the result has Zhang's structure: strided stem conv kept, the max pool
    becomes max(2, stride 1) + blur, strided 3x3 convs become conv + blur, shortcuts blur
    before their 1x1 conv."""
    new, changes = swap_downsampling(
        models("torchvision:resnet18"), "blur-max", input_shape=SHAPE, skip_stem=True
    )
    assert changes.by_path()["conv1"].reason == "stem"
    assert new.maxpool.kind == "blur-max"
    assert not new.layer2[0].conv1.down_first and new.layer2[0].downsample[0].down_first
    assert changes.totals["d_params"] == 0 and changes.totals["d_macs"] > 0


def test_googlenet_ceil_mode_pools_are_kept_exactly(models):
    model = zoo.load_model("torchvision:googlenet", num_classes=5, input_shape=(3, 64, 64))
    new, changes = swap_downsampling(model, "avg", input_shape=(3, 64, 64))
    ceil_sites = [c for c in changes if "ceil" in c.before]
    assert ceil_sites and all(c.action == "replaced" for c in ceil_sites)
    assert new(torch.zeros(1, 3, 64, 64)).shape == (1, 5)


@pytest.mark.parametrize("target", ["blur-max", "conv", "space-to-depth"])
def test_change_costs_agree_with_the_profiler(models, target):
    """The per-site deltas (each site run alone) sum to the difference of the whole-model
    profiles: checks attribution to sites. The per-call counting rule itself is shared with the
    profiler (analysis.ops) and checked against FlopCounterMode in tests/surgery/test_swap.py."""
    model = models("torchvision:resnet18")
    new, changes = swap_downsampling(model, target, input_shape=SHAPE)
    before, after = profile(model, SHAPE).totals, profile(new, SHAPE).totals
    assert changes.totals["d_macs"] == after.macs - before.macs
    assert changes.totals["d_params"] == after.params - before.params
    assert changes.totals["d_pool_ops"] == after.pool_ops - before.pool_ops


@pytest.mark.parametrize("target", ["blur-max", "avg", "conv"])
def test_projecting_pool_shortcut_keeps_its_channel_change(target):
    """resnet20 built with ``max`` has pool + 1x1 shortcuts (16 -> 32 channels); a swapped
    shortcut must change channels the same way (it used to keep 16 and fail the swap)."""
    from poolstride.models import build_model

    model = build_model("resnet20", "max", SHAPE, NUM_CLASSES)
    new, changes = swap_downsampling(model, target, input_shape=SHAPE)
    shortcut = changes.by_path()["features.2.0.shortcut.0"]
    assert shortcut.action == "replaced" and shortcut.output_shape == (1, 32, 16, 16)
    assert new(torch.zeros(2, *SHAPE)).shape == (2, NUM_CLASSES)
