"""The record of a walkthrough: each output's window and value, where each gradient goes.

Plain data (every number from PyTorch, see :mod:`poolstride.explain.walkthrough`), read by the
narration (:mod:`~poolstride.explain.render`) and the animation
(:mod:`~poolstride.explain.animate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from poolstride.notebook import html_matrix, html_table

__all__ = ["BackwardStep", "Coord", "ForwardStep", "WalkthroughRecord"]

Coord = tuple[int, ...]


def _num(value: float) -> str:
    return f"{value:.4g}"


def _cell(coord: Coord) -> str:
    return "[" + ",".join(str(c) for c in coord) + "]"


def _dims(t: torch.Tensor) -> str:
    return "×".join(str(n) for n in t.shape)


def _rounded(t: torch.Tensor) -> list:
    values = t.tolist()
    if t.ndim == 1:
        return [_num(v) for v in values]
    return [[_num(v) for v in row] for row in values]


@dataclass(frozen=True)
class ForwardStep:
    """One output position: the window it reads and the value PyTorch computed there.

    ``cells[i]`` is an input coordinate (negative or ``>= size`` in padding), ``where[i]`` is
    ``"input"``, ``"padding"`` or ``"outside"`` (beyond the padding, ceil mode only),
    ``values[i]`` the input value (None off the input), ``weights[i]`` the kernel weight
    (conv only). ``chosen`` indexes the cell PyTorch's max picked; ``divisor`` is the
    average's denominator.
    """

    index: Coord
    cells: tuple[Coord, ...]
    where: tuple[str, ...]
    values: tuple[float | None, ...]
    output: float
    weights: tuple[float, ...] | None = None
    chosen: int | None = None
    divisor: int | None = None


@dataclass(frozen=True)
class BackwardStep:
    """Where the upstream gradient of one output goes.

    ``targets`` pairs each input cell that receives gradient with the amount (from autograd:
    ``upstream * d out / d input[cell]``); ``dropped`` is the part that lands on padding
    cells and is discarded (avg with ``count_include_pad``, conv).
    """

    index: Coord
    upstream: float
    targets: tuple[tuple[Coord, float], ...]
    dropped: float = 0.0


@dataclass(frozen=True, eq=False)
class WalkthroughRecord:
    """A pooling or convolution run on one small matrix, with every step explained (the numbers;
    :class:`~poolstride.explain.walkthrough.Walkthrough` adds ways to show them).

    Tensors are float64: ``input`` (H, W) or (L,), ``output`` and ``grad_output`` the output
    shape, ``grad_input`` the input shape, ``weights`` the kernel (conv only).
    """

    op: str
    input: torch.Tensor
    kernel: Coord
    stride: Coord
    padding: Coord
    dilation: Coord
    ceil_mode: bool
    count_include_pad: bool
    weights: torch.Tensor | None
    output: torch.Tensor
    steps: tuple[ForwardStep, ...]
    grad_output: torch.Tensor
    grad_input: torch.Tensor
    backward_steps: tuple[BackwardStep, ...] = field(default=())

    @property
    def dim(self) -> int:
        return self.input.ndim

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.torch_call}: input {_dims(self.input)} -> output "
            f"{_dims(self.output)}, {len(self.steps)} steps>"
        )

    def _repr_html_(self) -> str:
        """The walkthrough in a notebook: input, output, and one row per output position
        (the window's input cells, their values — the max's pick in brackets — and the
        result)."""
        rows = []
        for n, step in enumerate(self.steps, 1):
            values = [
                "pad" if v is None else (f"[{_num(v)}]" if i == step.chosen else _num(v))
                for i, v in enumerate(step.values)
            ]
            rule = f"sum / {step.divisor}" if step.divisor else {"max": "max"}.get(self.op, "Σ w·x")
            rows.append(
                [
                    n,
                    _cell(step.index),
                    " ".join(_cell(c) for c in step.cells),
                    ", ".join(values),
                    rule,
                    _num(step.output),
                ]
            )
        table = html_table(
            ["step", "output", "window (input cells)", "values", "rule", "result"],
            rows,
            title=self.torch_call,
            caption="Every number is PyTorch's; cells outside the input are padding.",
            right=(0, 5),
        )
        return "\n".join(
            [
                html_matrix(_rounded(self.input), f"input {_dims(self.input)}"),
                html_matrix(_rounded(self.output), f"output {_dims(self.output)}"),
                table,
            ]
        )

    @property
    def torch_call(self) -> str:
        """The PyTorch call whose numbers are shown, e.g. ``F.max_pool2d(x, 2, 2, 0)``."""
        one = self.dim == 1
        k, s, p, d = (
            v[0] if one else v for v in (self.kernel, self.stride, self.padding, self.dilation)
        )
        name = {"max": "max_pool", "avg": "avg_pool", "conv": "conv"}[self.op] + f"{self.dim}d"
        if self.op == "conv":
            return f"F.{name}(x, w, stride={s}, padding={p}, dilation={d})"
        extra = (
            f", dilation={d}"
            if self.op == "max"
            else f", count_include_pad={self.count_include_pad}"
        )
        return f"F.{name}(x, kernel_size={k}, stride={s}, padding={p}{extra}, ceil_mode={self.ceil_mode})"
