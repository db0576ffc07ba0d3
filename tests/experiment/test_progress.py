"""Progress of a grid: plain lines without a terminal, rich bars in one (a pseudo-terminal)."""

import io
import math
import os
import pty
import queue
import subprocess
import sys
import textwrap
import time

import pytest
from rich.console import Console

from poolstride.experiment.config import RunConfig
from poolstride.experiment.progress import (
    GridProgress,
    PlainProgress,
    StepReporter,
    drain,
    grid_progress,
)
from poolstride.experiment.store import RunRecord
from poolstride.experiment.task import Task

LONG = "blur-max:filt5:k3:s2:p1"  # a long variant label: the line must not wrap at 80


def _plain(**kw):
    buf = io.StringIO()
    console = Console(file=buf, soft_wrap=True, width=80)  # not a terminal, like a log file
    return buf, PlainProgress(6, 0, console, **kw)


def _task(variant="max", seeds=(0,)):
    return Task(tuple(RunConfig(variant=variant, seed=s) for s in seeds), fused=len(seeds) > 1)


def _record(variant="max", seed=0):
    cfg = RunConfig(variant=variant, seed=seed)
    metrics = {"test_acc": 0.9, "train_time_s": 1.5}
    return RunRecord(key=cfg.key, status="finished", config=cfg.to_dict(), metrics=metrics)


def _wait_for(buf, text, timeout=5.0):
    end = time.monotonic() + timeout
    while text not in buf.getvalue() and time.monotonic() < end:
        time.sleep(0.01)
    return buf.getvalue()


def test_plain_lines_come_at_the_interval_with_step_loss_elapsed_and_eta():
    buf, ui = _plain(every=0.05, estimate_s=120.0)
    try:
        ui.start_task(_task(LONG, seeds=(0, 1, 2)))
        ui.step(400, 800, 0.8123)
        out = _wait_for(buf, "step 400/800")
    finally:
        ui.stop()
    line = next(x for x in out.splitlines() if "step 400/800" in x)
    assert line.startswith(f"progress: 0/6 runs | {LONG} seeds 0,1,2 step 400/800 loss 0.812 |")
    assert "elapsed" in line and "ETA" in line
    assert len(line) > 80  # one line, not wrapped at the console's 80 columns


def test_a_plain_line_at_each_run_end_and_none_after_stop():
    buf, ui = _plain(every=3600)
    ui.start_task(_task("conv"))
    ui.finish_task(_task("conv"))
    ui.finish_run(_record("conv"))
    ui.stop()
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("done conv") and "test acc 90.0%" in lines[0]
    assert lines[1].startswith("progress: 1/6 runs | elapsed")
    ui.print_line()  # stopping ends the timer thread, not the object
    assert not ui.thread.is_alive()


def test_eta_uses_the_estimate_first_then_the_pace():
    _, ui = _plain(every=3600, estimate_s=100.0)
    ui.stop()
    assert ui.eta(30.0) == pytest.approx(70.0)
    assert ui.eta(130.0) is None  # past the estimate with no progress yet: unknown
    ui.start_task(_task("max", seeds=(0, 1, 2)))
    ui.step(400, 800, 1.0)  # 1.5 of 6 runs' work done in 30 s: 4.5 runs left, 90 s at
    assert ui.eta(30.0) == pytest.approx(0.25 * 90 + 0.75 * 70)  # that pace; 70 s estimated
    _, shared = _plain(every=3600, loop_share={"max seeds 0,1,2": 0.5})
    shared.stop()
    shared.start_task(_task("max", seeds=(0, 1, 2)))
    shared.step(800, 800, 1.0)  # the loop ended, half the task's time: 1.5 of 6 runs
    assert shared.eta(30.0) == pytest.approx(90.0)
    _, bare = _plain(every=3600)
    bare.stop()
    assert bare.eta(10.0) is None and "ETA –" in bare.line()


def test_resumed_runs_count_as_done_but_not_towards_the_pace():
    buf = io.StringIO()
    ui = PlainProgress(6, 4, Console(file=buf), every=3600)
    ui.stop()
    assert buf.getvalue().startswith("resuming: 4 of 6 runs already finished")
    ui.start_task(_task())
    ui.step(50, 100)
    assert ui.eta(10.0) == pytest.approx(30.0)  # 0.5 of the 2 runs left took 10 s
    assert ui.line().startswith("progress: 4/6 runs | max seed 0 step 50/100 |")


def test_a_late_worker_report_does_not_bring_back_a_finished_task():
    _, ui = _plain(every=3600)
    ui.stop()
    ui.update("max seeds 0,1", 100, 100, 0.5)
    ui.finish_task(_task("max", seeds=(0, 1)))
    ui.update("max seeds 0,1", 100, 100, 0.5)
    assert ui.running == {}


def test_worker_step_reports_reach_the_display_through_a_queue():
    q: queue.Queue = queue.Queue()
    cfg = RunConfig(dataset="digits", steps=4, batch_size=16, width=4, device="cpu")
    outcomes = StepReporter(q)(Task((cfg,)))
    assert outcomes[0].metrics is not None
    label, done, total, loss = q.get_nowait()
    assert (label, done, total) == ("max seed 0", 4, 4) and math.isfinite(loss)
    _, ui = _plain(every=3600)
    ui.stop()
    q.put((label, 2, 4, 0.7))
    q.put(None)
    drain(q, ui).join(timeout=5)
    assert ui.running == {"max seed 0": (2, 4, 0.7, 1)}


def test_plain_for_a_file_rich_for_a_terminal():
    plain = grid_progress(3, 0, Console(file=io.StringIO()), every=3600)
    plain.stop()
    assert isinstance(plain, PlainProgress)
    rich = grid_progress(3, 0, Console(file=io.StringIO(), force_terminal=True))
    rich.stop()
    assert isinstance(rich, GridProgress)


_IN_A_TERMINAL = textwrap.dedent(
    """
    import time
    from poolstride.experiment.config import RunConfig
    from poolstride.experiment.progress import grid_progress
    from poolstride.experiment.store import RunRecord
    from poolstride.experiment.task import Task

    cfg = RunConfig(variant="max", seed=0)
    ui = grid_progress(2, 0, every=0.01)
    print("kind", type(ui).__name__)
    ui.start_task(Task((cfg,)))
    for done in range(0, 101, 10):
        ui.step(done, 100, 0.5)
        time.sleep(0.02)
    metrics = {"test_acc": 0.5, "train_time_s": 1.0}
    ui.finish_run(RunRecord(cfg.key, "finished", cfg.to_dict(), metrics))
    time.sleep(0.2)
    ui.stop()
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_rich_bars_are_drawn_in_a_pseudo_terminal():
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", _IN_A_TERMINAL], stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the follower side closed: the child exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    out = b"".join(chunks).decode(errors="replace")
    assert "kind GridProgress" in out
    assert "━" in out and "runs" in out and "max seed 0" in out  # the bars, live
    assert "progress:" not in out  # no plain lines in a terminal
    assert "done" in out and "test acc" in out  # run lines printed above the bars
