"""Global heads: outputs against closed forms, feature counts, errors."""

from __future__ import annotations

import pytest
import torch

from poolstride.errors import PoolstrideError
from poolstride.layers import HEADS, head_features, make_head


@pytest.mark.parametrize("dim", [1, 2])
def test_heads_match_closed_forms(dim):
    x = torch.randn(3, 5, *(4,) * dim)
    flat = x.flatten(2)
    expected = {
        "gap": flat.mean(-1),
        "gmp": flat.max(-1).values,
        "avgmax": (flat.mean(-1) + flat.max(-1).values) / 2,
        "catavgmax": torch.cat([flat.mean(-1), flat.max(-1).values], 1),
        "flatten": x.reshape(3, -1),
    }
    assert set(expected) == set(HEADS)
    for kind, value in expected.items():
        torch.testing.assert_close(make_head(kind, 5, dim)(x), value)


@pytest.mark.parametrize("kind", HEADS)
@pytest.mark.parametrize(("dim", "spatial"), [(1, (7,)), (2, (3, 5))])
def test_head_features_matches_output(kind, dim, spatial):
    out = make_head(kind, 6, dim)(torch.randn(2, 6, *spatial))
    assert out.shape == (2, head_features(kind, 6, spatial))


def test_head_feature_arithmetic():
    assert head_features("gap", 1000, (7, 7)) == 1000
    assert head_features("catavgmax", 64, (8, 8)) == 2 * 64
    assert head_features("flatten", 16, (5, 5)) == 16 * 5 * 5
    assert head_features("flatten", 16, 10) == 16 * 10


def test_head_errors():
    with pytest.raises(PoolstrideError, match="unknown head 'avg'.*gap"):
        make_head("avg", 3)
    with pytest.raises(PoolstrideError, match="unknown head"):
        head_features("mean", 3, (2, 2))
    with pytest.raises(PoolstrideError, match=r"gap head expects a 4-D input \(N, C, H, W\)"):
        make_head("gap", 3)(torch.randn(3, 4, 4))
    with pytest.raises(PoolstrideError, match="3 channels"):
        make_head("gmp", 3)(torch.randn(1, 4, 4, 4))


@pytest.mark.parametrize("kind", HEADS)
def test_heads_have_no_parameters_and_pass_gradcheck(kind):
    head = make_head(kind, 2, 2)
    assert sum(p.numel() for p in head.parameters()) == 0
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(head, (x,))
