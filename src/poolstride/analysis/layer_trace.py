"""Record one forward pass as a dataflow graph of torch calls, grouped into layers.

Every call at the ``torch`` / ``torch.nn.functional`` level is seen through a
``TorchFunctionMode``; each output tensor remembers the receptive field computed from the
tensors it was made from, so branches are combined where they actually meet (a residual
``add`` takes the union of its two inputs), whatever the order of the Python code. Module
forward hooks say which module each call belongs to.

Why not only ``torch.fx.symbolic_trace``: it cannot follow data-dependent Python control flow
(poolstride's own operators check input shapes in ``forward``) nor custom autograd functions,
while a recorded forward pass sees exactly what ran. The cost is one real forward pass at batch
size 1 (no gradients).

A *layer* (one row of the profile) is a leaf module, or a poolstride operator taken as a whole
(a module with a ``kind`` attribute: ``blur-max`` is one row, not its three inner calls), or a
call made directly in some ``forward`` (a residual ``add``, ``torch.flatten``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from poolstride.analysis import extent as extents
from poolstride.analysis.ops import SeeAllCalls, arg_tensors, op_cost, window
from poolstride.analysis.receptive_field_graph import Field, op_receptive_field
from poolstride.geometry.receptive_field import ReceptiveField
from poolstride.layers import Downsample, GlobalHead

# Calls that only look at or re-wrap a tensor: never a row of their own (tensors they return
# keep the receptive field of their input).
_QUIET = {
    "__get__",
    "size",
    "dim",
    "numel",
    "contiguous",
    "detach",
    "clone",
    "to",
    "type",
    "float",
    "double",
    "half",
    "cpu",
    "cuda",
    "requires_grad_",
    "__len__",
    "__iter__",
    "__bool__",
    "__format__",
    "__repr__",
    "item",
    "tolist",
    "is_contiguous",
    "stride",
    "storage_offset",
    "data_ptr",
    "__setstate__",
    "__reduce_ex__",
    "element_size",
    "get_device",
    "has_names",
    "__index__",
    "__int__",
    "__hash__",
    "__eq__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "is_floating_point",
    "_is_view",
    "numpy",
    "__array__",
    "dtype",
    "device",
    "shape",
    "ndim",
}


@dataclass
class Call:
    """One recorded torch call (already attributed to a layer)."""

    name: str
    macs: int
    pool_ops: int
    window: object | None
    input_spatial: tuple[int, ...] | None


@dataclass
class Layer:
    """One row in the making: a unit module call or a free-standing torch call."""

    name: str
    type: str
    module: nn.Module | None
    input_shape: tuple[int, ...] | None = None
    output_shape: tuple[int, ...] | None = None
    output_bytes: int = 0
    params: int = 0
    macs: int = 0
    pool_ops: int = 0
    receptive_field: ReceptiveField | None = None
    spatial_axes: tuple[int, ...] | None = None  # where the output's spatial axes are
    extent: object | None = None  # exact per-unit input extents (analysis.extent)
    calls: list[Call] = field(default_factory=list)


def is_operator(module: nn.Module) -> bool:
    """A poolstride downsampling operator or global head (one row, with declared geometry)."""
    return isinstance(module, (Downsample, GlobalHead))


def is_unit(module: nn.Module) -> bool:
    """A module shown as one row: a leaf, or a poolstride operator/head taken whole."""
    return is_operator(module) or not any(True for _ in module.children())


class _Recorder(SeeAllCalls):
    def __init__(self, tracer: Tracer):
        super().__init__()
        self.tracer = tracer

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", None) or str(func)
        self.tracer.record(name, args, kwargs, out, quiet=name in _QUIET)
        return out


class Tracer:
    """Runs the model once and collects :class:`Layer` records in execution order."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.names = {id(m): n for n, m in model.named_modules()}
        self.layers: list[Layer] = []
        self.fields: dict[int, Field] = {}
        self._alive: list[torch.Tensor] = []  # keeps ids unique while the pass runs
        self._stack: list[nn.Module] = []
        self._unit: Layer | None = None
        self._unit_depth = 0

    # -- receptive fields of tensors ------------------------------------------------------
    def field_of(self, tensor: torch.Tensor) -> Field | None:
        """The tensor's :class:`Field`, or None if it does not depend on the input."""
        return self.fields.get(id(tensor))

    def _set_field(self, tensor: torch.Tensor, field: Field) -> None:
        self.fields[id(tensor)] = field
        self._alive.append(tensor)

    # -- module hooks ---------------------------------------------------------------------
    def _pre(self, module, args):
        self._stack.append(module)
        if self._unit is None and is_unit(module):
            x = next((a for a in args if isinstance(a, torch.Tensor)), None)
            self._unit = Layer(
                name=self.names.get(id(module), type(module).__name__) or "(model)",
                type=type(module).__name__,
                module=module,
                input_shape=tuple(x.shape) if x is not None else None,
            )
            self._unit_input = x
            self._unit_depth = len(self._stack)

    def _post(self, module, args, out):
        if (
            self._unit is not None
            and self._unit.module is module
            and len(self._stack) == self._unit_depth
        ):
            layer, self._unit = self._unit, None
            y = _first_tensor_out(out)
            layer.params = sum(p.numel() for p in module.parameters())
            if y is not None:
                layer.output_shape = tuple(y.shape)
                layer.output_bytes = y.numel() * y.element_size()
                declared = self._declared_field(module, self._unit_input, y)
                if declared is not None:
                    self._set_field(y, declared)
                field = self.field_of(y)
                layer.receptive_field = field.rf if field is not None else None
                layer.spatial_axes = field.axes if field is not None else None
                layer.extent = field.extent if field is not None else None
            self.layers.append(layer)
        self._stack.pop()

    def _declared_field(self, module, x, y) -> Field | None:
        """poolstride operators declare their whole-operator window; use it over inner calls."""
        if not is_operator(module) or x is None:
            return None
        field = self.field_of(x)
        if field is None or field.rf is None or field.axes != tuple(range(2, x.ndim)):
            return None
        rf, ext = field.rf, field.extent
        kernel = getattr(module, "kernel_size", None)
        if (
            str(module.kind).startswith("adaptive")
            or kernel is None
            or not isinstance(kernel, tuple)
        ):
            if y.ndim == x.ndim:
                return Field(
                    rf.adaptive(tuple(x.shape[2:]), tuple(y.shape[2:])),
                    field.axes,
                    extents.adaptive(ext, tuple(y.shape[2:])) if ext is not None else None,
                )
            return Field(
                rf.collapse(tuple(x.shape[2:])),
                None,
                extents.collapse(ext) if ext is not None else None,
            )
        geometry = (module.kernel_size, module.stride, module.padding, module.dilation)
        return Field(
            rf.through(*geometry),
            field.axes,
            extents.window(ext, *geometry, tuple(y.shape[2:])) if ext is not None else None,
        )

    # -- calls ----------------------------------------------------------------------------
    def record(self, name: str, args: tuple, kwargs: dict, out, quiet: bool = False) -> None:
        y = _first_tensor_out(out)
        if y is None:
            return
        sources = [t for t in arg_tensors(args, kwargs) if self.field_of(t) is not None]
        depends = bool(sources)
        if quiet:
            if depends and y is not sources[0] and y.shape == sources[0].shape:
                self._set_field(y, self.field_of(sources[0]))
            return
        field = op_receptive_field(name, args, kwargs, y, self.field_of)
        if depends:
            for t in _all_tensors_out(out):
                self._set_field(t, field)
        macs, pool_ops = op_cost(name, args, kwargs, out)
        geometry = window(name, args, kwargs)
        x = next(iter(arg_tensors(args, kwargs)), None)
        spatial = tuple(x.shape[2:]) if geometry is not None and x is not None else None
        call = Call(name, macs, pool_ops, geometry, spatial)
        if self._unit is not None:
            self._unit.macs += macs
            self._unit.pool_ops += pool_ops
            self._unit.calls.append(call)
            return
        if not depends:
            return  # constants built in forward (masks, filters): not a layer of the network
        owner = self._stack[-1] if self._stack else None
        prefix = self.names.get(id(owner), "") if owner is not None else ""
        params = sum(a.numel() for a in (*args, *kwargs.values()) if isinstance(a, nn.Parameter))
        label = name.strip("_")
        self.layers.append(
            Layer(
                name=f"{prefix}.{label}" if prefix else label,
                type=label,
                module=None,
                input_shape=tuple(x.shape) if x is not None else None,
                output_shape=tuple(y.shape),
                output_bytes=y.numel() * y.element_size(),
                params=params,
                macs=macs,
                pool_ops=pool_ops,
                receptive_field=field.rf if depends else None,
                spatial_axes=field.axes if depends else None,
                extent=field.extent if depends else None,
                calls=[call],
            )
        )

    def run(self, x: torch.Tensor):
        self._set_field(x, Field.of_input(x))
        handles = []
        for module in self.model.modules():
            handles.append(module.register_forward_pre_hook(self._pre))
            handles.append(module.register_forward_hook(self._post))
        try:
            with _Recorder(self):
                out = self.model(x)
        finally:
            for h in handles:
                h.remove()
        y = _first_tensor_out(out)
        field = self.field_of(y) if y is not None else None
        return out, (field.rf if field is not None else None)


def _first_tensor_out(out) -> torch.Tensor | None:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            if isinstance(o, torch.Tensor):
                return o
    if isinstance(out, dict):
        for o in out.values():
            if isinstance(o, torch.Tensor):
                return o
    return None


def _all_tensors_out(out):
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, (tuple, list)):
        yield from (o for o in out if isinstance(o, torch.Tensor))
