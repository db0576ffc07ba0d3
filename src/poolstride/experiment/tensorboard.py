"""Optional TensorBoard logging of per-step scalars (``pip install poolstride[tensorboard]``).

>>> log = TensorBoardLogger("runs/mnist1d-simple/tb/max-seed0")   # doctest: +SKIP
>>> log.log_scalars(50, {"train/loss": 0.71, "train/lr": 0.003})  # doctest: +SKIP
>>> log.close()                                                   # doctest: +SKIP

Then ``tensorboard --logdir runs/mnist1d-simple/tb`` shows every run side by side. The
logger is a thin, typed front to :class:`torch.utils.tensorboard.SummaryWriter`: it skips
values that are not finite numbers (so a NaN cannot crash a run at the logging line) and
works as a context manager.

When a run has finished, :func:`log_final` adds its hyperparameters (the config fields that
define the run) with every final scalar metric (test accuracy, shift consistency, params,
MACs, timings, ... as ``final/<name>``) through ``add_hparams``: TensorBoard's HPARAMS tab
then lists every run of a grid as one row, sortable by any metric.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from poolstride.errors import PoolstrideError

INSTALL_HINT = (
    "TensorBoard logging needs the 'tensorboard' package: pip install 'poolstride[tensorboard]'"
)


def _summary_writer():
    """:class:`SummaryWriter`, or a one-line PoolstrideError when tensorboard is missing."""
    try:
        import tensorboard  # noqa: F401 - torch.utils.tensorboard needs it at import
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise PoolstrideError(INSTALL_HINT) from None
    return SummaryWriter


class TensorBoardLogger:
    """Write scalars for one run into ``log_dir`` (TensorBoard event files).

    Args:
        log_dir: directory for this run's event files (created if missing); one directory
            per run lets TensorBoard overlay runs.
        flush_secs: how often pending events reach disk.

    Raises:
        PoolstrideError: tensorboard is not installed.
    """

    def __init__(self, log_dir: str | Path, *, flush_secs: int = 10):
        writer_cls = _summary_writer()
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._writer = writer_cls(log_dir=str(self.log_dir), flush_secs=flush_secs)
        self._closed = False

    def log_scalars(self, step: int, values: Mapping[str, Any]) -> int:
        """Log ``{tag: number}`` at global ``step``; return how many values were written.

        Tags may use ``/`` to group (``train/loss``). Non-numbers, bools and non-finite
        values are skipped (a diverging loss is the run's business, not the logger's).
        """
        if self._closed:
            raise PoolstrideError(f"TensorBoardLogger for {str(self.log_dir)!r} is closed")
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise PoolstrideError(f"step must be an integer >= 0, got {step!r}")
        finite = _finite_numbers(values)
        for name, value in finite.items():
            self._writer.add_scalar(name, value, int(step))
        return len(finite)

    def log_hparams(
        self, hparams: Mapping[str, Any], metrics: Mapping[str, Any], step: int = 0
    ) -> int:
        """``add_hparams``: ``hparams`` (numbers, strings and bools kept; anything else as its
        text) against ``metrics`` (finite numbers only, each as ``final/<name>``), written into
        this run's directory; returns how many metrics were written."""
        if self._closed:
            raise PoolstrideError(f"TensorBoardLogger for {str(self.log_dir)!r} is closed")
        values = {str(k): _hparam(v) for k, v in hparams.items()}
        final = {f"final/{k}": v for k, v in _finite_numbers(metrics).items()}
        self._writer.add_hparams(values, final, run_name=".", global_step=int(step))
        return len(final)

    def log_text(self, tag: str, text: str, step: int = 0) -> None:
        """Attach text (e.g. the run's config as JSON) to the run."""
        self._writer.add_text(str(tag), str(text), int(step))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file (idempotent)."""
        if not self._closed:
            self._writer.flush()
            self._writer.close()
            self._closed = True

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TensorBoardLogger({str(self.log_dir)!r})"


def _hparam(value: Any) -> bool | int | float | str:
    """A value add_hparams accepts: bool, int, float and str as they are, others as text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return "none" if value is None else str(value)


def _finite_numbers(values: Mapping[str, Any]) -> dict[str, float]:
    """The entries of ``values`` that are finite real numbers (0-d tensors unwrapped), as floats."""
    out = {}
    for name, value in values.items():
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            continue
        if math.isfinite(float(value)):
            out[str(name)] = float(value)
    return out


def log_final(cfg, metrics: Mapping[str, Any] | None) -> None:
    """For a run with ``cfg.tensorboard_dir`` set: its hyperparameters (``cfg.identity()``, the
    fields that define it) and every final scalar metric, into its log directory
    (:meth:`TensorBoardLogger.log_hparams`, at the run's last step). A failed run (``metrics``
    None) and a run without TensorBoard log nothing; a log that cannot be written is a
    warning, never a lost run."""
    if cfg.tensorboard_dir is None or metrics is None:
        return
    try:
        with tensorboard_for(cfg.variant, cfg.seed, cfg.tensorboard_dir) as logger:
            logger.log_hparams(cfg.identity(), metrics, step=int(metrics.get("steps") or 0))
    except (OSError, ValueError) as err:  # the run's results matter more than its log
        warnings.warn(
            f"TensorBoard: final metrics of {cfg.variant} seed {cfg.seed} not logged: {err}",
            stacklevel=2,
        )


def run_log_dir(run_dir: str | Path, variant: str, seed: int) -> Path:
    """``RUN_DIR/tensorboard/<variant>-seed<seed>`` with the variant made path-safe."""
    safe = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in str(variant)) or "_"
    return Path(run_dir) / "tensorboard" / f"{safe}-seed{int(seed)}"


def tensorboard_for(variant: str, seed: int, tensorboard_dir: str | None):
    """A :class:`TensorBoardLogger` for one run when ``tensorboard_dir`` is set, else a no-op
    context. ``tensorboard_dir`` is ``RUN_DIR/tensorboard``; the run logs under
    ``<variant>-seed<seed>`` there (:func:`run_log_dir`)."""
    if tensorboard_dir is None:
        return contextlib.nullcontext()
    return TensorBoardLogger(run_log_dir(Path(tensorboard_dir).parent, variant, seed))


__all__ = ["INSTALL_HINT", "TensorBoardLogger", "log_final", "run_log_dir", "tensorboard_for"]
