"""``poolstride compare``: train each downsampling choice over seeds and compare them.

With no arguments: MNIST-1D, the ``simple`` CNN, variants max, avg, conv, subsample,
blur-max and none, 3 seeds, the default budget; prints a table of means with 95% CIs and plain-words verdicts
against the baseline (the first variant). Results go to ``--out`` (default
``runs/<dataset>-<model>``): ``runs.sqlite`` (one row per run), ``results.json``,
``results.csv``, ``summary.csv`` and ``config.yaml``. Re-running the same command skips the
runs already finished there.
"""

from __future__ import annotations

import re

import click

from poolstride.experiment.config import CliOption, CompareConfig, cli_options, parse_seeds

_EXAMPLES = """
\b
Examples:
  poolstride compare
  poolstride compare --variants max,conv,conv:k3 --seeds 5 --train-size 1000
  poolstride compare --seeds auto --max-seeds 10 --margin 0.5
  poolstride compare --dataset digits --model lenet5 --match params --out runs/digits
  poolstride compare --config grid.yaml --steps 3000
"""


def _choice(values):
    return click.Choice(list(values), case_sensitive=False)


def _click_option(name: str, default, how: CliOption):
    """The click option of one config field, from the field's declaration."""
    shown = how.default_text
    if shown is None and default is not None and how.switch is None:
        shown = f"{default:g}" if isinstance(default, float) else str(default)
    help_text = how.help + (f"  [default: {shown}]" if shown else "")
    decls = [how.flag_of(name)] + ([how.short] if how.short else [])
    if how.switch == "pair":
        decls = [f"{decls[0]}/--no-{decls[0][2:]}"] + decls[1:]
        return click.option(*decls, name, default=None, help=help_text)
    if how.switch == "flag":
        return click.option(*decls, name, is_flag=True, default=None, help=help_text)
    if how.flag_value is not None:  # a value that may be left out: --mlflow [URI]
        return click.option(
            *decls,
            name,
            is_flag=False,
            flag_value=how.flag_value,
            default=None,
            metavar="[VALUE]",
            help=help_text,
        )
    if how.choices is not None:
        kind = _choice(how.choices)
    elif how.value_type == "dir":
        kind = click.Path(file_okay=False)
    else:
        kind = how.value_type
    return click.option(*decls, name, type=kind, help=help_text)


def _config_options(command):
    """Every option field of CompareConfig as a click option, in declaration order."""
    for name, default, how in reversed(cli_options(CompareConfig)):
        command = _click_option(name, default, how)(command)
    return command


@click.command(epilog=_EXAMPLES, context_settings={"max_content_width": 100})
@_config_options
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="YAML file of options; command-line options override it.",
)
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress: neither bars nor plain progress lines."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan and the estimated wall time, then stop (nothing is trained or stored).",
)
@click.option(
    "--no-estimate",
    is_flag=True,
    help="Start training at once: no calibration, so no estimate, and threads per worker "
    "cores // workers unless --threads (for scripts that run many small grids).",
)
def compare(config_file, quiet, dry_run, no_estimate, seeds, variants, out, **options):
    """Train each downsampling choice over seeds with one budget and compare them."""
    from poolstride.comparison import plan_comparison, run_comparison
    from poolstride.experiment.config import load_config_file, make_config
    from poolstride.experiment.cores import cpu_count, resolve_workers
    from poolstride.experiment.grid import environment
    from poolstride.experiment.store import mixed_execution_note
    from poolstride.report.terminal import output_console

    base = load_config_file(config_file) if config_file else {}
    overrides = {
        k: v.lower() if isinstance(v, str) and k in _LOWER else v
        for k, v in options.items()
        if v is not None
    }
    if seeds is not None:
        overrides["seeds"] = parse_seeds(seeds)
    if variants is not None:
        overrides["variants"] = variants
    if "workers" not in overrides and "workers" not in base:
        overrides["workers"] = cpu_count()  # the CLI default: one worker per core
    cfg = make_config(base, **overrides)
    if out is None:
        out = base.get("out") or f"runs/{_slug(cfg.dataset)}-{_slug(cfg.model)}"
    cfg = cfg.replace(out=str(out))

    console = output_console()
    n_runs = len(cfg.variants) * (cfg.max_seeds if cfg.auto else len(cfg.seeds))
    env = environment()
    workers = resolve_workers(cfg.workers)
    seeds_text = (
        f"seeds auto (3 to start, up to {cfg.max_seeds}"
        + (f", budget {cfg.budget:g} min" if cfg.budget is not None else "")
        + ")"
        if cfg.auto
        else f"{len(cfg.seeds)} seeds ({n_runs} runs)"
    )
    console.print(
        f"[bold]poolstride compare[/]: {cfg.dataset}, model {cfg.model}, "
        f"variants {', '.join(cfg.variants)}; {seeds_text}, "
        f"{_budget(cfg)}, batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr:g} "
        f"{cfg.schedule}; device {cfg.device}; torch {env['torch']}, {workers} worker(s) "
        + (f"x {cfg.threads} thread(s)" if cfg.threads else "(threads measured)")
        + (f", {cfg.backend}" if cfg.backend != "local" else "")
        + (f", amp {cfg.amp}" if cfg.amp != "none" else "")
    )
    if dry_run and no_estimate:
        raise click.UsageError("--dry-run prints the estimate: it cannot go with --no-estimate")
    if dry_run:
        for line in plan_comparison(cfg, warn=_warn).lines():
            console.print(line, markup=False, highlight=False)
        return
    results, report = run_comparison(
        cfg, progress=not quiet, console=console, estimate=not no_estimate, warn=_warn
    )
    console.print()
    results.render(console)
    mixed = mixed_execution_note(results.records)
    if mixed:  # one key, several executions: say so (docs/reliability.md)
        console.print(f"[yellow]note[/] {mixed}")
    console.print(f"\nreport: {report}  (open it in a browser; works offline)")
    if not results.finished:  # nothing to compare: exit code 1 so scripts notice
        raise click.ClickException(
            f"none of the {len(results.records)} runs finished (reasons above)"
        )


# choice-valued options are case-insensitive: stored lower-case
_LOWER = {name for name, _, how in cli_options(CompareConfig) if how.choices is not None}


def _warn(text: str) -> None:
    click.echo(text, err=True)


def _slug(text: str) -> str:
    return re.sub(
        r"[^A-Za-z0-9._-]+", "_", text.rstrip("/").split("/")[-1] if ":" in text else text
    )


def _budget(cfg) -> str:
    return f"{cfg.steps} steps" if cfg.steps is not None else f"{cfg.epochs} epochs"
