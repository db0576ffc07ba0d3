"""Controlled multi-seed comparisons of downsampling choices.

- :class:`RunConfig` / :class:`CompareConfig` — one frozen config per run / the grid (``config``)
- ``train.train`` — the one training loop; ``metrics.measure`` — what a trained model is scored on
- :class:`Store` / :class:`RunRecord` — the SQLite store reports read (``store``)
- :func:`mean_ci`, :func:`paired_test`, :func:`holm` — statistics over seeds (``stats``)
- :class:`Task` / :class:`Outcome` / :func:`run_task` — the unit of work and how it runs (``task``)
- :func:`run_grid` — validate, plan, resume, run on a backend, store (``grid``)

The comparison users call (``poolstride.compare``) sits above this package and the report,
in :mod:`poolstride.comparison`.

Names are imported lazily so ``import poolstride.experiment.store`` stays light.
"""

from __future__ import annotations

from poolstride.lazy import lazy_exports

_LAZY = {
    "make_config": "config",
    "Results": "results",
    "RunConfig": "config",
    "CompareConfig": "config",
    "DEFAULT_VARIANTS": "config",
    "Diverged": "train",
    "Store": "store",
    "RunRecord": "store",
    "mean_ci": "stats",
    "paired_test": "stats",
    "holm": "stats",
    "compare_to_baseline": "stats",
    "run_grid": "grid",
    "Task": "task",
    "Outcome": "task",
    "run_task": "task",
    "execute": "task",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(
    __name__, {name: f"{__name__}.{module}" for name, module in _LAZY.items()}
)
