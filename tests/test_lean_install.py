"""The lean install: `poolstride compare` needs only the core dependencies of pyproject.toml,
and every optional one fails with a one-line `pip install 'poolstride[EXTRA]'` hint."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from poolstride.errors import PoolstrideError

ROOT = Path(__file__).resolve().parents[1]

#: Import names of the packages that only extras bring.
OPTIONAL = ("sklearn", "ray", "timm", "tensorboard", "mlflow", "onnx", "onnxruntime", "pandas")
OPTIONAL += ("kornia", "hypothesis", "pytest", "playwright")


def test_extras_are_named_for_what_they_add_and_dev_has_them_all():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for name in ("scikit-learn", "ray", "timm", "tensorboard", "mlflow", "onnx", "pandas"):
        assert name not in core
    extras = project["optional-dependencies"]
    assert {"sklearn", "ray", "timm", "tensorboard", "mlflow", "onnx", "bench", "dev"} <= set(
        extras
    )
    dev = " ".join(extras["dev"])
    for extra in set(extras) - {"dev"}:
        assert extra in dev  # poolstride[sklearn,ray,...] inside dev
    for tool in ("import-linter", "pytest", "hypothesis", "ruff", "playwright", "pytest-xdist"):
        assert tool in dev


#: Distribution names (normalised) of the same packages and what only they bring.
OPTIONAL_DISTS = {"scikit-learn", "mlflow-skinny", "mlflow-tracing", "onnxscript", "onnx-ir"}
OPTIONAL_DISTS |= set(OPTIONAL)


def _lean_site(tmp_path: Path) -> Path:
    """A copy of this venv's site-packages (symlinks) without the optional packages."""
    site = Path(sysconfig.get_paths()["purelib"])
    lean = tmp_path / "site-packages"
    lean.mkdir()
    for entry in site.iterdir():
        module = entry.name.removesuffix(".py")
        dist = entry.name.split("-")[0].lower().replace("_", "-")
        if module in OPTIONAL or module == "_pytest" or dist in OPTIONAL_DISTS:
            continue
        if entry.suffix == ".pth" or "__editable__" in entry.name:
            continue
        (lean / entry.name).symlink_to(entry)
    return lean


@pytest.mark.slow
def test_default_compare_runs_without_any_optional_package(tmp_path):
    """`poolstride compare` in a site-packages without the extras (python -S, nothing else on
    the path): what `pip install .` gives."""
    script = textwrap.dedent(
        f"""
        import sys
        from poolstride.cli import main
        code = main(["compare", "--variants", "max,conv", "--seeds", "1", "--steps", "8",
                     "--train-size", "200", "--batch-size", "32", "--workers", "1", "-q",
                     "--out", {str(tmp_path / "run")!r}])
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {OPTIONAL!r})
        assert not loaded, loaded
        sys.exit(code)
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(_lean_site(tmp_path))]),
    }
    done = subprocess.run(
        [sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert (tmp_path / "run" / "report.html").is_file()


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    from poolstride.data.digits import load_digits_dataset

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(PoolstrideError, match=r"pip install 'poolstride\[sklearn\]'"):
        load_digits_dataset()
