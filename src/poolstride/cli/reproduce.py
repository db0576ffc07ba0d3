"""``poolstride reproduce NAME``: run a published study with its recipe fixed in code.

Writes ``runs/reproduce-NAME-BUDGET/`` (each grid's store and report, ``paper_table.md``/
``.html``, figures, ``study.json``) and prints the paper table: our number with its 95% CI
next to the published one, and whether the published claim held. ``--list`` shows the
studies with their expected time on a 2-core CPU and on one GPU.
"""

from __future__ import annotations

import click

_EXAMPLES = """
\b
Examples:
  poolstride reproduce --list
  poolstride reproduce mnist1d-pooling --budget cpu
  poolstride reproduce allcnn --data ~/data/CIFAR-10-images --seeds 5
  poolstride reproduce allcnn --budget full --download --seeds auto
"""


def _minutes(value: float | None) -> str:
    if value is None:
        return "—"
    return f"~{value:g} min" if value < 120 else f"~{value / 60:.3g} h"


def study_list() -> str:
    """One block per study: name, title, data, and each budget's expected minutes."""
    from poolstride.reproduce.registry import STUDIES

    lines = []
    for study in STUDIES.values():
        data = (
            f"  [needs {study.needs_data}: --data PATH or --download]" if study.needs_data else ""
        )
        lines.append(f"{study.name}: {study.title}{data}")
        for budget, recipe in study.budgets.items():
            sizes = {g.options.get("image_size") for g in recipe.grids} - {None}
            resized = f"; {'/'.join(sorted(sizes))} px: --data an image folder" if sizes else ""
            lines.append(
                f"  --budget {budget:<5} 2-core CPU {_minutes(recipe.minutes_cpu):>9}, "
                f"one GPU {_minutes(recipe.minutes_gpu):>9}  ({recipe.seeds} seeds, "
                f"{len(recipe.grids)} grid{'s' if len(recipe.grids) > 1 else ''}{resized})"
            )
    return "\n".join(lines)


@click.command(epilog=_EXAMPLES, context_settings={"max_content_width": 100})
@click.argument("name", required=False)
@click.option("--list", "list_", is_flag=True, help="List the studies with their expected time.")
@click.option(
    "--budget",
    type=click.Choice(["cpu", "full"], case_sensitive=False),
    default="cpu",
    show_default=True,
    help="cpu: scaled down for a 2-core CPU; full: the paper's recipe (GPU).",
)
@click.option(
    "--seeds",
    "-s",
    help="A count, or auto (seeds until each comparison is decided).  [default: the recipe's]",
)
@click.option(
    "--data",
    type=click.Path(file_okay=False),
    help="Data folder of a study that needs one (CIFAR-10: train/ and test/ class folders).",
)
@click.option("--download", is_flag=True, help="Let torchvision download the data (internet).")
@click.option(
    "--out", "-o", type=click.Path(), help="Run directory.  [default: runs/reproduce-NAME-BUDGET]"
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to train.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def reproduce(name, list_, budget, seeds, data, download, out, device, quiet):
    """Run a published study NAME and compare with its published numbers."""
    from poolstride.errors import PoolstrideError

    if list_:
        if name is not None:
            raise PoolstrideError(f"--list takes no study name (got {name!r})")
        click.echo(study_list())
        return
    if name is None:
        raise PoolstrideError(
            "give a study name (see `poolstride reproduce --list`), e.g. "
            "`poolstride reproduce mnist1d-pooling`"
        )
    from poolstride.experiment.config import parse_seeds
    from poolstride.report.terminal import output_console
    from poolstride.reproduce.run import run_study

    console = output_console()  # a log keeps each verdict on one line
    options = {"device": device} if device else {}
    res, table = run_study(
        name,
        budget.lower(),
        parse_seeds(seeds) if seeds is not None else None,
        data=data,
        download=download,
        out=out,
        options=options,
        progress=not quiet,
        console=console,
    )
    console.print()
    table.render(console)
    console.print(
        f"\npaper table: {res.out / 'paper_table.md'}  (wall time {res.wall_s / 60:.1f} min)"
    )
