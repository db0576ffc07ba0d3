"""Narrate a walkthrough (:class:`~poolstride.explain.steps.WalkthroughRecord`) as terminal text.

Everything is built as ``rich.text.Text`` lines whose plain characters carry the meaning on
their own (``[v]`` = in the window, ``<v>`` = the value max picked, ``·`` = padding), so the
same lines read correctly piped to a file; colour only adds emphasis in a terminal.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable

from rich.console import Console
from rich.text import Text

from poolstride.explain.steps import ForwardStep, WalkthroughRecord
from poolstride.geometry.output_size import (
    ceil_div,
    conv_output_size,
    effective_kernel,
    pool_output_size,
)

PAD, OUTSIDE, EMPTY = "·", "-", "."
STYLE_WINDOW = "bold cyan"
STYLE_CHOSEN = "bold black on yellow"
STYLE_CURRENT = "bold black on green"
STYLE_PAD = "dim"
MARKS = {"": (" ", " "), "window": ("[", "]"), "chosen": ("<", ">"), "current": ("[", "]")}
OP_NAMES = {
    "max": "max pooling",
    "avg": "average pooling",
    "conv": "convolution (cross-correlation)",
}


def fmt(v: float | None) -> str:
    """Compact number: integers without a decimal point, others to 4 significant digits."""
    if v is None:
        return PAD
    if math.isinf(v):
        return "-inf" if v < 0 else "inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def cell_name(c: tuple[int, ...]) -> str:
    return "[" + ",".join(map(str, c)) + "]"


def _axes(w: WalkthroughRecord) -> str:
    return f"length-{w.input.shape[0]}" if w.dim == 1 else "x".join(map(str, w.input.shape))


def _grid(rows: Iterable, cols: Iterable, cell: Callable, width: int = 1) -> list[Text]:
    """A grid of cells; ``cell(coord) -> (text, mark, style)`` with mark a key of MARKS."""
    rows, cols = list(rows), list(cols)
    contents = {(r, c): cell((c,) if r is None else (r, c)) for r in rows for c in cols}
    width = max([width] + [len(t) for t, _, _ in contents.values()])
    lines = []
    for r in rows:
        line = Text()
        for c in cols:
            text, mark, style = contents[(r, c)]
            left, right = MARKS[mark]
            line.append(left + text.rjust(width) + right, style=style)
        lines.append(line)
    return lines


def side_by_side(left: list[Text], right: list[Text], gap: int = 4, indent: int = 2) -> list[Text]:
    width = max((len(t) for t in left), default=0)
    out = []
    for i in range(max(len(left), len(right))):
        line = Text(" " * indent)
        a = left[i] if i < len(left) else Text()
        line.append_text(a)
        line.append(" " * (width - len(a) + gap))
        if i < len(right):
            line.append_text(right[i])
        out.append(line)
    return out


def drawn_extent(w: WalkthroughRecord, axis: int) -> range:
    """Input positions to draw along ``axis``: the input, its padding, any ceil-mode overhang."""
    p = w.padding[axis]
    lo = min([-p] + [c[axis] for s in w.steps for c in s.cells])
    hi = max([w.input.shape[axis] - 1 + p] + [c[axis] for s in w.steps for c in s.cells])
    return range(lo, hi + 1)


def _input_grid(w: WalkthroughRecord, step: ForwardStep | None) -> list[Text]:
    inside = {c: i for i, c in enumerate(step.cells)} if step else {}
    size = tuple(w.input.shape)

    def cell(c):
        on_input = all(0 <= v < n for v, n in zip(c, size))
        in_pad = all(-p <= v < n + p for v, n, p in zip(c, size, w.padding))
        text = fmt(float(w.input[c])) if on_input else (PAD if in_pad else OUTSIDE)
        mark, style = "", ("" if on_input else STYLE_PAD)
        if c in inside:
            i = inside[c]
            mark, style = ("chosen", STYLE_CHOSEN) if step.chosen == i else ("window", STYLE_WINDOW)
        return text, mark, style

    rows = [None] if w.dim == 1 else drawn_extent(w, 0)
    return _grid(rows, drawn_extent(w, w.dim - 1), cell)


def _output_grid(w: WalkthroughRecord, upto: int | None, values=None) -> list[Text]:
    """Output grid filled up to step ``upto`` (None: all, no highlight)."""
    values = w.output if values is None else values
    order = {s.index: i for i, s in enumerate(w.steps)}

    def cell(c):
        i = order[c]
        if upto is not None and i > upto:
            return EMPTY, "", STYLE_PAD
        current = upto is not None and i == upto
        return fmt(float(values[c])), "current" if current else "", STYLE_CURRENT if current else ""

    rows = [None] if w.dim == 1 else range(values.shape[0])
    width = max(len(fmt(float(v))) for v in values.flatten())
    return _grid(rows, range(values.shape[-1]), cell, width)


def _plain_grid(t, mark: Callable | None = None) -> list[Text]:
    def cell(c):
        m = mark(c) if mark else ""
        return fmt(float(t[c])), m, STYLE_CURRENT if m else ""

    rows = [None] if t.ndim == 1 else range(t.shape[0])
    return [Text("  ") + line for line in _grid(rows, range(t.shape[-1]), cell)]


def _output_size(w: WalkthroughRecord, ax: int) -> int:
    """Output size along ``ax`` from :mod:`poolstride.geometry` (the one home of the rule)."""
    n = w.input.shape[ax]
    k, s, p, d = (v[ax] for v in (w.kernel, w.stride, w.padding, w.dilation))
    if w.op == "conv":
        return conv_output_size(n, k, s, p, d)
    return pool_output_size(n, k, s, p, d, ceil_mode=w.ceil_mode)


def _size_lines(w: WalkthroughRecord) -> list[Text]:
    lines = []
    names = ["length"] if w.dim == 1 else ["rows", "cols"]
    for ax, name in enumerate(names):
        n = w.input.shape[ax]
        k, s, p, d = (v[ax] for v in (w.kernel, w.stride, w.padding, w.dilation))
        span = n + 2 * p - effective_kernel(k, d)
        rnd = "ceil" if w.ceil_mode else "floor"
        raw = (ceil_div(span, s) if w.ceil_mode else span // s) + 1
        got = _output_size(w, ax)
        note = ""
        if (
            raw != got
        ):  # ceil mode: PyTorch drops a last window that would start in the right padding
            note = f" - 1 (last window would start in the right padding) = {got}"
        lines.append(
            Text(f"  {name}: {rnd}(({n} + 2*{p} - {d}*({k}-1) - 1) / {s}) + 1 = {raw}{note}")
        )
    return lines


def _window_label(w: WalkthroughRecord, step: ForwardStep) -> str:
    parts = []
    names = ["positions"] if w.dim == 1 else ["rows", "cols"]
    for ax, name in enumerate(names):
        coords = sorted({c[ax] for c in step.cells})
        span = f"{coords[0]}..{coords[-1]}" if len(coords) > 1 else f"{coords[0]}"
        if w.dilation[ax] > 1:
            span += f" step {w.dilation[ax]}"
        parts.append(f"{name} {span}")
    return ", ".join(parts)


def arithmetic(w: WalkthroughRecord, step: ForwardStep) -> Text:
    out = fmt(step.output)
    if w.op == "max":
        vals = [v for v in step.values if v is not None]
        if step.chosen is None:
            line = Text("max over no input cells = ")
            line.append(out, style=STYLE_CHOSEN)
            line.append("  (the dilated window lies entirely in padding; PyTorch outputs -inf)")
            return line
        line = Text(f"max({', '.join(fmt(v) for v in vals)}) = ")
        line.append(out, style=STYLE_CHOSEN)
        line.append(f"  -> taken from input{cell_name(step.cells[step.chosen])}")
        n_pad = sum(wh == "padding" for wh in step.where)
        n_out = sum(wh == "outside" for wh in step.where)
        if n_pad:
            line.append(f"; {n_pad} padding cell(s) ignored")
        if n_out:
            line.append(f"; {n_out} cell(s) past the padding ignored (ceil mode)")
        if sum(v == step.output for v in vals) > 1:
            line.append(" (tie: PyTorch keeps the first maximum in row-major window order)")
        return line
    if w.op == "avg":
        counted = [
            (v, wh)
            for v, wh in zip(step.values, step.where)
            if wh == "input" or (wh == "padding" and w.count_include_pad)
        ]
        terms = " + ".join(fmt(0.0 if v is None else v) for v, _ in counted)
        n_pad = sum(wh == "padding" for _, wh in counted)
        line = Text(f"({terms}) / {step.divisor} = ")
        line.append(out, style=STYLE_CURRENT)
        why = f"{step.divisor - n_pad} input"
        if n_pad:
            why += f" + {n_pad} padding zeros"
        if not w.count_include_pad and any(wh == "padding" for wh in step.where):
            why += ", padding not counted (count_include_pad=False)"
        if any(wh == "outside" for wh in step.where):
            why += ", cells past the padding not counted (ceil mode)"
        line.append(f"   divisor {step.divisor}: {why}")
        return line
    terms = []
    for v, wt in zip(step.values, step.weights):
        wt_s = fmt(wt) if wt >= 0 else f"({fmt(wt)})"
        terms.append(f"{fmt(0.0 if v is None else v)}*{wt_s}")
    line = Text(" + ".join(terms) + " = ")
    line.append(out, style=STYLE_CURRENT)
    if any(v is None for v in step.values):
        line.append("   (padding cells are 0)")
    return line


def render_forward(w: WalkthroughRecord) -> list[Text]:
    lines = [Text(f"{OP_NAMES[w.op]} on a {_axes(w)} input", style="bold")]
    geo = (
        f"kernel {'x'.join(map(str, w.kernel))}, stride {'x'.join(map(str, w.stride))}, "
        f"padding {'x'.join(map(str, w.padding))}"
    )
    if w.op != "avg":
        geo += f", dilation {'x'.join(map(str, w.dilation))}"
    if w.op != "conv":
        geo += ", ceil_mode" if w.ceil_mode else ", floor mode"
    if w.op == "avg":
        geo += f", count_include_pad={w.count_include_pad}"
    lines += [Text(f"  {geo}"), Text(f"  numbers from PyTorch: {w.torch_call}")]
    if w.op == "conv":
        lines.append(
            Text("  kernel weights w (not flipped: PyTorch convolutions are cross-correlations):")
        )
        lines += _plain_grid(w.weights)
    lines.append(Text(f"output size {'x'.join(map(str, w.output.shape))}:"))
    lines += _size_lines(w)
    legend = ["[v] in the window"] + (["<v> the value max picks"] if w.op == "max" else [])
    if any(w.padding):
        legend.append(f"{PAD} padding")
    if any(wh == "outside" for s in w.steps for wh in s.where):
        legend.append(f"{OUTSIDE} past the padding (ceil mode, ignored)")
    legend.append(f"{EMPTY} output not computed yet")
    lines.append(Text("legend: " + "   ".join(legend), style="dim"))
    n = len(w.steps)
    for i, step in enumerate(w.steps):
        lines.append(Text(""))
        lines.append(
            Text(
                f"step {i + 1}/{n}: out{cell_name(step.index)} reads {_window_label(w, step)}",
                style="bold",
            )
        )
        lines += side_by_side(_input_grid(w, step), _output_grid(w, i))
        lines.append(Text("  ") + arithmetic(w, step))
    lines += [Text(""), Text(f"output ({'x'.join(map(str, w.output.shape))}):", style="bold")]
    lines += _plain_grid(w.output)
    return lines


def render_backward(w: WalkthroughRecord) -> list[Text]:
    lines = [Text(""), Text("backward: where the gradient goes", style="bold")]
    ones = bool((w.grad_output == 1).all())
    lines.append(
        Text("upstream gradient dL/dout" + (" (all ones: the default)" if ones else "") + ":")
    )
    lines += _plain_grid(w.grad_output)
    rule = {
        "max": "max: each output's gradient goes entirely to the cell it picked (PyTorch's returned index);",
        "avg": "avg: each output's gradient is split evenly, g/divisor to every counted cell;",
        "conv": "conv: each output's gradient flows back through the kernel, g*w to the cell under weight w;",
    }[w.op]
    lines.append(Text(rule + " cells in several windows add up."))
    for step, b in zip(w.steps, w.backward_steps):
        text = f"  out{cell_name(b.index)} g={fmt(b.upstream)}: "
        if w.op == "max":
            if step.chosen is None and not b.targets:
                text += "goes nowhere (the window lies entirely in padding)"
            elif step.chosen is None:
                ((c, amt),) = b.targets
                text += (
                    f"{fmt(amt)} -> input{cell_name(c)} (the window lies entirely in padding; "
                    "PyTorch's kernel keeps its initial index)"
                )
            else:
                ((c, amt),) = b.targets or ((step.cells[step.chosen], 0.0),)
                text += f"{fmt(amt)} -> input{cell_name(c)}"
        elif w.op == "avg":
            share = b.upstream / step.divisor
            text += f"{fmt(b.upstream)}/{step.divisor} = {fmt(share)} to each of " + ", ".join(
                "input" + cell_name(c) for c, _ in b.targets
            )
        else:
            text += (
                ", ".join(f"input{cell_name(c)} += {fmt(amt)}" for c, amt in b.targets)
                or "nothing (every weight over the input is 0)"
            )
        if b.dropped:
            text += f"; {fmt(b.dropped)} lands on padding and is dropped"
        lines.append(Text(text))
    counts: dict[tuple[int, ...], int] = {}
    for b in w.backward_steps:
        for c, _ in b.targets:
            counts[c] = counts.get(c, 0) + 1
    shared = {c for c, k in counts.items() if k > 1}
    lines.append(
        Text(
            "input gradient dL/dx (PyTorch autograd)"
            + ("; highlighted cells sum several windows:" if shared else ":"),
            style="bold",
        )
    )
    lines += _plain_grid(w.grad_input, mark=lambda c: "current" if c in shared else "")
    never = w.input.numel() - len(counts)
    if never:
        why = {
            "max": "never the maximum of any window",
            "avg": "no window covers them",
            "conv": "no window covers them, or only with weight 0",
        }[w.op]
        lines.append(Text(f"{never} input cell(s) receive no gradient at all ({why})."))
    return lines


def render_walkthrough(w: WalkthroughRecord, backward: bool = False) -> list[Text]:
    """All lines of the walkthrough (forward, and the backward pass when asked)."""
    lines = render_forward(w)
    if backward:
        lines += render_backward(w)
    return lines


def to_string(lines: list[Text], plain: bool = True, width: int | None = None) -> str:
    """Join lines as plain text, or as ANSI-coloured text (``plain=False``)."""
    if plain:
        return "\n".join(t.plain.rstrip() for t in lines) + "\n"
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=width or 200, soft_wrap=True)
    for t in lines:
        console.print(t)
    return buf.getvalue()
