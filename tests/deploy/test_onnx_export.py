"""ONNX export checks: export, onnxruntime, |Δ| vs PyTorch, the known traps, the command."""

from __future__ import annotations

import json
import sys

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from poolstride import kernels  # noqa: E402
from poolstride.cli import main  # noqa: E402
from poolstride.deploy.export_table import ExportTable, export_check  # noqa: E402
from poolstride.deploy.onnx_check import (  # noqa: E402
    TORCHSCRIPT_OPSET,
    ExportRow,
    check_onnx,
    one_line,
    require_onnx,
)
from poolstride.errors import PoolstrideError  # noqa: E402
from poolstride.models import build_model  # noqa: E402

SHAPE = (1, 16, 16)


def small(variant: str, shape=SHAPE):
    return build_model("simple", variant, shape, 4, width=4)


# torchscript (dynamo=False) exports of the kinds it handles with a symbolic batch, ceil_mode
# included: exported, opset 17, outputs within float32 rounding of PyTorch's.
@pytest.mark.parametrize(
    "variant",
    ["max", "avg", "conv", "blur-max", "lp", "space-to-depth", "max:k3:ceil", "avg:k3:pad1:ceil"],
)
def test_torchscript_export_matches_pytorch(variant):
    row = check_onnx(small(variant, (1, 15, 15)), (1, 15, 15), exporter="torchscript", timing=False)
    assert row.exported, row.reason
    assert row.opset == TORCHSCRIPT_OPSET
    assert row.max_abs_diff is not None and row.max_abs_diff < 1e-5
    assert row.matches and row.reason == ""


def test_numba_kernels_serve_eager_calls_but_not_the_export():
    model = small("max").eval()
    x = torch.randn(2, *SHAPE)
    with kernels.dispatch_log() as eager:
        model(x)
    if kernels.available() and kernels.enabled():  # the check below is only meaningful then
        assert any(c["kernel"] != "pytorch" for c in eager)
    from poolstride.deploy.onnx_check import export_onnx

    with kernels.dispatch_log() as traced:
        export_onnx(model, x, "torchscript")
    assert traced and all(c["kernel"] == "pytorch" for c in traced)
    assert all(c["reason"] == "tracing / compiling" for c in traced)


# The traps: shapes computed from a traced input (adaptive to size // 2, soft's unfold) fail
# the torchscript exporter with a symbolic batch; adaptive sizes that do not divide fail it
# always. Each failure is a row with one line saying why, never an exception.
@pytest.mark.parametrize(
    ("variant", "shape", "dynamic", "words"),
    [
        ("adaptive-avg", SHAPE, True, "output_size is not constant"),
        ("soft", SHAPE, True, "Unfold"),
        ("adaptive-avg:o3", (1, 16, 16), False, "not factor of input size"),
    ],
)
def test_torchscript_traps_say_why_in_one_line(variant, shape, dynamic, words):
    row = check_onnx(
        small(variant, shape), shape, exporter="torchscript", dynamic_batch=dynamic, timing=False
    )
    assert not row.exported and not row.matches
    assert words in row.reason and "\n" not in row.reason and len(row.reason) <= 160
    assert row.opset is None and row.max_abs_diff is None


def test_fixed_batch_exports_what_a_symbolic_batch_cannot():
    for variant in ("adaptive-avg", "soft"):
        row = check_onnx(
            small(variant), SHAPE, exporter="torchscript", dynamic_batch=False, timing=False
        )
        assert row.exported and row.matches, (variant, row.reason)


@pytest.mark.slow
def test_dynamo_exporter_handles_the_torchscript_traps():
    pytest.importorskip("onnxscript")
    row = check_onnx(small("adaptive-avg"), SHAPE, exporter="dynamo", timing=False)
    assert row.exported and row.matches, row.reason
    assert row.opset is not None and row.opset >= 18


def test_timing_gives_both_latencies():
    row = check_onnx(small("max"), SHAPE, exporter="torchscript", min_run_time=0.02)
    assert row.onnx_ms > 0 and row.torch_ms > 0  # measured, never compared (no timing asserts)


def test_export_check_table_views():
    table = export_check(
        "max,adaptive-avg",
        input_shape="1x16x16",
        num_classes=4,
        exporters="torchscript",
        timing=False,
    )
    assert isinstance(table, ExportTable)
    assert [(r.variant, r.exported) for r in table.rows] == [
        ("max", True),
        ("adaptive-avg", False),
    ]
    assert [r.variant for r in table.failures()] == ["adaptive-avg"]
    assert table.blocked() == ["adaptive-avg"]
    md = table.to_markdown()
    assert "| max | torchscript | yes | 17 |" in md and "dynamic batch" in md
    html = table._repr_html_()
    assert "<table" in html and ">adaptive-avg</td>" in html and "ONNX export of simple" in html
    data = table.to_dict()
    assert data["rows"][1]["reason"] and data["input_shape"] == [1, 16, 16]
    assert "1 exported" in repr(table)


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(PoolstrideError, match="unknown exporter 'jit'"):
        export_check("max", exporters="jit")
    with pytest.raises(PoolstrideError, match="no variants"):
        export_check(" , ")
    with pytest.raises(PoolstrideError):
        export_check("nope", exporters="torchscript")


def test_missing_onnxruntime_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(PoolstrideError, match=r"pip install 'poolstride\[onnx\]'"):
        require_onnx()


def test_one_line_keeps_the_first_line_only():
    err = RuntimeError("Unsupported: op X. Please feel free to request support\ngraph(...)")
    assert one_line(err) == "RuntimeError: Unsupported: op X"
    assert ExportRow("max", "dynamo", False).to_dict()["exported"] is False


def test_command_json_and_exit_code(capsys):
    code = main(
        [
            "export-check",
            "--variants",
            "max,soft",
            "--input",
            "1x16x16",
            "--exporter",
            "torchscript",
            "--no-timing",
            "--format",
            "json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # soft does not export with a symbolic batch under torchscript
    assert [r["exported"] for r in out["rows"]] == [True, False]


def test_command_table(capsys):
    code = main(
        ["export-check", "--variants", "max", "--input", "1x16x16", "--exporter", "torchscript"]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "max (torchscript): exported" in captured.err
    assert "ORT ms" in captured.out and "PyTorch ms" in captured.out
