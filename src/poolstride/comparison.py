"""``poolstride.compare``: run a grid, summarise it, write its outputs and its report.

The one orchestration of a comparison, used by the Python API and by ``poolstride compare``
alike; it sits above :mod:`poolstride.experiment` (which runs and summarises) and
:mod:`poolstride.report` (which reads a run directory and renders it).

>>> import poolstride
>>> res = poolstride.compare(variants=["max", "conv"], seeds=3, steps=500)  # doctest: +SKIP
>>> print(res.verdicts[0])                                                  # doctest: +SKIP
conv is worse than max: 4.3 points less accurate (95% CI 3.1–5.5, p=0.002, n=3)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from poolstride.experiment import allocator
from poolstride.experiment.adaptive import run_auto
from poolstride.experiment.config import CompareConfig, make_config
from poolstride.experiment.cores import load_warning, resolve_workers, threads_per_worker
from poolstride.experiment.estimate import Estimate, estimate_grid, write_timing
from poolstride.experiment.grid import plan, run_grid, validate
from poolstride.experiment.mlflow_tracking import log_grid, require_mlflow
from poolstride.experiment.results import Results, verdict_options
from poolstride.experiment.store import STORE_FILENAME, Store
from poolstride.experiment.task import Task
from poolstride.experiment.train import Diverged
from poolstride.report.html_report import summary_html
from poolstride.report.terminal import render_results, results_table, results_text
from poolstride.report.write import write_report


class ComparisonResults(Results):
    """:class:`~poolstride.experiment.results.Results` with their views: the terminal table
    (``table()``, ``render()``, ``str()``) and the notebook summary (``_repr_html_``)."""

    def table(self):
        """A rich Table: one row per variant, mean ± 95% CI half-width over seeds."""
        return results_table(self)

    def render(self, console=None) -> None:
        """Print the table, the verdicts (grouped by metric) and any failed runs."""
        render_results(self, console)

    def __str__(self) -> str:
        return results_text(self)

    def _repr_html_(self) -> str:
        """The report's summary (verdicts and results table), for notebooks."""
        return summary_html(self)


def compare(
    dataset: str | None = None,
    variants: Any = None,
    seeds: Any = None,
    *,
    config: CompareConfig | Mapping[str, Any] | str | Path | None = None,
    out: str | Path | None = None,
    progress: bool = False,
    console=None,
    **options: Any,
) -> ComparisonResults:
    """Train every variant over seeds with an identical budget and compare them.

    Args:
        dataset: dataset name (default ``mnist1d``).
        variants: downsampling variants, a list or ``"max,avg,conv"`` (default
            ``max, avg, conv, subsample, blur-max, none``); the first is the baseline unless
            ``baseline=`` is given.
        seeds: a count (``3`` = seeds 0, 1, 2), a list of seeds, or ``"auto"``: seeds in
            rounds until every test-accuracy comparison is decided (better, worse,
            equivalent within ``margin``), at most ``max_seeds`` (10), optionally within
            ``budget`` minutes; ``res.auto`` says what it did.
        config: a :class:`CompareConfig`, a mapping of its fields, or a YAML file path;
            explicit arguments override it.
        out: run directory: the SQLite store (``runs.sqlite``), ``results.{json,csv}`` and the
            report go there, and finished runs found there are not run again. ``None``: an
            in-memory store, nothing written.
        progress: show rich progress bars.
        **options: any other :class:`CompareConfig` field (``model``, ``steps``,
            ``batch_size``, ``lr``, ``optimizer``, ``schedule``, ``augment``, ``device``,
            ``train_size``, ``head``, ``match``, ``baseline``, ``test``, ``margin``
            (``0.5`` = test accuracy within ±0.5 points; ``"test_acc=0.5,test_loss=0.01"``),
            ``max_seeds``, ``budget``, ``workers``,
            ``threads``, ...).

    Returns:
        :class:`ComparisonResults` — per-run records, per-variant means with 95% CIs, and
        verdicts: ``res.decisions[metric][variant]`` is a
        :class:`~poolstride.experiment.stats.Verdict` (``kind``, ``diff``, ``lo``/``hi``,
        ``p``/``p_adj``, ``p_equiv``/``p_equiv_adj``, ``n`` seeds used),
        ``res.verdict_rows()`` the same as flat dicts, ``res.verdicts`` the sentences.

    Raises:
        PoolstrideError: a bad name or setting, found before any training starts.
    """
    cfg = make_config(config, dataset=dataset, variants=variants, seeds=seeds, out=out, **options)
    results, _report = run_comparison(cfg, progress=progress, console=console)
    return results


@dataclass(frozen=True)
class GridPlan:
    """What a grid will do before it starts: its tasks (runs already finished in the store
    left out), notes on seeds not fused, and the estimate of its wall time (``None`` when not
    calibrated). ``first_round``: the grid is ``--seeds auto`` and this is its first round."""

    total_runs: int
    tasks: list[Task]
    notes: list[str]
    estimate: Estimate | None
    first_round: bool = False
    #: why there is no estimate although one was asked for (calibration's training failed)
    no_estimate: str | None = None

    def lines(self) -> list[str]:
        """The plan as text: one line per task with its expected time, then the estimate."""
        todo = sum(len(t.configs) for t in self.tasks)
        out = [f"plan: {todo} of {self.total_runs} runs to train, in {len(self.tasks)} tasks"]
        times = self.estimate.task_s if self.estimate is not None else [None] * len(self.tasks)
        for task, seconds in zip(self.tasks, times):
            how = "seed-fused" if task.fused else "one run"
            took = f", ~{seconds:.0f} s" if seconds is not None else ""
            out.append(f"  {task.label} ({how}{took})")
        out += [f"note {n}" for n in self.notes]
        if self.estimate is not None:
            out.append(f"threads per worker: {self.estimate.threads.reason}")
            out.append(self.estimate.summary() + (" (first round)" if self.first_round else ""))
        elif self.no_estimate:
            out += ["threads per worker: not measured", self.no_estimate]
        return out


def plan_comparison(
    cfg: CompareConfig,
    *,
    estimate: bool = True,
    warn: Callable[[str], None] | None = None,
    done: set[str] | None = None,
) -> GridPlan:
    """Validate ``cfg``'s grid (one line on a bad name or shape), cut the runs not yet
    finished (``done``: their keys; by default read from ``cfg.out``'s store) into tasks as
    the grid will, and (``estimate``) calibrate on this machine: threads per worker and the
    expected wall time. Writes nothing. ``warn`` gets one line when the load average exceeds
    the cores (before calibrating)."""
    if done is None:
        done = set()
        if cfg.out is not None and (Path(cfg.out) / STORE_FILENAME).is_file():
            with Store(cfg.out, create=False) as store:  # a damaged store: one line
                done = store.finished_keys()
    configs = cfg.runs()
    validate(configs)
    warning = load_warning() if estimate and warn is not None else None
    if warning:  # timings (and the threads chosen by them) measure the other processes too
        warn(warning)
    todo = [c for c in configs if c.key not in done]
    workers = resolve_workers(cfg.workers)
    local_pool = cfg.backend == "local" and workers > 1
    tasks, notes = plan(
        todo,
        batch_seeds=cfg.batch_seeds,
        channels_last=cfg.channels_last,
        workers=workers if local_pool or cfg.backend != "local" else 1,
        autotune=cfg.autotune,
        threads=cfg.threads or threads_per_worker(workers),
    )
    est, why = None, None
    if estimate:
        pool = cfg.backend != "local" or (local_pool and len(tasks) > 1)
        try:
            est = estimate_grid(tasks, workers=workers, pool=pool, threads=cfg.threads)
        except Diverged as exc:  # the grid still runs: each run records its own failure
            why = f"no estimate: a calibration step failed ({exc})"
    return GridPlan(len(configs), tasks, notes, est, first_round=cfg.auto, no_estimate=why)


def run_comparison(
    cfg: CompareConfig,
    *,
    progress: bool = False,
    console=None,
    estimate: bool | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[ComparisonResults, Path | None]:
    """Run ``cfg``'s grid (resuming from its store), summarise it and, when ``cfg.out`` is
    set, write its outputs and report. Returns the results and the report's path.

    ``estimate`` (default: with ``progress``): calibrate first (:func:`plan_comparison`),
    print the expected wall time, run with the threads per worker it measured as faster
    (unless ``cfg.threads`` forces them) and save estimate and actual wall time in
    ``RUN_DIR/timing.json`` for the report. ``progress``: rich bars in a terminal, else a
    plain line every ``cfg.progress_every`` seconds. ``warn``: see :func:`plan_comparison`."""
    if cfg.mlflow is not None:
        require_mlflow()  # a missing extra fails before any training
    allocator.apply(cfg.allocator)  # before the data and models are allocated
    if estimate is None:
        estimate = progress
    store = Store(cfg.out) if cfg.out is not None else Store(":memory:")
    try:
        threads, threads_choice, estimate_s, loop_share = cfg.threads, None, None, None
        if estimate:
            grid_plan = plan_comparison(cfg, warn=warn, done=store.finished_keys())
            est = grid_plan.estimate
            if est is not None:
                threads, threads_choice = est.threads.threads, est.threads.reason
                estimate_s, loop_share = est.total_s, est.loop_share
            if console is not None:
                for line in grid_plan.lines()[-2:]:
                    console.print(line, markup=False, highlight=False, soft_wrap=True)
        grid_options = dict(
            workers=cfg.workers,
            threads=threads,
            threads_choice=threads_choice,
            progress_every=cfg.progress_every,
            estimate_s=estimate_s,
            loop_share=loop_share,
            backend=cfg.backend,
            address=cfg.address,
            batch_seeds=cfg.batch_seeds,
            channels_last=cfg.channels_last,
            autotune=cfg.autotune,
            allocator=cfg.allocator,
            progress=progress,
            console=console,
        )
        if cfg.auto:  # seeds until decided: rounds of run_grid (resumes from the store)
            records, done, _ = run_auto(cfg, store, **grid_options)
            results = ComparisonResults(**{f.name: getattr(done, f.name) for f in fields(done)})
        else:
            started = time.perf_counter()
            records = run_grid(cfg.runs(), store, validate_first=not estimate, **grid_options)
            actual_s = time.perf_counter() - started
            results = ComparisonResults.from_records(
                records, cfg.variants, cfg.baseline, cfg.test, **verdict_options(cfg)
            )
            if estimate and est is not None and cfg.out is not None:
                write_timing(cfg.out, est, actual_s)
    finally:
        store.close()
    report = save_outputs(results, cfg) if cfg.out is not None else None
    if cfg.mlflow is not None:  # after the outputs: the report and results are artifacts
        log_grid(records, target=cfg.mlflow, grid=cfg.to_dict(), run_dir=cfg.out)
    return results, report


def save_outputs(results: Results, cfg: CompareConfig) -> Path:
    """Write results.{json,csv}, summary.csv, config.yaml and the HTML/Markdown report.

    Returns the path of ``report.html`` in the run directory ``cfg.out``.
    """
    results.save(cfg.out)
    (Path(cfg.out) / "config.yaml").write_text(config_yaml(cfg.to_dict()))
    # The report reads config.yaml (variant order, baseline, test), so it comes last.
    return write_report(cfg.out)


def config_yaml(data: dict[str, Any]) -> str:
    """The text of a run directory's ``config.yaml``: every field of the grid."""
    return (
        "# the exact grid of this run directory; re-run with "
        "`poolstride compare --config config.yaml`\n" + yaml.safe_dump(data, sort_keys=False)
    )


__all__ = [
    "ComparisonResults",
    "GridPlan",
    "compare",
    "config_yaml",
    "plan_comparison",
    "run_comparison",
    "save_outputs",
]
