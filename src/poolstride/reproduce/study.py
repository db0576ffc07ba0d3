"""A published study as data: what it claims, the recipe that checks it, the numbers to beat.

A :class:`Study` is everything ``poolstride reproduce NAME`` needs, fixed in code:

- ``name`` (the CLI name), ``title``, ``citation`` and ``claim`` (the sentence checked);
- ``budgets``: ``{"cpu": Recipe, "full": Recipe}``. A :class:`Recipe` is one or more
  :class:`Grid` s -- each a set of :class:`~poolstride.experiment.config.CompareConfig`
  keyword arguments (``dataset``, ``model``, ``variants``, ``steps``/``epochs``,
  ``train_size``, ``lr``, ...) run by :func:`poolstride.comparison.run_comparison` -- plus
  the default seed count and the expected wall time on a 2-core CPU and on one GPU;
- ``published``: :class:`Published` rows (variant, the paper's label, metric, value or
  ``None`` when the paper gives only a figure or a sentence, where in the paper);
- ``check``: measured results -> :class:`ClaimCheck` (``held`` / ``did not hold`` /
  ``inconclusive``, with the statistics that decided it; helpers in
  :mod:`poolstride.reproduce.claims`);
- ``needs_data``: ``None`` (generated data) or ``"cifar10"``: the grids then leave
  ``dataset`` out and :func:`poolstride.reproduce.run.run_study` fills it from ``--data`` /
  ``--download``;
- ``url``: where the source is; ``figure``: optional ``figure(results: StudyResults,
  out_dir: Path) -> list[Path]``
  writing PNGs (matplotlib, imported on use).

Shared by the studies: :func:`one_grid` / :func:`option_grids` (a recipe's grids),
:func:`adam_cosine` / :func:`he_cifar` (training options), :func:`new_figure` /
:func:`save_png` (figures).

One module per study in :mod:`poolstride.reproduce.studies`, registered by name in
:mod:`poolstride.reproduce.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poolstride.errors import unknown
from poolstride.experiment.results import Results

#: The three outcomes of a claim check.
HELD = "held"
NOT_HELD = "did not hold"
INCONCLUSIVE = "inconclusive"
OUTCOMES = (HELD, NOT_HELD, INCONCLUSIVE)

#: The budgets a study may define: ``cpu`` (scaled down, a 2-core CPU) and ``full`` (the
#: paper's recipe, usually a GPU).
BUDGETS = ("cpu", "full")


@dataclass(frozen=True)
class Grid:
    """One comparison grid of a recipe: ``options`` are CompareConfig keyword arguments.

    ``label`` names the grid (its run sub-directory, the figure's x value): ``"n=500"``.
    ``x`` is the grid's position on a study's figure axis (a training-set size), if any.
    """

    label: str
    options: Mapping[str, Any]
    x: float | None = None


def one_grid(label: str, common: Mapping[str, Any], **options) -> tuple[Grid, ...]:
    """A recipe's grids when it has one: ``label``, the study's ``common`` options updated
    with this budget's ``options``."""
    return (Grid(label, {**common, **options}),)


def option_grids(
    model: str, option: str, values: tuple[str, ...], variant: str, width: int, **training
) -> tuple[Grid, ...]:
    """One grid per value of a model option (label = the value): ``model,option=value`` with
    the one downsampling ``variant``, ``width``, no augmentation unless ``training`` says."""
    return tuple(
        Grid(
            value,
            {
                "model": f"{model},{option}={value}",
                "variants": (variant,),
                "width": width,
                "augment": "none",
                **training,
            },
        )
        for value in values
    )


def adam_cosine(steps: int) -> dict[str, Any]:
    """The cpu budgets' short training as CompareConfig keyword arguments: Adam lr 3e-3,
    cosine schedule, ``steps`` steps of batch 64."""
    return {"optimizer": "adam", "lr": 3e-3, "schedule": "cosine", "steps": steps, "batch_size": 64}


def he_cifar(epochs: int) -> dict[str, Any]:
    """He et al.'s CIFAR-10 training recipe (ResNet paper, §4.2) as CompareConfig keyword
    arguments: SGD lr 0.1, momentum 0.9, weight decay 1e-4, the step schedule (×0.1 at
    50%/75%), batch 128, shift+flip augmentation, ``epochs`` epochs."""
    return {
        "optimizer": "sgd",
        "momentum": 0.9,
        "lr": 0.1,
        "weight_decay": 1e-4,
        "schedule": "step",
        "epochs": epochs,
        "batch_size": 128,
        "augment": "shift+flip",
    }


def new_figure(names: tuple[str, ...], figsize: tuple[float, float]):
    """A constrained-layout matplotlib ``Figure`` of ``figsize`` and the palette's style of
    each of ``names`` (``{name: style}``). matplotlib is imported here, on use: it is slow to
    import and only needed for figures."""
    from matplotlib.figure import Figure

    from poolstride.report.palette import variant_styles

    return Figure(figsize=figsize, layout="constrained"), variant_styles(names)


def save_png(fig, out_dir: Path, name: str) -> list[Path]:
    """Write the matplotlib ``fig`` to ``out_dir / name`` at 120 dpi; ``[that path]``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    fig.savefig(path, dpi=120)
    return [path]


@dataclass(frozen=True)
class Recipe:
    """What one budget runs: its grids, default seeds and expected wall time in minutes.

    ``minutes_cpu``: on a 2-core CPU with the default seeds; ``minutes_gpu``: on one
    GPU (``None``: not estimated). ``notes``: how this budget differs from the paper.
    """

    grids: tuple[Grid, ...]
    seeds: int = 3
    minutes_cpu: float | None = None
    minutes_gpu: float | None = None
    notes: str = ""


@dataclass(frozen=True)
class Published:
    """One published number (or claim) next to which ours is shown.

    ``metric``: a key of :data:`poolstride.reproduce.paper_table.MEASURES` (``test_error``
    and ``test_acc`` in %, ``shift_consistency_circular`` ...). ``value``: the paper's number
    in that metric's unit, or ``None`` when it gives only a figure or a sentence. ``grid``:
    the grid label our number comes from (``None``: the recipe's last grid).
    """

    variant: str
    label: str
    metric: str
    value: float | None
    where: str
    grid: str | None = None


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on a study's claim: one of :data:`OUTCOMES`, with the sentences (each
    carrying its statistics: difference, 95% CI, p, n) that decided it."""

    outcome: str
    reasons: tuple[str, ...] = ()

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")


@dataclass
class StudyResults:
    """A finished study: each grid's results, by grid label, in recipe order."""

    study: Study
    budget: str
    grids: dict[str, Results]
    recipe: Recipe
    out: Path | None = None
    wall_s: float | None = None

    def grid(self, label: str | None = None) -> Results:
        """The results of grid ``label`` (``None``: the recipe's last grid)."""
        if label is None:
            label = self.recipe.grids[-1].label
        return self.grids[label]


@dataclass(frozen=True)
class Study:
    """A reproducible study (see the module docstring for each field)."""

    name: str
    title: str
    citation: str
    claim: str
    budgets: Mapping[str, Recipe]
    published: tuple[Published, ...]
    check: Callable[[StudyResults], ClaimCheck]
    needs_data: str | None = None
    figure: Callable[[StudyResults, Path], list[Path]] | None = None
    url: str | None = None

    def recipe(self, budget: str) -> Recipe:
        """The recipe of ``budget`` (``cpu`` or ``full``)."""
        if budget not in self.budgets:
            raise unknown(f"budget for study {self.name!r}:", budget, tuple(self.budgets))
        return self.budgets[budget]


__all__ = [
    "BUDGETS",
    "HELD",
    "INCONCLUSIVE",
    "NOT_HELD",
    "OUTCOMES",
    "ClaimCheck",
    "Grid",
    "Published",
    "Recipe",
    "Study",
    "StudyResults",
    "adam_cosine",
    "he_cifar",
    "new_figure",
    "one_grid",
    "option_grids",
    "save_png",
]
