"""Every registered recipe runs: tiny data, two steps, two seeds -- the whole pipeline.

The ``cpu`` budget of each study runs end to end through :func:`run_study` (every grid, the
paper table, the figures, ``study.json``); each ``full`` budget's grids are validated as
configs and its first grid trains for two steps. Studies that need CIFAR-10 get a folder of
random 32x32 images instead (``--data`` with ``train/`` and ``test/``): nothing downloads.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from poolstride.comparison import run_comparison
from poolstride.reproduce.registry import STUDIES
from poolstride.reproduce.run import data_options, grid_config, run_study
from poolstride.reproduce.study import BUDGETS, OUTCOMES

pytestmark = pytest.mark.slow  # each grid is a real (tiny) comparison with its report

#: Applied to every grid: a few steps on a few examples, one process.
TINY = {
    "steps": 2,
    "train_size": 20,
    "batch_size": 8,
    "eval_points": 1,
    "log_every": 1,
    "shift_samples": 8,
    "workers": 1,
}


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """``train/`` (3 per class) and ``test/`` (1 per class) of 10 classes of random 32x32 RGB."""
    root = tmp_path_factory.mktemp("cifar-like")
    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("test", 1)):
        for c in range(10):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def _data(study, folder):
    return str(folder) if study.needs_data else None


def _tiny(study) -> dict:
    """TINY, and width 8 for poolstride's own models (zoo models take no width); a recipe
    that generates a larger MNIST-1D (``num_samples``) generates 500 examples instead."""
    grids = [g for r in study.budgets.values() for g in r.grids]
    models = {g.options.get("model", "") for g in grids}
    tiny = {**TINY, "width": 8} if not any(":" in m for m in models) else dict(TINY)
    if any("num_samples" in str(g.options.get("data_options")) for g in grids):
        tiny["data_options"] = "num_samples=500"
    return tiny


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_cpu_budget_runs_end_to_end(name, image_folder, tmp_path):
    study = STUDIES[name]
    res, table = run_study(
        name, "cpu", 2, data=_data(study, image_folder), out=tmp_path / "run", options=_tiny(study)
    )
    out = tmp_path / "run"
    assert set(res.grids) == {g.label for g in study.budgets["cpu"].grids}
    for label, results in res.grids.items():
        assert len(results.finished) == 2 * len(results.variants), label
        assert (out / label / "runs.sqlite").is_file()
        assert (out / label / "report.html").is_file()
    md = (out / "paper_table.md").read_text()
    for row in study.published:
        if row.value is not None:
            assert f"{row.value:g}" in md
    assert table.outcome in OUTCOMES
    record = json.loads((out / "study.json").read_text())
    assert record["outcome"] == table.outcome
    assert record["command"].startswith(f"poolstride reproduce {name} --budget cpu")
    if study.figure is not None:
        assert record["figures"] and all((out / "figures").iterdir())


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_full_budget_grids_are_valid_and_the_first_one_trains(name, image_folder, tmp_path):
    study = STUDIES[name]
    assert set(study.budgets) <= set(BUDGETS)
    data = data_options(study, _data(study, image_folder), False)
    recipe = study.budgets["full"]
    configs = [grid_config(g, seeds=2, out=str(tmp_path / g.label), **data) for g in recipe.grids]
    first = grid_config(
        recipe.grids[0], seeds=2, out=str(tmp_path / "first"), **data, **_tiny(study)
    )
    assert first.variants == configs[0].variants
    results, _ = run_comparison(first)
    assert len(results.finished) == 2 * len(first.variants)
