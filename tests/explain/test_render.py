"""The narrated text: its arithmetic evaluates to PyTorch's numbers; plain mode has no colour."""

from __future__ import annotations

import math
import re

import torch
from hypothesis import given
from hypothesis import strategies as st

from poolstride.explain import walkthrough
from poolstride.explain.render import fmt

ARITH = re.compile(r"^\s+((?:max\(|\().*?|[-\d*+() .]+?) = (-?[\d.]+)")


def arithmetic_lines(text: str) -> list[tuple[str, str]]:
    """(expression, result) of every step's arithmetic line."""
    out = []
    for line in text.splitlines():
        m = ARITH.match(line)
        if m and ("*" in m.group(1) or "/" in line or m.group(1).startswith("max(")):
            out.append((m.group(1), m.group(2)))
    return out


@st.composite
def integer_configs(draw):
    dim = draw(st.sampled_from([1, 2]))
    op = draw(st.sampled_from(["max", "avg", "conv"]))
    k = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    s = draw(st.integers(1, 2))
    n = draw(st.integers(max(1, k - 2 * p), 5))
    shape = (n,) if dim == 1 else (n, draw(st.integers(max(1, k - 2 * p), 5)))
    ints = st.integers(-9, 9).map(float)
    x = torch.tensor(
        draw(st.lists(ints, min_size=math.prod(shape), max_size=math.prod(shape))),
        dtype=torch.float64,
    ).reshape(shape)
    w = None
    if op == "conv":
        w = torch.tensor(
            draw(st.lists(ints, min_size=k**dim, max_size=k**dim)), dtype=torch.float64
        ).reshape((k,) * dim)
    return dict(
        x=x,
        op=op,
        kernel=k,
        stride=s,
        padding=p,
        weights=w,
        ceil_mode=op != "conv" and draw(st.booleans()),
    )


@given(integer_configs())
def test_each_narrated_sum_evaluates_to_pytorch_output(cfg):
    wt = walkthrough(**cfg)
    text = wt.render_text()
    sizes = [int(m) for m in re.findall(r"^  (?:rows|cols|length): .* = (\d+)$", text, re.M)]
    assert sizes == list(wt.output.shape)
    lines = arithmetic_lines(text)
    assert len(lines) == len(wt.steps)
    for (expr, shown), step in zip(lines, wt.steps):
        assert shown == fmt(step.output)
        # the expression is only numbers, + * / ( ) and max(): evaluate it
        assert re.fullmatch(r"[-\d.+*/() ,max]+", expr)
        value = eval(expr, {"__builtins__": {}, "max": lambda *a: max(a)})  # checked above
        assert abs(value - step.output) < 1e-9


def test_default_walkthrough_text():
    text = walkthrough().render_text(backward=True)
    assert "step 1/4: out[0,0] reads rows 0..1, cols 0..1" in text
    assert "max(1, 3, 2, 9) = 9  -> taken from input[1,1]" in text
    assert "[2]<9> 1  1" in text  # the window and the picked cell, marked in plain text
    assert "output (2x2):\n   9  2\n   6  3\n" in text
    assert "out[1,1] g=1: 1 -> input[2,3]" in text
    assert "F.max_pool2d(x, kernel_size=(2, 2), stride=(2, 2)" in text
    assert "\x1b[" not in text


def test_colour_mode_has_ansi_and_same_words():
    wt = walkthrough()
    coloured = wt.render_text(plain=False)
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured).split() == wt.render_text().split()


def test_ties_are_explained():
    text = walkthrough("2 2; 2 1", op="max").render_text()
    assert "tie: PyTorch keeps the first maximum" in text


def test_avg_padding_and_ceil_mode_are_explained():
    text = walkthrough(
        "1 2 3 4 5 6 7", op="avg", kernel=3, stride=2, padding=1, ceil_mode=True
    ).render_text(backward=True)
    assert "(0 + 1 + 2) / 3 = 1   divisor 3: 2 input + 1 padding zeros" in text
    assert "length: ceil((7 + 2*1 - 1*(3-1) - 1) / 2) + 1 = 4" in text
    assert "lands on padding and is dropped" in text
    text = walkthrough("1 2 3 4 5", op="avg", kernel=2, stride=2, ceil_mode=True).render_text()
    assert "past the padding" in text  # the overhanging last window


def test_output_size_lines_agree_with_pytorch():
    wt = walkthrough("1 2 3 4 5", op="max", kernel=2, stride=2, padding=1, ceil_mode=True)
    text = wt.render_text()
    # ceil((5 + 2 - 1 - 1) / 2) + 1 = 4, but the 4th window would start at 5, in the right padding
    assert (
        "length: ceil((5 + 2*1 - 1*(2-1) - 1) / 2) + 1 = 4 - 1 (last window would start in the right padding) = 3"
        in text
    )
    assert wt.output.numel() == 3


def test_conv_text_shows_weights_and_backward_through_kernel():
    text = walkthrough(op="conv", grad="1 2; 3 4").render_text(backward=True)
    assert "not flipped" in text
    assert "1*1 + 3*0 + 2*0 + 9*(-1) = -8" in text
    assert "out[1,1] g=4: input[2,2] += 4, input[3,3] += -4" in text
