"""``poolstride store check|salvage RUN_DIR``: inspect and recover a run directory's store.

``check`` runs SQLite's integrity check over ``RUN_DIR/runs.sqlite``, checks that it is a
poolstride store and that every row reads back; it never writes. ``salvage`` copies every
readable row into a new ``runs.sqlite`` and keeps the damaged file beside it as
``runs.damaged-<time>.sqlite`` — nothing the user made is overwritten or deleted.
"""

from __future__ import annotations

import click

from poolstride.errors import PoolstrideError

_EXAMPLES = """
\b
Examples:
  poolstride store check runs/mnist1d-simple
  poolstride store salvage runs/mnist1d-simple
"""


@click.group("store", epilog=_EXAMPLES)
def store():
    """Check a run directory's store, or salvage the readable rows of a damaged one."""


@store.command("check")
@click.argument("run_dir", type=click.Path())
def check(run_dir):
    """Integrity check of RUN_DIR/runs.sqlite (read-only)."""
    from poolstride.experiment.store import Store, check_store, store_path

    problems = check_store(run_dir)
    path = store_path(run_dir)
    if problems:
        raise PoolstrideError(
            f"run store {str(path)!r} is damaged: {'; '.join(problems[:3])}"
            + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
            + f"; recover the readable rows with `poolstride store salvage {run_dir}`"
        )
    with Store(run_dir, create=False) as opened:
        runs = opened.all_runs()
    finished = sum(r.finished for r in runs)
    click.echo(
        f"ok: {path} passes the integrity check; {len(runs)} runs "
        f"({finished} finished, {len(runs) - finished} failed)"
    )


@store.command("salvage")
@click.argument("run_dir", type=click.Path())
def salvage(run_dir):
    """Copy the readable rows of RUN_DIR/runs.sqlite to a new store; keep the damaged file."""
    from poolstride.experiment.store import salvage_store

    new, kept, rows, lost = salvage_store(run_dir)
    click.echo(
        f"salvaged {rows} run(s) into {new}"
        + (f" ({lost} unreadable row(s) lost)" if lost else "")
        + f"; the original file is kept as {kept}"
    )
