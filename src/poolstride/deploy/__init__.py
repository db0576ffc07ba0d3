"""Deployability: does each downsampling variant export to ONNX and run in onnxruntime?

Modules: ``onnx_check`` (one model: export with ``torch.onnx.export``, run in onnxruntime,
compare with PyTorch, time both on the CPU), ``export_table`` (every variant of a model:
:func:`export_check` and its :class:`ExportTable`).

onnx and onnxruntime are an optional dependency (``pip install 'poolstride[onnx]'``); they
are imported when a check runs, so ``import poolstride.deploy`` needs neither.
"""

from __future__ import annotations

from poolstride.lazy import lazy_exports

_LAZY = {
    **dict.fromkeys(("check_onnx", "ExportRow", "EXPORTERS"), "poolstride.deploy.onnx_check"),
    **dict.fromkeys(("export_check", "ExportTable"), "poolstride.deploy.export_table"),
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
