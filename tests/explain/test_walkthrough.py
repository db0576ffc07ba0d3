"""The walkthrough's narration must agree with PyTorch on every output and gradient."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from poolstride.errors import PoolstrideError
from poolstride.explain import default_weights, walkthrough


def torch_forward(x, op, k, s, p, d, ceil, cip, w):
    """The PyTorch call, written out independently of poolstride."""
    xb = x.reshape(1, 1, *x.shape)
    one = x.ndim == 1
    if op == "max":
        return (F.max_pool1d if one else F.max_pool2d)(xb, k, s, p, d, ceil_mode=ceil)[0, 0]
    if op == "avg":
        return (F.avg_pool1d if one else F.avg_pool2d)(
            xb, k, s, p, ceil_mode=ceil, count_include_pad=cip
        )[0, 0]
    return (F.conv1d if one else F.conv2d)(
        xb, w.reshape(1, 1, *w.shape), stride=s, padding=p, dilation=d
    )[0, 0]


@st.composite
def configs(draw):
    """A valid (x, op, kernel, stride, padding, dilation, ceil, count_include_pad, weights)."""
    dim = draw(st.sampled_from([1, 2]))
    op = draw(st.sampled_from(["max", "avg", "conv"]))
    k = tuple(draw(st.integers(1, 3)) for _ in range(dim))
    d = tuple(1 if op == "avg" else draw(st.integers(1, 2)) for _ in range(dim))
    p = tuple(draw(st.integers(0, kk // 2 if op != "conv" else 2)) for kk in k)
    s = tuple(draw(st.integers(1, 3)) for _ in range(dim))
    # each side at least as long as the dilated window minus the padding
    size = tuple(
        draw(st.integers(max(1, dd * (kk - 1) + 1 - 2 * pp), 6)) for kk, dd, pp in zip(k, d, p)
    )
    # small integers make ties (max) common, which is what the tie rule needs
    values = st.integers(-4, 4).map(float)
    x = torch.tensor(
        draw(st.lists(values, min_size=math.prod(size), max_size=math.prod(size))),
        dtype=torch.float64,
    ).reshape(size)
    ceil = op != "conv" and draw(st.booleans())
    cip = draw(st.booleans())
    w = None
    if op == "conv":
        w = torch.tensor(
            draw(st.lists(values, min_size=math.prod(k), max_size=math.prod(k))),
            dtype=torch.float64,
        ).reshape(k)
    return x, op, k, s, p, d, ceil, cip, w


@given(configs(), st.integers(0, 2**31 - 1))
def test_narration_matches_pytorch(cfg, seed):
    x, op, k, s, p, d, ceil, cip, w = cfg
    grad = torch.randn(
        torch_forward(x, op, k, s, p, d, ceil, cip, w).shape,
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(seed),
    )
    wt = walkthrough(
        x,
        op=op,
        kernel=k,
        stride=s,
        padding=p,
        dilation=d,
        ceil_mode=ceil,
        count_include_pad=cip,
        weights=w,
        grad=grad,
    )

    expected = torch_forward(x, op, k, s, p, d, ceil, cip, w)
    assert torch.equal(wt.output, expected)
    assert len(wt.steps) == expected.numel()

    for step in wt.steps:
        assert step.output == float(expected[step.index])
        inputs = [v for v in step.values if v is not None]
        # every cell the narration calls "input" really is inside x, with x's value
        for c, where, v in zip(step.cells, step.where, step.values):
            inside = all(0 <= ci < n for ci, n in zip(c, x.shape))
            assert (where == "input") == inside
            if inside:
                assert v == float(x[c])
        if op == "max" and not inputs:  # a dilated window entirely in padding
            assert step.output == -math.inf and step.chosen is None
        elif op == "max":
            assert step.values[step.chosen] == step.output == max(inputs)
            # PyTorch's tie rule: the first maximum in row-major window order
            assert step.chosen == step.values.index(step.output)
        elif op == "avg":
            # PyTorch's divisor: the window clipped to the padded input (count_include_pad)
            # or to the input itself
            def extent(lo, n, kk, pp, clip):
                hi = min(lo + kk, n + pp)
                return (min(hi, n) - max(lo, 0)) if clip else hi - lo

            divisor = math.prod(
                extent(o * ss - pp, n, kk, pp, not cip)
                for o, n, kk, ss, pp in zip(step.index, x.shape, k, s, p)
            )
            assert step.divisor == divisor
            assert sum(inputs) / step.divisor == pytest.approx(step.output, abs=1e-12)
        else:
            dot = sum(v * wv for v, wv in zip(step.values, step.weights) if v is not None)
            assert dot == pytest.approx(step.output, abs=1e-12)
            assert step.weights == tuple(w.flatten().tolist())

    # backward: autograd's input gradient, and the per-window shares add up to it
    xg = x.clone().requires_grad_(True)
    torch_forward(xg, op, k, s, p, d, ceil, cip, w).backward(grad)
    assert torch.allclose(wt.grad_input, xg.grad, atol=1e-12)
    total = torch.zeros_like(x)
    for b in wt.backward_steps:
        for c, amount in b.targets:
            total[c] += amount
    assert torch.allclose(total, xg.grad, atol=1e-12)
    if op == "max":  # all of each output's gradient goes to the picked cell
        for step, b in zip(wt.steps, wt.backward_steps):
            if step.chosen is None:  # PyTorch's initial index: at most one cell, any row
                assert len(b.targets) <= 1
            elif b.upstream != 0:
                assert b.targets == ((step.cells[step.chosen], b.upstream),)


def test_a_max_window_entirely_in_padding_follows_pytorchs_gradient():
    # dilation 2 with padding 1 on a width-1 input: both windows see only padding (-inf);
    # PyTorch routes out[0,0]'s gradient to input[1,0] and drops out[1,0]'s
    x = torch.zeros(2, 1, dtype=torch.float64)
    wt = walkthrough(x, op="max", kernel=(1, 2), stride=(1, 2), padding=(0, 1), dilation=(1, 2))
    assert [s.chosen for s in wt.steps] == [None, None]
    assert [b.targets for b in wt.backward_steps] == [(((1, 0), 1.0),), ()]
    assert wt.grad_input.tolist() == [[0.0], [1.0]]
    text = wt.render_text(backward=True)
    assert "1 -> input[1,0] (the window lies entirely in padding" in text
    assert "goes nowhere" in text


def test_seed_example_max_2x2_stride_2():
    wt = walkthrough()  # the 4x4 default
    assert wt.output.tolist() == [[9.0, 2.0], [6.0, 3.0]]
    picked = [step.cells[step.chosen] for step in wt.steps]
    assert picked == [(1, 1), (0, 2), (3, 1), (2, 3)]
    assert wt.grad_input.tolist() == [[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0]]


def test_seed_example_5x5_f3_s1_gives_3x3():
    x = torch.arange(25, dtype=torch.float64).reshape(5, 5).remainder(7)
    for op in ("max", "avg", "conv"):
        wt = walkthrough(x, op=op, kernel=3, stride=1)
        assert tuple(wt.output.shape) == (3, 3)
        assert len(wt.steps) == 9
    wt = walkthrough(x, op="max", kernel=3, stride=1)
    assert torch.equal(wt.output, F.max_pool2d(x[None, None], 3, 1)[0, 0])


def test_tie_goes_to_first_cell_in_scan_order():
    wt = walkthrough("5 5 5 5; 5 5 5 5", op="max", kernel=2, stride=2)
    assert [s.chosen for s in wt.steps] == [0, 0]
    assert wt.grad_input.tolist() == [[1, 0, 1, 0], [0, 0, 0, 0]]


def test_overlapping_max_windows_add_gradients():
    wt = walkthrough("0 9 0 0 0", op="max", kernel=3, stride=1)
    assert wt.output.tolist() == [9, 9, 0]
    assert wt.grad_input.tolist() == [0, 2, 1, 0, 0]  # the 9 wins twice; last window ties at 0


def test_avg_count_include_pad_spreads_and_drops():
    wt = walkthrough("4 8", op="avg", kernel=3, stride=1, padding=1)
    first = wt.backward_steps[0]
    assert wt.steps[0].divisor == 3
    assert wt.output.tolist() == [4.0, 4.0]
    assert first.dropped == pytest.approx(1 / 3)
    wt = walkthrough("4 8", op="avg", kernel=3, stride=1, padding=1, count_include_pad=False)
    assert wt.steps[0].divisor == 2 and wt.output.tolist() == [6.0, 6.0]
    assert wt.backward_steps[0].dropped == 0


def test_one_d_input_is_a_single_row():
    wt = walkthrough("1 3 2 1 2 9", op="max", kernel=2)
    assert wt.dim == 1 and wt.output.tolist() == [3, 2, 9]
    assert wt.steps[0].cells == ((0,), (1,))


def test_conv_defaults():
    wt = walkthrough(op="conv")
    assert wt.kernel == (2, 2) and wt.stride == (2, 2)
    assert wt.weights.tolist() == [[1, 0], [0, -1]]
    assert wt.output.tolist() == [[1 - 9, 2 - 1], [1 - 6, 2 - 2]]
    assert default_weights((3,)).tolist() == [1, 0, -1]
    assert default_weights((1, 1)).tolist() == [[1]]
    # the kernel size follows the weights when only weights are given
    assert walkthrough(op="conv", weights="1 2 1; 2 4 2; 1 2 1", stride=1).kernel == (3, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(stride=0), "stride=0 is invalid"),
        (dict(kernel=5), r"window 5x5 .* larger than the padded input 4x4"),
        (dict(kernel=3, padding=2), r"padding=2x2 .* at most 1x1"),
        (dict(op="conv", weights="1 2 3"), "kernel weights have shape 3"),
        (
            dict(op="conv", weights="1 2; 3 4", kernel=3),
            r"kernel weights have shape 2x2 but kernel is 3x3",
        ),
        (dict(op="max", weights="1 2; 3 4"), "only used by op 'conv'"),
        (dict(op="avg", dilation=2), "dilation=2x2 is invalid for avg"),
        (dict(op="conv", ceil_mode=True), "ceil_mode=True is invalid for conv"),
        (dict(op="mean"), "unknown op 'mean'"),
        (dict(grad="1 2 3"), "grad has shape 3 but the output is 2x2"),
        (dict(kernel="2x2x2"), "give one integer or two"),
        (dict(kernel="two"), "not an integer"),
        (dict(x="1 2; 3"), "ragged rows"),
        (dict(x="1 a"), "'a' in row 1 is not a number"),
        (dict(x=[[float("nan")]]), "non-finite"),
        (dict(x=torch.zeros(2, 2, 2)), r"shape \(2, 2, 2\)"),
    ],
)
def test_bad_input_is_one_line_poolstride_error(kwargs, match):
    with pytest.raises(PoolstrideError, match=match) as info:
        walkthrough(**kwargs)
    assert "\n" not in str(info.value)


def test_dilated_max_window_entirely_in_padding():
    wt = walkthrough([0.0], kernel=2, stride=1, padding=1, dilation=2)
    assert wt.output.tolist() == [-math.inf]  # what PyTorch returns
    assert wt.steps[0].chosen is None and wt.backward_steps[0].targets == ()
    text = wt.render_text(backward=True)
    assert "lies entirely in padding; PyTorch outputs -inf" in text
    assert "goes nowhere" in text
