"""One flag, one meaning: across every command, a short letter or a long name means one thing."""

import click
import pytest

from poolstride.cli import cli


def _visible_options():
    """``(command, option)`` for every visible option of every (sub)command."""
    ctx = click.Context(cli)
    found = []

    def walk(command, path):
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), f"{path} {name}".strip())
            return
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                found.append((path, param))

    walk(cli, "")
    return found


def _long(param):
    return next(o for o in param.opts if o.startswith("--"))


def test_a_short_letter_never_means_two_things():
    meaning: dict[str, set[str]] = {}
    for _, param in _visible_options():
        for short in (o for o in param.opts + param.secondary_opts if not o.startswith("--")):
            meaning.setdefault(short, set()).add(_long(param))
    clashes = {s: sorted(longs) for s, longs in meaning.items() if len(longs) > 1}
    assert not clashes


def test_a_long_name_has_one_short_letter_everywhere():
    shorts: dict[str, set[str]] = {}
    for _, param in _visible_options():
        letters = tuple(o for o in param.opts if not o.startswith("--") and o != "-h")
        shorts.setdefault(_long(param), set()).add(letters)
    assert {name: s for name, s in shorts.items() if len(s) > 1} == {}


@pytest.mark.parametrize("name", ["--input", "--format", "--batch-size", "--model", "--variants"])
def test_shared_long_names_fill_the_same_parameter(name):
    params = {p.name for _, p in _visible_options() if name in p.opts}
    assert len(params) == 1, params


def test_input_is_always_a_shape():
    for command, param in _visible_options():
        if "--input" in param.opts:
            assert param.name == "input_shape", command
