"""The run store: one SQLite row per run, the only thing reports read.

A run directory holds ``runs.sqlite`` with one table, ``runs``::

    key TEXT PRIMARY KEY   -- RunConfig.key (hash of the config)
    status TEXT            -- 'finished' or 'failed'
    reason TEXT            -- why a run failed ('' when finished)
    config TEXT            -- RunConfig.to_dict() as JSON (reproduces the run)
    metrics TEXT           -- metric name -> value (numbers, lists, dicts) as JSON
    poolstride_version, torch_version, git_hash, device TEXT
    started_at, finished_at TEXT   -- UTC ISO-8601 timestamps

Public API (what the report reads)::

    store = Store("runs/mnist1d-simple")       # a directory or a .sqlite file path
    for rec in store.finished_runs():          # list[RunRecord]
        rec.config["variant"], rec.config["seed"], rec.metrics["test_acc"]

Only one process writes (the runner's parent); workers return their metrics to it.
"""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from poolstride.errors import PoolstrideError

STORE_FILENAME = "runs.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    poolstride_version TEXT NOT NULL DEFAULT '',
    torch_version TEXT NOT NULL DEFAULT '',
    git_hash TEXT NOT NULL DEFAULT '',
    device TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL DEFAULT '',
    finished_at TEXT NOT NULL DEFAULT ''
)
"""

_COLUMNS = (
    "key",
    "status",
    "reason",
    "config",
    "metrics",
    "poolstride_version",
    "torch_version",
    "git_hash",
    "device",
    "started_at",
    "finished_at",
)


@dataclass(frozen=True)
class RunRecord:
    """One stored run: its config and metrics as plain dicts, plus provenance."""

    key: str
    status: str
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    poolstride_version: str = ""
    torch_version: str = ""
    git_hash: str = ""
    device: str = ""
    started_at: str = ""
    finished_at: str = ""

    @property
    def variant(self) -> str:
        return self.config["variant"]

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _COLUMNS}


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@lru_cache(maxsize=1)
def git_hash() -> str:
    """The source tree's commit (with ``+dirty`` when modified), or '' outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if rev.returncode != 0:
            return ""
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def _clean(value: Any) -> Any:
    """NaN/inf -> None so the JSON is standard (readable by any JSON parser)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Standard JSON (no NaN tokens), compact, keys sorted."""
    return json.dumps(
        _clean(json.loads(json.dumps(value, default=_json_default))),
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )


class Store:
    """SQLite store of runs under a run directory (``<dir>/runs.sqlite``).

    ``path`` is a directory (created if missing), a ``*.sqlite`` / ``*.db`` file path, or
    ``":memory:"`` for a throw-away store.
    """

    def __init__(self, path: str | Path, *, create: bool = True):
        if str(path) == ":memory:":
            self.path = ":memory:"
        else:
            p = Path(path)
            if p.suffix not in (".sqlite", ".db"):
                p = p / STORE_FILENAME
            if not create and not p.is_file():
                raise PoolstrideError(
                    f"no run store at {str(p)!r} (run `poolstride compare` first)"
                )
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise PoolstrideError(
                    f"cannot create run directory {str(p.parent)!r}: {err.strerror}"
                ) from None
            self.path = str(p)
        try:
            self._conn = sqlite3.connect(self.path)
            self._conn.execute(_SCHEMA)
            self._conn.commit()
        except sqlite3.Error as err:
            raise PoolstrideError(f"cannot open run store {self.path!r}: {err}") from None

    # -- writing ---------------------------------------------------------------------
    def put(self, record: RunRecord) -> None:
        """Insert or replace the row for ``record.key``."""
        row = record.to_dict()
        row["config"] = dumps(record.config)
        row["metrics"] = dumps(record.metrics)
        with self._conn:
            self._conn.execute(
                f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _COLUMNS)})",
                [row[c] for c in _COLUMNS],
            )

    # -- reading ---------------------------------------------------------------------
    def _select(self, where: str = "", args: Iterable[Any] = ()) -> list[RunRecord]:
        cur = self._conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM runs {where} ORDER BY started_at, key", tuple(args)
        )
        out = []
        for values in cur.fetchall():
            row = dict(zip(_COLUMNS, values))
            row["config"] = json.loads(row["config"])
            row["metrics"] = json.loads(row["metrics"])
            out.append(RunRecord(**row))
        return out

    def all_runs(self) -> list[RunRecord]:
        return self._select()

    def finished_runs(self) -> list[RunRecord]:
        """Every finished run (config and metrics as dicts), oldest first."""
        return self._select("WHERE status = 'finished'")

    def failed_runs(self) -> list[RunRecord]:
        return self._select("WHERE status = 'failed'")

    def get(self, key: str) -> RunRecord | None:
        rows = self._select("WHERE key = ?", [key])
        return rows[0] if rows else None

    def finished_keys(self) -> set[str]:
        cur = self._conn.execute("SELECT key FROM runs WHERE status = 'finished'")
        return {k for (k,) in cur.fetchall()}

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"
