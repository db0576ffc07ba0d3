"""Options several commands share, declared once so they mean the same everywhere."""

from __future__ import annotations

import click

#: what ``--format`` accepts in every command that prints a table
FORMATS = ("table", "markdown", "json")


def format_option(help: str = "Output format."):
    """``--format table|markdown|json`` (into the parameter ``fmt``)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(FORMATS)),
        default="table",
        show_default=True,
        help=help,
    )


def input_shape_option(help: str, default: str | None = "3x224x224", required: bool = True):
    """``--input CxHxW`` (CxL for 1D), one example's shape without the batch, into
    ``input_shape``; without a default it is required, unless ``required=False`` (the command
    then picks one)."""
    if default is None:
        return click.option("--input", "input_shape", required=required, help=help)
    return click.option("--input", "input_shape", default=default, show_default=True, help=help)


def weights_option():
    """``--weights DEFAULT|NAME``: pretrained weights of a zoo model (into ``weights``)."""
    return click.option(
        "--weights",
        default=None,
        metavar="DEFAULT|NAME",
        help="Pretrained weights of a torchvision:/timm: model: DEFAULT, a torchvision weights "
        "name (IMAGENET1K_V1) or a timm tag (a1_in1k); list them with `poolstride models "
        "NAME --with-weights`. Downloaded once into the torch.hub / Hugging Face cache. "
        "Default: untrained.",
    )
