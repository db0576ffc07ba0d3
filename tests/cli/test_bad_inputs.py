"""The bad-input corpus: every hostile input found so far, through the CLI and the API.

Each CLI case must end with exit code 2 and exactly one line on stderr, ``error: ...``,
naming the problem (no traceback, no click usage block); each API case must raise a
:class:`PoolstrideError` with a one-line message. Add a row for every new bug found.

Paths in a case are written with ``{tmp}`` (the test's own directory) and the fixtures made
by :func:`_make` (``{damaged}``, ``{foreign}``, ...): nothing here trains a model.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from poolstride.cli import main
from poolstride.errors import PoolstrideError
from poolstride.experiment.config import CompareConfig, RunConfig
from poolstride.experiment.store import RunRecord, Store

# -- fixtures written on disk ----------------------------------------------------------------


def _record(seed: int, variant: str = "max") -> RunRecord:
    cfg = RunConfig(variant=variant, seed=seed, steps=5)
    return RunRecord(
        key=cfg.key,
        status="finished",
        config=cfg.to_dict(),
        metrics={"test_acc": 0.5 + seed / 100, "curve": list(range(50))},
        started_at=f"2026-01-01T00:00:{seed % 60:02d}",
    )


def make_store(path: Path, n: int = 4) -> Path:
    with Store(path) as store:
        for seed in range(n):
            store.put(_record(seed))
    return path


def damage(run_dir: Path) -> Path:
    """Overwrite a page in the middle of the store's file (`database disk image is malformed`)."""
    path = run_dir / "runs.sqlite"
    with open(path, "r+b") as f:
        f.seek(4096 * 8)
        f.write(b"\xff" * 4096)
    return run_dir


def _images(root: Path, classes: dict[str, int]) -> Path:
    rng = np.random.default_rng(0)
    for name, n in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
            Image.fromarray(pixels, "RGB").save(root / name / f"{i}.png")
    return root


def _make(tmp: Path) -> dict[str, str]:
    """The on-disk fixtures the cases refer to, by name."""
    damage(make_store(tmp / "damaged", n=150))
    foreign = tmp / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / "runs.sqlite") as conn:
        conn.execute("CREATE TABLE runs (id INTEGER, name TEXT)")
        conn.execute("INSERT INTO runs VALUES (1, 'not ours')")
    other = tmp / "other"
    other.mkdir()
    with sqlite3.connect(other / "runs.sqlite") as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    text = tmp / "text"
    text.mkdir()
    (text / "runs.sqlite").write_text("this is not a database, just text\n" * 100)
    (tmp / "empty").mkdir()
    Store(tmp / "empty").close()
    make_store(tmp / "good")
    (tmp / "a-file.txt").write_text("a regular file")
    _images(tmp / "one-class", {"cats": 6})
    yamls = {
        "lr-list": "lr: [0.1]\n",
        "steps-bool": "steps: true\n",
        "variants-map": "variants: {max: 1}\n",
        "seeds-huge": "seeds: 99999999999999999999\n",
        "seeds-backwards": "seeds: 5-2\n",
        "unknown-key": "learning_rate: 0.1\n",
        "a-list": "- max\n- conv\n",
        "malformed": "variants: [max, conv\n",
        "batch-text": "batch-size: many\n",
        "momentum-big": "momentum: 2\n",
        "dataset-number": "dataset: 3\n",
        "download-text": "download: 'yes'\n",
        "wd-negative": "weight_decay: -0.1\n",
        "lr-inf": "lr: .inf\n",
        "seed-negative": "seeds: [-1, 2]\n",
        "variant-number": "variants: [max, 3]\n",
        "out-number": "out: 7\n",
        "workers-bool": "workers: true\n",
    }
    for name, body in yamls.items():
        (tmp / f"{name}.yaml").write_text(body)
    return {
        "tmp": str(tmp),
        "damaged": str(tmp / "damaged"),
        "foreign": str(foreign),
        "other": str(other),
        "text": str(text),
        "empty": str(tmp / "empty"),
        "good": str(tmp / "good"),
        "file": str(tmp / "a-file.txt"),
        "oneclass": str(tmp / "one-class"),
    }


# -- the CLI corpus: (command line, text the one error line must contain) --------------------

_C = "compare -q -j 1 --out {tmp}/run "  # compare cases never reach training
_D = _C + "--dataset digits --steps 1 "  # ... nor a slow dataset
_SWAP = "swap torchvision:resnet18 --variant max --input 3x32x32 "

CLI_CASES = [
    # compare: numbers and budgets
    (_C + "--lr inf", "lr must be a finite number"),
    (_C + "--lr nan", "lr must be"),
    (_C + "--lr -1", "lr must be > 0"),
    (_C + "--lr 0", "lr must be > 0"),
    (_C + "--lr fast", "Invalid value for '--lr'"),
    (_C + "--weight-decay -1", "weight_decay must be >= 0"),
    (_C + "--weight-decay inf", "weight_decay must be a finite number"),
    (_C + "--steps 0", "steps must be a positive integer"),
    (_C + "--steps -5", "steps must be a positive integer"),
    (_C + "--steps many", "Invalid value for '--steps'"),
    (_C + "--epochs 0", "epochs must be a positive integer"),
    (_C + "--batch-size 0", "batch_size must be a positive integer"),
    (_C + "--train-size -1", "train_size must be a positive integer"),
    (_C + "--width 0", "width must be a positive integer"),
    (_C + "--depth -2", "depth must be a positive integer"),
    # compare: seeds
    (_C + "--seeds 99999999999999999999", "seeds must be >= 1 and at most"),
    (_C + "--seeds 5-2", "seed range '5-2' is empty"),
    (_C + "--seeds 0", "seeds must be >= 1"),
    (_C + "--seeds -3", "seeds must be >= 1"),
    (_C + "--seeds abc", "cannot read seeds"),
    (_C + "--seeds 1,1", "distinct"),
    (_C + "--seeds 0-99999", "holds more than"),
    (_C + "--seeds 1,x", "cannot read seeds"),
    # compare: names and choices
    (_C + "--variants ,", "variants is empty"),
    (_C + "--variants max,max", "variants repeat"),
    (_C + "--variants max,conv --baseline avg", "baseline 'avg' is not among"),
    (_C + "--optimizer rmsprop", "Invalid value for '--optimizer'"),
    (_C + "--schedule cosin", "Invalid value for '--schedule'"),
    (_C + "--device tpu", "Invalid value for '--device'"),
    (_C + "--test mannwhitney", "Invalid value for '--test'"),
    (_C + "--workers 0", "workers must be a positive integer"),
    (_C + "--threads 0", "threads must be a positive integer"),
    (_C + "--address auto", "needs --backend ray"),
    (_C + "--no-such-option", "No such option"),
    (_C + "--steps", "requires an argument"),
    (_D + "--variants maxx", "unknown downsampling kind 'maxx'"),
    (_D + "--model nope", "unknown model 'nope'"),
    (_D + "--head nope", "unknown head 'nope'"),
    (_C + "--dataset nope", "unknown dataset 'nope'"),
    # compare: config files
    (_C + "--config {tmp}/missing.yaml", "config file not found"),
    (_C + "--config {tmp}/lr-list.yaml", "lr must be a number, got [0.1]"),
    (_C + "--config {tmp}/steps-bool.yaml", "steps must be a positive integer, got True"),
    (_C + "--config {tmp}/variants-map.yaml", "variants must be a list of variant names"),
    (_C + "--config {tmp}/seeds-huge.yaml", "seeds must be >= 1 and at most"),
    (_C + "--config {tmp}/seeds-backwards.yaml", "seed range '5-2' is empty"),
    (_C + "--config {tmp}/unknown-key.yaml", "unknown config key 'learning_rate'"),
    (_C + "--config {tmp}/a-list.yaml", "must hold a mapping"),
    (_C + "--config {tmp}/malformed.yaml", "cannot parse config file"),
    (_C + "--config {tmp}/batch-text.yaml", "batch_size must be a positive integer"),
    (_C + "--config {tmp}/momentum-big.yaml", "momentum must be in [0, 1]"),
    (_C + "--config {tmp}/dataset-number.yaml", "dataset must be a string"),
    (_C + "--config {tmp}/download-text.yaml", "download must be true or false"),
    (_C + "--config {tmp}/wd-negative.yaml", "weight_decay must be >= 0"),
    (_C + "--config {tmp}/lr-inf.yaml", "lr must be a finite number"),
    (_C + "--config {tmp}/seed-negative.yaml", "a seed must be in [0, 2**63)"),
    (_C + "--config {tmp}/variant-number.yaml", "each variant must be a name"),
    ("compare -q -j 1 --config {tmp}/out-number.yaml", "out must be a string"),
    ("compare -q --out {tmp}/run --config {tmp}/workers-bool.yaml", "workers must be a"),
    # compare: run directories and data folders
    ("compare -q -j 1 --out {damaged}", "is damaged"),
    ("compare -q -j 1 --out {foreign}", "is not a poolstride run store"),
    ("compare -q -j 1 --out {other}", "is not a poolstride run store (tables: invoices)"),
    ("compare -q -j 1 --out {text}", "damaged or not SQLite"),
    ("compare -q -j 1 --out {file}/run", "cannot create run directory"),
    (_C + "--dataset folder:{file}", "is a file, not a folder"),
    (_C + "--dataset folder:{tmp}/nowhere", "does not exist"),
    (_C + "--dataset folder:{oneclass}", "at least two class folders"),
    (_C + "--dataset folder:", "needs a path"),
    # shape: sizes known before anything is allocated
    ("shape conv99999999-16 --input 3x32x32", "its weight would hold"),
    ("shape max2 --input 3x100000x100000", "values per example"),
    ("shape fc-99999999 --input 3x32x32", "its weight would hold"),
    ("shape conv3-99999999 --input 3x32x32", "channels is more than"),
    ("shape conv:k3-9999999 --input 3x32x32", "channels is more than"),
    ("shape 'conv3-4096, conv3-4096' --input 3x1000x1000", "values per example"),
    # shape: the grammar
    ("shape '' --input 3x32x32", "empty spec"),
    ("shape 'conv3-16,,max2' --input 3x32x32", "is empty"),
    ("shape foo --input 3x32x32", "expected a layer"),
    ("shape max2 --input 3x0x4", "input shape '3x0x4' is not valid"),
    ("shape max2 --input abc", "input shape 'abc' is not valid"),
    ("shape max2 --input 3x8x8x8x8", "is not valid"),
    ("shape max2", "Missing option '--input'"),
    ("shape max9 --input 3x4x4", "max9"),
    ("shape conv3-8:g3 --input 4x8x8", "groups=3 must divide"),
    ("shape 'gap, conv3-8' --input 3x8x8", "needs a spatial input"),
    ("shape drop2 --input 3x8x8", "expected drop"),
    ("shape max2 --input 3x8x8 --format xml", "Invalid value for '--format'"),
    ("shape conv3-0 --input 3x8x8", "must be >= 1"),
    # swap and explain: output paths checked before the work
    (_SWAP + "--save {tmp}/no/such/dir/x.pt", "does not exist"),
    (_SWAP + "--save {tmp}", "is a directory"),
    (_SWAP + "--min-channels -1", "--min-channels must be >= 0"),
    ("swap nope:x --variant max", "unknown model source 'nope'"),
    ("swap torchvision:resnet18", "missing option --variant"),
    ("explain max --gif {tmp}/no/such/dir/x.gif", "does not exist"),
    ("explain max --gif {tmp}", "is a directory"),
    ("explain shift --gif {tmp}/x.gif", "not 'shift'"),
    ("explain nope", "unknown topic 'nope'"),
    ("explain --matrix '1 2; 3'", "ragged rows"),
    ("explain -k 0", "kernel=0 is invalid"),
    # profile
    ("profile torchvision:resnet18 --input 3x0", "is not valid"),
    ("profile max2 --input 3x8x8 --batch-size 0", "batch_size=0"),
    ("profile nope:x", "expected a layer"),
    ("profile torchvision:resnet18 --input 3x100000x100000", "values per example"),
    ("swap torchvision:resnet18 --variant max --input 3x100000x100000", "values per example"),
    # report and store: damaged, foreign, missing stores
    ("report {tmp}/missing", "no run store"),
    ("report {damaged}", "is damaged"),
    ("report {foreign}", "is not a poolstride run store"),
    ("report {text}", "damaged or not SQLite"),
    ("report {good} --baseline nope --no-layers", "nope"),
    ("report {good} --test zz", "Invalid value for '--test'"),
    ("store check {damaged}", "is damaged"),
    ("store check {tmp}/missing", "no run store"),
    ("store check {foreign}", "not a poolstride store"),
    ("store salvage {foreign}", "nothing to salvage"),
    ("store salvage {text}", "cannot be read as SQLite"),
    ("store salvage {tmp}/missing", "no run store"),
    ("store nope", "No such command 'nope'"),
    ("store check", "Missing argument 'RUN_DIR'"),
    # the group itself
    ("nope", "No such command 'nope'"),
    ("--nope", "No such option"),
]


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    return _make(tmp_path_factory.mktemp("bad-inputs"))


def _argv(line: str, disk: dict[str, str], tmp: Path) -> list[str]:
    return shlex.split(line.format(**{**disk, "tmp": str(tmp)}))


def _prepare(tmp: Path, disk: dict[str, str]) -> None:
    """Per-test copies of the YAML files (the cases refer to them under {tmp})."""
    for name in Path(disk["tmp"]).glob("*.yaml"):
        (tmp / name.name).write_text(name.read_text())


@pytest.mark.parametrize("line, expected", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_is_one_line_and_exit_2(line, expected, disk, tmp_path, capsys):
    _prepare(tmp_path, disk)
    code = main(_argv(line, disk, tmp_path))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in out + err
    assert expected in lines[0], lines[0]


# -- the API corpus: (callable, text the one-line PoolstrideError must contain) --------------


def _compare_config(**kwargs):
    return lambda: CompareConfig.from_mapping(kwargs)


def _api_cases():
    from poolstride.data import load_dataset
    from poolstride.experiment.config import load_config_file, parse_seeds
    from poolstride.experiment.store import check_store, salvage_store
    from poolstride.geometry.shape_strings import parse_input_shape, parse_shape
    from poolstride.layers import make_downsample, make_head
    from poolstride.layers.spec import build_spec, parse_spec, spec_shapes

    return [
        ("make_downsample dim=0", lambda: make_downsample("max", 3, dim=0), "dim must be 1 or 2"),
        ("make_downsample dim='2'", lambda: make_downsample("avg", 3, dim="2"), "dim must be 1"),
        ("make_downsample dim=3", lambda: make_downsample("conv", 3, dim=3), "dim must be 1"),
        ("make_downsample kind", lambda: make_downsample("maxx", 3), "unknown"),
        ("make_downsample type", lambda: make_downsample(3, 3), "downsampling"),
        ("make_head kind", lambda: make_head("nope", 3), "unknown"),
        ("lr list", _compare_config(lr=[0.1]), "lr must be a number"),
        ("lr inf", _compare_config(lr=float("inf")), "finite"),
        ("lr text", _compare_config(lr="fast"), "lr must be a number"),
        ("steps bool", _compare_config(steps=True), "steps must be a positive integer"),
        ("steps float", _compare_config(steps=2.5), "steps must be a positive integer"),
        ("seeds huge", _compare_config(seeds=10**20), "seeds must be >= 1"),
        ("seeds map", _compare_config(seeds={"a": 1}), "seeds must be a list"),
        ("seeds range", _compare_config(seeds="5-2"), "seed range '5-2' is empty"),
        ("variants map", _compare_config(variants={"max": 1}), "variants must be a list"),
        ("variants nested", _compare_config(variants=[["max"]]), "each variant must be"),
        ("weight decay", _compare_config(weight_decay=-1), "weight_decay must be >= 0"),
        ("momentum", _compare_config(momentum=-0.5), "momentum must be in"),
        ("data seed", _compare_config(data_seed=-1), "data_seed must be in"),
        ("batch seeds", _compare_config(batch_seeds="yes"), "batch_seeds must be"),
        ("unknown key", _compare_config(learning_rate=1), "unknown config key"),
        ("run field", lambda: RunConfig.from_dict({"nope": 1}), "unknown run config field"),
        ("run seed", lambda: RunConfig(seed=-1), "seed must be in"),
        ("parse_seeds", lambda: parse_seeds("5-2"), "is empty"),
        ("parse_seeds text", lambda: parse_seeds("x"), "cannot read seeds"),
        ("config missing", lambda: load_config_file("/no/such/file.yaml"), "not found"),
        ("spec empty", lambda: parse_spec(""), "empty spec"),
        ("spec none", lambda: parse_spec(None), "empty spec"),
        ("spec bad", lambda: parse_spec("conv3-"), "expected conv"),
        ("spec huge conv", lambda: build_spec("conv99999999-16", "3x32x32"), "weight"),
        ("spec huge input", lambda: spec_shapes("max2", "3x100000x100000"), "per example"),
        ("shape zero", lambda: parse_shape("3x0"), "is not valid"),
        ("shape text", lambda: parse_input_shape("big"), "bad input shape"),
        ("dataset name", lambda: load_dataset("nope"), "unknown dataset"),
        ("dataset type", lambda: load_dataset(3), "must be a string"),
        ("folder file", lambda: load_dataset(f"folder:{__file__}"), "is a file"),
        ("store missing", lambda: Store("/no/such/dir", create=False), "no run store"),
        ("check missing", lambda: check_store("/no/such/dir"), "no run store"),
        ("salvage missing", lambda: salvage_store("/no/such/dir"), "no run store"),
    ]


API_CASES = _api_cases()


@pytest.mark.parametrize("name, call, expected", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input_is_one_poolstride_error(name, call, expected):
    with pytest.raises(PoolstrideError) as info:
        call()
    assert "\n" not in str(info.value)
    assert expected in str(info.value), str(info.value)


def test_the_corpus_has_at_least_80_cases():
    assert len(CLI_CASES) + len(API_CASES) >= 80
    assert len({c[0] for c in CLI_CASES}) == len(CLI_CASES)  # no duplicate rows


# -- inputs that used to crash and must now simply work ---------------------------------------


def test_space_to_depth_on_an_empty_batch():
    from poolstride.layers import make_downsample

    assert make_downsample("space-to-depth", 3)(torch.zeros(0, 3, 4, 4)).shape == (0, 3, 2, 2)
    assert make_downsample("space-to-depth", 3, 5, dim=1)(torch.zeros(0, 3, 6)).shape == (0, 5, 3)


# -- read-only directories: as a user without write permission (root ignores the bits) -------


def _as_user(argv: list[str], home: Path) -> subprocess.CompletedProcess:
    """Run ``poolstride argv`` as an unprivileged user when the tests run as root."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = {**os.environ, "HOME": str(home), "MPLCONFIGDIR": str(home)}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "poolstride", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _open_for_others(paths: list[Path]) -> list[tuple[Path, int]]:
    """Let another user traverse the directories above ``paths`` (o+x, not o+r), so the
    unprivileged process can run this checkout's Python and poolstride even when the clone
    sits in a private (0700) folder; return what to restore."""
    changed = []
    for path in paths:
        for directory in [path, *path.parents]:
            mode = directory.stat().st_mode
            if directory.is_dir() and not mode & 0o001:
                directory.chmod(mode | 0o001)
                changed.append((directory, mode))
    return changed


@pytest.fixture
def readonly_run():
    if os.geteuid() == 0 and not Path("/usr/bin/setpriv").exists():
        pytest.skip("running as root without setpriv: cannot make a directory read-only")
    import poolstride

    opened = []
    if os.geteuid() == 0:
        opened = _open_for_others(
            [
                Path(poolstride.__file__).resolve().parent,
                Path(sys.prefix).resolve(),
                Path(sys.executable).resolve().parent,
            ]
        )
    base = Path(tempfile.mkdtemp(prefix="poolstride-ro-"))
    base.chmod(0o755)
    home = base / "home"
    home.mkdir()
    home.chmod(0o777)
    run = make_store(base / "run")
    before = (run / "runs.sqlite").read_bytes()
    run.chmod(0o555)
    yield run, home
    run.chmod(0o755)
    for directory, mode in reversed(opened):
        directory.chmod(mode)
    assert (run / "runs.sqlite").read_bytes() == before  # the stored results never change
    subprocess.run(["rm", "-rf", str(base)], check=False)


def test_read_only_run_directory_fails_before_any_work(readonly_run):
    run, home = readonly_run
    for argv, expected in [
        (["report", str(run), "--no-layers"], "is not writable"),
        (["compare", "-q", "-j", "1", "--steps", "1", "--out", str(run)], "is not writable"),
        (["store", "salvage", str(run)], "is not writable"),
    ]:
        done = _as_user(argv, home)
        assert done.returncode == 2, done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and expected in errors[0], done.stderr
        assert "Traceback" not in done.stderr
    done = _as_user(["store", "check", str(run)], home)  # reading still works
    assert done.returncode == 0 and "4 runs" in done.stdout, done.stderr
