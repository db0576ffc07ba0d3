"""--image-size and --data-options: checked early, part of the run key, and the data they load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from poolstride.cli import main
from poolstride.comparison import compare
from poolstride.errors import PoolstrideError
from poolstride.experiment.config import CompareConfig, RunConfig, dataset_options, make_config
from poolstride.experiment.store import RunRecord
from poolstride.experiment.workload import load_data
from poolstride.report.run import rebuild_model, reproduce_command


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("POOLSTRIDE_CACHE_DIR", str(tmp_path / "cache"))


def _folder(root, size=(12, 10), per_class=8):
    """Two classes of random RGB PNGs, ``size`` = (width, height)."""
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels, "RGB").save(root / cls / f"{i}.png")
    return root


def test_runs_without_the_new_options_keep_their_keys():
    # the keys of these configs before --image-size and --data-options existed
    assert RunConfig().key == "1bab1a69190d5db0"
    assert RunConfig(dataset="folder:/x", variant="avg", seed=3).key == "463736d94f2b7fd0"
    assert "image_size" not in RunConfig().identity()
    assert "data_options" not in RunConfig().identity()


def test_the_options_are_part_of_the_key_in_one_canonical_form():
    base = RunConfig(dataset="folder:/x")
    sized = dataclasses.replace(base, image_size="64")
    assert sized.key != base.key
    assert dataclasses.replace(base, image_size="64x64").key == sized.key
    assert dataclasses.replace(base, image_size=64).image_size == "64"
    assert dataclasses.replace(base, image_size=(64, 96)).image_size == "64x96"
    assert dataclasses.replace(base, image_size=" 64X96 ").image_size == "64x96"
    one = RunConfig(data_options="train_split=0.75, num_samples=1500")
    two = RunConfig(data_options={"num_samples": 1500, "train_split": "0.75"})
    assert one.data_options == two.data_options == "num_samples=1500,train_split=0.75"
    assert one.key == two.key != RunConfig().key
    assert RunConfig(data_options="").data_options is None
    assert RunConfig(data_options="").key == RunConfig().key


def test_loader_keyword_options():
    assert dataset_options(None, None) == {}
    assert dataset_options("64", None) == {"image_size": 64}
    assert dataset_options("64x96", "test_fraction=0.1") == {
        "image_size": (64, 96),
        "test_fraction": 0.1,
    }
    assert dataset_options(None, "num_samples=20000,shuffle_seq=true") == {
        "num_samples": 20000,
        "shuffle_seq": True,
    }


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"image_size": "64"}, "--image-size applies to image folders"),
        ({"dataset": "folder:/x", "image_size": "0"}, "image_size must be a positive integer"),
        ({"dataset": "folder:/x", "image_size": "-3x4"}, "got '-3x4'"),
        ({"dataset": "folder:/x", "image_size": "big"}, "HEIGHTxWIDTH (64x96), got 'big'"),
        ({"dataset": "folder:/x", "image_size": "2x3x4"}, "got '2x3x4'"),
        ({"dataset": "shapes2d", "image_size": "16x24"}, "shapes2d images are square"),
        ({"data_options": "nums=5"}, "unknown --data-options key for dataset 'mnist1d': 'nums'"),
        ({"data_options": "num_samples=0"}, "num_samples must be a positive integer, got '0'"),
        ({"data_options": "num_samples=many"}, "got 'many'"),
        ({"data_options": "train_split=1"}, "strictly between 0 and 1, got '1'"),
        ({"data_options": "shuffle_seq=perhaps"}, "true or false, got 'perhaps'"),
        ({"data_options": "num_samples"}, "KEY=VALUE pairs"),
        ({"data_options": "num_samples=5,num_samples=6"}, "gives num_samples twice"),
        ({"data_options": "use_cache=false"}, "unknown --data-options key"),
        ({"dataset": "folder:/x", "data_options": "image_size=8"}, "as --image-size"),
        ({"dataset": "folder:/x", "data_options": "stream=true"}, "as --stream"),
        ({"dataset": "cifar10", "data_options": "num_samples=5"}, "'cifar10' takes no"),
        ({"data_options": 5}, "data_options must be KEY=VALUE"),
    ],
)
def test_bad_values_are_one_line_errors(fields, message):
    for build in (RunConfig, CompareConfig):
        with pytest.raises(PoolstrideError) as err:
            build(**fields)
        assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--image-size", "32"], "--image-size applies to image folders"),
        (["--dataset", "folder:/x", "--image-size", "0"], "image_size must be a positive"),
        (["--data-options", "bogus=1"], "unknown --data-options key"),
        (["--data-options", "num_samples=-1"], "num_samples must be a positive integer"),
    ],
)
def test_cli_bad_values_exit_2(argv, message, capsys, tmp_path):
    code = main(["compare", "--out", str(tmp_path / "run"), *argv])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err


def test_mnist1d_num_samples_sets_the_train_and_test_sizes():
    ds = load_data(RunConfig(data_options="num_samples=1500", steps=1))
    assert (ds.train_size, ds.test_size) == (1200, 300)  # the package's 80/20 split
    subset = load_data(RunConfig(data_options="num_samples=1500", train_size=600, steps=1))
    assert (subset.train_size, subset.test_size) == (600, 300)


def test_a_folder_compared_at_an_image_size(tmp_path):
    folder = _folder(tmp_path / "images")
    common = dict(
        dataset=f"folder:{folder}",
        variants="max,avg",
        seeds=1,
        steps=2,
        batch_size=4,
        eval_points=1,
        shift_samples=4,
        workers=1,
        threads=1,
    )
    native = compare(**common, out=tmp_path / "native")
    sized = compare(**common, image_size="16", out=tmp_path / "sized")
    assert {tuple(r.metrics["input_shape"]) for r in native.records} == {(3, 10, 12)}
    assert {tuple(r.metrics["input_shape"]) for r in sized.records} == {(3, 16, 16)}
    assert all(r.finished for r in native.records + sized.records)
    assert not {r.key for r in native.records} & {r.key for r in sized.records}

    record = sized.records[0]
    command = reproduce_command(sized.records)
    assert "--image-size 16" in command
    # a run stored without its input shape is rebuilt on the same (resized) data
    bare = RunRecord(key=record.key, status="finished", config=record.config, metrics={})
    _model, input_shape = rebuild_model(bare)
    assert input_shape == (3, 16, 16)


def test_the_reproduce_command_carries_the_data_options():
    cfg = RunConfig(data_options="num_samples=1500,train_split=0.75")
    record = RunRecord(key=cfg.key, status="finished", config=cfg.to_dict(), metrics={})
    command = reproduce_command([record])
    assert "--data-options num_samples=1500,train_split=0.75" in command


def test_a_config_file_may_give_the_options_as_a_mapping(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("data-options: {train_split: 0.75, num_samples: 1500}\nvariants: max\n")
    cfg = make_config(path)
    assert cfg.data_options == "num_samples=1500,train_split=0.75"
    assert make_config(cfg.to_dict()).runs()[0].key == cfg.runs()[0].key
