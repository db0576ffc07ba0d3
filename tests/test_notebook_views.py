"""Result objects render as tables in a notebook (`_repr_html_`) and have short reprs."""

from __future__ import annotations

import re

import torch
from torch import nn

from poolstride.analysis.profile_table import spec_table
from poolstride.explain import walkthrough
from poolstride.notebook import html_table
from poolstride.surgery import swap_downsampling


def _rows(html: str) -> int:
    return len(re.findall(r"<tr[ >]", html)) - html.count("<thead>")


def test_html_table_escapes_aligns_and_captions():
    html = html_table(
        ["name", "n"], [["<b>", 1], ["total", 2]], title="a & b", caption="x\ny", right=(1,)
    )
    assert "&lt;b&gt;" in html and "<b>" not in html.split("<tbody>")[1]
    assert "<strong>a &amp; b</strong>" in html and "x<br>y" in html
    assert '<td style="text-align:right">1</td>' in html and _rows(html) == 2


def test_profile_table_notebook_view():
    table = spec_table("conv3-8, max2, conv3-16/2, gap", "3x16x16")
    html = table._repr_html_()
    assert _rows(html) == len(table.rows) + 1  # one per layer and the total
    assert ">total</td>" in html and "Convention:" in html and "font-weight:bold" in html
    assert f">{table.totals.macs:,}</td>" in html
    text = repr(table)
    assert "\n" not in text and len(text) < 300 and "4 layers" in text  # not 20k characters


def test_swap_changes_notebook_view():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, stride=2, padding=1),
        nn.AdaptiveAvgPool2d(1),
    )
    _, changes = swap_downsampling(model, "blur-max", input_shape=(3, 16, 16))
    html = changes._repr_html_()
    assert _rows(html) == len(changes) + 1
    assert "&#x27;blur-max&#x27;" in html  # the title, escaped
    assert "Per example at the traced input" in html
    assert repr(changes).startswith("<Changes ") and len(repr(changes)) < 200


def test_walkthrough_notebook_view():
    w = walkthrough(op="max")
    html = w._repr_html_()
    assert html.count("<table") == 3  # input, output, steps
    assert "[9]" in html  # the max's pick in brackets
    assert html.count(">max</td>") == len(w.steps)
    avg = walkthrough(op="avg", kernel=3, padding=1)
    assert "pad" in avg._repr_html_() and "sum / 9" in avg._repr_html_()
    text = repr(w)
    assert text.startswith("<Walkthrough F.max_pool2d(") and "4 steps" in text
    assert "tensor(" not in text
    torch.testing.assert_close(
        w.output, torch.tensor([[9.0, 2.0], [6.0, 3.0]], dtype=w.output.dtype)
    )
