"""``fishnet-shortcut``: gradient ratios per depth, the claim check and the figure."""

from __future__ import annotations

import math

import pytest
import torch

from poolstride.analysis.gradient_flow import gradient_norms
from poolstride.experiment.results import Results
from poolstride.experiment.store import RunRecord
from poolstride.models import build_model
from poolstride.reproduce.studies import fishnet_shortcut as fs
from poolstride.reproduce.study import HELD, INCONCLUSIVE, NOT_HELD, StudyResults

NOISE = [0.0, 0.02, -0.015, 0.01, -0.005]


def grads(early: float) -> dict[str, float]:
    """A gradient-norm record shaped like a ResNet's: stage 1 at ``early``, stage 3 at 1."""
    return {
        "features.0.0": early,
        "features.1.0.conv1": early,
        "features.1.0.conv2": early,
        "features.2.0.conv1": 1.0,
        "features.3.0.conv1": 1.0,
        "head.fc": 1.0,
    }


def results(early: dict[str, float], accuracy: float = 0.5) -> StudyResults:
    out = {}
    for sc in fs.SHORTCUTS:
        records = [
            RunRecord(
                key=f"{sc}-{s}",
                status="finished",
                config={"variant": fs.VARIANT, "seed": s},
                metrics={
                    "test_acc": accuracy + noise / 10,
                    "grad_norm_init": grads(early[sc] * (1 + noise)),
                    "grad_norm_final": grads(early[sc]),
                },
            )
            for s, noise in enumerate(NOISE)
        ]
        out[sc] = Results.from_records(records, [fs.VARIANT])
    return StudyResults(fs.STUDY, "cpu", out, fs.STUDY.recipe("cpu"))


def test_early_to_late_is_the_log_ratio_of_stage_norms():
    res = results({sc: 2.0 for sc in fs.SHORTCUTS})
    ratios = fs.early_to_late(res.grids["projection"])
    assert ratios[0] == pytest.approx(math.log10(2.0 * math.sqrt(2)))


def test_held_when_every_pooling_shortcut_passes_more_gradient_early():
    res = results({"projection": 1.0, "avgpool-pad": 2.0, "avgpool-concat": 2.5, "resnet-d": 1.5})
    assert fs.check(res).outcome == HELD


def test_not_held_when_a_pooling_shortcut_passes_less():
    res = results({"projection": 1.0, "avgpool-pad": 0.5, "avgpool-concat": 2.5, "resnet-d": 1.5})
    assert fs.check(res).outcome == NOT_HELD


def test_inconclusive_when_the_ratios_agree():
    assert fs.check(results({sc: 1.0 for sc in fs.SHORTCUTS})).outcome == INCONCLUSIVE


def test_figure_plots_every_shortcut(tmp_path):
    res = results({"projection": 1.0, "avgpool-pad": 2.0, "avgpool-concat": 2.5, "resnet-d": 1.5})
    (path,) = fs.figure(res, tmp_path)
    assert path.name == "gradient_by_depth.png" and path.stat().st_size > 10_000


def test_the_models_gradient_record_has_the_stage_prefixes_the_check_reads():
    """The check reads real gradient records: stage 1 and 3 must be found in them."""
    model = build_model("resnet56,shortcut=avgpool-pad", fs.VARIANT, (3, 16, 16), 10, width=2)
    record = gradient_norms(model, torch.randn(4, 3, 16, 16), torch.arange(4))
    assert fs.stage_norm(record, 1) > 0 and fs.stage_norm(record, 3) > 0
    depth = [k for k in record if k == "features.0.0" or k.endswith((".conv1", ".conv2"))]
    assert len(depth) == 1 + 2 * 27  # the stem conv and 27 blocks of two
