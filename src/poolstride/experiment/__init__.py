"""Controlled multi-seed comparisons of downsampling choices.

- :func:`compare` — the Python face of ``poolstride compare`` (``api``), returns :class:`Results`
- :class:`RunConfig` / :class:`CompareConfig` — one frozen config per run / the grid (``config``)
- ``train.train`` — the one training loop; ``metrics.measure`` — what a trained model is scored on
- :class:`Store` / :class:`RunRecord` — the SQLite store reports read (``store``)
- :func:`mean_ci`, :func:`paired_test`, :func:`holm` — statistics over seeds (``stats``)
- :func:`run_grid` — validate, run (local process pool), resume (``runner``)

Names are imported lazily so ``import poolstride.experiment.store`` stays light.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "compare": "api",
    "make_config": "api",
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
    "run_grid": "runner",
    "execute": "runner",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
