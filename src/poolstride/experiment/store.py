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
import os
import shutil
import sqlite3
import subprocess
import tempfile
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

    def git(*words: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *words], cwd=here, capture_output=True, text=True, timeout=5)

    try:
        rev = git("rev-parse", "--short=12", "HEAD")
        if rev.returncode != 0:
            return ""
        dirty = git("status", "--porcelain", "--untracked-files=no")
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


#: A run directory needs at least this much free disk space before training starts.
MIN_FREE_BYTES = 16 * 2**20

_SALVAGE_HINT = (
    "see `poolstride store check {dir}`; `poolstride store salvage {dir}` copies the readable "
    "rows to a new store and keeps this file beside it"
)


def store_path(path: str | Path) -> Path:
    """``runs/x`` -> ``runs/x/runs.sqlite``; a ``*.sqlite`` / ``*.db`` path stays as it is."""
    p = Path(path).expanduser()
    return p if p.suffix in (".sqlite", ".db") else p / STORE_FILENAME


def cannot_create_files(directory: str | Path) -> str | None:
    """Why no file can be created in ``directory`` (the system's reason), or None if one can:
    tried with a real temporary file, so permission bits, read-only mounts and full disks all
    show."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".poolstride-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        return err.strerror or str(err)
    return None


def check_writable(
    directory: str | Path,
    what: str = "directory",
    needed: int = 0,
    hint: str = "choose another one",
) -> None:
    """Raise a one-line PoolstrideError unless files can be created in ``directory``
    (:func:`cannot_create_files`) and it has ``needed`` bytes free."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PoolstrideError(f"{what} {str(directory)!r} does not exist or is not a directory")
    why = cannot_create_files(directory)
    if why is not None:
        raise PoolstrideError(f"{what} {str(directory)!r} is not writable ({why}); {hint}")
    if needed:
        free = shutil.disk_usage(directory).free
        if free < needed:
            raise PoolstrideError(
                f"{what} {str(directory)!r} has {free // 2**20} MiB free; at least "
                f"{needed // 2**20} MiB are needed"
            )


def _open(path: str, create: bool) -> sqlite3.Connection:
    """Connect to a store and check it is readable and poolstride's (one line if not)."""
    hint = _SALVAGE_HINT.format(dir=str(Path(path).parent))
    try:
        if create or path == ":memory:":
            conn = sqlite3.connect(path)
        else:  # read-only: a report of a run directory the user cannot write still works
            conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise PoolstrideError(f"cannot open run store {path!r}: {err}") from None
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "runs" in tables:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
            missing = [c for c in _COLUMNS if c not in columns]
            if missing:
                raise PoolstrideError(
                    f"{path!r} is not a poolstride run store: its 'runs' table lacks "
                    f"{', '.join(missing)}; choose another --out (the file is left as it is)"
                )
        elif tables:
            raise PoolstrideError(
                f"{path!r} is not a poolstride run store (tables: {', '.join(sorted(tables))}); "
                "choose another --out (the file is left as it is)"
            )
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise PoolstrideError(f"run store {path!r} is damaged ({problems[0]}); {hint}")
    except sqlite3.DatabaseError as err:
        conn.close()
        raise PoolstrideError(
            f"run store {path!r} is damaged or not SQLite ({err}); {hint}"
        ) from None
    except PoolstrideError:
        conn.close()
        raise
    return conn


class Store:
    """SQLite store of runs under a run directory (``<dir>/runs.sqlite``).

    ``path`` is a directory (created if missing), a ``*.sqlite`` / ``*.db`` file path, or
    ``":memory:"`` for a throw-away store.
    """

    def __init__(self, path: str | Path, *, create: bool = True):
        if str(path) == ":memory:":
            self.path = ":memory:"
        else:
            p = store_path(path)
            if not create and not p.is_file():
                raise PoolstrideError(
                    f"no run store at {str(p)!r} (run `poolstride compare` first)"
                )
            if create:  # about to write: fail now, not after the training
                try:
                    p.parent.mkdir(parents=True, exist_ok=True)
                except OSError as err:
                    raise PoolstrideError(
                        f"cannot create run directory {str(p.parent)!r}: {err.strerror}"
                    ) from None
                check_writable(p.parent, "run directory", needed=MIN_FREE_BYTES)
                if p.exists() and not os.access(p, os.W_OK):
                    raise PoolstrideError(
                        f"run store {str(p)!r} is read-only; choose another --out"
                    )
            self.path = str(p)
        self._conn = _open(self.path, create)
        if create:
            try:
                self._conn.execute(_SCHEMA)
                self._conn.commit()
            except sqlite3.Error as err:
                self._conn.close()
                raise PoolstrideError(f"cannot write run store {self.path!r}: {err}") from None

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
            record = _record_of(values)
            if record is None:
                hint = _SALVAGE_HINT.format(dir=str(Path(self.path).parent))
                raise PoolstrideError(
                    f"run store {self.path!r}: the row of run {values[0]!r} is unreadable; {hint}"
                )
            out.append(record)
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


def _record_of(values) -> RunRecord | None:
    """A row of the ``runs`` table as a RunRecord, or None if it does not read as one."""
    try:
        row = dict(zip(_COLUMNS, values))
        row["config"] = json.loads(row["config"])
        row["metrics"] = json.loads(row["metrics"])
        if not isinstance(row["config"], dict) or not isinstance(row["metrics"], dict):
            return None
        return RunRecord(
            **{
                k: v if k in ("config", "metrics") else ("" if v is None else str(v))
                for k, v in row.items()
            }
        )
    except (TypeError, ValueError):
        return None


# -- damaged stores: check and salvage -------------------------------------------------------


def check_store(path: str | Path) -> list[str]:
    """Problems of the store at ``path`` (a run directory or a store file); [] when sound.

    Runs SQLite's ``PRAGMA integrity_check`` (every page, index and row), checks the
    ``runs`` table has poolstride's columns and that every row reads back. Never writes.
    """
    p = store_path(path)
    if not p.is_file():
        raise PoolstrideError(f"no run store at {str(p)!r}")
    problems: list[str] = []
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as err:
        return [f"cannot open: {err}"]
    try:
        try:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        except sqlite3.DatabaseError as err:
            return [f"integrity check failed: {err}"]
        if result != ["ok"]:
            problems += result
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        except sqlite3.DatabaseError as err:
            return [*problems, f"the runs table cannot be read: {err}"]
        missing = [c for c in _COLUMNS if c not in columns]
        if missing:
            return [*problems, f"not a poolstride store: no column {', '.join(missing)}"]
        rows, bad = _readable_rows(conn)
        if bad:
            problems.append(f"{bad} row(s) unreadable; {len(rows)} readable")
    finally:
        conn.close()
    return problems


def _readable_rows(conn: sqlite3.Connection) -> tuple[list[RunRecord], int]:
    """Every row of ``runs`` that still reads, by rowid; and how many did not.

    A scan stops at the first damaged page, so after a failure the remaining rowids are
    read one by one (a damaged page loses only its own rows)."""
    cols = ", ".join(_COLUMNS)
    rows: dict[int, RunRecord] = {}
    bad = 0
    last = 0

    def keep(rowid: int, values) -> None:
        nonlocal bad
        record = _record_of(values)
        if record is None:
            bad += 1
        else:
            rows[rowid] = record

    try:
        for rowid, *values in conn.execute(f"SELECT rowid, {cols} FROM runs ORDER BY rowid"):
            last = rowid
            keep(rowid, values)
        return list(rows.values()), bad
    except sqlite3.DatabaseError:
        pass
    try:
        top = int(conn.execute("SELECT max(rowid) FROM runs").fetchone()[0] or 0)
    except (sqlite3.DatabaseError, TypeError):
        top = last + 100_000
    for rowid in range(last + 1, top + 1):
        try:
            found = conn.execute(f"SELECT {cols} FROM runs WHERE rowid = ?", (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            bad += 1
            continue
        if found is not None:
            keep(rowid, found)
    return list(rows.values()), bad


def salvage_store(path: str | Path) -> tuple[Path, Path, int, int]:
    """Copy the readable rows of a damaged store into a new one; keep the damaged file.

    The damaged ``runs.sqlite`` is renamed ``runs.damaged-<UTC time>.sqlite`` beside it
    (with its journal, if any), never deleted or overwritten, and a new ``runs.sqlite``
    holding every row that still reads takes its place, so ``compare`` resumes and
    ``report`` reads from it. Returns ``(new store, kept damaged file, rows kept, rows
    lost)``.
    """
    p = store_path(path)
    if not p.is_file():
        raise PoolstrideError(f"no run store at {str(p)!r}")
    check_writable(p.parent, "run directory")
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    except sqlite3.DatabaseError as err:
        raise PoolstrideError(
            f"{str(p)!r} cannot be read as SQLite ({err}); nothing to salvage"
        ) from None
    try:
        missing = [c for c in _COLUMNS if c not in columns]
        if missing:
            raise PoolstrideError(
                f"{str(p)!r} is not a poolstride run store (no column {', '.join(missing)}); "
                "nothing to salvage"
            )
        records, lost = _readable_rows(conn)
    finally:
        conn.close()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    fresh = p.with_name(f".{p.stem}.salvage-{stamp}{p.suffix}")
    kept = p.with_name(f"{p.stem}.damaged-{stamp}{p.suffix}")
    n = 1
    while kept.exists() or fresh.exists():
        n += 1
        fresh = p.with_name(f".{p.stem}.salvage-{stamp}-{n}{p.suffix}")
        kept = p.with_name(f"{p.stem}.damaged-{stamp}-{n}{p.suffix}")
    with Store(fresh) as new:
        for record in records:
            new.put(record)
    os.rename(p, kept)  # the damaged file keeps every byte, under a new name
    for side in ("-journal", "-wal", "-shm"):
        extra = p.with_name(p.name + side)
        if extra.exists():
            os.rename(extra, kept.with_name(kept.name + side))
    os.rename(fresh, p)
    return p, kept, len(records), lost


# -- one identity, several executions --------------------------------------------------------


def execution_of(record: RunRecord) -> str:
    """How a finished run was executed, in words: seed-fused or separate, threads, and
    whether torch's deterministic algorithms were on (runs stored before these were
    recorded read as separate, threads unknown)."""
    m = record.metrics
    fused = int(m.get("batched_seeds") or 1) > 1
    threads = m.get("threads")
    words = ["seed-fused" if fused else "separate"]
    words.append(f"{threads} thread{'s' if threads != 1 else ''}" if threads else "threads ?")
    if m.get("deterministic"):
        words.append("deterministic")
    return ", ".join(words)


def mixed_execution_note(records: Iterable[RunRecord]) -> str | None:
    """A one-line note when finished runs were executed in different ways, else None.

    A run's key names what it is; its numbers can still depend on how it was scheduled: in
    float32, seed-fused and separate training, or different thread counts, sum in a
    different order and give slightly different results for the same key."""
    modes: dict[str, int] = {}
    for record in records:
        if record.finished:
            mode = execution_of(record)
            modes[mode] = modes.get(mode, 0) + 1
    if len(modes) < 2:
        return None
    parts = "; ".join(f"{n} run(s) {mode}" for mode, n in sorted(modes.items()))
    return (
        f"these results mix executions ({parts}): in float32 these give slightly different "
        "numbers for the same run; rerun into a new --out with --deterministic for one "
        "execution per result"
    )
