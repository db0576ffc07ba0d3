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

from poolstride.experiment.config import (
    AMPS,
    AUGMENTS,
    BACKENDS,
    DEVICES,
    MATCHES,
    OPTIMIZERS,
    SCHEDULES,
    TESTS,
    CompareConfig,
    parse_seeds,
)

_D = CompareConfig()  # help texts quote the real defaults

_EXAMPLES = """
\b
Examples:
  poolstride compare
  poolstride compare --variants max,conv,conv:k3 --seeds 5 --train-size 1000
  poolstride compare --dataset digits --model lenet5 --match params --out runs/digits
  poolstride compare --config grid.yaml --steps 3000
"""


def _choice(values):
    return click.Choice(list(values), case_sensitive=False)


@click.command(epilog=_EXAMPLES, context_settings={"max_content_width": 100})
@click.option(
    "--dataset",
    "-d",
    help="Dataset name (mnist1d, shapes2d, digits, mnist, "
    f"fashion-mnist, cifar10, cifar100, svhn, folder:PATH).  [default: {_D.dataset}]",
)
@click.option(
    "--model",
    "-m",
    help=f"Backbone (simple, allcnn-a/b/c, resnet20, lenet5).  [default: {_D.model}]",
)
@click.option(
    "--variants",
    "-v",
    help="Comma-separated downsampling kinds, options after ':' "
    f"(max,avg,conv:k3,blur-max:filt5).  [default: {','.join(_D.variants)}]",
)
@click.option(
    "--seeds",
    "-s",
    help=f"A count (3), a list (0,1,2) or a range (0-4).  [default: {len(_D.seeds)}]",
)
@click.option("--baseline", help="Variant the others are compared with.  [default: first]")
@click.option("--steps", type=int, help=f"Optimiser steps per run.  [default: {_D.steps}]")
@click.option("--epochs", type=int, help="Passes over the training set instead of --steps.")
@click.option("--batch-size", type=int, help=f"Training batch size.  [default: {_D.batch_size}]")
@click.option("--lr", type=float, help=f"Peak learning rate.  [default: {_D.lr:g}]")
@click.option("--optimizer", type=_choice(OPTIMIZERS), help="[default: adam]")
@click.option("--schedule", type=_choice(SCHEDULES), help="[default: cosine]")
@click.option("--weight-decay", type=float, help="[default: 0]")
@click.option(
    "--augment", type=_choice(AUGMENTS), help="Random shift/crop and/or flip.  [default: none]"
)
@click.option("--train-size", type=int, help="Use a stratified subset of the training set.")
@click.option("--head", help="Global head: gap, gmp, avgmax, catavgmax, flatten.  [default: gap]")
@click.option("--width", type=int, help="Base channel count of the model.")
@click.option("--depth", type=int, help="Number of downsampling stages (model-dependent).")
@click.option(
    "--match",
    type=_choice(MATCHES),
    help="Scale each variant's width to the baseline's params or MACs.  [default: none]",
)
@click.option("--test", type=_choice(TESTS), help="Paired test: t or wilcoxon.  [default: t]")
@click.option("--device", type=_choice(DEVICES), help="[default: auto = cuda if present]")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where datasets are kept.")
@click.option(
    "--download/--no-download",
    default=None,
    help="Let torchvision datasets download (needs network).",
)
@click.option(
    "--workers",
    "-j",
    type=int,
    help="Runs in parallel (local processes or Ray tasks).  [default: number of cores]",
)
@click.option("--threads", type=int, help="CPU threads per run.  [default: cores // workers]")
@click.option(
    "--backend",
    type=_choice(BACKENDS),
    help="Where runs execute: local "
    "processes or a Ray cluster (pip install 'poolstride[ray]').  [default: local]",
)
@click.option(
    "--address",
    help="Ray cluster address (auto, ray://host:10001) for --backend "
    "ray.  [default: start a local Ray on 127.0.0.1]",
)
@click.option(
    "--batch-seeds/--no-batch-seeds",
    default=None,
    help="Train the seeds of a "
    "variant as one seed-fused model (same results).  [default: on, in chunks that "
    "keep every worker busy]",
)
@click.option(
    "--channels-last",
    is_flag=True,
    default=None,
    help="Channels-last memory format (2D models; mostly useful on GPU).",
)
@click.option(
    "--amp",
    type=_choice(AMPS),
    help="bf16 autocast for the forward pass (CPU or "
    "CUDA); part of each run's identity.  [default: none]",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    help="Run directory.  [default: runs/<dataset>-<model>]",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="YAML file of options; command-line options override it.",
)
@click.option(
    "--tensorboard",
    is_flag=True,
    default=None,
    help="Log per-step loss and test metrics to RUN_DIR/tensorboard/.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def compare(config_file, quiet, seeds, variants, out, **options):
    """Train each downsampling choice over seeds with one budget and compare them."""
    from rich.console import Console

    from poolstride.comparison import run_comparison
    from poolstride.experiment.config import load_config_file, make_config
    from poolstride.experiment.cores import cpu_count, resolve_workers, threads_per_worker
    from poolstride.experiment.grid import environment

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

    console = Console(stderr=False)
    n_runs = len(cfg.variants) * len(cfg.seeds)
    env = environment()
    workers = resolve_workers(cfg.workers)
    console.print(
        f"[bold]poolstride compare[/]: {cfg.dataset}, model {cfg.model}, "
        f"variants {', '.join(cfg.variants)}; {len(cfg.seeds)} seeds ({n_runs} runs), "
        f"{_budget(cfg)}, batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr:g} "
        f"{cfg.schedule}; device {cfg.device}; torch {env['torch']}, {workers} worker(s) "
        f"x {cfg.threads or threads_per_worker(workers)} thread(s)"
        + (f", {cfg.backend}" if cfg.backend != "local" else "")
        + (f", amp {cfg.amp}" if cfg.amp != "none" else "")
    )
    results, report = run_comparison(cfg, progress=not quiet, console=console)
    console.print()
    results.render(console)
    console.print(f"\nreport: {report}  (open it in a browser; works offline)")
    if not results.finished:  # nothing to compare: exit code 1 so scripts notice
        raise click.ClickException(f"none of the {n_runs} runs finished (reasons above)")


_LOWER = {"optimizer", "schedule", "augment", "match", "test", "device", "backend", "amp"}


def _slug(text: str) -> str:
    return re.sub(
        r"[^A-Za-z0-9._-]+", "_", text.rstrip("/").split("/")[-1] if ":" in text else text
    )


def _budget(cfg) -> str:
    return f"{cfg.steps} steps" if cfg.steps is not None else f"{cfg.epochs} epochs"
