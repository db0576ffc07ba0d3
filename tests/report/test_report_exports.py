"""The report's "exports to ONNX" column: one real export per variant (TorchScript, then
dynamo where it fails), or a note saying how to get it when onnx is missing."""

from __future__ import annotations

import html
import importlib.util

import pytest

from poolstride.deploy.onnx_check import ExportRow
from poolstride.report import exports
from poolstride.report.write import write_report

HAS_ONNX = exports.onnx_available()


def _results_row(page: str, variant: str) -> str:
    section = page.split('id="results"', 1)[1].split("</table>", 1)[0]
    return next(r for r in section.split("<tr")[1:] if f">{variant}<" in r or f"{variant}</" in r)


@pytest.mark.slow  # one dynamo export: ~10 s on two cores
@pytest.mark.skipif(not HAS_ONNX, reason="onnx/onnxruntime not installed")
def test_report_has_an_export_column_from_real_exports(make_run, tmp_path, monkeypatch):
    run = make_run(tmp_path / "run", variants=("max", "adaptive-avg", "conv"), seeds=(0, 1))
    calls = []
    real = exports.check_onnx
    monkeypatch.setattr(exports, "_CHECKED", {})
    monkeypatch.setattr(
        exports, "check_onnx", lambda *a, **k: calls.append(k["exporter"]) or real(*a, **k)
    )
    page = html.unescape(write_report(run, profiles=False).read_text())
    assert "exports to ONNX" in page
    assert "yes (opset 17)" in _results_row(page, "max")
    assert "yes (opset 17)" in _results_row(page, "conv")
    # TorchScript cannot export adaptive pooling under a symbolic batch; dynamo can
    assert "yes (dynamo only, opset" in _results_row(page, "adaptive-avg")
    assert calls == ["torchscript", "torchscript", "dynamo", "torchscript"]  # once per variant
    markdown = (run / "report.md").read_text()
    assert "| exports to ONNX |" in markdown and "dynamo only" in markdown
    assert "TorchScript first, dynamo where that fails" in markdown
    write_report(run, profiles=False)  # the same models again: nothing exported twice
    assert len(calls) == 4


def test_without_onnx_the_column_is_a_note(make_run, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "onnx" else real(n, *a)
    )
    run = make_run(tmp_path / "run", variants=("max", "conv"), seeds=(0, 1))
    page = html.unescape(write_report(run, profiles=False).read_text())
    assert "exports to ONNX" not in page
    assert "Export to ONNX not checked" in page and "pip install 'poolstride[onnx]'" in page
    assert "Export to ONNX not checked" in (run / "report.md").read_text()


def test_the_report_can_leave_the_column_out(make_run, tmp_path):
    run = make_run(tmp_path / "run", variants=("max", "conv"), seeds=(0, 1))
    page = write_report(run, profiles=False, exports=False).read_text()
    assert "exports to ONNX" not in page and "Export to ONNX" not in page


@pytest.mark.parametrize(
    "rows, text",
    [
        ([ExportRow("max", "torchscript", True, 17, 1e-8)], "yes (opset 17)"),
        (
            [
                ExportRow("soft", "torchscript", False, reason="SymbolicValueError: Unfold"),
                ExportRow("soft", "dynamo", True, 20, 1e-8),
            ],
            "yes (dynamo only, opset 20)",
        ),
        (
            [
                ExportRow("x", "torchscript", True, 17, 0.5),
                ExportRow("x", "dynamo", False, reason="boom"),
            ],
            "outputs differ (max |Δ| 5.0e-01, torchscript)",
        ),
        (
            [
                ExportRow("x", "torchscript", False, reason="a"),
                ExportRow("x", "dynamo", False, reason="RuntimeError: no"),
            ],
            "no: RuntimeError: no",
        ),
    ],
)
def test_cell_text(rows, text):
    assert exports.cell(rows) == text
