"""``poolstride report RUN_DIR``: write the HTML and Markdown report of a run directory.

Reads only ``RUN_DIR/runs.sqlite`` (and ``config.yaml`` for the variant order and baseline)
and writes ``report.html`` (one self-contained page: opens offline, no script),
``report.md`` and ``figures/*.svg`` into ``RUN_DIR``; prints the path of ``report.html``.
"""

from __future__ import annotations

import click

_EXAMPLES = """
\b
Examples:
  poolstride report runs/mnist1d-simple
  poolstride report runs/digits --baseline conv --test wilcoxon
"""


@click.command(epilog=_EXAMPLES, context_settings={"max_content_width": 100})
@click.argument("run_dir", type=click.Path(file_okay=True, dir_okay=True))
@click.option(
    "--baseline", help="Variant the others are compared with.  [default: the run's baseline]"
)
@click.option(
    "--test",
    type=click.Choice(["t", "wilcoxon"], case_sensitive=False),
    help="Paired test.  [default: the run's test]",
)
@click.option(
    "--no-layers",
    is_flag=True,
    help="Skip the per-layer tables (they rebuild each model from its config).",
)
def report(run_dir, baseline, test, no_layers):
    """Write RUN_DIR/report.html (self-contained) and report.md from the run store."""
    from poolstride.report.write import write_report

    path = write_report(
        run_dir, baseline=baseline, test=test.lower() if test else None, profiles=not no_layers
    )
    click.echo(f"report: {path}")
