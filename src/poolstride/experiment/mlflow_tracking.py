"""Log a finished grid to MLflow: one parent run per grid, one child run per poolstride run.

``poolstride compare --mlflow [URI]`` calls :func:`log_grid` after the grid has finished and
its outputs are written, from the stored records alone (nothing here touches training):

- the parent run (named after the run directory) has the grid's config as params and the
  run directory's report and results files (``report.html``, ``report.md``,
  ``results.json``, ``results.csv``, ``summary.csv``, ``config.yaml``) as artifacts;
- each child run (``<variant> seed <seed>``, tagged with the run's identity key) has its
  :class:`~poolstride.experiment.config.RunConfig` as params, its learning curve as metric
  histories (``train_loss`` and ``lr`` per logged step, ``test_acc`` and ``test_loss`` per
  evaluation step), every final scalar metric at the last step, and its record as
  ``run.json`` plus the grid's report and results files as artifacts.

Logging again (a resumed grid) reuses the parent run of the same run directory and adds only
the runs it does not hold yet. ``URI``: any MLflow tracking URI (``http://host:5000``,
``sqlite:///path.db``, ``databricks``, ...) or a local directory; a directory -- by default
``./mlruns`` -- holds an SQLite store (``mlflow.db``) and its artifacts (``artifacts/``):
``mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db`` shows it. (MLflow 3 retired the
plain-file store; a ``file:`` URI still works where ``MLFLOW_ALLOW_FILE_STORE=true``.)

MLflow is an optional dependency: ``pip install 'poolstride[mlflow]'``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from poolstride.errors import PoolstrideError
from poolstride.experiment.store import RunRecord

INSTALL_HINT = "--mlflow needs MLflow: pip install 'poolstride[mlflow]'"

#: The local store used by a bare ``--mlflow``.
DEFAULT_DIR = "mlruns"

#: MLflow experiment that every grid is logged to (one parent run per grid).
EXPERIMENT = "poolstride"

#: Files of a run directory logged as artifacts, when present.
ARTIFACT_FILES = (
    "report.html",
    "report.md",
    "results.json",
    "results.csv",
    "summary.csv",
    "config.yaml",
)

#: Curve series logged per step: series -> the series of its steps.
CURVE_STEPS = {
    "train_loss": "step",
    "lr": "step",
    "test_acc": "eval_step",
    "test_loss": "eval_step",
}

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_PARAM_LIMIT = 500  # MLflow's older servers cap a param value at 500 characters
_BATCH = 900  # MLflow caps one log_batch at 1,000 metrics


def require_mlflow() -> None:
    """Raise the one-line install hint unless MLflow imports (checked before any training)."""
    _client_class()


def _client_class():
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise PoolstrideError(INSTALL_HINT) from None
    return MlflowClient


def resolve_uri(target: str | None) -> tuple[str, str | None]:
    """``(tracking URI, artifact location or None)`` for ``--mlflow TARGET``.

    A URI (``scheme:...``, other than a one-letter Windows drive) passes through; a directory
    (default :data:`DEFAULT_DIR`, relative to the current directory) becomes an SQLite store
    in it with its artifacts beside.
    """
    text = str(target).strip() if target else DEFAULT_DIR
    if _SCHEME.match(text) and not re.match(r"^[A-Za-z]:[\\/]", text):
        return text, None
    root = Path(text).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri()


def _param_value(value: Any) -> str:
    if isinstance(value, (list, tuple, dict)):
        value = json.dumps(value, sort_keys=False, default=str)
    text = str(value)
    return text if len(text) <= _PARAM_LIMIT else text[: _PARAM_LIMIT - 3] + "..."


def _params(config: Mapping[str, Any]) -> list:
    from mlflow.entities import Param

    return [Param(str(k), _param_value(v)) for k, v in config.items()]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def run_metrics(record: RunRecord, timestamp: int) -> list:
    """The MLflow metrics of one record: curve histories, then final scalars at the last step."""
    from mlflow.entities import Metric

    metrics = []
    curve = record.metrics.get("curve") or {}
    last_step = 0
    for series, steps_key in CURVE_STEPS.items():
        for step, value in zip(curve.get(steps_key) or (), curve.get(series) or ()):
            number = _number(value)
            if number is not None:
                metrics.append(Metric(series, number, timestamp, int(step)))
                last_step = max(last_step, int(step))
    final_step = int(record.metrics.get("steps") or last_step)
    for name, value in record.metrics.items():
        number = _number(value)
        if number is not None and name != "curve":
            metrics.append(Metric(name, number, timestamp, final_step))
    return metrics


def _log_batch(client, run_id: str, metrics: Sequence = (), params: Sequence = ()) -> None:
    for i in range(0, len(params), 100):  # MLflow caps one batch at 100 params
        client.log_batch(run_id, params=list(params[i : i + 100]))
    for i in range(0, len(metrics), _BATCH):
        client.log_batch(run_id, metrics=list(metrics[i : i + _BATCH]))


def _experiment_id(client, artifact_location: str | None) -> str:
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(EXPERIMENT, artifact_location=artifact_location)


def _artifacts(files: Iterable[Path]) -> list[Path]:
    return [Path(f) for f in files if Path(f).is_file()]


def log_grid(
    records: Sequence[RunRecord],
    *,
    target: str | None,
    grid: Mapping[str, Any],
    run_dir: str | Path | None = None,
    name: str | None = None,
) -> str:
    """Log the finished runs of one grid to MLflow; return the parent run's id.

    Args:
        records: the grid's stored runs (failed ones are logged with status FAILED).
        target: the ``--mlflow`` value: a tracking URI, a directory, or None for ``./mlruns``.
        grid: the grid's config (``CompareConfig.to_dict()``): the parent run's params.
        run_dir: the run directory; its report and results files become artifacts, and
            it identifies the parent run across resumed grids.
        name: the parent run's name (default: the run directory's name, else ``grid``).
    """
    client_class = _client_class()
    uri, artifact_location = resolve_uri(target)
    for logger in ("mlflow.store.db.utils", "alembic"):  # "creating tables": not our news
        logging.getLogger(logger).setLevel(logging.WARNING)
    try:
        client = client_class(tracking_uri=uri)
        experiment_id = _experiment_id(client, artifact_location)
    except Exception as err:  # a bad URI, a refused server: one line, no traceback
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PoolstrideError(f"--mlflow {uri}: {first}") from None
    grid_id = str(Path(run_dir).resolve()) if run_dir is not None else ""
    parent_name = name or (Path(run_dir).name if run_dir is not None else "grid")
    parent = None
    if grid_id:
        found = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`poolstride.run_dir` = '{grid_id.replace(chr(39), '_')}'",
            max_results=1,
        )
        parent = found[0] if found else None
    if parent is None:
        parent = client.create_run(
            experiment_id,
            run_name=parent_name,
            tags={"poolstride.run_dir": grid_id, "poolstride.kind": "grid"},
        )
        _log_batch(client, parent.info.run_id, params=_params(grid))
    parent_id = parent.info.run_id
    done = {
        r.data.tags.get("poolstride.key")
        for r in client.search_runs(
            [experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'"
        )
    }
    files = _artifacts(Path(run_dir) / f for f in ARTIFACT_FILES) if run_dir is not None else []
    timestamp = int(time.time() * 1000)
    for record in records:
        if record.key in done:
            continue
        child = client.create_run(
            experiment_id,
            run_name=f"{record.variant} seed {record.seed}",
            tags={
                "mlflow.parentRunId": parent_id,
                "poolstride.key": record.key,
                "poolstride.status": record.status,
                "poolstride.version": record.poolstride_version,
                "poolstride.git": record.git_hash,
                "torch.version": record.torch_version,
                **({"poolstride.reason": record.reason[:5000]} if record.reason else {}),
            },
        )
        run_id = child.info.run_id
        _log_batch(client, run_id, params=_params(record.config))
        _log_batch(client, run_id, metrics=run_metrics(record, timestamp))
        client.log_text(run_id, json.dumps(record.to_dict(), indent=1, default=str), "run.json")
        for path in files:
            client.log_artifact(run_id, str(path))
        client.set_terminated(run_id, "FINISHED" if record.finished else "FAILED")
    for path in files:  # the parent always holds the latest report and results
        client.log_artifact(parent_id, str(path))
    client.set_terminated(parent_id, "FINISHED")
    return parent_id
