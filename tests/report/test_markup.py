import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolstride.report.markup import Markup, escape, join, tag


@given(st.text())
def test_escaped_text_has_no_markup_and_round_trips(text):
    out = escape(text)
    assert "<" not in out and ">" not in out and '"' not in out and "'" not in out
    assert html.unescape(out) == text


@given(st.text(), st.text())
def test_tag_escapes_children_and_attributes(child, value):
    out = tag("td", child, title=value)
    assert out == f'<td title="{html.escape(value, quote=True)}">{html.escape(child)}</td>'


def test_markup_passes_through_and_plain_strings_do_not():
    inner = tag("b", "x")
    assert tag("p", inner, " & <i>") == "<p><b>x</b> &amp; &lt;i&gt;</p>"
    # adding a plain str to Markup escapes the str, on either side
    assert Markup("<br>") + "<i>" == "<br>&lt;i&gt;"
    assert "<i>" + Markup("<br>") == "&lt;i&gt;<br>"
    assert join(["<a>", Markup("<b>")], ", ") == "&lt;a&gt;, <b>"


def test_attribute_payload_cannot_break_out():
    out = tag("img", src='x" onerror="window.__pwned=1')
    assert out == '<img src="x&quot; onerror=&quot;window.__pwned=1">'


def test_attributes_booleans_none_and_names():
    assert tag("details", "x", open=True) == "<details open>x</details>"
    assert tag("details", "x", open=False, id=None) == "<details>x</details>"
    assert tag("div", class_="a", data_kind="k") == '<div class="a" data-kind="k"></div>'
    assert tag("ul", [tag("li", 1), None, [tag("li", 2)]]) == "<ul><li>1</li><li>2</li></ul>"


def test_invalid_names_and_void_children_raise():
    with pytest.raises(ValueError):
        tag("script onload=x")
    with pytest.raises(ValueError):
        tag("div", **{"on load": "x"})
    with pytest.raises(ValueError):
        tag("img", "child")
