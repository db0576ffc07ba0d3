"""``poolstride export-check``: does each downsampling variant export to ONNX and run?

Examples::

    poolstride export-check --variants max,avg,conv,blur-max,lp,soft,space-to-depth,adaptive-avg
    poolstride export-check --model resnet20 --input 3x32x32 --exporter dynamo
    poolstride export-check --variants max:k3,adaptive-avg --input 3x30x30 --format json

For each variant, the model is built untrained, exported with ``torch.onnx.export``
(``--exporter dynamo``: ``dynamo=True``, PyTorch's default; ``torchscript``: ``dynamo=False``;
both by default), run in onnxruntime and compared with PyTorch on a random input; the table
gives exported yes/no, the opset, the max |Δ|, the CPU latency in onnxruntime beside
PyTorch's, and for a variant that cannot export, why, in one line. Exit code 1 when a variant
exports with none of the exporters asked for (or its outputs differ). Needs
``pip install 'poolstride[onnx]'``.
"""

from __future__ import annotations

import json
import sys

import click

from poolstride.cli.options import format_option, input_shape_option


@click.command("export-check")
@click.option(
    "--variants",
    "-v",
    default=None,
    help="Comma-separated variants, e.g. max,conv:k3,blur-max (default: every kind).",
)
@click.option(
    "--model",
    "-m",
    default="simple",
    show_default=True,
    help="simple, allcnn-a|b|c, resnet20, lenet5.",
)
@input_shape_option("One example's shape CxHxW (CxL for 1D), without the batch.", "3x32x32")
@click.option("--classes", type=int, default=10, show_default=True, help="Outputs of the model.")
@click.option(
    "--exporter",
    default="dynamo,torchscript",
    show_default=True,
    help="torch.onnx.export mode(s): dynamo (dynamo=True), torchscript (dynamo=False).",
)
@click.option("--batch-size", type=int, default=1, show_default=True, help="Batch of the check.")
@click.option(
    "--fixed-batch",
    is_flag=True,
    help="Export with the batch size baked in (default: a symbolic batch dimension).",
)
@click.option("--no-timing", is_flag=True, help="Skip the latency measurement.")
@format_option()
def export_check(
    variants, model, input_shape, classes, exporter, batch_size, fixed_batch, no_timing, fmt
):
    """Export each variant's model to ONNX, run it in onnxruntime, compare and time it."""
    # imported on use: torch and onnx load only when the command runs (fast --help)
    from poolstride.deploy.export_table import export_check as run_check

    def progress(row):
        state = "exported" if row.exported else f"not exported: {row.reason}"
        click.echo(f"{row.variant} ({row.exporter}): {state}", err=True)

    table = run_check(
        variants,
        model=model,
        input_shape=input_shape,
        num_classes=classes,
        exporters=exporter,
        batch=batch_size,
        dynamic_batch=not fixed_batch,
        timing=not no_timing,
        progress=progress if fmt == "table" else None,
    )
    if fmt == "json":
        click.echo(json.dumps(table.to_dict(), indent=2))
    elif fmt == "markdown":
        click.echo(table.to_markdown())
    else:
        from rich.console import Console

        # Piped output (files, CI logs) gets a wide table rather than rich's 80-column default.
        Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200).print(table.to_rich())
    return 1 if table.blocked() else 0
