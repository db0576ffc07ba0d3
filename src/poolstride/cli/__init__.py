"""The ``poolstride`` command.

Each sub-command lives in its own module of this package and is imported only when it is
run, so ``poolstride --help`` is instant. :func:`main` turns a :class:`PoolstrideError`
into a one-line message on stderr and exit code 2 (never a traceback).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sqlite3
import sys
from pathlib import Path

import click

from poolstride import __version__
from poolstride.errors import PoolstrideError
from poolstride.experiment.store import cannot_create_files

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
        "Per-layer table of any model (torchvision:NAME, timm:NAME, resnet20, a spec).",
    ),
    "models": (
        "poolstride.cli.models",
        "models",
        "List the models: poolstride's own, torchvision:NAME and timm:NAME.",
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
    "export-check": (
        "poolstride.cli.export_check",
        "export_check",
        "Export each variant to ONNX, run it in onnxruntime, compare and time it.",
    ),
    "reproduce": (
        "poolstride.cli.reproduce",
        "reproduce",
        "Reproduce a published pooling-vs-stride study, next to its published numbers.",
    ),
    "store": (
        "poolstride.cli.store",
        "store",
        "Check a run store, or salvage the readable rows of a damaged one.",
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


def check_output_file(path: str, option: str) -> None:
    """Fail now, in one line, if ``path`` cannot be written (before any work is done)."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise PoolstrideError(f"{option} {path!r} is a directory; give a file path")
    folder = target.parent
    if not folder.is_dir():
        raise PoolstrideError(f"{option} {path!r}: the folder {str(folder)!r} does not exist")
    if target.exists() and not os.access(target, os.W_OK):
        raise PoolstrideError(f"{option} {path!r} is read-only")
    why = cannot_create_files(folder)
    if why is not None:
        raise PoolstrideError(f"{option} {path!r}: cannot write in {str(folder)!r} ({why})")


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
        return _fail(str(err))
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as err:  # a bare command: its help, not an error
        click.echo(err.ctx.get_help() if err.ctx else err.format_message())
        return 0
    except click.UsageError as err:  # click's own checks: one line, the project's form
        return _fail(_usage_message(err))
    except click.ClickException as err:
        return _fail(err.format_message(), err.exit_code)
    except click.exceptions.Exit as err:
        return err.exit_code
    except sqlite3.DatabaseError as err:  # a store damaged while in use (checked on open)
        return _fail(
            f"run store: {err}; check it with `poolstride store check RUN_DIR` and recover the "
            "readable rows with `poolstride store salvage RUN_DIR`"
        )
    except OSError as err:  # the user's file system (permissions, full disk, missing paths)
        where = f" {err.filename!r}" if err.filename else ""
        return _fail(f"{err.strerror or type(err).__name__}{where}")
    except MemoryError:
        return _fail("out of memory; use a smaller input, model or batch")
    return rv if isinstance(rv, int) else 0


def _fail(message: str, code: int = 2) -> int:
    """Print ``error: <message>`` as one line on stderr and return ``code``."""
    click.echo(f"error: {' '.join(str(message).split())}", err=True)
    return code


def _usage_message(err: click.UsageError) -> str:
    """click's usage error as one line, naming the command and where its help is."""
    message = err.format_message().rstrip(".")
    ctx = err.ctx
    if ctx is not None and ctx.command_path:
        message += f" (see `{ctx.command_path} --help`)"
    return message


def run() -> None:
    """Console-script entry point (exits with :func:`main`'s code)."""
    sys.exit(main())
