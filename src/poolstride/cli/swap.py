"""``poolstride swap MODEL --to KIND``: swap a model's downsampling and list the changes.

Examples::

    poolstride swap torchvision:resnet18 --to blur-max --dry-run
    poolstride swap timm:resnet50 --to max --input 3x64x64 --skip-stem --format markdown
    poolstride swap torchvision:vgg11 --to conv:k3 --exclude 'features.2' --save vgg11-conv.pt

Models are built untrained (torchvision ``weights=None``, timm ``pretrained=False``); nothing is
downloaded. Without ``--dry-run`` and with ``--save PATH`` the swapped model is written with
``torch.save`` (the whole module; load it with ``torch.load(PATH, weights_only=False)``).
"""

from __future__ import annotations

import json

import click

from poolstride.cli import check_output_file
from poolstride.cli.options import format_option, input_shape_option
from poolstride.errors import PoolstrideError
from poolstride.geometry.shape_strings import parse_input_shape


@click.command("swap")
@click.argument("model")
@click.option(
    "--to",
    "target",
    required=True,
    help="Target downsampling kind (max, avg, blur-max, conv, conv:k3, ...) or 'original'.",
)
@input_shape_option(
    "One example's shape CxHxW (CxL for 1D): shapes are checked and MACs counted at it."
)
@click.option(
    "--num-classes", type=int, default=None, help="Replace the classifier for this many classes."
)
@click.option(
    "--include", multiple=True, help="Only sites whose module path matches this glob (repeatable)."
)
@click.option(
    "--exclude", multiple=True, help="Leave sites whose module path matches this glob (repeatable)."
)
@click.option(
    "--min-channels",
    type=int,
    default=0,
    show_default=True,
    help="Leave sites with fewer input channels.",
)
@click.option("--skip-stem", is_flag=True, help="Leave the first site (the stem's strided conv).")
@click.option("--dry-run", is_flag=True, help="Only print the change table.")
@click.option(
    "--save",
    "save_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the swapped model here (torch.save of the module).",
)
@format_option("How to print the changes.")
def swap(
    model,
    target,
    input_shape,
    num_classes,
    include,
    exclude,
    min_channels,
    skip_stem,
    dry_run,
    save_path,
    fmt,
):
    """Swap the downsampling of MODEL (torchvision:NAME or timm:NAME) and list the changes."""
    # imported on use: torch-heavy modules load only when the command runs (fast --help)
    from poolstride.surgery import swap_downsampling
    from poolstride.zoo import load_model

    if min_channels < 0:
        raise PoolstrideError(f"--min-channels must be >= 0, got {min_channels}")
    if save_path and not dry_run:
        check_output_file(save_path, "--save")
    shape = parse_input_shape(input_shape)
    net = load_model(model, num_classes=num_classes, input_shape=shape)
    new, changes = swap_downsampling(
        net,
        target,
        input_shape=shape,
        include=include,
        exclude=exclude,
        min_channels=min_channels,
        skip_stem=skip_stem,
        name=model,
    )
    if fmt == "json":
        click.echo(json.dumps(changes.to_dict(), indent=2))
    elif fmt == "markdown":
        click.echo(changes.to_markdown())
    else:
        from rich.console import Console

        console = Console()
        if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
            console = Console(width=160)
        console.print(changes.to_rich())
    if dry_run:
        return
    if save_path:
        import torch

        torch.save(new, save_path)
        click.echo(f"saved swapped model to {save_path}", err=True)
    else:
        click.echo("(nothing saved: pass --save PATH to write the swapped model)", err=True)
