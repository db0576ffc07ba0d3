"""``antialias``: the claim check on hand-made results, and the recipe's grid on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from poolstride.experiment.results import Results
from poolstride.experiment.store import RunRecord
from poolstride.reproduce.paper_table import paper_table
from poolstride.reproduce.run import run_study
from poolstride.reproduce.studies import antialias
from poolstride.reproduce.study import HELD, INCONCLUSIVE, NOT_HELD, StudyResults

SEEDS = range(5)
NOISE = [0.0, 0.004, -0.003, 0.002, -0.001]


def results(consistency: dict[str, float], accuracy: dict[str, float]) -> StudyResults:
    """Five seeds per variant around the given means (small, distinct per-seed noise)."""
    records = [
        RunRecord(
            key=f"{v}-{s}",
            status="finished",
            config={"variant": v, "seed": s},
            metrics={
                "test_acc": accuracy[v] + NOISE[s] * (i + 1),
                "shift_consistency_crop": consistency[v] + NOISE[(s + 2) % 5] * (i + 1),
            },
        )
        for i, v in enumerate(antialias.VARIANTS)
        for s in SEEDS
    ]
    grid = Results.from_records(records, list(antialias.VARIANTS), "subsample")
    study = antialias.STUDY
    return StudyResults(study, "cpu", {"cpu": grid}, study.recipe("cpu"))


BASE = {"subsample": 0.80, "blur-avg:filt5": 0.80, "max": 0.80, "blur-max:filt5": 0.80}


def test_held_when_both_blurs_are_more_consistent_and_not_less_accurate():
    res = results({**BASE, "blur-avg:filt5": 0.86, "blur-max:filt5": 0.87}, BASE)
    check = antialias.check(res)
    assert check.outcome == HELD
    assert any(r.startswith("blur-avg:filt5 − subsample: +6.") for r in check.reasons)


def test_not_held_when_a_blur_costs_accuracy():
    accuracy = {**BASE, "blur-max:filt5": 0.70}
    res = results({**BASE, "blur-avg:filt5": 0.86, "blur-max:filt5": 0.87}, accuracy)
    assert antialias.check(res).outcome == NOT_HELD


def test_inconclusive_when_consistency_does_not_move():
    assert antialias.check(results(BASE, BASE)).outcome == INCONCLUSIVE


def test_paper_table_shows_zhangs_resnet50_numbers():
    res = results({**BASE, "blur-avg:filt5": 0.86, "blur-max:filt5": 0.87}, BASE)
    md = paper_table(res).to_markdown()
    for number in ("89.2", "91.31", "76.16", "77.04"):
        assert number in md
    assert "crop-shift consistency" in md


@pytest.fixture
def tiny_cifar(tmp_path):
    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("test", 1)):
        for c in range(10):
            folder = tmp_path / "data" / split / f"c{c}"
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return tmp_path / "data"


def test_cpu_recipe_trains_every_variant_on_tiny_data(tiny_cifar, tmp_path):
    tiny = {"steps": 2, "train_size": 20, "batch_size": 8, "shift_samples": 8, "workers": 1}
    res, table = run_study(
        "antialias", "cpu", 2, data=tiny_cifar, out=tmp_path / "run", options=tiny
    )
    grid = res.grid()
    assert sorted(r.variant for r in grid.finished) == sorted(2 * list(antialias.VARIANTS))
    assert all("shift_consistency_crop" in r.metrics for r in grid.finished)
    assert table.outcome in (HELD, NOT_HELD, INCONCLUSIVE)
