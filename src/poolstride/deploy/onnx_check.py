"""Export one model to ONNX, run it in onnxruntime, and compare it with PyTorch.

:func:`check_onnx` answers, for one ``nn.Module`` and one exporter, the questions a
practitioner asks before shipping a downsampling choice: did ``torch.onnx.export`` accept it,
with which opset, does onnxruntime run the graph, how far are its outputs from PyTorch's on
random inputs (max absolute difference), and how fast is it on the CPU beside PyTorch eager.

Two exporters, both ``torch.onnx.export``:

- ``dynamo`` (``dynamo=True``, PyTorch's default since 2.9): ``torch.export`` then
  onnxscript's translation; needs the ``onnxscript`` package.
- ``torchscript`` (``dynamo=False``): the older tracing exporter, opset 17 here. It fails on
  shapes computed from the input (adaptive pooling to ``size // factor``) and on
  ``Tensor.unfold`` with traced sizes (``soft``).

The numba kernels never enter an exported graph: :func:`poolstride.kernels.fast_path_reason`
sends every call made while tracing, compiling or under a dispatch mode (``torch.export``'s
fake tensors) to PyTorch's own ops. :func:`check_onnx` records the kernels' dispatch log
during the export and fails the row if any call was served by a poolstride kernel.

Latency: ``torch.utils.benchmark.Timer`` (median of ``blocked_autorange``), one thread for
both, the same input; PyTorch runs eagerly with the poolstride kernels as trained.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.kernels import dispatch_log

#: ``torch.onnx.export`` modes: ``dynamo=True`` and ``dynamo=False``.
EXPORTERS: tuple[str, ...] = ("dynamo", "torchscript")

#: The opset asked of the TorchScript exporter (the dynamo one picks its own).
TORCHSCRIPT_OPSET = 17

#: A max |Δ| above this (float32 logits) marks a row as "differs".
TOLERANCE = 1e-4

INSTALL_HINT = "export-check needs onnx and onnxruntime: pip install 'poolstride[onnx]'"


@dataclasses.dataclass(frozen=True)
class ExportRow:
    """The export check of one model with one exporter.

    ``exported``: ``torch.onnx.export`` produced a graph *and* onnxruntime ran it.
    ``reason``: one line saying why not (or why the outputs differ); ``""`` when fine.
    ``max_abs_diff``: max |onnxruntime - PyTorch| over the logits of a random batch.
    ``onnx_ms`` / ``torch_ms``: median CPU latency of one batch, one thread.
    """

    variant: str
    exporter: str
    exported: bool
    opset: int | None = None
    max_abs_diff: float | None = None
    onnx_ms: float | None = None
    torch_ms: float | None = None
    reason: str = ""

    @property
    def matches(self) -> bool:
        """Exported, and the outputs agree with PyTorch within :data:`TOLERANCE`."""
        return self.exported and self.max_abs_diff is not None and self.max_abs_diff <= TOLERANCE

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def require_onnx():
    """``(onnx, onnxruntime)``, or a one-line PoolstrideError with the install hint."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise PoolstrideError(INSTALL_HINT) from None
    return onnx, onnxruntime


def one_line(err: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    for tail in (" Please feel free to request support", " Please report a bug"):
        text = text.split(tail)[0]
    text = text.rstrip(". ")
    text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """Send Python's and the C++ side's stdout and stderr to /dev/null inside the block."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.flush()
    saved = []
    try:
        with open(os.devnull, "w") as null:
            for fd in (1, 2):
                try:
                    saved.append((fd, os.dup(fd)))
                    os.dup2(null.fileno(), fd)
                except OSError:  # no such descriptor (embedded interpreters): leave it
                    continue
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)


def export_onnx(
    model: nn.Module, example: torch.Tensor, exporter: str, dynamic_batch: bool = True
) -> bytes:
    """The serialized ONNX model of ``model`` traced on ``example``.

    ``dynamic_batch``: the graph's batch dimension is symbolic (``dynamic_axes``), as a
    deployed model usually needs; off, the graph is specialised to ``example``'s batch.

    Raises whatever the exporter raises; :class:`PoolstrideError` for an unknown exporter or a
    missing ``onnxscript`` (the dynamo exporter's translator).
    """
    if exporter not in EXPORTERS:
        raise PoolstrideError(f"unknown exporter {exporter!r}; valid: {', '.join(EXPORTERS)}")
    names = {"input_names": ["input"], "output_names": ["logits"]}
    if dynamic_batch:
        names["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
    # The exporters print progress and, on failure, the whole traced graph (from C++, to file
    # descriptor 2): keep it off the terminal; the row's reason says why in one line.
    with warnings.catch_warnings(), _silenced():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            try:
                import onnxscript  # noqa: F401 - torch.onnx's dynamo exporter needs it
            except ImportError:
                raise PoolstrideError(
                    "the dynamo exporter needs onnxscript: pip install 'poolstride[onnx]'"
                ) from None
            program = torch.onnx.export(model, (example,), dynamo=True, verbose=False, **names)
            return program.model_proto.SerializeToString()
        buffer = io.BytesIO()
        torch.onnx.export(
            model,
            (example,),
            buffer,
            dynamo=False,
            opset_version=TORCHSCRIPT_OPSET,
            **names,
        )
        return buffer.getvalue()


def _opset(onnx, serialized: bytes) -> int | None:
    proto = onnx.load_model_from_string(serialized)
    for entry in proto.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return None


def _median_ms(fn, min_run_time: float) -> float:
    from torch.utils.benchmark import Timer

    measurement = Timer(stmt="fn()", globals={"fn": fn}, num_threads=1).blocked_autorange(
        min_run_time=min_run_time
    )
    return measurement.median * 1e3


def check_onnx(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    exporter: str = "dynamo",
    variant: str | None = None,
    batch: int = 1,
    dynamic_batch: bool = True,
    seed: int = 0,
    timing: bool = True,
    min_run_time: float = 0.2,
) -> ExportRow:
    """Export ``model`` (in eval mode) with ``exporter``; run, compare and time it.

    Args:
        model: any module mapping ``(batch, *input_shape)`` to one tensor.
        input_shape: the input without the batch dimension, e.g. ``(3, 32, 32)``.
        exporter: ``"dynamo"`` or ``"torchscript"`` (:data:`EXPORTERS`).
        variant: the label of the row (default: ``model.variant`` or ``model.kind``).
        batch: batch size of the example the graph is traced on, and of the timing.
        dynamic_batch: export a symbolic batch dimension; the comparison then also runs a
            batch of ``batch + 1``, so a graph that baked the batch in fails the check.
        seed: seed of the random input (standard normal).
        timing: measure latencies (off: ``onnx_ms``/``torch_ms`` stay None).
        min_run_time: seconds each latency measurement runs for at least.

    Returns:
        An :class:`ExportRow`; a model that cannot export gives ``exported=False`` and the
        exporter's error as one line in ``reason`` (never an exception).
    """
    onnx, ort = require_onnx()
    label = variant or getattr(model, "variant", None) or getattr(model, "kind", None) or "model"
    model = model.eval()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *input_shape, generator=generator)
    inputs = [x]
    if dynamic_batch:
        inputs.append(torch.randn(batch + 1, *input_shape, generator=generator))
    with torch.inference_mode():
        expected = [model(t) for t in inputs]  # also loads the numba kernels before timing
    row = {"variant": str(label), "exporter": exporter}
    try:
        with dispatch_log() as calls:
            serialized = export_onnx(model, x, exporter, dynamic_batch)
    except PoolstrideError:
        raise
    except Exception as err:  # the exporter's own errors: the row says why, in one line
        return ExportRow(**row, exported=False, reason=one_line(err))
    leaked = [c for c in calls if c["kernel"] != "pytorch"]
    if leaked:  # pragma: no cover - fast_path_reason sends traced calls to PyTorch
        return ExportRow(
            **row,
            exported=False,
            reason=f"a numba kernel ({leaked[0]['kernel']}) served a call during export",
        )
    opset = _opset(onnx, serialized)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        got = [session.run(None, {name: t.numpy()})[0] for t in inputs]
    except Exception as err:  # exported, but onnxruntime rejects or fails the graph
        return ExportRow(**row, exported=False, opset=opset, reason="onnxruntime: " + one_line(err))
    diff = max(float((torch.from_numpy(g) - e).abs().max()) for g, e in zip(got, expected))
    feed = {name: x.numpy()}
    reason = "" if diff <= TOLERANCE else f"outputs differ from PyTorch (max |Δ| {diff:.2g})"
    onnx_ms = torch_ms = None
    if timing:
        onnx_ms = _median_ms(lambda: session.run(None, feed), min_run_time)

        def eager():
            with torch.inference_mode():
                model(x)

        torch_ms = _median_ms(eager, min_run_time)
    return ExportRow(
        **row,
        exported=True,
        opset=opset,
        max_abs_diff=diff,
        onnx_ms=onnx_ms,
        torch_ms=torch_ms,
        reason=reason,
    )
