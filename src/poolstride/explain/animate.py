"""Animated GIF of a walkthrough: the window sliding over the input, the output filling in.

In the style of Dumoulin & Visin's convolution-arithmetic pictures: the input grid on the
left (padding cells hatched grey, cells past the padding in ceil mode crossed), the window
highlighted, the picked cell of a max in gold; the output grid on the right, the current cell
in green. With ``backward=True`` the left grid is the upstream gradient and the right grid
the input gradient accumulating, window by window.

Frames: one intro frame (nothing computed), one per output position, one outro frame (the
finished result), so ``n_frames == INTRO_FRAMES + n_outputs + OUTRO_FRAMES``.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from poolstride.explain.render import OP_NAMES, arithmetic, cell_name, drawn_extent, fmt
from poolstride.explain.steps import WalkthroughRecord

INTRO_FRAMES = 1
OUTRO_FRAMES = 1

WHITE, PAD_GREY, OUT_GREY = "#ffffff", "#d9d9d9", "#f2f2f2"
WINDOW, WINDOW_EDGE, CHOSEN, CURRENT, TOUCHED = (
    "#9ecae1",
    "#08519c",
    "#fdd049",
    "#a1d99b",
    "#c7e9c0",
)


CELL_INCH, DPI = 0.6, 80


def _draw_grid(ax, x0: float, rows, cols, cell, title: str) -> None:
    """Draw a grid with its left edge at ``x0`` (one unit per cell, row 0 at the top).

    ``cell(coord) -> (text, face, hatch)``; ``rows == [None]`` draws a 1-D row.
    """
    contents = {(r, c): cell((c,) if r is None else (r, c)) for r in rows for c in cols}
    longest = max([2] + [len(t) for t, _, _ in contents.values()])
    # fit the longest number in 85% of a cell: ~0.6 em per character
    fontsize = min(14.0, 0.85 * CELL_INCH * 72 / (0.6 * longest))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            text, face, hatch = contents[(r, c)]
            ax.add_patch(
                Rectangle(
                    (x0 + j, i), 1, 1, facecolor=face, edgecolor="#555555", lw=0.8, hatch=hatch
                )
            )
            ax.text(x0 + j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=fontsize)
    ax.text(x0 + len(cols) / 2, -0.25, title, ha="center", va="bottom", fontsize=11)


def _outline(ax, x0: float, rows, cols, coords) -> None:
    """Draw a thick border around each cell of ``coords`` (the window)."""
    ri = {r: i for i, r in enumerate(rows)}
    ci = {c: j for j, c in enumerate(cols)}
    for coord in coords:
        r, c = (None, coord[0]) if len(coord) == 1 else coord
        if r in ri and c in ci:
            ax.add_patch(
                Rectangle((x0 + ci[c], ri[r]), 1, 1, fill=False, edgecolor=WINDOW_EDGE, lw=2.5)
            )


def _shape_title(name: str, shape: tuple[int, ...]) -> str:
    return (
        f"{name}, length {shape[0]}" if len(shape) == 1 else f"{name} {'x'.join(map(str, shape))}"
    )


def _frame(
    w: WalkthroughRecord, i: int | None, done: int, backward: bool, caption: str
) -> Image.Image:
    """Render one frame; ``i`` is the current step (None: none), ``done`` steps are filled."""
    size = tuple(w.input.shape)
    in_rows = [None] if w.dim == 1 else list(drawn_extent(w, 0))
    in_cols = list(drawn_extent(w, w.dim - 1))
    out_rows = [None] if w.dim == 1 else list(range(w.output.shape[0]))
    out_cols = list(range(w.output.shape[-1]))
    order = {s.index: k for k, s in enumerate(w.steps)}
    step = w.steps[i] if i is not None else None
    window = {c: k for k, c in enumerate(step.cells)} if step else {}

    # the left grid is the input (forward) or the upstream gradient (backward)
    left_rc, right_rc = ((in_rows, in_cols), (out_rows, out_cols))
    if backward:
        left_rc, right_rc = right_rc, left_rc
    gap = 1.5
    width_units = len(left_rc[1]) + gap + len(right_rc[1])
    height_units = max(len(in_rows), len(out_rows))
    margin_x, top, bottom = 0.3, 0.9, 0.9  # inches: titles above, caption below
    fig_w = max(5.0, width_units * CELL_INCH + 2 * margin_x)
    fig_h = height_units * CELL_INCH + top + bottom
    fig = Figure(figsize=(fig_w, fig_h), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes(
        (0, (bottom - 0.1 * CELL_INCH) / fig_h, 1, (height_units + 0.2) * CELL_INCH / fig_h)
    )
    # one data unit = one cell in both grids, centred horizontally
    half = fig_w / CELL_INCH / 2
    ax.set_xlim(width_units / 2 - half, width_units / 2 + half)
    ax.set_ylim(
        height_units + 0.1, -0.1
    )  # a tenth of a cell spare so the outer lines are not clipped
    ax.axis("off")
    x_right = len(left_rc[1]) + gap

    if not backward:

        def in_cell(c):
            on = all(0 <= v < n for v, n in zip(c, size))
            in_pad = all(-p <= v < n + p for v, n, p in zip(c, size, w.padding))
            face, hatch = (
                (WHITE, None) if on else ((PAD_GREY, "//") if in_pad else (OUT_GREY, "xx"))
            )
            if c in window:
                face = CHOSEN if step.chosen == window[c] else WINDOW
            return (fmt(float(w.input[c])) if on else ""), face, hatch

        def out_cell(c):
            k = order[c]
            if k >= done:
                return "", WHITE, None
            return fmt(float(w.output[c])), CURRENT if k == i else WHITE, None

        _draw_grid(ax, 0, in_rows, in_cols, in_cell, _shape_title("input", size))
        if step:
            _outline(ax, 0, in_rows, in_cols, step.cells)
        _draw_grid(
            ax,
            x_right,
            out_rows,
            out_cols,
            out_cell,
            _shape_title("output", tuple(w.output.shape)),
        )
    else:
        grad = np.zeros(size)
        touched = set()
        for k, b in enumerate(w.backward_steps[:done]):
            for c, amt in b.targets:
                grad[c] += amt
                if k == i:
                    touched.add(c)
        if done == len(w.steps):  # the finished picture is autograd's own result
            grad = w.grad_input.numpy()

        def up_cell(c):
            return (
                fmt(float(w.grad_output[c])),
                CURRENT if step and c == step.index else WHITE,
                None,
            )

        def gin_cell(c):
            on = all(0 <= v < n for v, n in zip(c, size))
            if not on:
                in_pad = all(-p <= v < n + p for v, n, p in zip(c, size, w.padding))
                return "", PAD_GREY if in_pad else OUT_GREY, "//" if in_pad else "xx"
            face = CHOSEN if c in touched else (WINDOW if c in window else WHITE)
            return fmt(float(grad[c])), face, None

        _draw_grid(ax, 0, out_rows, out_cols, up_cell, "dL/dout")
        _draw_grid(ax, x_right, in_rows, in_cols, gin_cell, "dL/dx")
        if step:
            _outline(ax, x_right, in_rows, in_cols, step.cells)

    fig.text(
        0.5,
        1 - 0.1 / fig_h,
        OP_NAMES[w.op] + ("  (backward)" if backward else ""),
        ha="center",
        va="top",
        fontsize=12,
        weight="bold",
    )
    chars = int(fig_w * DPI / 6.2)  # monospace 9 pt is about 6 px per character at 80 dpi
    fig.text(
        0.5,
        0.08 / fig_h,
        "\n".join(textwrap.wrap(caption, chars)[:4]),
        ha="center",
        va="bottom",
        fontsize=9,
        family="monospace",
    )
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return Image.fromarray(rgba[..., :3].copy())


def _caption(w: WalkthroughRecord, k: int, backward: bool) -> str:
    step = w.steps[k]
    if not backward:
        return f"out{cell_name(step.index)}: " + arithmetic(w, step).plain.strip()
    b = w.backward_steps[k]
    sent = ", ".join(f"{fmt(a)} -> {cell_name(c)}" for c, a in b.targets) or "nothing"
    tail = f"; {fmt(b.dropped)} dropped on padding" if b.dropped else ""
    return f"g{cell_name(b.index)} = {fmt(b.upstream)}: {sent}{tail}"


def frames(w: WalkthroughRecord, backward: bool = False) -> list[Image.Image]:
    """All frames: intro, one per output position, outro."""
    n = len(w.steps)
    intro = "where does the gradient go? (PyTorch autograd)" if backward else f"{w.torch_call}"
    outro = (
        "done: input gradient = PyTorch autograd's dL/dx"
        if backward
        else "done: output = PyTorch's result"
    )
    out = [_frame(w, None, 0, backward, intro)]
    out += [_frame(w, k, k + 1, backward, _caption(w, k, backward)) for k in range(n)]
    out.append(_frame(w, None, n, backward, outro))
    return out


def write_gif(w: WalkthroughRecord, path, backward: bool = False, duration_ms: int = 900) -> int:
    """Write the animation to ``path`` (loops forever); returns the number of frames."""
    images = frames(w, backward=backward)
    durations = [2 * duration_ms] + [duration_ms] * (len(images) - 2) + [3 * duration_ms]
    # optimize=False and disposal=1 keep every frame (Pillow may otherwise merge similar ones)
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
        optimize=False,
        disposal=1,
    )
    return len(images)
