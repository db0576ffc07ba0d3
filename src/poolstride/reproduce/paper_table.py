"""The paper table: our number with its 95% CI next to the published one, and the verdict.

One :class:`PaperRow` per (grid, variant, metric) measured -- with the published number
where the study has one -- plus a row for each published number whose grid this budget
did not run. Rendered as Markdown (:meth:`PaperTable.to_markdown`), HTML
(:meth:`PaperTable.to_html`) and a rich terminal table (:meth:`PaperTable.render`).

Metrics (:data:`MEASURES`) are shown in the paper's unit: ``test_acc`` and ``test_error``
in %, computed from the stored accuracy fraction ``a`` as ``100 a`` and ``100 (1 - a)``
(the error's interval is the accuracy's, mirrored); the shift consistencies in %.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from poolstride.experiment.stats import Summary, mean_ci
from poolstride.reproduce.claims import seed_values
from poolstride.reproduce.study import Published, StudyResults


@dataclass(frozen=True)
class Measure:
    """How a paper-table metric is read from the store: the stored ``metric``, the map
    from a stored value to the shown one, its ``unit`` and ``label``."""

    metric: str
    show: Callable[[float], float]
    unit: str
    label: str


MEASURES: dict[str, Measure] = {
    "test_acc": Measure("test_acc", lambda a: 100 * a, "%", "test accuracy"),
    "test_error": Measure("test_acc", lambda a: 100 * (1 - a), "%", "test error"),
    "shift_consistency_circular": Measure(
        "shift_consistency_circular", lambda a: 100 * a, "%", "circular-shift consistency"
    ),
    "shift_consistency_crop": Measure(
        "shift_consistency_crop", lambda a: 100 * a, "%", "crop-shift consistency"
    ),
    "macs": Measure("macs", lambda m: m / 1e6, "M", "MACs"),
    "params": Measure("params", lambda p: p / 1e3, "k", "parameters"),
    "step_ms": Measure("step_ms", lambda t: t, " ms", "step time"),
}


def measure(results, variant: str, metric: str) -> Summary:
    """``variant``'s mean and 95% CI over seeds on paper metric ``metric`` (shown units)."""
    how = MEASURES[metric]
    values = [how.show(v) for v in seed_values(results, variant, how.metric).values()]
    return mean_ci(values)


@dataclass(frozen=True)
class PaperRow:
    """One line of the table: ``ours`` is ``None`` when this budget did not run the grid."""

    grid: str
    variant: str
    label: str
    metric: str
    ours: Summary | None
    published: float | None
    where: str

    @property
    def delta(self) -> float:
        """Ours minus published (NaN when either is missing)."""
        if self.ours is None or self.published is None:
            return math.nan
        return self.ours.mean - self.published


@dataclass
class PaperTable:
    """The rows, the claim and its verdict, and what produced them."""

    name: str
    title: str
    citation: str
    claim: str
    budget: str
    outcome: str
    reasons: tuple[str, ...]
    rows: list[PaperRow] = field(default_factory=list)
    notes: str = ""
    seeds: str = ""

    def to_dict(self) -> dict:
        data = asdict(self)
        data["rows"] = [{**asdict(r), "delta": r.delta} for r in self.rows]
        return data

    # -- cells ------------------------------------------------------------------------
    def cells(self) -> list[list[str]]:
        """The table as text cells (header first)."""
        multi = len({r.grid for r in self.rows}) > 1
        head = (["grid"] if multi else []) + ["variant", "paper", "metric", "ours (95% CI, n)"]
        head += ["published", "ours − published", "source"]
        out = [head]
        for r in self.rows:
            unit = MEASURES[r.metric].unit
            row = [r.grid] if multi else []
            row += [r.variant, r.label, MEASURES[r.metric].label, _ours(r.ours, unit)]
            row += [
                "—" if r.published is None else f"{r.published:g}{unit}",
                "—" if math.isnan(r.delta) else f"{r.delta:+.2f}",
                r.where if r.published is not None else "",
            ]
            out.append(row)
        return out

    # -- renderings -------------------------------------------------------------------
    def to_markdown(self) -> str:
        cells = self.cells()
        lines = [
            f"**Claim** ({self.citation}): {self.claim}",
            "",
            f"**Verdict at the `{self.budget}` budget: {self.outcome}.**",
            "",
            *[f"- {reason}" for reason in self.reasons],
            "",
            "| " + " | ".join(cells[0]) + " |",
            "|" + "|".join(" --- " for _ in cells[0]) + "|",
            *["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells[1:]],
        ]
        if self.notes:
            lines += ["", f"Budget `{self.budget}`: {self.notes}."]
        if self.seeds:
            lines += ["", f"Seeds: {self.seeds}."]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        e = html.escape
        cells = self.cells()
        head = "".join(f"<th>{e(c)}</th>" for c in cells[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in cells[1:]
        )
        reasons = "".join(f"<li>{e(r)}</li>" for r in self.reasons)
        notes = (
            f"<p>Budget <code>{e(self.budget)}</code>: {e(self.notes)}.</p>" if self.notes else ""
        )
        return (
            '<!doctype html><html><head><meta charset="utf-8">'
            f"<title>{e(self.title)}</title>"
            "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .5em;"
            "text-align:left}</style></head><body>"
            f"<h1>{e(self.title)}</h1><p><b>Claim</b> ({e(self.citation)}): {e(self.claim)}</p>"
            f"<p><b>Verdict at the <code>{e(self.budget)}</code> budget: {e(self.outcome)}.</b>"
            f"</p><ul>{reasons}</ul><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"</table>{notes}</body></html>\n"
        )

    def render(self, console=None) -> None:
        """Print the table, the verdict and its reasons with rich."""
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        cells = self.cells()
        table = Table(title=f"{self.title} — {self.budget} budget")
        for name in cells[0]:
            table.add_column(name)
        for row in cells[1:]:
            table.add_row(*row)
        console.print(table)
        console.print(f"claim: {self.claim}")
        console.print(f"verdict: [bold]{self.outcome}[/bold]")
        for reason in self.reasons:
            console.print(f"  - {reason}", highlight=False)


def _ours(s: Summary | None, unit: str) -> str:
    if s is None:
        return "not run at this budget"
    if s.n == 0:
        return "no finished run"
    if s.n < 2 or not math.isfinite(s.lo):
        return f"{s.mean:.2f}{unit} (n={s.n})"
    return f"{s.mean:.2f}{unit} ({s.lo:.2f}–{s.hi:.2f}, n={s.n})"


def _published_for(study_published, grid: str, last: str, variant: str, metric: str):
    for p in study_published:
        if p.variant == variant and p.metric == metric and (p.grid or last) == grid:
            return p
    return None


def paper_table(res: StudyResults) -> PaperTable:
    """The paper table of a finished study (checks its claim)."""
    study, recipe = res.study, res.recipe
    labels = [g.label for g in recipe.grids]
    last = labels[-1]
    metrics = list(dict.fromkeys(p.metric for p in study.published)) or ["test_acc"]
    rows: list[PaperRow] = []
    for label in labels:
        results = res.grids[label]
        for variant in results.variants:
            for metric in metrics:
                pub: Published | None = _published_for(
                    study.published, label, last, variant, metric
                )
                rows.append(
                    PaperRow(
                        label,
                        variant,
                        pub.label if pub else "",
                        metric,
                        measure(results, variant, metric),
                        pub.value if pub else None,
                        pub.where if pub else "",
                    )
                )
    for p in study.published:  # published numbers this budget has no grid for
        if (p.grid or last) not in labels:
            rows.append(
                PaperRow(p.grid or last, p.variant, p.label, p.metric, None, p.value, p.where)
            )
    check = study.check(res)
    seeds = sorted({r.seed for results in res.grids.values() for r in results.finished})
    return PaperTable(
        study.name,
        study.title,
        study.citation,
        study.claim,
        res.budget,
        check.outcome,
        check.reasons,
        rows,
        recipe.notes,
        ", ".join(str(s) for s in seeds),
    )


__all__ = ["MEASURES", "Measure", "PaperRow", "PaperTable", "measure", "paper_table"]
