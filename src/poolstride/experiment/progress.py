"""Progress of a grid, in a terminal or in a log file.

In a terminal, :class:`GridProgress` draws rich bars (the grid, the current run's steps).
Anywhere else (stdout redirected to a file, a pipe, a batch scheduler, CI), rich draws
nothing, so :class:`PlainProgress` prints one line every ``every`` seconds and at each
run's end::

    progress: 4/18 runs | max seeds 0,1,2 step 400/800 loss 0.812 | elapsed 1.1 min | ETA 2.3 min

:func:`grid_progress` picks one by whether the console is a terminal. Both take the same
calls from the grid: ``start_task``, ``step`` (in-process), ``update`` (from pool workers,
through :class:`StepReporter`), ``finish_run`` and ``stop``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from poolstride.experiment.estimate import duration
from poolstride.experiment.store import RunRecord
from poolstride.experiment.task import Outcome, Task, run_task

#: seconds between two plain progress lines (``--progress-every``)
DEFAULT_EVERY = 30.0


def grid_progress(
    total: int,
    already: int,
    console=None,
    *,
    every: float = DEFAULT_EVERY,
    estimate_s: float | None = None,
    loop_share: dict[str, float] | None = None,
):
    """Rich bars when ``console`` is a terminal, else plain lines every ``every`` seconds.
    ``estimate_s``: the expected wall time of the runs left (the ETA before any finished);
    ``loop_share``: by task label, the share of its time in the training loop (see
    :class:`PlainProgress`)."""
    from rich.console import Console

    console = console or Console()
    if console.is_terminal:
        return GridProgress(total, already, console)
    return PlainProgress(
        total, already, console, every=every, estimate_s=estimate_s, loop_share=loop_share
    )


def _resuming(console, total: int, already: int) -> None:
    if already:
        console.print(f"resuming: {already} of {total} runs already finished (skipped)")


def _run_line(record: RunRecord) -> str:
    cfg = record.config
    if record.finished:
        m = record.metrics
        return (
            f"[green]done[/] {cfg['variant']:<12} seed {cfg['seed']}: "
            f"test acc {100 * m['test_acc']:.1f}%  ({m['train_time_s']:.1f} s)"
        )
    return f"[red]failed[/] {cfg['variant']:<12} seed {cfg['seed']}: {record.reason}"


class GridProgress:
    """Rich progress bars: one for the grid, one for the current run's steps."""

    def __init__(self, total: int, already: int, console=None):
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.progress.start()
        self.console = self.progress.console
        _resuming(self.console, total, already)
        self.grid = self.progress.add_task("runs", total=total, completed=already)
        self.run = None

    def start_task(self, task: Task) -> None:
        label = f"  {task.label}"
        if self.run is None:
            self.run = self.progress.add_task(label, total=None)
        else:
            self.progress.reset(self.run, description=label, total=None)

    def step(self, done: int, total: int, loss: float = math.nan) -> None:
        if self.run is not None:
            self.progress.update(self.run, completed=done, total=total)

    def update(self, label: str, done: int, total: int, loss: float = math.nan) -> None:
        """A step report of a pool worker's task: the bar shows the latest one."""
        if self.run is None:
            self.run = self.progress.add_task(f"  {label}", total=total)
        self.progress.update(self.run, description=f"  {label}", completed=done, total=total)

    def finish_task(self, task: Task) -> None:
        """Nothing to do: the run bar is reset by the next task."""

    def finish_run(self, record: RunRecord) -> None:
        self.progress.advance(self.grid)
        self.console.print(_run_line(record))

    def stop(self) -> None:
        self.progress.stop()


class PlainProgress:
    """One plain line every ``every`` seconds (from a background thread) and at each run's
    end: runs finished/total, each running task's step/total and recent training loss,
    elapsed time and ETA. ETA: the runs left at the pace so far, weighed against
    ``estimate_s`` minus the time elapsed by the share of the work done. A running task of ``S`` runs counts as
    ``S * share * done / total`` runs done, ``share`` being the part of its time spent in
    the training loop (``loop_share[label]``, from the estimate; 1 when unknown): a task
    whose loop has ended still has its measurements to do."""

    def __init__(
        self,
        total: int,
        already: int,
        console,
        *,
        every: float = DEFAULT_EVERY,
        estimate_s: float | None = None,
        loop_share: dict[str, float] | None = None,
    ):
        self.console = console
        self.loop_share = dict(loop_share or {})
        self.total, self.already, self.finished = total, already, 0
        self.every, self.estimate_s = every, estimate_s
        # label -> (step done, steps, recent loss, runs in the task)
        self.running: dict[str, tuple[int, int, float, int]] = {}
        self.current: str | None = None
        self.ended: set[str] = set()  # a worker's last report may arrive after its task ended
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        _resuming(console, total, already)
        self.thread = threading.Thread(target=self._tick, name="poolstride-progress", daemon=True)
        self.thread.start()

    def _tick(self) -> None:
        while not self.stopped.wait(self.every):
            self.print_line()

    def start_task(self, task: Task) -> None:
        with self.lock:
            self.current = task.label
            self.running[task.label] = (0, 0, math.nan, len(task.configs))

    def step(self, done: int, total: int, loss: float = math.nan) -> None:
        if self.current is not None:
            with self.lock:
                runs = self.running.get(self.current, (0, 0, math.nan, 1))[3]
                self.running[self.current] = (done, total, loss, runs)

    def update(self, label: str, done: int, total: int, loss: float = math.nan) -> None:
        """A step report of a pool worker's task (``label``: its variant and seeds)."""
        runs = len(label.split(" ")[-1].split(","))
        with self.lock:
            if label not in self.ended:
                self.running[label] = (done, total, loss, runs)

    def finish_task(self, task: Task) -> None:
        with self.lock:
            self.running.pop(task.label, None)
            self.ended.add(task.label)

    def finish_run(self, record: RunRecord) -> None:
        with self.lock:
            self.finished += 1
        self.console.print(_run_line(record), highlight=False, soft_wrap=True)
        self.print_line()

    def line(self) -> str:
        """The progress line now (see the module docstring)."""
        with self.lock:
            elapsed = time.monotonic() - self.started
            done_runs = self.already + self.finished
            parts = [f"progress: {done_runs}/{self.total} runs"]
            for label, (done, total, loss, _runs) in self.running.items():
                if total:
                    text = f"{label} step {done}/{total}"
                    if math.isfinite(loss):
                        text += f" loss {loss:.3f}"
                    parts.append(text)
            parts.append(f"elapsed {duration(elapsed)}")
            eta = self.eta(elapsed)
            parts.append(f"ETA {duration(eta)}" if eta is not None else "ETA –")
        return " | ".join(parts)

    def eta(self, elapsed: float) -> float | None:
        """Seconds left: the work left at the pace so far, blended with what the estimate
        leaves in proportion to the work done (an early pace says little: the workers'
        start is in it); the estimate alone before any progress."""
        todo = self.total - self.already
        work = self.finished + sum(
            runs * self.loop_share.get(label, 1.0) * done / total
            for label, (done, total, _, runs) in self.running.items()
            if total
        )
        left = None if self.estimate_s is None else max(0.0, self.estimate_s - elapsed)
        if work > 0 and elapsed > 0:
            pace = max(0.0, (todo - work) * elapsed / work)
            if left is None or todo <= 0:
                return pace
            done = min(1.0, work / todo)
            return done * pace + (1 - done) * left
        return left or None  # no pace yet, and the estimate is used up: unknown, not "0 s"

    def print_line(self) -> None:
        self.console.print(self.line(), markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


class StepReporter:
    """A pool worker's task runner that reports each log point of its training loop
    (``(label, done, total, loss)``) to ``queue`` (a ``multiprocessing.Manager`` queue,
    picklable); the parent drains it into the progress display (:func:`drain`)."""

    def __init__(self, queue):
        self.queue = queue

    def __call__(self, task: Task) -> list[Outcome]:
        def report(done: int, total: int, loss: float = math.nan) -> None:
            self.queue.put((task.label, done, total, loss))

        return run_task(task, report)


def drain(queue, ui) -> threading.Thread:
    """A thread that passes the queue's step reports to ``ui.update`` until ``None``."""

    def loop() -> None:
        while (item := queue.get()) is not None:
            ui.update(*item)

    thread = threading.Thread(target=loop, name="poolstride-progress-queue", daemon=True)
    thread.start()
    return thread


__all__: Sequence[str] = [
    "DEFAULT_EVERY",
    "GridProgress",
    "PlainProgress",
    "StepReporter",
    "drain",
    "grid_progress",
]
