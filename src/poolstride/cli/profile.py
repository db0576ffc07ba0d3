"""``poolstride profile MODEL``: per-layer shapes, params, MACs, pooling ops, memory, receptive fields.

Examples::

    poolstride profile torchvision:resnet50
    poolstride profile torchvision:resnet18 --input 3x64x64 --depth 2 --empirical
    poolstride profile "conv3-32, max2, conv3-64/2, gap, fc-10" --input 3x32x32 --format json

MODEL is ``torchvision:NAME`` (untrained unless ``--weights``; nothing is downloaded),
``timm:NAME`` (if timm is installed), one of poolstride's own models (``resnet20``, with its
published downsampling and 10 classes) or a spec string (see ``poolstride shape``);
``poolstride models PATTERN`` lists them. Without ``--input`` a zoo model is profiled at the
size it was trained at (timm's ``pretrained_cfg["input_size"]``, the crop size of torchvision's
weights: 299 for inception_v3), poolstride's own models at 3x32x32, specs at 3x224x224.
``--empirical`` checks every conv/pooling layer's receptive field by back-propagating from its
centre unit (one backward pass per layer: use a small ``--input``).
"""

from __future__ import annotations

import json
import sys

import click

from poolstride.cli.options import format_option, input_shape_option, weights_option
from poolstride.errors import PoolstrideError
from poolstride.geometry.shape_strings import format_shape, parse_shape

_EXAMPLES = """
\b
Examples:
  poolstride profile torchvision:resnet50
  poolstride profile timm:vit_base_patch16_384              # at 3x384x384, its config's size
  poolstride profile torchvision:resnet18 --input 3x64x64 --depth 2 --empirical
  poolstride profile resnet20 --format markdown
  poolstride profile "conv3-32, max2, conv3-64/2, gap, fc-10" --input 3x32x32 --format json
"""

#: the input of a spec or a model of unknown training size, and of poolstride's own models
SPEC_INPUT, OWN_MODEL_INPUT = "3x224x224", "3x32x32"


@click.command("profile", epilog=_EXAMPLES)
@click.argument("model")
@input_shape_option(
    "One example's shape CxHxW (CxL for 1D), without the batch. Default: the size a "
    "torchvision:/timm: model was trained at (timm's pretrained_cfg), 3x32x32 for "
    "poolstride's models, 3x224x224 for a spec.",
    default=None,
    required=False,
)
@weights_option()
@click.option(
    "--batch-size", type=int, default=1, show_default=True, help="Batch size of the profiled pass."
)
@click.option(
    "--depth", type=int, default=None, help="Merge rows by the first N parts of the module path."
)
@click.option(
    "--empirical", is_flag=True, help="Check receptive fields with a gradient measurement."
)
@format_option()
def profile(model, input_shape, weights, batch_size, depth, empirical, fmt):
    """Per-layer table of MODEL: output shape, params, MACs, pool ops, memory, receptive field.

    MODEL: torchvision:NAME, timm:NAME, one of poolstride's models (resnet20, ...) or a spec
    string; `poolstride models PATTERN` lists the models.
    """
    # imported on use: torch-heavy modules load only when the command runs (fast --help)
    from poolstride.analysis.profile_table import profile as run_profile

    if depth is not None and depth < 1:
        raise PoolstrideError(f"--depth {depth} is not valid; use an int >= 1")
    net, shape = _model_and_input(model, input_shape, weights)
    table = run_profile(net, shape, batch_size=batch_size, name=model)
    if input_shape is None:
        table.notes.append(f"input {format_shape(shape)}: {_default_reason(model)}")
    if weights is not None or _is_zoo(model):
        table.notes.extend(_weights_notes(model, weights, table.totals.macs, shape))
    checks = None
    if empirical:
        from poolstride.analysis.receptive_field_measured import check_receptive_fields

        results = check_receptive_fields(net, table, shape)
        checks = {c.name: "✓" if c.ok else f"✗ {_interval(c.measured)}" for c in results}
        mismatches = [c for c in results if not c.ok]
        table.notes.append(
            f"receptive fields measured by back-propagation for {len(results)} layers: "
            f"{len(results) - len(mismatches)} agree with the graph rule"
            + (
                f", {len(mismatches)} differ ({', '.join(c.name for c in mismatches)})"
                if mismatches
                else ""
            )
            + " (intervals of the centre unit, clipped to the input)"
        )
    if depth is not None:
        table = table.grouped(depth)
    if fmt == "json":
        data = table.to_dict()
        if checks is not None:
            data["empirical"] = checks
        click.echo(json.dumps(data, indent=2))
        return
    if fmt == "markdown":
        click.echo(table.to_markdown())
        return
    print_table(table, checks=checks if depth is None else None)


def print_table(table, **to_rich) -> None:
    """A ProfileTable on the terminal: the rich table, its summary, lint warnings and notes.

    Shared with ``poolstride shape``; ``to_rich`` goes to :meth:`ProfileTable.to_rich`.
    """
    from rich.console import Console

    # Piped output (files, CI logs) gets a wide table rather than rich's 80-column default.
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
    console.print(table.to_rich(**to_rich))
    console.print(table.summary())
    warnings = [f"  {r.name}: {w}" for r in table.rows for w in r.warnings]
    if warnings:
        console.print("[yellow]warnings:[/yellow]")
        for line in warnings:
            console.print(line, markup=False, highlight=False)
    for note in table.notes:
        console.print(f"note: {note}", markup=False, highlight=False)


def _is_zoo(model: str) -> bool:
    return model.split(":", 1)[0].strip().lower() in ("torchvision", "timm") and "," not in model


def _model_and_input(model: str, input_shape: str | None, weights: str | None):
    """The module to profile and its input shape (the defaults of the module docstring)."""
    from poolstride.analysis.profile_table import resolve_model
    from poolstride.models import MODELS, build_model
    from poolstride.zoo import native_input_shape

    own = model.strip().lower() in MODELS
    if weights is not None and not _is_zoo(model):
        raise PoolstrideError(
            f"--weights {weights} is for torchvision:NAME and timm:NAME models, not {model!r}"
        )
    if input_shape is not None:
        shape = parse_shape(input_shape)
    elif _is_zoo(model):
        shape = native_input_shape(model.strip(), weights) or parse_shape(SPEC_INPUT)
    else:
        shape = parse_shape(OWN_MODEL_INPUT if own else SPEC_INPUT)
    if own:
        return build_model(model.strip(), None, shape, 10), shape
    return resolve_model(model, shape, weights=weights), shape


def _default_reason(model: str) -> str:
    if model.strip().lower().startswith("timm:"):
        return "timm's pretrained_cfg input_size of this model (give --input to change it)"
    if _is_zoo(model):
        return "the crop size of the model's torchvision weights (give --input to change it)"
    from poolstride.models import MODELS

    what = "poolstride's models" if model.strip().lower() in MODELS else "a spec"
    return f"the default for {what} (give --input to change it)"


def _weights_notes(model: str, weights: str | None, macs: int, shape) -> list[str]:
    """What the weights are, and torchvision's own cost figure beside ours."""
    notes = []
    if weights is not None:
        notes.append(f"weights: {weights} (pretrained; a replaced layer starts untrained)")
    source, _, name = model.strip().partition(":")
    if source.lower() == "torchvision":
        from poolstride.zoo import torchvision_gflops

        published = torchvision_gflops(name, weights)
        if published is not None:
            notes.append(
                f'torchvision\'s weights metadata gives {published:g} "GFLOPS" at its own input '
                f"size: those are GMACs; here {macs / 1e9:.3g} G MACs at {format_shape(shape)}"
            )
    return notes


def _interval(extent) -> str:
    return "×".join(f"[{a},{b}]" for a, b in extent)
