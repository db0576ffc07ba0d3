"""Seeds until decided: the round loop behind ``poolstride compare --seeds auto``.

Round 1 trains seeds 0, 1, 2 of every variant. After each round the test-accuracy
comparisons with the baseline are decided by the group-sequential rule of
:mod:`poolstride.experiment.sequential` (better / worse / equivalent within the margin, or
undecided), and only the variants still undecided get one more seed -- and the baseline
with them, since every comparison is paired with it by seed. The loop ends when every
comparison is decided, at the seed cap (``max_seeds``) or, with a ``budget``, before a
round that would end past it (its length estimated from the rounds that trained).

The error rates hold under this optional stopping because the rule pays for every look in
advance (α spending; see :mod:`~poolstride.experiment.sequential`). The loop only decides
*which runs to train next*; every verdict is recomputed from the store, so a killed
``--seeds auto`` run resumes where it stopped: the rounds already trained are found
finished in the store, replay the same verdicts, and training continues with the first
round that is missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from poolstride.errors import PoolstrideError
from poolstride.experiment.config import CompareConfig
from poolstride.experiment.grid import run_grid
from poolstride.experiment.results import PRIMARY_METRIC, Results, auto_design, margins_of
from poolstride.experiment.sequential import Design, next_round, sequential_family
from poolstride.experiment.stats import METRICS, UNDECIDED, Verdict, paired_diffs
from poolstride.experiment.store import RunRecord, Store

#: Why the loop stopped.
DECIDED, CAP, BUDGET, STALLED = "decided", "cap", "budget", "stalled"


@dataclass(frozen=True)
class Round:
    """One round: the seeds each variant had (seeds ``0 .. n-1``), how many runs it trained
    (the rest were found in the store), its wall time and what was still undecided."""

    seeds: dict[str, int]
    trained: int
    wall_s: float
    undecided: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": dict(self.seeds),
            "trained": self.trained,
            "wall_s": self.wall_s,
            "undecided": list(self.undecided),
        }


@dataclass
class AutoRun:
    """What ``--seeds auto`` did: its rounds, why it stopped, and its wall time.

    ``stop``: ``"decided"`` (every test-accuracy comparison decided), ``"cap"`` (some
    reached ``max_seeds`` undecided), ``"budget"`` (the time budget ended it) or
    ``"stalled"`` (more seeds could not add pairs: runs fail). ``reasons``: each undecided
    variant with why it stays undecided.
    """

    design: Design
    budget_min: float | None = None
    rounds: list[Round] = field(default_factory=list)
    stop: str = DECIDED
    reasons: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def seeds(self) -> dict[str, int]:
        """Seeds each variant was given in the last round."""
        return dict(self.rounds[-1].seeds) if self.rounds else {}

    @property
    def trained(self) -> int:
        return sum(r.trained for r in self.rounds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_seeds": self.design.max_seeds,
            "first": self.design.first,
            "alpha": self.design.alpha,
            "spending": self.design.spending,
            "budget_min": self.budget_min,
            "stop": self.stop,
            "reasons": dict(self.reasons),
            "wall_s": self.wall_s,
            "seeds": self.seeds,
            "rounds": [r.to_dict() for r in self.rounds],
        }


def auto_from_dict(data: dict[str, Any]) -> AutoRun:
    """An :class:`AutoRun` from :meth:`AutoRun.to_dict` (as ``results.json`` keeps it)."""
    design = Design(
        first=int(data.get("first", 3)),
        max_seeds=int(data["max_seeds"]),
        alpha=float(data.get("alpha", 0.05)),
        spending=str(data.get("spending", "obf")),
    )
    rounds = [
        Round(
            {str(k): int(n) for k, n in r["seeds"].items()},
            int(r.get("trained", 0)),
            float(r.get("wall_s", 0.0)),
            tuple(r.get("undecided", ())),
        )
        for r in data.get("rounds", [])
    ]
    return AutoRun(
        design,
        data.get("budget_min"),
        rounds,
        str(data.get("stop", DECIDED)),
        {str(k): str(v) for k, v in (data.get("reasons") or {}).items()},
        float(data.get("wall_s", 0.0)),
    )


def run_auto(
    cfg: CompareConfig,
    store: Store,
    *,
    progress: bool = False,
    console=None,
    clock: Callable[[], float] = time.monotonic,
    **grid_options: Any,
) -> tuple[list[RunRecord], Results, AutoRun]:
    """Run ``cfg`` (``seeds: auto``) in rounds until decided; return the last round's
    records, their :class:`Results` (sequential verdicts) and the :class:`AutoRun`.

    ``grid_options`` go to :func:`~poolstride.experiment.grid.run_grid` (``workers``,
    ``threads``, ``backend``, ...). ``clock`` is injectable for tests of the budget.
    """
    if not cfg.auto:
        raise PoolstrideError("run_auto needs seeds: auto")
    design = auto_design(cfg.max_seeds)
    auto = AutoRun(design, cfg.budget)
    seeds = dict.fromkeys(cfg.variants, design.first)
    start = clock()
    per_run: list[float] = []  # wall seconds per trained run, rounds that trained
    while True:
        seeds[cfg.baseline] = max(seeds.values())  # every comparison pairs with it
        configs = cfg.runs({v: range(n) for v, n in seeds.items()})
        done = store.finished_keys()
        todo = sum(c.key not in done for c in configs)
        if console is not None and auto.rounds:
            console.print(
                f"[bold]round {len(auto.rounds) + 1}[/]: "
                + ", ".join(f"{v} {n}" for v, n in seeds.items())
                + " seeds",
                highlight=False,
            )
        t0 = clock()
        records = run_grid(
            configs,
            store,
            progress=progress,
            console=console,
            validate_first=not auto.rounds,
            **grid_options,
        )
        wall = clock() - t0
        if todo:
            per_run.append(wall / todo)
        verdicts = primary_verdicts(records, cfg, design)
        undecided = tuple(v for v, d in verdicts.items() if not d.decided)
        auto.rounds.append(Round(dict(seeds), todo, wall, undecided))
        # one more seed for each undecided variant (more if failed runs cost it pairs)
        grow = {
            v: min(max(n, seeds[v] + 1), design.max_seeds)
            for v, n in next_round(verdicts, design).items()
        }
        grow = {v: n for v, n in grow.items() if n > seeds[v]}
        if not verdicts:
            auto.stop = STALLED  # no finished baseline run: nothing to pair with
            break
        if not grow:
            auto.stop = DECIDED if not undecided else CAP
            break
        if cfg.budget is not None:
            elapsed = clock() - start
            after = {**seeds, **grow}
            after[cfg.baseline] = max(after.values())
            new = sum(after[v] - seeds[v] for v in seeds)
            estimate = (sum(per_run) / len(per_run)) * new if per_run else 0.0
            if elapsed + estimate > 60 * cfg.budget:
                auto.stop = BUDGET
                break
        seeds.update(grow)
    auto.wall_s = clock() - start
    auto.reasons = _reasons(auto, verdicts, design)
    results = Results.from_records(
        records, cfg.variants, cfg.baseline, cfg.test, margin=cfg.margin, design=design
    )
    results.auto = auto
    return records, results, auto


def primary_verdicts(
    records: list[RunRecord], cfg: CompareConfig, design: Design
) -> dict[str, Verdict]:
    """The sequential test-accuracy verdicts of ``records`` (Holm over the variants), as
    :meth:`Results.from_records` decides them, without the repeated p-values (which only
    the final results need). ``{}`` when the baseline has no finished run."""
    values: dict[str, dict[int, float]] = {v: {} for v in cfg.variants}
    for r in records:
        value = r.metrics.get(PRIMARY_METRIC) if r.finished else None
        if r.variant in values and isinstance(value, (int, float)):
            values[r.variant][r.seed] = float(value)
    if not values[cfg.baseline]:
        return {}
    margin = margins_of(cfg.margin)[PRIMARY_METRIC]
    diffs = {v: d[: design.max_seeds] for v, d in paired_diffs(values, cfg.baseline).items()}
    return sequential_family(
        diffs, margin, design, METRICS[PRIMARY_METRIC].higher_is_better, pvalues=False
    )


def _reasons(auto: AutoRun, verdicts: dict, design: Design) -> dict[str, str]:
    out = {}
    last = auto.rounds[-1].seeds if auto.rounds else {}
    for v, d in verdicts.items():
        if d.decided:
            continue
        given = last.get(v, 0)
        if d.kind == UNDECIDED and given >= design.max_seeds:
            failed = given - d.n
            extra = f", {failed} failed" if failed > 0 else ""
            out[v] = f"seed cap reached ({design.max_seeds} seeds{extra})"
        elif auto.stop == BUDGET:
            out[v] = f"time budget reached ({auto.budget_min:g} min) at {given} seeds"
        else:
            out[v] = f"runs failed: {d.n} complete pairs from {given} seeds"
    return out


__all__ = ["AutoRun", "Round", "auto_from_dict", "primary_verdicts", "run_auto"]
