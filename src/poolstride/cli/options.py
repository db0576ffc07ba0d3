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


def input_shape_option(help: str, default: str | None = "3x224x224"):
    """``--input CxHxW`` (CxL for 1D), one example's shape without the batch, into
    ``input_shape``; required when there is no default."""
    if default is None:
        return click.option("--input", "input_shape", required=True, help=help)
    return click.option("--input", "input_shape", default=default, show_default=True, help=help)
