"""A sweep SIGKILLed mid-run and started again ends with every run exactly once in the store."""

import os
import signal
import subprocess
import sys
import time

import pytest

from poolstride.experiment.config import CompareConfig
from poolstride.experiment.store import Store

pytestmark = pytest.mark.slow

GRID = dict(
    variants=("max", "avg", "conv"),
    seeds=2,
    dataset="digits",
    steps=60,
    batch_size=32,
    log_every=20,
    eval_points=2,
    width=4,
    shift_samples=40,
    max_shift=1,
    device="cpu",
)

SCRIPT = f"""
import sys
from poolstride.experiment.config import CompareConfig
from poolstride.experiment.grid import run_grid
from poolstride.experiment.store import Store

if __name__ == "__main__":
    store = Store(sys.argv[1])
    grid = CompareConfig(**{GRID!r})
    run_grid(grid.runs(), store, workers=int(sys.argv[2]), batch_seeds=False)
"""


def _sweep(script, out, workers):
    # a session of its own, so SIGKILL reaches the pool's workers too
    return subprocess.Popen(
        [sys.executable, str(script), str(out), str(workers)],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _finished(out) -> dict[str, str]:
    if not (out / "runs.sqlite").exists():
        return {}
    with Store(out) as store:
        return {r.key: r.finished_at for r in store.finished_runs()}


@pytest.mark.parametrize("workers", [2])
def test_killed_sweep_resumes_to_every_run_exactly_once(tmp_path, workers):
    script = tmp_path / "sweep.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    expected = {c.key for c in CompareConfig(**GRID).runs()}

    proc = _sweep(script, out, workers)
    deadline = time.monotonic() + 240
    while not _finished(out):
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no run finished in time"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _finished(out)
    assert 0 < len(before) < len(expected), "the kill should land mid-sweep"

    again = _sweep(script, out, workers)
    log = again.communicate(timeout=600)[0].decode()
    assert again.returncode == 0, log[-2000:]
    with Store(out) as store:
        rows = store.all_runs()
    assert sorted(r.key for r in rows) == sorted(expected)  # each run once, none missing
    assert all(r.status == "finished" for r in rows)
    after = {r.key: r.finished_at for r in rows}
    assert {k: after[k] for k in before} == before  # finished runs were not run again
