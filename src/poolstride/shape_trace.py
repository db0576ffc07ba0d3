"""Run a model once and record, per module path, the shapes it saw (forward hooks).

Surgery compares these records before and after a rewrite: every module path present in both
models must produce the same output shape. A failing forward pass is reported with the path
of the innermost module that raised, so "input too small" errors name the layer -- which is
why the model zoo checks every model it loads with it. It needs nothing of poolstride but
errors and shape strings, so it sits below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from poolstride.errors import PoolstrideError
from poolstride.geometry.shape_strings import format_shape

Shape = tuple[int, ...]


def shape_of(value) -> Shape | tuple | None:
    """Shape of a tensor, tuple of shapes for a tuple/list of tensors, None otherwise."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        return tuple(shape_of(v) for v in value)
    if hasattr(value, "_fields"):  # namedtuples (GoogLeNetOutputs, ...)
        return tuple(shape_of(v) for v in value)
    return None


@dataclass
class Trace:
    """Per-path calls in execution order: ``calls[path] = [(input_shape, output_shape), ...]``."""

    calls: dict[str, list[tuple]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # paths in order of first call
    output: Shape | tuple | None = None
    # Strided pooling / convolution *functions* called in forward(), with the innermost module
    # that called them: ``(path, function name, stride)``. Module surgery cannot reach these
    # unless the calling module is itself a site.
    functional: list[tuple[str, str, tuple[int, ...]]] = field(default_factory=list)

    def input_shape(self, path: str) -> Shape | tuple | None:
        return self.calls[path][0][0]

    def output_shape(self, path: str) -> Shape | tuple | None:
        return self.calls[path][0][1]


# name -> (index of the stride argument, index of the kernel argument it defaults to or None)
_STRIDED_FUNCTIONS = {
    **{f"max_pool{d}d": (2, 1) for d in (1, 2, 3)},
    **{f"max_pool{d}d_with_indices": (2, 1) for d in (1, 2, 3)},
    **{f"avg_pool{d}d": (2, 1) for d in (1, 2, 3)},
    **{f"lp_pool{d}d": (3, 2) for d in (1, 2, 3)},
    **{f"conv{d}d": (3, None) for d in (1, 2, 3)},
}


class _FunctionalDownsampling(TorchFunctionMode):
    """Records strided pooling/convolution function calls with the calling module's path."""

    def __init__(self, stack: list, records: list) -> None:
        super().__init__()
        self.stack, self.records = stack, records

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in _STRIDED_FUNCTIONS:
            at, default = _STRIDED_FUNCTIONS[name]
            stride = kwargs.get("stride", args[at] if len(args) > at else None)
            if stride is None and default is not None:
                stride = kwargs.get("kernel_size", args[default] if len(args) > default else 1)
            stride = tuple(stride) if isinstance(stride, (tuple, list)) else (stride or 1,)
            if max(stride) > 1:
                path = self.stack[-1][0] if self.stack else ""
                self.records.append((path, name, stride))
        return func(*args, **kwargs)


def trace_shapes(model: nn.Module, example: torch.Tensor, *, what: str = "model") -> Trace:
    """Forward ``example`` through ``model`` in eval mode under ``no_grad``; record shapes.

    The model's train/eval flags are restored afterwards. An error inside the forward
    pass becomes a one-line :class:`PoolstrideError` naming the innermost module that raised
    (typically a pooling window larger than what is left of the feature map).
    """
    trace = Trace()
    stack: list[tuple[str, nn.Module, object]] = []  # modules entered, not yet left
    handles = []

    def pre_hook(path):
        def hook(module, args):
            stack.append((path, module, shape_of(args[0]) if args else None))

        return hook

    def post_hook(path):
        def hook(module, args, output):
            stack.pop()
            first = args[0] if args else None
            if path not in trace.calls:
                trace.calls[path] = []
                trace.order.append(path)
            trace.calls[path].append((shape_of(first), shape_of(output)))

        return hook

    for path, module in model.named_modules():
        if path == "":
            continue
        handles.append(module.register_forward_pre_hook(pre_hook(path)))
        handles.append(module.register_forward_hook(post_hook(path)))
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad(), _FunctionalDownsampling(stack, trace.functional):
            trace.output = shape_of(model(example))
    except (RuntimeError, AssertionError, ValueError, IndexError) as err:
        size = format_shape(tuple(example.shape[1:]))
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if not stack:
            raise PoolstrideError(f"{what} fails on input {size}: {message}") from None
        path, module, seen = stack[-1]
        if "too small" in message or "greater than" in message:
            message = "the feature map is too small for this layer (input too small)"
        raise PoolstrideError(
            f"{what} fails on input {size} at {path!r} ({type(module).__name__} receiving "
            f"{format_shape(seen)}): {message}"
        ) from None
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    return trace


def zeros_like_model(module: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    """Zeros of ``shape`` on the device, and with the floating dtype, of ``module``'s tensors."""
    for tensor in (*module.parameters(), *module.buffers()):
        dtype = tensor.dtype if tensor.is_floating_point() else torch.float32
        return torch.zeros(shape, device=tensor.device, dtype=dtype)
    return torch.zeros(shape)
