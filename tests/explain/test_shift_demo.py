"""The shift demo: a true one-pixel translation, counts checked against PyTorch ops."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from poolstride.errors import PoolstrideError
from poolstride.explain import shift_demo
from poolstride.explain.shift import PATTERNS, downsample, shift


def test_patterns_keep_their_ink_when_shifted_one_pixel():
    for name in PATTERNS:
        for direction in ("right", "left", "down", "up"):
            demo = shift_demo(pattern=name, direction=direction)
            assert demo.shifted.sum() == demo.x.sum()


@given(
    st.integers(4, 9),
    st.integers(4, 9),
    st.sampled_from(["right", "left", "down", "up"]),
    st.integers(1, 3),
    st.integers(0, 2**31 - 1),
)
def test_counts_match_pytorch(h, w, direction, pixels, seed):
    x = (
        torch.rand(h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) > 0.5
    ).double()
    demo = shift_demo(x, pixels=pixels, direction=direction)
    dr, dc = {"right": (0, pixels), "left": (0, -pixels), "down": (pixels, 0), "up": (-pixels, 0)}[
        direction
    ]
    # the shift is a translation with zero fill
    expected = torch.zeros_like(x)
    src = x[max(0, -dr) : h - max(0, dr), max(0, -dc) : w - max(0, dc)]
    expected[max(0, dr) : max(0, dr) + src.shape[0], max(0, dc) : max(0, dc) + src.shape[1]] = src
    assert torch.equal(demo.shifted, expected)
    assert int(demo.input_changed.sum()) == int((x != expected).sum())
    xb, sb = x[None, None], expected[None, None]
    reference = {
        "max": (F.max_pool2d(xb, 2, 2), F.max_pool2d(sb, 2, 2)),
        "avg": (F.avg_pool2d(xb, 2, 2), F.avg_pool2d(sb, 2, 2)),
        "subsample": (xb[..., ::2, ::2], sb[..., ::2, ::2]),
    }
    for r in demo.results:
        if r.op in reference:
            before, after = (t[0, 0] for t in reference[r.op])
            assert torch.allclose(r.before, before) and torch.allclose(r.after, after)
            assert r.n_changed == int(((after - before).abs() > 1e-9).sum())


def test_blur_max_is_max_then_binomial_blur_with_stride_2():
    x = torch.rand(8, 8, dtype=torch.float64)
    y = downsample(x, "blur-max")
    assert y.shape == (4, 4)
    m = F.max_pool2d(x[None, None], 2, 1)
    padded = F.pad(m, (1, 1, 1, 1), mode="reflect")[0, 0]
    taps = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64) / 4
    blur = torch.outer(taps, taps)
    assert torch.allclose(
        y[1, 2], (padded[2:5, 4:7] * blur).sum()
    )  # output (1, 2) reads rows 2..4, cols 4..6
    # a constant image stays constant: the blur sums to one
    assert torch.allclose(
        downsample(torch.full((8, 8), 3.0, dtype=torch.float64), "blur-max"),
        torch.full((4, 4), 3.0, dtype=torch.float64),
    )


def test_blur_max_gradients():
    x = torch.rand(6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: downsample(t, "blur-max"), (x,))
    assert torch.autograd.gradcheck(lambda t: downsample(t, "avg"), (x,))


def test_one_d_row():
    demo = shift_demo("0 0 1 1 0 1 0 0")
    assert demo.shifted.tolist() == [0, 0, 0, 1, 1, 0, 1, 0]
    assert all(r.before.shape == (4,) for r in demo.results)
    assert torch.equal(demo.results[0].after, F.max_pool1d(demo.shifted[None, None], 2, 2)[0, 0])
    with pytest.raises(PoolstrideError, match="1-D row shifts 'left' or 'right'"):
        shift(torch.zeros(4, dtype=torch.float64), 1, "down")


def test_seven_story_numbers():
    demo = shift_demo()
    counts = {r.op: r.n_changed for r in demo.results}
    assert int(demo.input_changed.sum()) == 12
    assert counts == {"max": 6, "avg": 8, "subsample": 3, "blur-max": 11}
    rel = {r.op: r.relative_change for r in demo.results}
    # the blur changes more values but by the least in total
    assert rel["blur-max"] < rel["avg"] < rel["max"] < rel["subsample"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(pattern="8"), "unknown pattern"),
        (dict(direction="diagonal"), "unknown direction"),
        (dict(pixels=0), "pixels=0 is invalid"),
        (dict(x="1 2; 3 4"), "too small"),
        (dict(x="1 2 3 4 5", pixels=5), "shifts everything out"),
        (dict(ops=("max", "lp")), "unknown shift op"),
    ],
)
def test_bad_shift_input(kwargs, match):
    with pytest.raises(PoolstrideError, match=match):
        shift_demo(**kwargs)


def test_even_shift_moves_pooled_grid_by_whole_cells():
    demo = shift_demo(pattern="1", pixels=2, direction="down")
    errors = {r.op: r.equivariance_error for r in demo.results}
    for op in ("max", "avg", "subsample"):
        assert errors[op] == pytest.approx(0.0, abs=1e-12)
    assert "An even shift moves the stride-2 grid" in demo.render_text()
    assert all(r.equivariance_error is None for r in shift_demo().results)
