"""The profile's counting conventions, checked against the tools users compare it with
(fvcore, ptflops, torchvision's weights metadata), and the memory column's no-op rule."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from poolstride.analysis.ops import CONVENTION
from poolstride.analysis.profile_table import profile
from poolstride.zoo import load_model, torchvision_gflops

HAS_TIMM = importlib.util.find_spec("timm") is not None


class AddOneInPlace(nn.Module):
    def forward(self, x):
        return x.add_(1.0)


def test_modules_returning_their_input_untouched_allocate_nothing():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.Identity(),
        nn.ReLU(inplace=True),  # returns its input, but changed: counted
        nn.Dropout(0.5),  # eval mode: returns its input untouched
        AddOneInPlace(),
        nn.Flatten(),
    )
    table = profile(model, (3, 8, 8))
    memory = {row.name: row.activation_bytes for row in table.rows}
    one_map = 4 * 8 * 8 * 4
    assert memory == {"0": one_map, "1": 0, "2": one_map, "3": 0, "4": one_map, "5": one_map}
    assert table.totals.activation_bytes == 4 * one_map
    assert model.training  # profiled in eval mode, its own mode restored


@pytest.mark.skipif(not HAS_TIMM, reason="timm not installed")
def test_timm_and_torchvision_resnet18_need_the_same_memory():
    shape = (3, 64, 64)
    ours = profile(load_model("torchvision:resnet18"), shape)
    theirs = profile(load_model("timm:resnet18"), shape)
    assert any(row.type == "Identity" for row in theirs.rows)
    assert all(row.activation_bytes == 0 for row in theirs.rows if row.type == "Identity")
    assert theirs.totals.activation_bytes == ours.totals.activation_bytes
    assert theirs.totals.macs == ours.totals.macs


def test_the_footer_states_the_convention_and_the_other_tools():
    table = profile(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()), (1, 5, 5))
    for text in ("fvcore", "ptflops", "torchvision", "FLOPs = 2 x MACs", "Identity"):
        assert text in CONVENTION
    assert f"Convention: {CONVENTION}." in table.to_markdown()
    assert table.to_rich().caption == f"Convention: {CONVENTION}"


@pytest.fixture(scope="module")
def resnet18_224():
    model = load_model("torchvision:resnet18").eval()
    return model, profile(model, (3, 224, 224))


def test_torchvision_gflops_are_our_macs(resnet18_224):
    _, table = resnet18_224
    assert torchvision_gflops("resnet18") == round(table.totals.macs / 1e9, 3)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        resnet18_224[0](torch.randn(1, 3, 224, 224))
    assert counter.get_total_flops() == table.totals.flops


def test_fvcore_flops_are_our_macs_plus_batch_norm_and_adaptive_pooling(resnet18_224):
    fvcore = pytest.importorskip("fvcore.nn")
    model, table = resnet18_224
    count = fvcore.FlopCountAnalysis(model, torch.randn(1, 3, 224, 224))
    count.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_op = count.by_operator()
    assert by_op["conv"] + by_op["linear"] == table.totals.macs
    bn_elements = sum(r.activation_bytes // 4 for r in table.rows if r.type == "BatchNorm2d")
    assert by_op["batch_norm"] == 2 * bn_elements
    adaptive = sum(r.pool_ops for r in table.rows if r.type == "AdaptiveAvgPool2d")
    assert by_op["adaptive_avg_pool2d"] == adaptive
    assert count.total() == table.totals.macs + 2 * bn_elements + adaptive


def test_ptflops_aten_is_our_macs_plus_the_linear_bias(resnet18_224):
    ptflops = pytest.importorskip("ptflops")
    model, table = resnet18_224
    macs, _ = ptflops.get_model_complexity_info(
        model, (3, 224, 224), as_strings=False, print_per_layer_stat=False, backend="aten"
    )
    assert macs == table.totals.macs + model.fc.out_features
    default, _ = ptflops.get_model_complexity_info(
        model, (3, 224, 224), as_strings=False, print_per_layer_stat=False, backend="pytorch"
    )
    assert default > table.totals.macs + 0.005 * table.totals.macs  # + BN, ReLU, pooling
