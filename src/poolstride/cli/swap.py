"""``poolstride swap MODEL --variant VARIANT``: swap a model's downsampling and list the changes.

Examples::

    poolstride swap torchvision:resnet18 --variant blur-max --dry-run
    poolstride swap timm:resnet50 --variant max --input 3x64x64 --skip-stem --format markdown
    poolstride swap torchvision:vgg11 --variant conv:k3 --exclude 'features.2' --save vgg11-conv.pt

Models are built untrained (torchvision ``weights=None``, timm ``pretrained=False``) unless
``--weights`` names pretrained weights. Without ``--dry-run`` and with ``--save PATH`` the swapped
model is written with ``torch.save`` (the whole module; load it with
``torch.load(PATH, weights_only=False)``). ``--to`` is the spelling before 0.2 (hidden, with a
note): compare, export-check and swap all call the target a *variant*.
"""

from __future__ import annotations

import json

import click

from poolstride.cli import check_output_file
from poolstride.cli.options import format_option, input_shape_option, weights_option
from poolstride.errors import PoolstrideError
from poolstride.geometry.shape_strings import parse_input_shape

_EXAMPLES = """
\b
Examples:
  poolstride swap torchvision:resnet18 --variant blur-max --dry-run
  poolstride swap torchvision:resnet18 --weights DEFAULT --variant blur-max --save rn18-blur.pt
  poolstride swap timm:resnet50 --variant max --input 3x64x64 --skip-stem --format markdown
  poolstride swap torchvision:vgg11 --variant conv:k3 --exclude 'features.2' --save vgg11-conv.pt
"""


@click.command("swap", epilog=_EXAMPLES)
@click.argument("model")
@click.option(
    "--variant",
    "target",
    default=None,
    help="The downsampling variant to put at every site (max, avg, blur-max, conv, conv:k3, "
    "...) or 'original'.",
)
# The spelling before 0.2, hidden for one release: compare and export-check call it a variant.
@click.option("--to", "old_target", default=None, hidden=True)
@weights_option()
@input_shape_option(
    "One example's shape CxHxW (CxL for 1D): shapes are checked and MACs counted at it. "
    "Default: the size the model was trained at (timm's pretrained_cfg, torchvision's "
    "weights), else 3x224x224.",
    default=None,
    required=False,
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
    old_target,
    weights,
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
    from poolstride.zoo import load_model, native_input_shape

    if old_target is not None:
        click.echo("note: swap --to is now --variant (the old spelling goes in 0.3)", err=True)
        if target is not None and target != old_target:
            raise PoolstrideError(
                f"--variant {target!r} and --to {old_target!r} disagree; give only --variant"
            )
        target = old_target
    if target is None:
        raise PoolstrideError(
            "missing option --variant: the downsampling to put at every site, e.g. --variant "
            "blur-max (see `poolstride swap --help`)"
        )
    if min_channels < 0:
        raise PoolstrideError(f"--min-channels must be >= 0, got {min_channels}")
    if save_path and not dry_run:
        check_output_file(save_path, "--save")
    shape = (
        parse_input_shape(input_shape)
        if input_shape is not None
        else native_input_shape(model, weights) or (3, 224, 224)
    )
    net = load_model(model, num_classes=num_classes, input_shape=shape, weights=weights)
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
