"""Kinds without a PyTorch twin, checked against closed forms; and the seeds' worked examples."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from poolstride.layers import binomial_filter, make_downsample, make_head

# --- worked examples -------------------------------------------------------------------------


def test_worked_example_4x4_max_pool_2x2_stride_2():
    x = torch.tensor([[1.0, 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]])[None, None]
    y = make_downsample("max", 1)(x)
    assert torch.equal(y[0, 0], torch.tensor([[9.0, 2], [6, 3]]))


def test_worked_example_5x5_window_3_stride_1_gives_3x3():
    module = make_downsample("max", 1, factor=1, kernel_size=3, padding=0)
    assert module(torch.randn(1, 1, 5, 5)).shape == (1, 1, (5 - 3) // 1 + 1, 3)


def test_worked_example_5x5x2_pools_each_channel_separately():
    x = torch.randn(1, 2, 5, 5)
    module = make_downsample("max", 2, factor=1, kernel_size=3, padding=0)
    y = module(x)
    assert y.shape == (1, 2, 3, 3)
    for c in range(2):
        assert torch.equal(y[:, c : c + 1], module(x[:, c : c + 1].expand(1, 2, 5, 5))[:, :1])
        assert y[0, c, 0, 0] == x[0, c, :3, :3].max()


def test_worked_example_7x7x1000_global_average_pooling():
    x = torch.randn(2, 1000, 7, 7)
    y = make_head("gap", 1000)(x)
    assert y.shape == (2, 1000)
    torch.testing.assert_close(y, x.sum((2, 3)) / (7 * 7))


# --- SoftPool --------------------------------------------------------------------------------


def test_softpool_two_element_window_closed_form():
    a, b = 0.3, -1.2
    y = make_downsample("soft", 1, dim=1)(torch.tensor([[[a, b]]]))
    expected = (a * math.exp(a) + b * math.exp(b)) / (math.exp(a) + math.exp(b))
    assert y.item() == pytest.approx(expected, rel=1e-6)


def test_softpool_tends_to_max_as_values_dominate():
    x = torch.randn(2, 3, 8, 8)
    soft, hard = make_downsample("soft", 3), make_downsample("max", 3)
    gaps = [(soft(x * scale) / scale - hard(x)).abs().max().item() for scale in (1, 10, 100, 1000)]
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < 1e-3
    assert torch.isfinite(soft(x * 1e4)).all()  # stable where a plain exp would overflow


def test_softpool_of_equal_values_is_that_value_and_padding_has_no_weight():
    x = torch.full((1, 1, 6, 6), 2.5)
    torch.testing.assert_close(make_downsample("soft:k3", 1)(x), torch.full((1, 1, 3, 3), 2.5))


def test_softpool_lies_between_mean_and_max():
    x = torch.randn(4, 2, 6, 6)
    y = make_downsample("soft", 2)(x)
    assert (y <= F.max_pool2d(x, 2) + 1e-6).all() and (y >= F.avg_pool2d(x, 2) - 1e-6).all()


# --- mixed and gated ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["mixed", "mixed:k3"])
def test_mixed_alpha_one_is_max_alpha_zero_is_avg(variant):
    x = torch.randn(2, 3, 8, 8)
    module = make_downsample(variant, 3)
    k, s, p = module.kernel_size, module.stride, module.padding
    with torch.no_grad():
        module.alpha_logit.fill_(math.inf)
        assert torch.equal(module(x), F.max_pool2d(x, k, s, p))
        module.alpha_logit.fill_(-math.inf)
        assert torch.equal(module(x), F.avg_pool2d(x, k, s, p))
        module.alpha_logit.zero_()
        torch.testing.assert_close(
            module(x), (F.max_pool2d(x, k, s, p) + F.avg_pool2d(x, k, s, p)) / 2
        )
    assert module.alpha.item() == 0.5


def test_gated_saturated_gates_give_max_and_avg():
    x = torch.randn(2, 3, 9)
    module = make_downsample("gated", 3, dim=1)
    with torch.no_grad():
        module.gate_weight.zero_()
        module.gate_bias.fill_(1e4)
        assert torch.equal(module(x), F.max_pool1d(x, 2))
        module.gate_bias.fill_(-1e4)
        assert torch.equal(module(x), F.avg_pool1d(x, 2))


def test_gated_gate_depends_on_the_window():
    x = torch.randn(2, 3, 8, 8)
    module = make_downsample("gated", 3)
    with torch.no_grad():
        module.gate_weight.fill_(1.0)
        gate = module.gate(x)
    expected = torch.sigmoid(F.avg_pool2d(x, 2) * 4 + module.gate_bias)
    torch.testing.assert_close(gate, expected)
    assert gate.std() > 0


# --- blur --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 8))
def test_binomial_filter_rows_are_binomial_and_sum_to_one(n):
    row = binomial_filter(n, 1, torch.float64)
    expected = torch.tensor([math.comb(n - 1, i) for i in range(n)], dtype=torch.float64)
    torch.testing.assert_close(row, expected / 2 ** (n - 1))
    square = binomial_filter(n, 2, torch.float64)
    torch.testing.assert_close(square, torch.outer(row, row))
    assert square.sum().item() == pytest.approx(1.0)


def test_filt3_is_1_2_1_over_4():
    assert binomial_filter(3, 1).tolist() == [0.25, 0.5, 0.25]


@pytest.mark.parametrize("variant", ["blur-avg", "blur-avg:filt5", "blur-max:filt4", "blur-max"])
@pytest.mark.parametrize("dim", [1, 2])
def test_blur_of_a_constant_stays_constant(variant, dim):
    x = torch.full((1, 2, *(9,) * dim), -3.25)
    y = make_downsample(variant, 2, dim=dim)(x)
    torch.testing.assert_close(y, torch.full_like(y, -3.25))


def test_blur_filter_is_not_saved_in_state_dict():
    module = make_downsample("blur-max", 4)
    assert list(module.state_dict()) == []
    assert module.num_parameters() == 0


# --- others ------------------------------------------------------------------------------------


def test_lp_with_p1_is_sum_pooling_and_large_p_approaches_max():
    x = torch.rand(2, 3, 8, 8) + 0.1
    torch.testing.assert_close(make_downsample("lp:p1", 3)(x), F.avg_pool2d(x, 2) * 4)
    big = make_downsample("lp", 3, p=64.0)(x.double())
    ratio = big / F.max_pool2d(x.double(), 2)
    assert (ratio >= 1).all() and (ratio <= 4 ** (1 / 64) + 1e-12).all()


def test_space_to_depth_equals_a_factor_strided_conv_with_rearranged_weights():
    module = make_downsample("space-to-depth", 3, 5)
    x = torch.randn(2, 3, 8, 8)
    # proj weight (5, 3*2*2, 1, 1) with channel order c*4 + i*2 + j -> conv weight (5, 3, 2, 2).
    weight = module.proj.weight.reshape(5, 3, 2, 2)
    torch.testing.assert_close(module(x), F.conv2d(x, weight, module.proj.bias, stride=2))


def test_none_returns_the_input_unchanged():
    x = torch.randn(2, 3, 5, 5)
    assert make_downsample("none", 3)(x) is x
    assert make_downsample("none", 3).factor == 1


def test_pool_then_projection_for_other_out_channels():
    module = make_downsample("max", 4, 8)
    x = torch.randn(2, 4, 6, 6)
    expected = F.conv2d(F.max_pool2d(x, 2), module.proj.weight, module.proj.bias)
    assert torch.equal(module(x), expected)


def test_channel_agnostic_pool_accepts_any_channels():
    module = make_downsample("avg", None)
    assert module(torch.randn(1, 7, 4, 4)).shape == (1, 7, 2, 2)
