"""poolstride.analysis.gradient_flow: per-layer gradient norms, measured without side effects."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from poolstride.analysis.gradient_flow import gradient_norms


def test_gradient_norms_match_manual_and_leave_no_trace():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6, 3)
    )
    x, y = torch.randn(10, 1, 8), torch.randint(0, 3, (10,))
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model[0].weight.grad = torch.full_like(model[0].weight, 7.0)
    norms = gradient_norms(model, x, y)
    assert list(norms) == ["0", "1", "4"]
    # state untouched: mode, parameters, BN running stats, existing grads
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert torch.equal(model[0].weight.grad, torch.full_like(model[0].weight, 7.0))
    assert model[4].weight.grad is None
    # the reference: one train-mode backward pass by hand
    ref = nn.Sequential(*[m for m in model])
    ref.train()
    F.cross_entropy(ref(x), y).backward()
    expect = (model[4].weight.grad.pow(2).sum() + model[4].bias.grad.pow(2).sum()).sqrt()
    assert norms["4"] == pytest.approx(expect.item(), rel=1e-5)
