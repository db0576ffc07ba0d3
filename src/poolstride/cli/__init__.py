"""The ``poolstride`` command.

Each sub-command lives in its own module of this package and is imported only when it is
run, so ``poolstride --help`` is instant. :func:`main` turns a :class:`PoolstrideError`
into a one-line message on stderr and exit code 2 (never a traceback).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from poolstride import __version__
from poolstride.errors import PoolstrideError

# command name -> (module, attribute, one-line help)
COMMANDS = {
    "compare": (
        "poolstride.cli.compare",
        "compare",
        "Train each downsampling choice over seeds and compare.",
    ),
    "shape": (
        "poolstride.cli.shape",
        "shape",
        "Per-layer shapes, params, MACs and receptive fields of a spec.",
    ),
    "profile": (
        "poolstride.cli.profile",
        "profile",
        "Per-layer table of any model (torchvision:NAME, ...).",
    ),
    "explain": (
        "poolstride.cli.explain",
        "explain",
        "Step-by-step walkthrough of pooling or a strided conv.",
    ),
    "swap": (
        "poolstride.cli.swap",
        "swap",
        "Swap the downsampling of a model and list the changes.",
    ),
    "report": (
        "poolstride.cli.report",
        "report",
        "Write the HTML/Markdown report of a run directory.",
    ),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx):
        return [name for name, (mod, _, _) in COMMANDS.items() if _module_exists(mod)]

    def get_command(self, ctx, name):
        if name not in COMMANDS or not _module_exists(COMMANDS[name][0]):
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_exists(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="poolstride")
def cli():
    """poolstride: pooling or strided convolution? Measured, not guessed."""


def main(argv=None) -> int:
    """Entry point: run the CLI; PoolstrideError -> one line on stderr, exit code 2."""
    try:
        rv = cli.main(args=argv, prog_name="poolstride", standalone_mode=False)
    except PoolstrideError as err:
        click.echo(f"error: {err}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    return rv if isinstance(rv, int) else 0


def run() -> None:
    """Console-script entry point (exits with :func:`main`'s code)."""
    sys.exit(main())
