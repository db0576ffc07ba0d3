"""A tiny HTML builder that escapes by default.

Every string that reaches the report's HTML goes through :func:`tag` or :func:`escape`, so run
names, variant names and config values (all user-provided) always appear literally and can
never inject markup or script. Only :class:`Markup` — strings this package built itself — is
passed through unchanged::

    tag("td", "<script>")                 -> '<td>&lt;script&gt;</td>'
    tag("a", "x", href='"><img onerror')  -> '<a href="&quot;&gt;&lt;img onerror">x</a>'
    tag("p", tag("b", "bold"), " & more") -> '<p><b>bold</b> &amp; more</p>'

There is deliberately no way to interpolate a plain ``str`` into HTML unescaped short of
wrapping it in :class:`Markup` by hand.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

# Elements that have no closing tag.
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "wbr"})


class Markup(str):
    """A string of trusted HTML (built by this module); :func:`escape` leaves it alone."""

    __slots__ = ()

    def __add__(self, other: Any) -> Markup:
        return Markup(str.__add__(self, escape(other)))

    def __radd__(self, other: Any) -> Markup:
        return Markup(str.__add__(escape(other), self))


def escape(value: Any) -> Markup:
    """``value`` as HTML text: ``& < > " '`` escaped, unless it already is :class:`Markup`.

    ``None`` becomes the empty string; anything else goes through ``str()`` first.
    """
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    return Markup(html.escape(str(value), quote=True))


def join(parts: Iterable[Any], sep: Any = "") -> Markup:
    """Concatenate ``parts`` (each escaped unless Markup) with ``sep`` between them."""
    return Markup(escape(sep).join(escape(p) for p in parts))


def _attr_name(name: str) -> str:
    # class_ -> class, data_kind -> data-kind (Python keywords and dashes)
    name = name.rstrip("_").replace("_", "-")
    if not name or not all(c.isalnum() or c == "-" for c in name):
        raise ValueError(f"invalid HTML attribute name {name!r}")
    return name


def tag(name: str, /, *children: Any, **attrs: Any) -> Markup:
    """``<name attrs>children</name>`` with every child and attribute value escaped.

    Children may be strings, numbers, :class:`Markup`, ``None`` (skipped) or lists of those.
    Attribute values ``True`` render as a bare attribute, ``False``/``None`` are dropped.
    """
    if not name.isalnum():
        raise ValueError(f"invalid HTML tag name {name!r}")
    parts = [f"<{name}"]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        parts.append(
            f" {_attr_name(key)}" if value is True else f' {_attr_name(key)}="{escape(value)}"'
        )
    parts.append(">")
    if name in _VOID:
        if children:
            raise ValueError(f"<{name}> cannot have children")
        return Markup("".join(parts))
    parts.extend(escape(c) for c in _flatten(children))
    parts.append(f"</{name}>")
    return Markup("".join(parts))


def _flatten(children: Iterable[Any]) -> Iterable[Any]:
    for child in children:
        if child is None:
            continue
        if isinstance(child, (list, tuple)):
            yield from _flatten(child)
        else:
            yield child


__all__ = ["Markup", "escape", "join", "tag"]
