"""The interactive explainer page: one self-contained HTML file, for students.

``write_page("explain.html")`` (CLI: ``poolstride explain --html FILE``) writes a page with

1. a playground — max / average pooling, a strided convolution with editable weights, or
   blur-max on a 1D or 2D input, with sliders for n, f, s, p, d, ``ceil_mode`` and
   ``count_include_pad``; the window steps (or animates) over the input, the output fills in,
   each step shows its arithmetic, and the output-size formula shows the user's numbers —
   PyTorch's ceil-mode correction included. Settings PyTorch refuses show its rule and why;
2. the backward pass of the same settings: where each output's gradient goes;
3. max, average, a stride-2 convolution, subsampling and blur-max side by side on one digit:
   parameters, MACs, receptive field and what a one-pixel shift does;
4. receptive-field growth of a typed spec (``conv3-16, max2, conv3-32/2, gap``);
5. a self-check: the page recomputes, when it loads, the output size of every setting its
   sliders allow and compares it with :mod:`poolstride.geometry` (computed here, when the page
   is written).

The page's arithmetic is JavaScript (``page_assets/page.js``); ``tests/explain/test_explain_page.py``
runs it in headless Chromium over hundreds of random settings against
``torch.nn.functional``. The file needs no network: script, style and pictures (SVG) are
inline, and a strict Content-Security-Policy allows only that script and style (by hash).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from importlib import resources
from pathlib import Path

from poolstride._version import __version__
from poolstride.errors import PoolstrideError, unknown
from poolstride.geometry.output_size import conv_output_size, pool_output_size

__all__ = ["DIGITS", "EXAMPLE", "PAGE_OPS", "RANGES", "geometry_cases", "page_html", "write_page"]

#: Operators the playground starts with (``poolstride explain OP --html FILE``).
PAGE_OPS = ("max", "avg", "conv", "blur-max")

#: Slider ranges (inclusive) of the playground: input size, kernel, stride, padding, dilation.
RANGES = {"n": (1, 12), "f": (1, 5), "s": (1, 4), "p": (0, 3), "d": (1, 3)}

#: The 4x4 example the playground starts with (that of ``poolstride explain``).
EXAMPLE = ((1, 3, 2, 1), (2, 9, 1, 1), (1, 3, 2, 3), (5, 6, 1, 2))
#: The 8x8 digits of the side-by-side section (those of ``poolstride explain shift``).
DIGITS = {
    "7": (
        "00000000",
        "01111100",
        "00000100",
        "00001000",
        "00001000",
        "00010000",
        "00010000",
        "00000000",
    ),
    "1": (
        "00000000",
        "00011000",
        "00111000",
        "00011000",
        "00011000",
        "00011000",
        "00111100",
        "00000000",
    ),
}


def geometry_cases() -> dict[str, str]:
    """Output sizes from :mod:`poolstride.geometry` for every setting of the sliders.

    One base-36 character per case, 0 where the settings are invalid (PyTorch raises).
    Order: n, f, s, p, d nested loops (ranges from :data:`RANGES`); ``pool`` has two
    entries per setting (floor mode, then ceil mode), ``conv`` one.
    """
    pool, conv = [], []
    ranges = [range(lo, hi + 1) for lo, hi in RANGES.values()]
    for n in ranges[0]:
        for f in ranges[1]:
            for s in ranges[2]:
                for p in ranges[3]:
                    for d in ranges[4]:
                        for ceil in (False, True):
                            pool.append(_size(pool_output_size, n, f, s, p, d, ceil))
                        conv.append(_size(conv_output_size, n, f, s, p, d))
    return {"pool": "".join(pool), "conv": "".join(conv)}


def _size(rule, *args) -> str:
    try:
        out = rule(*args)
    except PoolstrideError:
        out = 0
    return "0123456789abcdefghijklmnopqrstuvwxyz"[out]


def _asset(name: str) -> str:
    return resources.files("poolstride.explain").joinpath("page_assets", name).read_text("utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def page_html(op: str = "max") -> str:
    """The whole page as a string; the playground starts on ``op`` (max, avg, conv, blur-max)."""
    if op not in PAGE_OPS:
        raise unknown("operator for the page", op, PAGE_OPS)
    data = {
        "version": __version__,
        "ranges": {k: list(v) for k, v in RANGES.items()},
        "cases": geometry_cases(),
        "digits": {k: [[int(c) for c in row] for row in rows] for k, rows in DIGITS.items()},
        "initial": {
            "op": op,
            "dim": 2,
            "n": 4,
            "f": 2,
            "s": 2,
            "p": 0,
            "d": 1,
            "ceil": False,
            "cip": True,
            "input": [list(row) for row in EXAMPLE],
        },
    }
    # "<" escaped so that no "</script>" can end the data block early
    data_json = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    css, js = _asset("page.css"), _asset("page.js")
    csp = (
        f"default-src 'none'; script-src '{_sha256(js)}'; style-src '{_sha256(css)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    values = {"CSP": csp, "CSS": css, "JS": js, "VERSION": __version__, "DATA": data_json}
    # one pass over the template: inserted text is never scanned for markers again
    return re.sub(r"@@([A-Z]+)@@", lambda m: values[m[1]], _asset("page.html"))


def write_page(path, op: str = "max") -> Path:
    """Write the explainer page to ``path`` (one HTML file that opens offline); return the path.

    Raises :class:`PoolstrideError` (one line) if the file cannot be written: a missing
    folder, a path that is a folder, no permission.
    """
    path = Path(path)
    text = page_html(op)
    if path.is_dir():
        raise PoolstrideError(f"cannot write the explainer page to {str(path)!r}: it is a folder")
    if not path.parent.is_dir():
        raise PoolstrideError(
            f"cannot write the explainer page to {str(path)!r}: folder {str(path.parent)!r} "
            "does not exist"
        )
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise PoolstrideError(
            f"cannot write the explainer page to {str(path)!r}: {err.strerror or err}"
        ) from None
    return path
