"""One table of (variant, dim, factor, channels, input shape) -> expected output shape.

Every row is checked for: output shape (expected sizes written as arithmetic from the floor
rule), ``output_size``, normalised geometry attributes, gradient flow to the input and to every
parameter, eval-mode determinism, ``torch.autograd.gradcheck`` in float64 (input and
parameters) and the parameter count.
"""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from poolstride.layers import PARAMETER_FREE_KINDS, make_downsample

# (variant, dim, factor, in_ch, out_ch, input shape, expected output shape, parameter count)
CASES = [
    ("max", 2, 2, 3, 3, (2, 3, 8, 8), (2, 3, 4, 4), 0),
    ("max:k3", 2, 2, 3, 3, (2, 3, 8, 8), (2, 3, (8 + 2 - 3) // 2 + 1, 4), 0),
    ("max:k3:pad0", 2, 2, 3, 3, (2, 3, 9, 9), (2, 3, (9 - 3) // 2 + 1, (9 - 3) // 2 + 1), 0),
    ("max:d2", 1, 2, 3, 3, (2, 3, 10), (2, 3, (10 + 2 - 3) // 2 + 1), 0),
    ("max:ceil", 1, 2, 3, 3, (2, 3, 7), (2, 3, -(-(7 - 2) // 2) + 1), 0),
    ("max", 1, 3, 3, 3, (2, 3, 10), (2, 3, 10 // 3), 0),
    ("avg", 1, 2, 3, 3, (2, 3, 7), (2, 3, 7 // 2), 0),
    ("avg:k3:nocip", 2, 2, 3, 3, (2, 3, 7, 7), (2, 3, (7 + 2 - 3) // 2 + 1, 4), 0),
    ("avg", 2, 2, 3, 5, (2, 3, 6, 6), (2, 5, 3, 3), 3 * 5 + 5),
    ("lp", 2, 2, 3, 3, (2, 3, 8, 8), (2, 3, 4, 4), 0),
    ("lp:p3:k3", 1, 2, 3, 3, (2, 3, 9), (2, 3, (9 - 3) // 2 + 1), 0),
    ("soft", 2, 2, 3, 3, (2, 3, 8, 8), (2, 3, 4, 4), 0),
    ("soft:k3", 1, 2, 3, 3, (2, 3, 8), (2, 3, (8 + 2 - 3) // 2 + 1), 0),
    ("mixed", 2, 2, 3, 3, (2, 3, 8, 8), (2, 3, 4, 4), 1),
    ("mixed:k3", 1, 2, 3, 3, (2, 3, 9), (2, 3, (9 + 2 - 3) // 2 + 1), 1),
    ("gated", 2, 2, 3, 3, (2, 3, 8, 8), (2, 3, 4, 4), 2 * 2 + 1),
    ("gated:k3", 1, 2, 3, 3, (2, 3, 9), (2, 3, (9 + 2 - 3) // 2 + 1), 3 + 1),
    ("blur-max", 2, 2, 3, 3, (2, 3, 8, 8), (2, 3, (8 - 2) // 2 + 1, 4), 0),
    ("blur-max:filt5", 1, 2, 3, 3, (2, 3, 9), (2, 3, (9 - 2) // 2 + 1), 0),
    ("blur-max:filt4", 1, 2, 3, 3, (2, 3, 9), (2, 3, (9 - 2) // 2 + 1), 0),
    ("blur-avg", 1, 2, 3, 3, (2, 3, 9), (2, 3, (9 - 1) // 2 + 1), 0),
    ("blur-avg:filt1", 2, 3, 3, 3, (2, 3, 7, 7), (2, 3, (7 - 1) // 3 + 1, 3), 0),
    ("blur-conv", 2, 2, 3, 5, (2, 3, 8, 8), (2, 5, 4, 4), 5 * 3 * 3 * 3 + 5),
    ("blur-conv:k1:nobias", 1, 2, 3, 4, (2, 3, 9), (2, 4, (9 - 1) // 2 + 1), 4 * 3),
    ("conv", 2, 2, 3, 5, (2, 3, 8, 8), (2, 5, 4, 4), 5 * 3 * 2 * 2 + 5),
    ("conv:k3", 1, 2, 3, 3, (2, 3, 9), (2, 3, (9 + 2 - 3) // 2 + 1), 3 * 3 * 3 + 3),
    ("dwconv", 2, 2, 3, 3, (2, 3, 8, 8), (2, 3, 4, 4), 3 * 2 * 2 + 3),
    ("dwconv:k3", 2, 2, 3, 6, (2, 3, 8, 8), (2, 6, 4, 4), 3 * 3 * 3 + 3 + 3 * 6 + 6),
    ("space-to-depth", 2, 2, 3, 5, (2, 3, 9, 9), (2, 5, 9 // 2, 9 // 2), 5 * 3 * 4 + 5),
    ("space-to-depth", 1, 2, 3, 3, (2, 3, 9), (2, 3, 9 // 2), 3 * 3 * 2 + 3),
    ("subsample", 1, 2, 3, 3, (2, 3, 9), (2, 3, (9 - 1) // 2 + 1), 0),
    ("subsample", 2, 3, 3, 3, (2, 3, 7, 8), (2, 3, (7 - 1) // 3 + 1, (8 - 1) // 3 + 1), 0),
    ("none", 2, 2, 3, 5, (2, 3, 5, 5), (2, 5, 5, 5), 3 * 5 + 5),
    ("none", 1, 2, 3, 3, (2, 3, 5), (2, 3, 5), 0),
    ("adaptive-avg:o3", 2, 2, 3, 3, (2, 3, 8, 8), (2, 3, 3, 3), 0),
    ("adaptive-max", 1, 2, 3, 3, (2, 3, 9), (2, 3, 9 // 2), 0),
]
IDS = [f"{c[0]}-{c[1]}d-f{c[2]}-{c[3]}to{c[4]}" for c in CASES]


def _input(variant: str, shape, dtype=torch.float32) -> torch.Tensor:
    x = torch.randn(shape, dtype=dtype)
    # Lp pooling with non-integer or odd p needs non-negative inputs (as torch's lp_pool).
    return x.abs() + 0.1 if variant.startswith("lp") else x


def _build(case):
    variant, dim, factor, cin, cout, *_ = case
    return make_downsample(variant, cin, cout, factor=factor, dim=dim)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_output_shape_and_geometry(case):
    variant, dim, factor, cin, cout, shape, expected, _ = case
    module = _build(case)
    assert tuple(module(_input(variant, shape)).shape) == expected
    assert module.output_size(shape[2:]) == expected[2:]
    assert module.kind == variant.split(":")[0]
    assert module.dim == dim
    for name in ("kernel_size", "stride", "padding", "dilation"):
        value = getattr(module, name)
        assert isinstance(value, tuple) and len(value) == dim, name
        assert all(isinstance(v, int) for v in value)
    assert isinstance(module.ceil_mode, bool)
    assert module.in_channels == cin and module.out_channels == cout


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_reaches_input_and_every_parameter(case):
    module = _build(case)
    x = _input(case[0], case[5]).requires_grad_()
    module(x).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, param in module.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_eval_mode_is_deterministic(case):
    module = _build(case).eval()
    x = _input(case[0], case[5])
    with torch.no_grad():
        assert torch.equal(module(x), module(x))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck_float64_input_and_parameters(case):
    module = _build(case).double()
    if hasattr(module, "alpha_logit"):  # move off the symmetric init for a stronger check
        torch.nn.init.normal_(module.alpha_logit)
    if hasattr(module, "gate_weight"):
        torch.nn.init.normal_(module.gate_weight, std=0.5)
    shape = (1, *case[5][1:])
    x = _input(case[0], shape, torch.float64).requires_grad_()
    names = [n for n, _ in module.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in module.named_parameters()]

    def run(inp, *ps):
        return functional_call(module, dict(zip(names, ps)), (inp,))

    assert torch.autograd.gradcheck(run, (x, *params), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_parameter_count(case):
    module = _build(case)
    assert sum(p.numel() for p in module.parameters()) == case[7]
    kind = case[0].split(":")[0]
    if kind in PARAMETER_FREE_KINDS and case[3] == case[4]:
        assert case[7] == 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_describe_and_repr_show_geometry(case):
    module = _build(case)
    text = module.describe()
    assert "\n" not in text and module.variant in text and "s=" in text
    assert "kernel_size=" in repr(module) and "stride=" in repr(module)
