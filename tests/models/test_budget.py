import pytest
import torch
from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.models import build_model, count_macs, count_params, match_budget, model_cost


def test_count_macs_of_known_layers():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 8 * 8, 5))
    assert count_macs(model, (3, 8, 8)) == 3 * 8 * 9 * (8 * 8) + 8 * 8 * 8 * 5
    conv1d = nn.Conv1d(2, 4, 5, stride=2)
    assert count_macs(conv1d, (2, 21)) == 2 * 4 * 5 * 9


@pytest.mark.parametrize("kind", ["max", "conv:k3", "blur-max", "space-to-depth", "lp"])
def test_count_macs_is_the_profile_convention(kind):
    """One MACs convention everywhere: count_macs equals profile()'s total (pooling apart)."""
    from poolstride.analysis.profile_table import profile

    model = build_model("simple", kind, (3, 16, 16), 4, width=8)
    table = profile(model, (3, 16, 16))
    assert count_macs(model, (3, 16, 16)) == table.totals.macs > 0


def test_count_macs_restores_training_mode():
    model = build_model("simple", "max", (1, 16), 3, width=4)
    count_macs(model, (1, 16))
    assert model.training


@pytest.mark.parametrize(
    "name, kind, baseline, shape, by, kw",
    [
        ("simple", "conv:k3", "max", (1, 40), "params", {}),
        ("simple", "conv", "max", (1, 40), "macs", {}),
        ("simple", "max", "conv:k3", (3, 16, 16), "params", {"width": 16}),
        ("simple", "space-to-depth", "avg", (3, 16, 16), "macs", {"width": 32}),
        ("resnet20", "conv:k3", "subsample", (3, 8, 8), "params", {}),
        ("allcnn-c", "conv:k3", "max:k3", (3, 12, 12), "params", {"width": 24}),
        ("lenet5", "conv", "avg", (1, 28, 28), "params", {}),
    ],
)
def test_match_budget_within_5_percent(name, kind, baseline, shape, by, kw):
    width = match_budget(name, kind, baseline, shape, 10, by=by, **kw)
    target = model_cost(name, baseline, shape, 10, by, **kw)
    variant_kw = {k: v for k, v in kw.items() if k != "width"}
    got = model_cost(name, kind, shape, 10, by, width=width, **variant_kw)
    assert abs(got - target) / target <= 0.05
    # The answer is the closest integer width: its neighbours are no closer.
    for other in (width - 1, width + 1):
        if other >= 1:
            cost = model_cost(name, kind, shape, 10, by, width=other, **variant_kw)
            assert abs(cost - target) >= abs(got - target)


def test_a_learned_kind_is_matched_by_narrowing_and_a_free_kind_by_widening():
    narrower = match_budget("simple", "conv:k3", "max", (1, 40), 10, width=32)
    wider = match_budget("simple", "max", "conv:k3", (1, 40), 10, width=32)
    assert narrower < 32 < wider
    same = match_budget("simple", "avg", "max", (1, 40), 10)
    assert same == 32  # equal cost at the default width


def test_unreachable_budget_is_a_one_line_error():
    # At width 1 the learned downsampling alone costs more than 5% of the baseline.
    with pytest.raises(PoolstrideError, match="cannot match simple with kind 'conv:k3'") as info:
        match_budget("simple", "conv:k3", "max", (1, 40), 10, width=1)
    assert "\n" not in str(info.value)


def test_unknown_budget():
    with pytest.raises(PoolstrideError, match="unknown budget 'flops'"):
        match_budget("simple", "conv", "max", (1, 40), 10, by="flops")


def test_params_budget_matches_direct_count():
    model = build_model("simple", "conv", (1, 40), 10)
    assert model_cost("simple", "conv", (1, 40), 10, "params") == count_params(model)
    assert count_params(model) == sum(p.numel() for p in model.parameters())
    assert torch.is_tensor(next(model.parameters()))
