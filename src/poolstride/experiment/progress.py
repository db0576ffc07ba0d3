"""Progress of a grid on the terminal: rich bars for the grid and the current run."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from poolstride.experiment.config import RunConfig
from poolstride.experiment.store import RunRecord


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
        if already:
            self.console.print(f"resuming: {already} of {total} runs already finished (skipped)")
        self.grid = self.progress.add_task("runs", total=total, completed=already)
        self.run = None

    def start_run(self, cfg: RunConfig) -> None:
        label = f"  {cfg.variant} seed {cfg.seed}"
        if self.run is None:
            self.run = self.progress.add_task(label, total=None)
        else:
            self.progress.reset(self.run, description=label, total=None)

    def step(self, done: int, total: int) -> None:
        if self.run is not None:
            self.progress.update(self.run, completed=done, total=total)

    def finish_run(self, record: RunRecord) -> None:
        self.progress.advance(self.grid)
        cfg = record.config
        if record.finished:
            m = record.metrics
            self.console.print(
                f"[green]done[/] {cfg['variant']:<12} seed {cfg['seed']}: "
                f"test acc {100 * m['test_acc']:.1f}%  "
                f"({m['train_time_s']:.1f} s)"
            )
        else:
            self.console.print(
                f"[red]failed[/] {cfg['variant']:<12} seed {cfg['seed']}: {record.reason}"
            )

    def stop(self) -> None:
        self.progress.stop()
