"""``poolstride shape SPEC --input CxHxW``: shapes, params, MACs and receptive fields of a quick stack.

Examples::

    poolstride shape "conv3-96, conv3-96, max2, conv3-192/2, gap" --input 3x32x32
    poolstride shape "conv5-16, blur-max:filt5, conv3-32/2, gmp, fc-10" --input 1x40
    poolstride shape "conv3-64, conv1-64/2" --input 3x32x32        # warns: 3/4 discarded

The spec is built into real ``nn.Module`` layers (downsampling kinds through
``make_downsample``) and profiled like any model, so the numbers are those of ``poolstride
profile``. One row per item; warnings flag windows that never cover some inputs, floor mode
dropping rows/columns, and receptive fields that outgrow the input. Grammar: see
:mod:`poolstride.layers.spec`.
"""

from __future__ import annotations

import json

import click

from poolstride.cli.options import format_option, input_shape_option
from poolstride.cli.profile import print_table

_EXAMPLES = """
\b
Examples:
  poolstride shape "conv3-96, conv3-96, max2, conv3-192/2, gap" --input 3x32x32
  poolstride shape "conv5-16, blur-max:filt5, conv3-32/2, gmp, fc-10" --input 1x40
  poolstride shape "conv3-64, conv1-64/2" --input 3x32x32        # warns: 3/4 discarded
"""


@click.command("shape", epilog=_EXAMPLES)
@click.argument("spec")
@input_shape_option("Input shape without the batch: CxHxW (2D) or CxL (1D).", default=None)
@format_option()
def shape(spec, input_shape, fmt):
    """Per-item output shape, params, MACs, receptive field and lint warnings of SPEC."""
    # imported on use: torch-heavy modules load only when the command runs (fast --help)
    from poolstride.analysis.profile_table import spec_table

    table = spec_table(spec, input_shape)
    if fmt == "json":
        click.echo(json.dumps(table.to_dict(), indent=2))
        return
    if fmt == "markdown":
        click.echo(table.to_markdown())
        return
    print_table(table, title=f"{spec}  (input {input_shape})")
