"""Reports of a comparison, read only from its run store.

- :func:`write_report` — ``RUN_DIR/report.html`` (self-contained, offline), ``report.md`` and
  ``figures/*.svg`` from ``RUN_DIR/runs.sqlite``; what ``poolstride report`` runs.
- :func:`summary_html` — the verdict and results table as an HTML fragment (notebooks).
- :class:`TensorBoardLogger` — optional per-step scalars for TensorBoard (extra
  ``tensorboard``).

Submodules load lazily so ``import poolstride.report`` does not import matplotlib.
"""

from __future__ import annotations

from poolstride.lazy import lazy_exports

_LAZY = {
    "write_report": "poolstride.report.write",
    "summary_html": "poolstride.report.html_report",
    **dict.fromkeys(("load_run", "reproduce_command"), "poolstride.report.run"),
    "variant_styles": "poolstride.report.palette",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
