"""``poolstride models [PATTERN]``: the models ``--model`` and ``profile``/``swap`` accept.

Three sources, each named as it is typed: poolstride's own backbones (``resnet20``: built with
every downsampling site from ``make_downsample``), torchvision's classification models
(``torchvision:resnet18``) and timm's (``timm:resnet18``; when timm is installed, else a note
says how to install it). ``PATTERN`` is a glob (``resnet*``); a plain word matches anywhere.
``--with-weights`` adds each zoo model's pretrained weights (``--weights DEFAULT|NAME`` values).
"""

from __future__ import annotations

import importlib.util
import json

import click

from poolstride.cli.options import format_option

SOURCES = ("poolstride", "torchvision", "timm")

_EXAMPLES = """
\b
Examples:
  poolstride models                       # every model, by source
  poolstride models resnet                # names containing "resnet"
  poolstride models 'efficientnet_b*' --source torchvision --with-weights
  poolstride models --source poolstride --format json
"""


@click.command("models", epilog=_EXAMPLES)
@click.argument("pattern", required=False, default=None)
@click.option(
    "--source",
    type=click.Choice(list(SOURCES)),
    multiple=True,
    help="Only this source (repeatable). Default: all three.",
)
@click.option(
    "--with-weights",
    "with_weights",
    is_flag=True,
    help="Also list each zoo model's pretrained weights (what --weights accepts).",
)
@format_option()
def models(pattern, source, with_weights, fmt):
    """List the models poolstride can build: its own, torchvision:NAME and timm:NAME."""
    rows, notes = model_rows(pattern, source or SOURCES, with_weights)
    if fmt == "json":
        click.echo(json.dumps({"models": rows, "notes": notes}, indent=2))
        return
    if fmt == "markdown":
        click.echo("| model | source | weights |\n|---|---|---|")
        for row in rows:
            click.echo(f"| {row['name']} | {row['source']} | {', '.join(row['weights'])} |")
    else:
        for row in rows:
            weights = f"  [{', '.join(row['weights'])}]" if row["weights"] else ""
            click.echo(f"{row['name']}{weights}")
    counts = {s: sum(r["source"] == s for r in rows) for s in source or SOURCES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    click.echo(
        f"{len(rows)} models ({summary})" + (f" matching {pattern!r}" if pattern else ""), err=True
    )
    for note in notes:
        click.echo(f"note: {note}", err=True)


def model_rows(pattern: str | None, sources, with_weights: bool) -> tuple[list[dict], list[str]]:
    """``[{"name", "source", "weights"}]`` of every matching model, and notes (a missing timm)."""
    # imported on use: torch-heavy modules load only when the command runs (fast --help)
    from poolstride.models import MODELS
    from poolstride.zoo import list_models, list_weights, matches

    rows: list[dict] = []
    notes: list[str] = []
    if "poolstride" in sources:
        rows += [
            {"name": n, "source": "poolstride", "weights": []}
            for n in MODELS
            if matches(n, pattern)
        ]
    for zoo in ("torchvision", "timm"):
        if zoo not in sources:
            continue
        if zoo == "timm" and importlib.util.find_spec("timm") is None:
            notes.append("timm models: timm is not installed; pip install 'poolstride[timm]'")
            continue
        for name in list_models(zoo, pattern):
            full = f"{zoo}:{name}"
            rows.append(
                {
                    "name": full,
                    "source": zoo,
                    "weights": list_weights(full) if with_weights else [],
                }
            )
    return rows, notes
