"""The report's "exports to ONNX" column: does each variant's model export and run?

One check per variant, not per seed (the weights do not decide it): the variant's first
finished run's model is rebuilt untrained (:func:`poolstride.report.run.rebuild_model`) and
checked with :func:`poolstride.deploy.check_onnx`, without timing. The TorchScript exporter
goes first (under a second for a small model); only a variant it cannot export is tried with
the dynamo exporter (several seconds), so the column says which exporter works. Without onnx
and onnxruntime the column is left out and :attr:`ExportColumn.note` says how to add it.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from poolstride.deploy.onnx_check import ExportRow, check_onnx
from poolstride.report.run import RunData, rebuild_model


@dataclass(frozen=True)
class ExportColumn:
    """``cells``: variant -> its cell (empty when the check was skipped); ``note``: the
    method, or why the column is missing."""

    cells: Mapping[str, str] = field(default_factory=dict)
    note: str = ""


def onnx_available() -> bool:
    """onnx and onnxruntime are importable (the ``poolstride[onnx]`` extra)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


def export_column(data: RunData) -> ExportColumn:
    """The column for ``data``'s variants (see the module docstring)."""
    if not onnx_available():
        return ExportColumn(
            note="Export to ONNX not checked: onnx and onnxruntime are not installed "
            "(pip install 'poolstride[onnx]', then `poolstride report RUN_DIR`)."
        )
    cells: dict[str, str] = {}
    shapes: dict = {}
    for variant in data.variants:
        runs = data.runs_of(variant)
        if not runs:
            cells[variant] = "–"
            continue
        key = _model_key(runs[0])
        if key not in _CHECKED:
            try:
                model, input_shape = rebuild_model(runs[0], shapes)
            except Exception as err:  # noqa: BLE001 - one variant's cell must not sink the report
                cells[variant] = f"not checked: {_first_line(err)}"
                continue
            _CHECKED[key] = cell(_check(model, input_shape, variant))
        cells[variant] = _CHECKED[key]
    return ExportColumn(
        cells,
        "Exports to ONNX: each variant's model (untrained, batch dimension symbolic) exported "
        "with torch.onnx.export — TorchScript first, dynamo where that fails — run in "
        "onnxruntime and compared with PyTorch on a random input; `poolstride export-check` "
        "adds latencies.",
    )


#: cells already computed in this process, by what decides the model (a report written again
#: after a resumed grid, or many reports of one grid's variants, export each model once)
_CHECKED: dict[str, str] = {}


def _model_key(rec) -> str:
    """What decides a run's model: its config less the seed and the settings outside it, its
    data shape and width, and the torch version."""
    config = {k: v for k, v in rec.config.items() if k not in ("seed", "tensorboard_dir")}
    metrics = {k: rec.metrics.get(k) for k in ("input_shape", "num_classes", "width")}
    return json.dumps([config, metrics, torch.__version__], sort_keys=True, default=str)


def _check(model, input_shape, variant: str) -> list[ExportRow]:
    first = check_onnx(model, input_shape, exporter="torchscript", variant=variant, timing=False)
    if first.matches:
        return [first]
    return [first, check_onnx(model, input_shape, exporter="dynamo", variant=variant, timing=False)]


def cell(rows: list[ExportRow]) -> str:
    """``"yes (opset 17)"``, ``"dynamo only (opset 20)"``, ``"outputs differ (...)"`` or
    ``"no: <why>"`` from the checks of one variant (TorchScript first)."""
    ok = next((r for r in rows if r.matches), None)
    if ok is not None:
        exporter = "" if ok is rows[0] else f"{ok.exporter} only, "
        return f"yes ({exporter}opset {ok.opset})"
    differ = next((r for r in rows if r.exported), None)
    if differ is not None:
        return f"outputs differ (max |Δ| {differ.max_abs_diff:.1e}, {differ.exporter})"
    return f"no: {rows[-1].reason}"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


__all__ = ["ExportColumn", "cell", "export_column", "onnx_available"]
