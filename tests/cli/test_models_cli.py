"""``poolstride models [PATTERN]``: poolstride's own models, torchvision's and timm's, as typed."""

from __future__ import annotations

import importlib.util
import json

from poolstride.cli import main
from poolstride.models import MODELS

HAS_TIMM = importlib.util.find_spec("timm") is not None


def test_lists_every_source_as_the_names_are_typed(capsys):
    assert main(["models", "resnet", "--format", "json"]) == 0
    out = capsys.readouterr()
    names = [row["name"] for row in json.loads(out.out)["models"]]
    assert "resnet20" in names and "torchvision:resnet18" in names
    assert ("timm:resnet18" in names) == HAS_TIMM
    assert all("resnet" in name for name in names)
    assert main(["models", "resnet"]) == 0
    out = capsys.readouterr()
    assert out.out.split() == names
    assert f"{len(names)} models (" in out.err and "matching 'resnet'" in out.err


def test_glob_source_and_weights(capsys):
    assert main(["models", "resnet1?", "--source", "torchvision", "--with-weights"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["torchvision:resnet18  [DEFAULT, IMAGENET1K_V1]"]
    assert main(["models", "--source", "poolstride"]) == 0
    assert capsys.readouterr().out.split() == sorted(MODELS, key=list(MODELS).index)


def test_without_timm_says_how_to_install(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "timm" else real(name, *a)
    )
    assert main(["models", "resnet18"]) == 0
    out = capsys.readouterr()
    assert "timm:" not in out.out
    assert "pip install 'poolstride[timm]'" in out.err


def test_markdown_and_no_match(capsys):
    assert main(["models", "vgg11", "--source", "torchvision", "--format", "markdown"]) == 0
    assert "| torchvision:vgg11 | torchvision |" in capsys.readouterr().out
    assert main(["models", "no-such-model"]) == 0
    assert capsys.readouterr().err.startswith("0 models")


def test_weights_means_one_thing_in_every_command():
    import click

    from poolstride.cli import cli

    ctx = click.Context(cli)
    found = {}
    for name in cli.list_commands(ctx):
        for param in cli.get_command(ctx, name).params:
            if "--weights" in getattr(param, "opts", ()):
                found[name] = (param.name, param.is_flag)
    assert found == {"profile": ("weights", False), "swap": ("weights", False)}
