"""``subsample`` after a convolution is built as the strided convolution it equals: same
weights, same outputs (to 1e-6), 1/2 (1D) or 1/4 (2D) of that convolution's MACs."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings
from torch import nn

from poolstride.analysis import profile
from poolstride.layers.reshaping import Subsample
from poolstride.models import build_model
from poolstride.models.layer_factories import strides_conv


@settings(max_examples=40, deadline=None)
@given(
    dim=st.sampled_from([1, 2]),
    k=st.integers(1, 7),
    pad_frac=st.integers(0, 3),
    size=st.integers(7, 19),
    cin=st.integers(1, 3),
    cout=st.integers(1, 4),
    bias=st.booleans(),
)
def test_strided_conv_equals_decimated_stride1_conv(dim, k, pad_frac, size, cin, cout, bias):
    """The identity the builders rely on, over kernel sizes, paddings and odd/even lengths."""
    padding = min(k, pad_frac * k // 2)
    conv_cls = nn.Conv1d if dim == 1 else nn.Conv2d
    torch.manual_seed(size)
    dense = conv_cls(cin, cout, k, padding=padding, bias=bias).double()
    strided = conv_cls(cin, cout, k, stride=2, padding=padding, bias=bias).double()
    strided.load_state_dict(dense.state_dict())
    x = torch.randn(2, cin, *([size + k] * dim), dtype=torch.float64)
    decimated = Subsample(dim=dim)(dense(x))
    torch.testing.assert_close(strided(x), decimated, atol=1e-6, rtol=0)


def test_only_plain_subsample_strides_the_conv():
    assert strides_conv("subsample") and strides_conv(" Subsample ")
    assert not strides_conv("max") and not strides_conv("none") and not strides_conv(Subsample)
    assert not strides_conv("nonsense:x")


# Model, input shape, build options. Passing the Subsample *class* as the kind builds the old
# network (a stride-1 conv, then the decimation): the reference.
CASES = [
    ("simple", (1, 40), {}),
    ("simple", (3, 16, 16), {}),
    ("simple", (3, 15, 15), {"kernel_size": 4}),
    ("resnet20", (3, 16, 16), {"width": 4}),
    ("resnet20", (2, 24), {"width": 4}),
    ("allcnn-c", (3, 12, 12), {"width": 4}),
    ("allcnn-b", (2, 13), {"width": 4, "extra_conv": True}),
]


@pytest.mark.parametrize("name,shape,options", CASES)
def test_models_equal_the_decimated_network_with_the_same_weights(name, shape, options):
    torch.manual_seed(0)
    honest = build_model(name, "subsample", shape, 5, **options).double().eval()
    torch.manual_seed(0)
    decimated = build_model(name, Subsample, shape, 5, **options).double().eval()
    # Same parameter shapes drawn in the same order: bit-identical weights.
    a, b = honest.state_dict(), decimated.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[key], b[key]) for key in a)
    for module in decimated.modules():  # non-trivial running statistics
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    honest.load_state_dict(decimated.state_dict())
    x = torch.randn(3, *shape, dtype=torch.float64)
    torch.testing.assert_close(honest(x), decimated(x), atol=1e-6, rtol=0)


def test_without_batchnorm_training_mode_is_identical_too():
    torch.manual_seed(1)
    honest = build_model("simple", "subsample", (3, 16, 16), 5, batch_norm=False)
    torch.manual_seed(1)
    decimated = build_model("simple", Subsample, (3, 16, 16), 5, batch_norm=False)
    x = torch.randn(4, 3, 16, 16)
    torch.testing.assert_close(honest(x), decimated(x), atol=1e-6, rtol=1e-6)
    honest(x).sum().backward()
    decimated(x).sum().backward()
    for (name, p), q in zip(honest.named_parameters(), decimated.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.parametrize("shape,ratio", [((3, 32, 32), 4), ((1, 64), 2)])
def test_profile_counts_a_quarter_of_the_conv_macs_in_2d(shape, ratio):
    """Each block conv of ``simple`` in front of a site costs 1/4 (2D) or 1/2 (1D)."""

    def conv_macs(kind):
        rows = profile(build_model("simple", kind, shape, 10, depth=1), shape).rows
        return sum(r.macs for r in rows if r.type.startswith("Conv"))

    assert conv_macs(Subsample) == ratio * conv_macs("subsample")


def test_resnet20_subsample_blocks_have_strided_convs():
    model = build_model("resnet20", "subsample", (3, 32, 32), 10)
    strided = [
        n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)
    ]
    assert strided == ["features.2.0.conv1", "features.3.0.conv1"]
    # The only decimations left are in the projection shortcuts (no conv in front of them).
    decimations = [n for n, m in model.named_modules() if type(m) is Subsample]
    assert decimations and all(".shortcut." in n for n in decimations)
