"""The record of a swap: one row per downsampling site, with its cost difference.

``Changes`` is a list of ``Change`` rows with a markdown table, a rich table and a JSON-ready
dict. Costs follow the project convention: MACs for convolutions (FLOPs = 2 x MACs); pooling
counted as one operation per window element per output; both per example at the traced input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from poolstride.geometry.shape_strings import format_shape
from poolstride.notebook import html_table


@dataclass(frozen=True)
class Change:
    """One downsampling site: what was there, what is there now, and the cost difference.

    ``action`` is ``"replaced"``, ``"split"`` (a strided conv became a stride-1 conv plus a
    downsampling operator), ``"restored"`` (back to the original), or ``"kept"`` (the site
    already is the target, or it was filtered out; ``reason`` says why).
    """

    path: str
    action: str
    before: str
    after: str
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    d_params: int = 0
    d_macs: int = 0
    d_pool_ops: int = 0
    reason: str = ""

    @property
    def changed(self) -> bool:
        return self.action != "kept"


def _signed(value: int) -> str:
    """``+1,234`` / ``-56`` / ``0`` (exact: tables show every digit, like torchinfo)."""
    return "0" if value == 0 else f"{value:+,}"


def _short(value: int) -> str:
    """``+29.5M`` / ``-147k`` / ``+36,864``: compact signed counts for narrow tables."""
    for unit, scale in (("G", 10**9), ("M", 10**6)):
        if abs(value) >= scale:
            return f"{value / scale:+.1f}{unit}"
    return _signed(value)


@dataclass
class Changes:
    """Every site of a swap, in forward order. Iterable; ``len`` counts all sites."""

    target: str
    input_shape: tuple[int, ...]
    rows: list[Change] = field(default_factory=list)
    model: str = ""
    # Downsampling the swap could not reach (strided pooling functions called in forward()).
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Change]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]

    @property
    def changed(self) -> list[Change]:
        """Only the sites that were rewritten (not ``kept``)."""
        return [row for row in self.rows if row.changed]

    def by_path(self) -> dict[str, Change]:
        return {row.path: row for row in self.rows}

    @property
    def totals(self) -> dict[str, int]:
        """Summed differences over all sites: params, MACs, pooling ops (per example)."""
        return {
            "sites": len(self.rows),
            "changed": len(self.changed),
            "d_params": sum(r.d_params for r in self.rows),
            "d_macs": sum(r.d_macs for r in self.rows),
            "d_pool_ops": sum(r.d_pool_ops for r in self.rows),
        }

    def title(self) -> str:
        name = f"{self.model} " if self.model else ""
        return (
            f"{name}downsampling -> {self.target!r} at input {format_shape(self.input_shape)}: "
            f"{len(self.changed)} of {len(self.rows)} sites changed"
        )

    def _table(self, exact: bool = True) -> tuple[list[str], list[list[str]]]:
        fmt = _signed if exact else _short
        header = ["site", "before", "after", "output", "Δparams", "ΔMACs", "Δpool ops"]
        body = []
        for r in self.rows:
            after = r.after if r.changed else "unchanged"
            if r.action in ("kept", "restored") and r.reason:
                after += f" ({r.reason})"
            out = format_shape(r.output_shape[1:]) if r.output_shape else "-"
            body.append(
                [r.path, r.before, after, out, fmt(r.d_params), fmt(r.d_macs), fmt(r.d_pool_ops)]
            )
        t = self.totals
        body.append(
            [
                f"total ({t['changed']} of {t['sites']} changed)",
                "",
                "",
                "",
                fmt(t["d_params"]),
                fmt(t["d_macs"]),
                fmt(t["d_pool_ops"]),
            ]
        )
        return header, body

    def footnote(self) -> str:
        text = (
            "Per example at the traced input. MACs: multiply-accumulates of convolutions "
            "(blur filters included) and linear layers, FLOPs = 2 x MACs; pool ops: one per "
            "window element per output; output: C x spatial of the site."
        )
        if self.notes:
            text += "\nNot swappable (functions, not modules): " + "; ".join(self.notes) + "."
        return text

    def to_markdown(self) -> str:
        """A GitHub-flavoured markdown table with a title line and the cost convention."""
        header, body = self._table()
        lines = [f"**{self.title()}**", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join("---:" if h.startswith("Δ") else "---" for h in header) + "|")
        for row in body:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        lines += ["", self.footnote()]
        return "\n".join(lines)

    def to_rich(self):
        """A ``rich.table.Table`` (print it with ``rich.console.Console().print``)."""
        # imported on use: only terminal output needs rich
        from rich.table import Table

        header, body = self._table(exact=False)
        table = Table(title=self.title(), caption=self.footnote(), caption_justify="left")
        for h in header:
            table.add_column(h, justify="right" if h.startswith("Δ") else "left")
        for i, row in enumerate(body):
            table.add_row(*row, end_section=(i == len(body) - 2))
        return table

    def __rich__(self):
        return self.to_rich()

    def __repr__(self) -> str:
        return f"<Changes {self.title()}>"

    def _repr_html_(self) -> str:
        """The change list in a notebook: one row per site, the total, the convention."""
        header, body = self._table()
        return html_table(
            header,
            body,
            title=self.title(),
            caption=self.footnote(),
            right=(4, 5, 6),
            bold_last=True,
        )

    def to_dict(self) -> dict:
        """JSON-ready: target, input shape, totals and one dict per site."""
        return {
            "model": self.model,
            "target": self.target,
            "input_shape": list(self.input_shape),
            "totals": self.totals,
            "sites": [asdict(r) for r in self.rows],
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        return self.to_markdown()
