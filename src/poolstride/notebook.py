"""Notebook views: one escaping HTML table renderer for every result object's ``_repr_html_``.

Used by the profile table, a swap's change list, walkthroughs and export checks, so that each
renders in Jupyter as a table with its title and its caption (the convention it was measured
with), every cell escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

_STYLE = "border-collapse:collapse;font-variant-numeric:tabular-nums"


def html_table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    title: str | None = None,
    caption: str | None = None,
    right: Iterable[int] = (),
    bold_last: bool = False,
) -> str:
    """An HTML ``<table>`` of ``rows`` under ``header`` (cells escaped, ``None`` -> empty).

    Args:
        title: a bold line above the table.
        caption: text below the table (line breaks kept).
        right: indices of the columns to right-align (numbers).
        bold_last: render the last row in bold (a total).
    """
    align = set(right)

    def cell(tag: str, i: int, value: object) -> str:
        text = "" if value is None else html.escape(str(value))
        style = ' style="text-align:right"' if i in align else ' style="text-align:left"'
        return f"<{tag}{style}>{text}</{tag}>"

    body = [list(r) for r in rows]
    lines = []
    if title:
        lines.append(f"<p><strong>{html.escape(title)}</strong></p>")
    lines.append(f'<table style="{_STYLE}">')
    lines.append("<thead><tr>" + "".join(cell("th", i, h) for i, h in enumerate(header)))
    lines.append("</tr></thead><tbody>")
    for n, row in enumerate(body):
        weight = ' style="font-weight:bold"' if bold_last and n == len(body) - 1 else ""
        lines.append(f"<tr{weight}>" + "".join(cell("td", i, v) for i, v in enumerate(row)))
        lines.append("</tr>")
    lines.append("</tbody></table>")
    if caption:
        text = html.escape(caption).replace("\n", "<br>")
        lines.append(f'<p style="font-size:smaller">{text}</p>')
    return "\n".join(lines)


def html_matrix(values: Sequence[Sequence[object]] | Sequence[object], title: str) -> str:
    """A small matrix (or a row vector) as an HTML table with no header."""
    rows = (
        [list(r) for r in values]
        if values and isinstance(values[0], (list, tuple))
        else [list(values)]
    )
    cells = "".join(
        "<tr>"
        + "".join(f'<td style="text-align:right">{html.escape(str(v))}</td>' for v in row)
        + "</tr>"
        for row in rows
    )
    return (
        f"<p><strong>{html.escape(title)}</strong></p>"
        f'<table style="{_STYLE}"><tbody>{cells}</tbody></table>'
    )
