"""Export checks of every variant of one model: :func:`export_check` -> :class:`ExportTable`.

Each variant's model is built by :func:`poolstride.models.build_model` (untrained weights: the
export question does not depend on them) and checked with every exporter asked for by
:func:`~poolstride.deploy.onnx_check.check_onnx`. The table prints in the terminal (rich),
as Markdown and JSON, and renders in a notebook (``_repr_html_``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from poolstride.deploy.onnx_check import EXPORTERS, TOLERANCE, ExportRow, check_onnx, require_onnx
from poolstride.errors import PoolstrideError, unknown
from poolstride.geometry.shape_strings import format_shape, parse_shape
from poolstride.layers.kinds import KINDS
from poolstride.models import build_model
from poolstride.notebook import html_table

COLUMNS = ("variant", "exporter", "exported", "opset", "max |Δ|", "ORT ms", "PyTorch ms", "why not")


def _variants(variants: str | Iterable[str] | None) -> list[str]:
    if variants is None:
        return list(KINDS)
    if isinstance(variants, str):
        variants = variants.split(",")
    out = [str(v).strip() for v in variants if str(v).strip()]
    if not out:
        raise PoolstrideError("no variants given; e.g. --variants max,avg,conv")
    return out


def _exporters(exporters: str | Iterable[str]) -> list[str]:
    if isinstance(exporters, str):
        exporters = exporters.split(",")
    out = [str(e).strip() for e in exporters if str(e).strip()]
    for name in out:
        if name not in EXPORTERS:
            raise unknown("exporter", name, EXPORTERS)
    if not out:
        raise PoolstrideError(f"no exporter given; valid: {', '.join(EXPORTERS)}")
    return out


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


@dataclasses.dataclass(frozen=True)
class ExportTable:
    """The rows of :func:`export_check`, one per (variant, exporter)."""

    model: str
    input_shape: tuple[int, ...]
    batch: int
    dynamic_batch: bool
    rows: tuple[ExportRow, ...]

    @property
    def caption(self) -> str:
        return (
            f"ONNX export of {self.model} ({format_shape(self.input_shape)}, "
            f"{'dynamic batch' if self.dynamic_batch else 'fixed batch'}, timed at batch "
            f"{self.batch}), "
            f"torch {torch.__version__.split('+')[0]}; max |Δ| vs PyTorch on a random input "
            f"(tolerance {TOLERANCE:g}); CPU latency = median, 1 thread"
        )

    def cells(self, row: ExportRow) -> tuple[str, ...]:
        return (
            row.variant,
            row.exporter,
            "yes" if row.exported else "no",
            _num(row.opset, "d"),
            _num(row.max_abs_diff, ".1e"),
            _num(row.onnx_ms, ".3f"),
            _num(row.torch_ms, ".3f"),
            row.reason,
        )

    def failures(self) -> list[ExportRow]:
        """Rows that did not export, or whose outputs differ from PyTorch."""
        return [r for r in self.rows if not r.matches]

    def blocked(self) -> list[str]:
        """Variants that no exporter asked for could export with matching outputs."""
        fine = {r.variant for r in self.rows if r.matches}
        return list(dict.fromkeys(r.variant for r in self.rows if r.variant not in fine))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "batch": self.batch,
            "dynamic_batch": self.dynamic_batch,
            "torch": torch.__version__,
            "tolerance": TOLERANCE,
            "rows": [r.to_dict() for r in self.rows],
        }

    def to_markdown(self) -> str:
        lines = [
            "| " + " | ".join(COLUMNS) + " |",
            "|" + "|".join("---" for _ in COLUMNS) + "|",
        ]
        for row in self.rows:
            cells = [c.replace("|", "\\|") for c in self.cells(row)]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + f"\n\n{self.caption}\n"

    def to_rich(self):
        from rich.table import Table  # imported on use: only the terminal view needs rich

        table = Table(caption=self.caption, caption_justify="left")
        for name in COLUMNS:
            numeric = name in ("opset", "max |Δ|", "ORT ms", "PyTorch ms")
            table.add_column(name, justify="right" if numeric else "left", overflow="fold")
        for row in self.rows:
            cells = list(self.cells(row))
            cells[2] = "[green]yes[/]" if row.exported else "[red]no[/]"
            table.add_row(*cells)
        return table

    def _repr_html_(self) -> str:
        return html_table(
            COLUMNS,
            (self.cells(r) for r in self.rows),
            title=f"ONNX export of {self.model}",
            caption=self.caption,
            right=(3, 4, 5, 6),
        )

    def __repr__(self) -> str:
        ok = sum(r.exported for r in self.rows)
        return f"ExportTable({self.model}, {len(self.rows)} rows, {ok} exported)"


def export_check(
    variants: str | Sequence[str] | None = None,
    *,
    model: str = "simple",
    input_shape: str | Sequence[int] = (3, 32, 32),
    num_classes: int = 10,
    exporters: str | Sequence[str] = EXPORTERS,
    batch: int = 1,
    dynamic_batch: bool = True,
    timing: bool = True,
    min_run_time: float = 0.2,
    progress: Callable[[ExportRow], None] | None = None,
) -> ExportTable:
    """Export ``model`` built with each variant to ONNX; run, compare and time it.

    Args:
        variants: variant strings (``"max,conv:k3"`` or a list); default every kind.
        model: a :data:`poolstride.models.MODELS` name.
        input_shape: ``(C, H, W)`` / ``(C, L)`` or ``"3x32x32"``.
        num_classes: outputs of the classifier.
        exporters: ``"dynamo"``, ``"torchscript"`` or both (default both).
        batch: batch size of the traced example and of the timing.
        dynamic_batch: export a symbolic batch dimension (checked with a second batch size).
        timing: measure CPU latency in onnxruntime and PyTorch.
        min_run_time: seconds each latency measurement runs for at least.
        progress: called with each row when it is done.

    Returns:
        An :class:`ExportTable`; variants that cannot export are rows with the reason.
    """
    require_onnx()  # fail before building anything
    shape = parse_shape(input_shape)
    names = _variants(variants)
    chosen = _exporters(exporters)
    if int(batch) < 1:
        raise PoolstrideError(f"batch must be >= 1, got {batch}")
    built = {}
    for variant in names:  # build every model first: a bad variant fails before any export
        torch.manual_seed(0)
        built[variant] = build_model(model, variant, shape, num_classes)
    rows = []
    for variant, module in built.items():
        for exporter in chosen:
            row = check_onnx(
                module,
                shape,
                exporter=exporter,
                variant=variant,
                batch=int(batch),
                dynamic_batch=dynamic_batch,
                timing=timing,
                min_run_time=min_run_time,
            )
            rows.append(row)
            if progress is not None:
                progress(row)
    return ExportTable(
        model=model,
        input_shape=shape,
        batch=int(batch),
        dynamic_batch=dynamic_batch,
        rows=tuple(rows),
    )
