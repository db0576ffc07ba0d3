"""The All-CNN paper names are variant strings of allcnn-* (the allcnn study's grid)."""

from __future__ import annotations

import pytest
import torch

from poolstride.models import build_model
from poolstride.models.allcnn import ALLCNN_VARIANTS
from poolstride.reproduce.studies import allcnn


def _params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(ALLCNN_VARIANTS))
def test_paper_name_builds_the_same_network_as_its_kind_and_flag(name):
    kind, extra = ALLCNN_VARIANTS[name]
    by_name = build_model("allcnn-c", name, (3, 32, 32), 10, width=8)
    by_kind = build_model("allcnn-c", kind, (3, 32, 32), 10, width=8, extra_conv=extra)
    assert by_name.kind == kind and by_name.extra_conv is extra
    assert [tuple(p.shape) for p in by_name.parameters()] == [
        tuple(p.shape) for p in by_kind.parameters()
    ]
    by_kind.load_state_dict(by_name.state_dict())
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(by_name.eval()(x), by_kind.eval()(x))


def test_convpool_and_allconv_have_equal_parameters_as_in_the_paper():
    built = {v: build_model("allcnn-c", v, (3, 32, 32), 10, width=8) for v in allcnn.VARIANTS}
    assert _params(built["convpool"]) == _params(built["allconv"])
    assert _params(built["base"]) == _params(built["strided"]) < _params(built["allconv"])
