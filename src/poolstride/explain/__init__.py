"""Step-by-step walkthroughs and pictures of pooling and strided convolution, for students.

- :func:`walkthrough` runs max/avg pooling or a convolution on a small matrix with PyTorch and
  returns a :class:`Walkthrough` whose :class:`ForwardStep` / :class:`BackwardStep` explain each
  output and where its gradient goes; ``render_text()`` narrates it, ``write_gif()`` animates it.
- :func:`shift_demo` shows how a one-pixel shift changes pooled values (aliasing).
- :func:`write_page` writes the interactive explainer page: one self-contained HTML file
  (playground, backward pass, operators side by side, receptive-field growth).
"""

from poolstride.explain.explainer_page import write_page
from poolstride.explain.parse import DEFAULT_INPUT, parse_matrix
from poolstride.explain.shift import SHIFT_OPS, ShiftDemo, ShiftResult, shift_demo
from poolstride.explain.walkthrough import (
    OPS,
    BackwardStep,
    ForwardStep,
    Walkthrough,
    default_weights,
    walkthrough,
)

__all__ = [
    "DEFAULT_INPUT",
    "OPS",
    "SHIFT_OPS",
    "BackwardStep",
    "ForwardStep",
    "ShiftDemo",
    "ShiftResult",
    "Walkthrough",
    "default_weights",
    "parse_matrix",
    "shift_demo",
    "walkthrough",
    "write_page",
]
