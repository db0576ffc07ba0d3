"""``antialias``: the claim check and the paper table on hand-made results."""

from __future__ import annotations

from poolstride.experiment.results import Results
from poolstride.experiment.store import RunRecord
from poolstride.reproduce.paper_table import paper_table
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


# The cpu recipe's end-to-end run on tiny data is tests/reproduce/test_recipes.py's (every
# registered study, one parametrised test).
