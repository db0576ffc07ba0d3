"""The spec language: parsing, building real modules, shapes, and one-line errors with positions."""

from __future__ import annotations

import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st

from poolstride.errors import PoolstrideError
from poolstride.layers import KINDS
from poolstride.layers.spec import build_spec, parse_spec, spec_shapes


def test_parse_items_and_positions():
    items = parse_spec("conv3-96, conv3-96, max2, conv3-192/2, gap")
    assert [i.op for i in items] == ["conv", "conv", "pool", "conv", "head"]
    assert [i.position for i in items] == [0, 10, 20, 26, 39]
    assert (items[3].kernel, items[3].out, items[3].stride) == (3, 192, 2)
    assert (items[2].kernel, items[2].stride) == (2, 2)  # PyTorch's default: stride = kernel
    kind = parse_spec("blur-max:filt5-64/4")[0]
    assert (kind.op, kind.name, kind.out, kind.stride) == ("kind", "blur-max:filt5", 64, 4)
    assert parse_spec("max")[0].op == "kind" and parse_spec("max3")[0].op == "pool"
    assert parse_spec("conv:k3")[0].op == "kind" and parse_spec("conv5-8")[0].op == "conv"


def test_the_issue_example_shapes_and_module():
    spec = "conv3-96, conv3-96, max2, conv3-192/2, gap"
    shapes = [s for _, s in spec_shapes(spec, "3x32x32")]
    assert shapes == [(96, 32, 32), (96, 32, 32), (96, 16, 16), (192, 8, 8), (192,)]
    net = build_spec(spec, (3, 32, 32))
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 192)
    assert isinstance(net[0], torch.nn.Conv2d) and net[0].padding == (1, 1)
    assert isinstance(net[2], torch.nn.MaxPool2d)


def test_seed_examples_in_spec_form():
    assert spec_shapes("max2", "1x4x4")[0][1] == (1, 2, 2)  # 4x4 -> 2x2 max pooling
    assert spec_shapes("conv3-1:p0", "1x5x5")[0][1] == (1, 3, 3)  # 5x5, f=3, s=1 -> 3x3
    assert spec_shapes("gap", "1000x7x7")[0][1] == (1000,)  # 7x7x1000 -> 1x1x1000


def test_one_dimensional_when_input_is_c_by_l():
    net = build_spec("conv5-16, max2, blur-max, conv3-32/2:same, gmp, fc-10", "1x40")
    assert isinstance(net[0], torch.nn.Conv1d)
    assert net(torch.randn(3, 1, 40)).shape == (3, 10)
    assert [s for _, s in spec_shapes(net.items, (1, 40))][:4] == [
        (16, 40),
        (16, 20),
        (16, 10),
        (32, 5),
    ]


conv_item = st.builds(
    lambda k, c, s, opt: f"conv{k}-{c}" + (f"/{s}" if s > 1 else "") + opt,
    st.integers(1, 5),
    st.integers(1, 6),
    st.integers(1, 3),
    st.sampled_from(["", ":p0", ":same", ":d2", ":nobias"]),
)
pool_item = st.builds(
    lambda op, k, s, opt: f"{op}{k}" + (f"/{s}" if s else "") + opt,
    st.sampled_from(["max", "avg"]),
    st.integers(1, 3),
    st.integers(0, 3),
    st.sampled_from(["", ":ceil", ":p1"]),
)
kind_item = st.sampled_from(
    [k for k in KINDS if not k.startswith("adaptive")] + ["max:k3", "blur-max:filt5", "lp:p3"]
)
simple_item = st.sampled_from(["relu", "bn", "drop0.1", "gelu"])


@given(
    items=st.lists(st.one_of(conv_item, pool_item, kind_item, simple_item), min_size=1, max_size=5),
    head=st.sampled_from(["", ", gap", ", gmp, fc-3", ", fc-4"]),
    dim=st.sampled_from([1, 2]),
    size=st.integers(8, 24),
)
def test_built_modules_have_the_predicted_shapes(items, head, dim, size):
    spec = ", ".join(items) + head
    shape = (2, size) if dim == 1 else (2, size, size)
    try:
        predicted = spec_shapes(spec, shape)
    except PoolstrideError as err:
        # Impossible stacks must fail with the item and its position, on one line.
        assert (
            str(err).startswith("spec item ")
            and "at character" in str(err)
            and "\n" not in str(err)
        )
        event("rejected with a positioned error")
        return
    event("built")
    net = build_spec(spec, shape).eval()
    x = torch.randn(2, *shape)
    for module, (item, expected) in zip(net, predicted):
        x = module(x)
        assert tuple(x.shape[1:]) == expected, item.text


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("conv3-96, mux2", "spec item 2 'mux2' at character 10: expected a layer"),
        ("conv3-96,, max2", "spec item 2 at character 9 is empty"),
        ("conv3x-5", "item 1 'conv3x-5' at character 0: expected conv<k>-<out>"),
        ("max2:q", "bad option 'q'"),
        ("gap, conv3-4", "item 2 'conv3-4' at character 5: needs a spatial input"),
        ("fc-0", "expected fc-<n> with n >= 1"),
        ("conv3-10:g3", "groups=3 must divide the input channels 3"),
        ("max5:p3", "at most half of the kernel size (<= 2)"),
        (
            "max2, max2, max2, max2, max2, max2",
            "item 6 'max2' at character 30: max pool: output size 0 < 1",
        ),
        ("blur-max:zz", "item 1 'blur-max:zz' at character 0"),
        (
            "relu, conv9-3:p0, conv9-3:p0, conv9-3:p0, conv9-3:p0",
            "item 5 'conv9-3:p0' at character 42",
        ),
        ("", "empty spec"),
        ("drop2", "expected drop or drop<p>"),
    ],
)
def test_malformed_specs_fail_with_position(spec, needle):
    with pytest.raises(PoolstrideError) as info:
        build_spec(spec, "3x32x32")
    assert needle in str(info.value)
    assert "\n" not in str(info.value)
