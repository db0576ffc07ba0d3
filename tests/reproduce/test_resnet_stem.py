"""``resnet-stem``: the stems' MACs, and the claim check on hand-made results."""

from __future__ import annotations

import pytest

from poolstride.errors import PoolstrideError
from poolstride.experiment.results import Results
from poolstride.experiment.store import RunRecord
from poolstride.reproduce.paper_table import paper_table
from poolstride.reproduce.run import run_study
from poolstride.reproduce.studies import resnet_stem
from poolstride.reproduce.study import HELD, INCONCLUSIVE, NOT_HELD, StudyResults

NOISE = [0.0, 0.004, -0.003, 0.002, -0.001]


def results(step_ms: dict[str, float], accuracy: dict[str, float]) -> StudyResults:
    """One grid per stem, five seeds each, around the given means."""
    grids = {}
    for stem in resnet_stem.STEMS:
        records = [
            RunRecord(
                key=f"{stem}-{s}",
                status="finished",
                config={"variant": resnet_stem.VARIANT, "seed": s},
                metrics={
                    "test_acc": accuracy[stem] + noise,
                    "step_ms": step_ms[stem] * (1 + 10 * noise),
                    "macs": 1e6,
                },
            )
            for s, noise in enumerate(NOISE)
        ]
        grids[stem] = Results.from_records(records, [resnet_stem.VARIANT])
    study = resnet_stem.STUDY
    return StudyResults(study, "cpu", grids, study.recipe("cpu"))


SAME = {stem: 0.6 for stem in resnet_stem.STEMS}


def test_the_strided_stem_costs_a_quarter_of_the_stride1_conv_and_pools():
    macs = {s: resnet_stem.stem_macs(f"resnet20,stem={s}", 16) for s in resnet_stem.STEMS}
    assert macs["conv7s2-max"] * 4 == macs["conv7-pool"] == 16 * 3 * 49 * 32 * 32


def test_held_when_faster_and_as_accurate():
    res = results({"conv7s2-max": 100, "conv7-pool": 300, "deep3x3": 150}, SAME)
    check = resnet_stem.check(res)
    assert check.outcome == HELD
    assert "conv7s2-max / conv7-pool = 0.250" in check.reasons[0]


def test_not_held_when_less_accurate():
    accuracy = {**SAME, "conv7s2-max": 0.5}
    res = results({"conv7s2-max": 100, "conv7-pool": 300, "deep3x3": 150}, accuracy)
    assert resnet_stem.check(res).outcome == NOT_HELD


def test_inconclusive_when_the_step_times_do_not_differ():
    res = results({"conv7s2-max": 100, "conv7-pool": 100, "deep3x3": 100}, SAME)
    assert resnet_stem.check(res).outcome == INCONCLUSIVE


def test_paper_table_has_a_row_per_stem_and_measure():
    res = results({"conv7s2-max": 100, "conv7-pool": 300, "deep3x3": 150}, SAME)
    table = paper_table(res)
    shown = {(r.grid, r.metric) for r in table.rows}
    assert shown == {
        (stem, metric) for stem in resnet_stem.STEMS for metric in ("macs", "step_ms", "test_acc")
    }


def test_the_ratio_is_a_quarter_at_64_px_too_and_the_check_reads_the_trained_size():
    shape = (3, 64, 64)
    macs = {s: resnet_stem.stem_macs(f"resnet20,stem={s}", 16, shape) for s in resnet_stem.STEMS}
    assert macs["conv7s2-max"] * 4 == macs["conv7-pool"] == 16 * 3 * 49 * 64 * 64
    res = results({"conv7s2-max": 100, "conv7-pool": 300, "deep3x3": 150}, SAME)
    for grid in res.grids.values():
        for record in grid.records:
            record.metrics["input_shape"] = list(shape)
    assert resnet_stem.input_shape(res) == shape
    reason = resnet_stem.check(res).reasons[0]
    assert reason.startswith("stem MACs per 64x64 example") and "conv7-pool 9.63M" in reason


def test_the_cpu_recipe_runs_at_64_px_and_needs_an_image_folder(tmp_path):
    assert {g.options["image_size"] for g in resnet_stem.CPU.grids} == {"64"}
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(PoolstrideError, match="resizes images to 64 px, which needs an image"):
        run_study("resnet-stem", "cpu", 2, data=tmp_path, out=tmp_path / "run")
