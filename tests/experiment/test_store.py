"""The SQLite run store: round trips, statuses, resume keys, provenance."""

import json
import sqlite3

import pytest

from poolstride.errors import PoolstrideError
from poolstride.experiment.config import RunConfig
from poolstride.experiment.store import STORE_FILENAME, RunRecord, Store, dumps


def _record(seed=0, status="finished", **metrics):
    cfg = RunConfig(variant="max", seed=seed)
    return RunRecord(
        key=cfg.key,
        status=status,
        config=cfg.to_dict(),
        metrics=metrics or {"test_acc": 0.9, "curve": {"step": [1, 2]}},
        reason="" if status == "finished" else "diverged: nan",
        torch_version="2.x",
        started_at=f"2026-01-01T00:00:0{seed}",
    )


def test_round_trip_and_statuses(tmp_path):
    store = Store(tmp_path / "run")
    assert (tmp_path / "run" / STORE_FILENAME).is_file() and len(store) == 0
    ok, bad = _record(0), _record(1, status="failed")
    store.put(ok)
    store.put(bad)
    assert store.get(ok.key) == ok
    assert [r.key for r in store.finished_runs()] == [ok.key]
    assert [r.reason for r in store.failed_runs()] == ["diverged: nan"]
    assert store.finished_keys() == {ok.key}
    rec = store.finished_runs()[0]
    assert (rec.variant, rec.seed, rec.metrics["curve"]["step"]) == ("max", 0, [1, 2])
    assert RunConfig.from_dict(rec.config).key == rec.key
    store.close()
    # persisted: a new Store on the same directory sees both rows
    again = Store(tmp_path / "run", create=False)
    assert len(again) == 2 and again.get("nope") is None


def test_put_replaces_a_failed_run_when_it_later_finishes(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.put(_record(0, status="failed"))
    store.put(_record(0, test_acc=0.5))
    assert len(store) == 1 and store.all_runs()[0].status == "finished"


def test_non_finite_numbers_are_stored_as_null(tmp_path):
    store = Store(tmp_path)
    store.put(_record(0, test_acc=float("nan"), peak=float("inf"), ok=1.5))
    row = sqlite3.connect(tmp_path / STORE_FILENAME).execute("SELECT metrics FROM runs").fetchone()
    assert json.loads(row[0]) == {"ok": 1.5, "peak": None, "test_acc": None}
    assert "NaN" not in dumps({"a": float("nan")})


def test_memory_store_and_missing_store():
    store = Store(":memory:")
    store.put(_record(2))
    assert len(store) == 1
    with pytest.raises(PoolstrideError, match="no run store at"):
        Store("/nonexistent/dir/for/poolstride", create=False)
