"""``poolstride profile MODEL``: per-layer shapes, params, MACs, pooling ops, memory, receptive fields.

Examples::

    poolstride profile torchvision:resnet50
    poolstride profile torchvision:resnet18 --input 3x64x64 --depth 2 --empirical
    poolstride profile "conv3-32, max2, conv3-64/2, gap, fc-10" --input 3x32x32 --format json

MODEL is ``torchvision:NAME`` (built with ``weights=None``; nothing is downloaded),
``timm:NAME`` (if timm is installed) or a spec string (see ``poolstride shape``).
``--empirical`` checks every conv/pooling layer's receptive field by back-propagating from its
centre unit (one backward pass per layer: use a small ``--input``).
"""

from __future__ import annotations

import json
import sys

import click

from poolstride.cli.options import format_option, input_shape_option
from poolstride.errors import PoolstrideError
from poolstride.geometry.shape_strings import parse_shape


@click.command("profile")
@click.argument("model")
@input_shape_option("One example's shape CxHxW (CxL for 1D), without the batch.")
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
def profile(model, input_shape, batch_size, depth, empirical, fmt):
    """Per-layer table of MODEL: output shape, params, MACs, pool ops, memory, receptive field."""
    # imported on use: torch-heavy modules load only when the command runs (fast --help)
    from poolstride.analysis.profile_table import profile as run_profile
    from poolstride.analysis.profile_table import resolve_model

    shape = parse_shape(input_shape)
    if depth is not None and depth < 1:
        raise PoolstrideError(f"--depth {depth} is not valid; use an int >= 1")
    net = resolve_model(model, shape)
    table = run_profile(net, shape, batch_size=batch_size, name=model)
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


def _interval(extent) -> str:
    return "×".join(f"[{a},{b}]" for a, b in extent)
