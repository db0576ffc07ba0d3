"""``profile(model, input_shape)``: a per-layer table of shapes, params, MACs, pooling ops,
activation memory and receptive fields, with totals.

>>> import torchvision
>>> table = profile(torchvision.models.resnet18(), (3, 64, 64))
>>> table.totals.params
11689512

Convention (printed with every table: :data:`poolstride.analysis.ops.CONVENTION`, where
fvcore's, ptflops' and torchvision's counts are reconciled): MACs are multiply-accumulates of
conv / linear / matmul layers (bias additions not counted; FLOPs = 2 × MACs, the count of
``torch.utils.flop_counter.FlopCounterMode``); pooling is one operation per window element per
output; memory is the bytes of each layer's output at the profiled batch size, none for a
module that returns its input untouched (``Identity``); receptive fields are combined over the
traced graph (union over branches) — see :mod:`poolstride.analysis.layer_trace`.

Models by name (:func:`resolve_model`): ``torchvision:NAME`` (built with ``weights=None``,
nothing downloaded), ``timm:NAME`` when timm is installed, or a spec string such as
``"conv3-32, max2, gap, fc-10"`` (:mod:`poolstride.layers.spec`).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from poolstride.analysis.layer_trace import Layer, Tracer, is_operator
from poolstride.analysis.ops import CONVENTION
from poolstride.errors import PoolstrideError
from poolstride.geometry.lint import receptive_field_warnings, window_warnings
from poolstride.geometry.receptive_field import ReceptiveField
from poolstride.geometry.shape_strings import parse_shape
from poolstride.layers.spec import build_spec, parse_spec, spec_shapes
from poolstride.notebook import html_table
from poolstride.zoo import load_model, native_input_shape, zoo_names

__all__ = ["CONVENTION", "LayerRow", "Totals", "ProfileTable", "profile", "resolve_model"]


@dataclass
class LayerRow:
    """One layer of the table (``receptive_field`` is None when unknown or not spatial)."""

    name: str
    type: str
    kind: str | None
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    params: int
    macs: int
    pool_ops: int
    activation_bytes: int
    receptive_field: ReceptiveField | None
    warnings: list[str] = field(default_factory=list)
    spatial_axes: tuple[int, ...] | None = None  # output dims that are the input's spatial axes
    # Exact first/last input index seen by each unit, per axis (see poolstride.analysis.extent).
    extent: object | None = field(default=None, repr=False, compare=False)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "extent"}
        d["receptive_field"] = (
            self.receptive_field.to_dict() if self.receptive_field is not None else None
        )
        d["spatial_axes"] = list(self.spatial_axes) if self.spatial_axes is not None else None
        d["input_shape"] = list(self.input_shape) if self.input_shape else None
        d["output_shape"] = list(self.output_shape) if self.output_shape else None
        d["flops"] = self.flops
        return d


@dataclass(frozen=True)
class Totals:
    """Whole-model numbers (params counted once even if a module is used twice)."""

    params: int
    trainable_params: int
    param_bytes: int
    macs: int
    pool_ops: int
    activation_bytes: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...] | None
    receptive_field: ReceptiveField | None

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_dict(self) -> dict:
        d = asdict(self)
        d["receptive_field"] = (
            self.receptive_field.to_dict() if self.receptive_field is not None else None
        )
        d["input_shape"] = list(self.input_shape)
        d["output_shape"] = list(self.output_shape) if self.output_shape else None
        d["flops"] = self.flops
        return d


@dataclass
class ProfileTable:
    """Rows in execution order plus totals; ``str(table)`` is the Markdown form."""

    model: str
    rows: list[LayerRow]
    totals: Totals
    batch_size: int = 1
    convention: str = CONVENTION
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "batch_size": self.batch_size,
            "convention": self.convention,
            "rows": [r.to_dict() for r in self.rows],
            "totals": self.totals.to_dict(),
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        header = "| layer | type | output | params | MACs | pool ops | memory | RF |"
        lines = [
            f"**{self.model}** — input {_shape(self.totals.input_shape)}, batch {self.batch_size}",
            "",
            header,
            "|---|---|---|---:|---:|---:|---:|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.name} | {r.kind or r.type} | {_shape(r.output_shape)} | {r.params:,} | {r.macs:,} | "
                f"{r.pool_ops:,} | {human_bytes(r.activation_bytes)} | {r.receptive_field or ''} |"
            )
        t = self.totals
        lines.append(
            f"| **total** | | {_shape(t.output_shape)} | {t.params:,} | {t.macs:,} | {t.pool_ops:,} | "
            f"{human_bytes(t.activation_bytes)} | {t.receptive_field or ''} |"
        )
        lines += [
            "",
            f"{human_count(t.macs)} MACs = {human_count(t.flops)} FLOPs; {human_count(t.params)} params "
            f"({human_bytes(t.param_bytes)}).",
            "",
            f"Convention: {self.convention}.",
        ]
        warnings = [f"- {r.name}: {w}" for r in self.rows for w in r.warnings]
        if warnings:
            lines += ["", "Warnings:", *warnings]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    __str__ = to_markdown

    def __repr__(self) -> str:
        return f"<ProfileTable {self.model}: {len(self.rows)} layers; {self.summary()}>"

    def _repr_html_(self) -> str:
        """The table in a notebook: one row per layer, the total, the convention."""
        header = ["layer", "type", "output", "params", "MACs", "pool ops", "memory", "RF", "jump"]
        body = self.cell_rows()
        caption = [self.summary(), f"Convention: {self.convention}."]
        caption += [f"warning: {r.name}: {w}" for r in self.rows for w in r.warnings]
        caption += [f"note: {n}" for n in self.notes]
        return html_table(
            header,
            body,
            title=f"{self.model} — input {_shape(self.totals.input_shape)}, batch {self.batch_size}",
            caption="\n".join(caption),
            right=(3, 4, 5, 6, 8),
            bold_last=True,
        )

    def cell_rows(self, *, per_input: bool = False, memory: bool = True) -> list[list[str]]:
        """Every layer, then the total, as display strings: layer, type, output, params,
        MACs, pool ops, [memory,] RF, jump. ``per_input`` drops the batch dimension of the
        layers' output shapes (the totals never carry it)."""
        entries = [(r.name, r.kind or r.type, r, r.output_shape) for r in self.rows]
        for i, (name, kind, r, shape) in enumerate(entries):
            if per_input and shape:
                entries[i] = (name, kind, r, shape[1:])
        t = self.totals
        entries.append(("total", "", t, t.output_shape))
        return [
            [
                name,
                kind,
                _shape(shape),
                f"{e.params:,}",
                f"{e.macs:,}",
                f"{e.pool_ops:,}",
                *([human_bytes(e.activation_bytes)] if memory else []),
                str(e.receptive_field) if e.receptive_field else "",
                _jump(e.receptive_field),
            ]
            for name, kind, e, shape in entries
        ]

    def to_rich(self, checks: dict | None = None, title: str | None = None):
        """A ``rich.table.Table`` (``checks``: row name -> measured-RF verdict text)."""
        # imported on use: only terminal output needs rich
        from rich.table import Table

        table = Table(
            title=title
            or f"{self.model} — input {_shape(self.totals.input_shape)}, batch {self.batch_size}",
            caption=f"Convention: {self.convention}",
            caption_justify="left",
        )
        for col, justify in (
            ("layer", "left"),
            ("type", "left"),
            ("output", "left"),
            ("params", "right"),
            ("MACs", "right"),
            ("pool ops", "right"),
            ("memory", "right"),
            ("RF", "left"),
            ("jump", "right"),
        ):
            table.add_column(col, justify=justify, no_wrap=col in ("layer", "output"))
        if checks is not None:
            table.add_column("RF measured", justify="left")
        *rows, total = self.cell_rows()
        for r, cells in zip(self.rows, rows):
            if checks is not None:
                cells.append(checks.get(r.name, ""))
            table.add_row(*cells, style="yellow" if r.warnings else None)
        cells = total
        table.add_section()
        table.add_row(*cells, *([""] if checks is not None else []), style="bold")
        return table

    def summary(self) -> str:
        """One line: params, MACs, FLOPs, pooling ops, activation memory."""
        t = self.totals
        return (
            f"{human_count(t.params)} params ({human_bytes(t.param_bytes)}), {human_count(t.macs)} MACs = "
            f"{human_count(t.flops)} FLOPs, {human_count(t.pool_ops)} pool ops, "
            f"{human_bytes(t.activation_bytes)} activations at batch {self.batch_size}"
        )

    def grouped(self, depth: int) -> ProfileTable:
        """Rows merged by the first ``depth`` parts of their names (``layer1.0.conv1`` -> ``layer1``).

        Contiguous rows with the same prefix become one: costs and memory add up, the output
        shape and receptive field are the last row's (the group's output).
        """
        if depth < 1:
            raise PoolstrideError(f"depth={depth} is not valid; use an int >= 1")
        merged: list[LayerRow] = []
        for row in self.rows:
            key = ".".join(row.name.split(".")[:depth])
            if merged and merged[-1].name == key and key != row.name:
                last = merged[-1]
                last.output_shape, last.receptive_field = row.output_shape, row.receptive_field
                last.spatial_axes, last.extent = row.spatial_axes, row.extent
                last.params += row.params
                last.macs += row.macs
                last.pool_ops += row.pool_ops
                last.activation_bytes += row.activation_bytes
                last.warnings += row.warnings
                last.type = "group"
            else:
                merged.append(
                    LayerRow(
                        key,
                        row.type if key == row.name else "group",
                        row.kind if key == row.name else None,
                        row.input_shape,
                        row.output_shape,
                        row.params,
                        row.macs,
                        row.pool_ops,
                        row.activation_bytes,
                        row.receptive_field,
                        list(row.warnings),
                        row.spatial_axes,
                        row.extent,
                    )
                )
        return ProfileTable(
            self.model, merged, self.totals, self.batch_size, self.convention, list(self.notes)
        )


def _jump(rf) -> str:
    return rf.jump_text() if rf is not None else ""


def _shape(shape) -> str:
    return "×".join(map(str, shape)) if shape else "-"


def human_count(n: float) -> str:
    """``4_089_184_256`` -> ``4.09G``."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(int(n))


def human_bytes(n: float) -> str:
    """``1_048_576`` -> ``1.0 MiB``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def _kind(layer: Layer) -> str | None:
    module = layer.module
    if module is not None and is_operator(module):
        return getattr(module, "variant", None) or module.kind
    table = {
        nn.modules.conv._ConvNd: "conv",
        nn.modules.pooling._MaxPoolNd: "max",
        nn.modules.pooling._AvgPoolNd: "avg",
        nn.modules.pooling._LPPoolNd: "lp",
        nn.modules.pooling._AdaptiveAvgPoolNd: "adaptive-avg",
        nn.modules.pooling._AdaptiveMaxPoolNd: "adaptive-max",
        nn.Linear: "linear",
    }
    for cls, kind in table.items():
        if isinstance(module, cls):
            if kind == "conv" and module.groups > 1 and module.groups == module.in_channels:
                return "dwconv"
            return kind
    return None


def _window_of(layer: Layer):
    """(input spatial, kernel, stride, padding, dilation, ceil) of the layer's main window."""
    module = layer.module
    if (
        module is not None
        and is_operator(module)
        and isinstance(getattr(module, "kernel_size", None), tuple)
    ):
        if layer.input_shape is None or len(layer.input_shape) < 3:
            return None
        return (
            layer.input_shape[2:],
            module.kernel_size,
            module.stride,
            module.padding,
            module.dilation,
            bool(getattr(module, "ceil_mode", False)),
        )
    for call in layer.calls:
        g = call.window
        if g is not None and call.input_spatial is not None and g.op != "conv_transpose":
            return (call.input_spatial, g.kernel, g.stride, g.padding, g.dilation, g.ceil_mode)
    return None


@contextmanager
def passthrough_modules(model: nn.Module):
    """Yields the ids of the modules that, in the pass run inside, returned their input
    untouched: the same tensor with its version counter unchanged (``Identity``, ``Dropout`` in
    eval mode). They allocate nothing, so their rows count no memory. An in-place op
    (``ReLU(inplace=True)``) also returns its input but bumps the version: it still counts."""
    seen: dict[int, bool] = {}
    inputs: list[tuple[torch.Tensor | None, int]] = []

    def before(module, args):
        x = next((a for a in args if isinstance(a, torch.Tensor)), None)
        inputs.append((x, x._version if x is not None else -1))

    def after(module, args, out):
        x, version = inputs.pop()
        untouched = x is not None and out is x and x._version == version
        seen[id(module)] = seen.get(id(module), True) and untouched

    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    passthrough: set[int] = set()
    try:
        yield passthrough
    finally:
        for handle in handles:
            handle.remove()
        passthrough.update(key for key, untouched in seen.items() if untouched)


def _rows(
    layers: list[Layer], input_spatial: tuple[int, ...], passthrough: set[int] = frozenset()
) -> list[LayerRow]:
    rows = []
    flagged: set[int] = set()  # axes already warned about receptive field > input
    for layer in layers:
        warnings: list[str] = []
        geometry = _window_of(layer)
        if geometry is not None:
            warnings += window_warnings(*geometry)
        rf = layer.receptive_field
        axes = layer.spatial_axes
        spatial_out = (
            layer.output_shape is not None
            and axes is not None
            and any(layer.output_shape[a] > 1 for a in axes)
        )
        # A global pool or flatten sees everything by design: only maps that keep space are linted.
        if rf is not None and rf.dim == len(input_spatial) and rf.dim > 0 and spatial_out:
            over = [a for a, (r, n) in enumerate(zip(rf.size, input_spatial)) if r > n]
            if over and not set(over) <= flagged:
                warnings += receptive_field_warnings(rf.size, input_spatial)
                flagged |= set(over)
        rows.append(
            LayerRow(
                layer.name,
                layer.type,
                _kind(layer),
                layer.input_shape,
                layer.output_shape,
                layer.params,
                layer.macs,
                layer.pool_ops,
                0 if id(layer.module) in passthrough else layer.output_bytes,
                rf,
                warnings,
                layer.spatial_axes,
                layer.extent,
            )
        )
    return rows


def _parse_input(input_shape) -> tuple[int, ...]:
    if isinstance(input_shape, str):
        return parse_shape(input_shape)
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise PoolstrideError(
            f"input_shape={input_shape!r} is not valid; expected (C, L) or (C, H, W) without the batch, e.g. (3, 224, 224)"
        ) from None
    if not shape or min(shape) < 1:
        raise PoolstrideError(
            f"input_shape={input_shape!r} is not valid; sizes must be >= 1, e.g. (3, 224, 224)"
        )
    return shape


def resolve_model(name: str, input_shape=None, *, weights: str | None = None) -> nn.Module:
    """A model from a name: ``torchvision:NAME``, ``timm:NAME`` (``weights``: pretrained
    weights, see :func:`poolstride.zoo.load_model`) or a spec string."""
    if not isinstance(name, str) or not name.strip():
        raise PoolstrideError(
            f"model {name!r} is not valid; use torchvision:NAME, timm:NAME or a spec like 'conv3-32, max2, gap'"
        )
    text = name.strip()
    source = text.split(":", 1)[0].lower()
    if source in ("torchvision", "timm") and "," not in text:
        return load_model(text, weights=weights)
    if input_shape is None:
        raise PoolstrideError(f"spec {text!r} needs an input shape, e.g. --input 3x32x32")
    try:
        return build_spec(text, input_shape)
    except PoolstrideError as err:
        zoo = zoo_names(text) if "," not in text and ":" not in text else []
        if not zoo:
            raise
        raise PoolstrideError(
            f"{text!r} is neither a spec nor a model name; did you mean {' or '.join(zoo)}?"
        ) from err


def _native_shape(model, weights: str | None) -> tuple[int, ...]:
    """The input of a zoo name given without one (see :func:`profile`)."""
    text = model.strip() if isinstance(model, str) else ""
    if text.split(":", 1)[0].lower() not in ("torchvision", "timm") or "," in text:
        raise PoolstrideError(
            "input_shape is needed (e.g. (3, 224, 224)); only a torchvision:NAME or timm:NAME "
            "model may leave it out"
        )
    return native_input_shape(text, weights) or (3, 224, 224)


def profile(
    model: nn.Module | str,
    input_shape=None,
    *,
    batch_size: int = 1,
    depth: int | None = None,
    dtype: torch.dtype = torch.float32,
    name: str | None = None,
    weights: str | None = None,
) -> ProfileTable:
    """Profile ``model`` (an ``nn.Module``, or a name for :func:`resolve_model`) on one batch.

    ``input_shape`` is ``(C, L)`` or ``(C, H, W)`` without the batch (or ``"3x224x224"``), or an
    example input tensor (used as is, batch included); for a ``torchvision:``/``timm:`` name it
    may be left out: the size the model was trained at
    (:func:`poolstride.zoo.native_input_shape`, e.g. timm's ``pretrained_cfg["input_size"]``),
    else 3x224x224. ``weights``: pretrained weights of a zoo name (``"DEFAULT"``, a weights
    name). ``depth`` merges rows by module path prefix (:meth:`ProfileTable.grouped`). The model
    runs once in eval mode without gradients and is left in the training mode it had. ``name``
    labels the table (default: the model's class or the name it was given by).
    """
    label = name or (model if isinstance(model, str) else type(model).__name__)
    if input_shape is None:
        input_shape = _native_shape(model, weights)
    if isinstance(input_shape, torch.Tensor):
        x = input_shape
        shape = tuple(x.shape[1:])
        batch_size = x.shape[0]
    else:
        shape = _parse_input(input_shape)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise PoolstrideError(f"batch_size={batch_size!r} is not valid; use an int >= 1")
        x = None
    if isinstance(model, str):
        model = resolve_model(model, shape, weights=weights)
    elif weights is not None:
        raise PoolstrideError("weights= is for a model given by name (torchvision:NAME, timm:NAME)")
    if not isinstance(model, nn.Module):
        raise PoolstrideError(
            f"model of type {type(model).__name__} is not valid; pass an nn.Module or a model name"
        )
    if isinstance(model, torch.jit.ScriptModule):
        raise PoolstrideError(
            f"{label} is a TorchScript module, whose calls cannot be traced; profile the original nn.Module"
        )
    if x is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        # A private generator: profiling must not move the global RNG (seeded runs stay identical).
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(batch_size, *shape, dtype=dtype, generator=generator).to(device)
    tracer = Tracer(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), passthrough_modules(model) as passthrough:
            out, rf = tracer.run(x)
    except PoolstrideError:
        raise
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PoolstrideError(
            f"{label} does not run on input {_shape((batch_size, *shape))}: {first}"
        ) from None
    finally:
        model.train(was_training)
    y = (
        out
        if isinstance(out, torch.Tensor)
        else next(
            (
                o
                for o in (out if isinstance(out, (tuple, list)) else ())
                if isinstance(o, torch.Tensor)
            ),
            None,
        )
    )
    params = list({id(p): p for p in model.parameters()}.values())
    rows = _rows(tracer.layers, shape[1:], passthrough)
    totals = Totals(
        params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        param_bytes=sum(p.numel() * p.element_size() for p in params),
        macs=sum(r.macs for r in rows),
        pool_ops=sum(r.pool_ops for r in rows),
        activation_bytes=sum(r.activation_bytes for r in rows),
        input_shape=shape,
        output_shape=tuple(y.shape[1:]) if y is not None else None,
        receptive_field=rf if rf is not None and rf.dim > 0 else None,
    )
    table = ProfileTable(label, rows, totals, batch_size)
    if depth is not None:
        table = table.grouped(depth)
    return table


def spec_table(spec: str, input_shape) -> ProfileTable:
    """Profile of a spec string with one row per item (named ``"3 max2"``).

    The spec is built with :func:`poolstride.layers.spec.build_spec` and profiled like any
    model; each row's output shape is also checked against the pure-geometry prediction.
    """
    items = parse_spec(spec)
    shape = parse_shape(input_shape)
    predicted = [s for _, s in spec_shapes(items, shape)]
    table = profile(build_spec(items, shape), shape).grouped(1)
    table.model = ", ".join(item.text for item in items)
    for row in table.rows:
        index = int(row.name)
        row.name = f"{index + 1} {items[index].text}"
        if row.type == "group":  # an item built from several modules (pad + conv, flatten + linear)
            row.type = row.kind = items[index].name
        if row.output_shape is not None and tuple(row.output_shape[1:]) != predicted[index]:
            raise PoolstrideError(  # a bug, not a user error: geometry and PyTorch disagree
                f"internal: item {index + 1} {items[index].text!r} gives {row.output_shape[1:]} but "
                f"geometry predicts {predicted[index]}; please report"
            )
    return table
