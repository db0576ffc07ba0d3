"""`compare --mlflow`: one MLflow run per poolstride run under a parent run per grid."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from poolstride.cli import main
from poolstride.errors import PoolstrideError
from poolstride.experiment.mlflow_tracking import (
    log_grid,
    require_mlflow,
    resolve_uri,
    run_metrics,
)
from poolstride.experiment.store import RunRecord

TINY = ["--steps", "12", "--batch-size", "32", "--train-size", "200", "--device", "cpu"]
TINY += ["--workers", "1", "-q", "--no-estimate"]


def _record(key="k1", variant="max", seed=0, status="finished"):
    curve = {
        "step": [4, 8, 12],
        "train_loss": [2.3, 2.0, float("nan")],
        "lr": [0.003, 0.002, 0.001],
        "eval_step": [6, 12],
        "test_acc": [0.4, 0.5],
        "test_loss": [1.9, 1.7],
    }
    return RunRecord(
        key=key,
        status=status,
        config={"variant": variant, "seed": seed, "steps": 12, "variants_note": [1, 2]},
        metrics={"test_acc": 0.5, "steps": 12, "device": "cpu", "ok": True, "curve": curve},
        reason="" if status == "finished" else "diverged at step 3",
    )


def _search(mlflow, uri, **kwargs):
    """``mlflow.search_runs`` of the poolstride experiment in the store at ``uri``."""
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        return mlflow.search_runs(experiment_names=["poolstride"], **kwargs)
    finally:
        mlflow.set_tracking_uri(before)


def test_resolve_uri_dirs_become_sqlite_stores_and_uris_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri, artifacts = resolve_uri(None)
    assert uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    assert artifacts == (tmp_path / "mlruns" / "artifacts").as_uri()
    assert resolve_uri("http://127.0.0.1:5000") == ("http://127.0.0.1:5000", None)
    assert resolve_uri("sqlite:///x.db") == ("sqlite:///x.db", None)
    assert resolve_uri("store")[0].endswith("/store/mlflow.db")


def test_mlflow_option_takes_an_optional_uri():
    from poolstride.cli.compare import compare

    def parsed(*args):
        return compare.make_context("compare", list(args)).params["mlflow"]

    assert parsed("--steps", "3") is None
    assert parsed("--mlflow", "--steps", "3") == "mlruns"
    assert parsed("--steps", "3", "--mlflow") == "mlruns"
    assert parsed("--mlflow", "http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert parsed("--mlflow", "store") == "store"


def test_run_metrics_curves_per_step_and_finals_at_the_last_step():
    pytest.importorskip("mlflow")
    metrics = run_metrics(_record(), timestamp=0)
    by_key: dict[str, list] = {}
    for m in metrics:
        by_key.setdefault(m.key, []).append((m.step, m.value))
    assert by_key["train_loss"] == [(4, 2.3), (8, 2.0)]  # NaN dropped
    assert by_key["lr"] == [(4, 0.003), (8, 0.002), (12, 0.001)]
    assert by_key["test_acc"] == [(6, 0.4), (12, 0.5), (12, 0.5)]  # curve, then final
    assert by_key["test_loss"] == [(6, 1.9), (12, 1.7)]
    assert "device" not in by_key and "ok" not in by_key and "curve" not in by_key


def test_log_grid_store_params_histories_artifacts_and_no_duplicates(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    run_dir = tmp_path / "grid"
    run_dir.mkdir()
    (run_dir / "report.html").write_text("<html>report</html>")
    (run_dir / "results.json").write_text("{}")
    records = [_record("k1"), _record("k2", variant="avg", status="failed")]
    store = tmp_path / "ml"
    parent = log_grid(
        records, target=str(store), grid={"variants": ["max", "avg"]}, run_dir=run_dir
    )
    again = log_grid(records, target=str(store), grid={"variants": ["max", "avg"]}, run_dir=run_dir)
    assert again == parent  # a resumed grid reuses its parent run and adds nothing twice
    uri, _ = resolve_uri(str(store))
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    runs = _search(mlflow, uri, output_format="list")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    assert len(runs) == 3 and len(children) == 2
    by_key = {r.data.tags["poolstride.key"]: r for r in children}
    assert by_key["k1"].info.status == "FINISHED" and by_key["k2"].info.status == "FAILED"
    assert by_key["k2"].data.tags["poolstride.reason"] == "diverged at step 3"
    assert by_key["k1"].data.params["variant"] == "max"
    assert by_key["k1"].data.params["variants_note"] == "[1, 2]"
    history = client.get_metric_history(by_key["k1"].info.run_id, "lr")
    assert [(m.step, m.value) for m in history] == [(4, 0.003), (8, 0.002), (12, 0.001)]
    names = {a.path for a in client.list_artifacts(by_key["k1"].info.run_id)}
    assert names == {"report.html", "results.json", "run.json"}
    parent_run = client.get_run(parent)
    assert parent_run.data.params["variants"] == '["max", "avg"]'
    assert {a.path for a in client.list_artifacts(parent)} == {"report.html", "results.json"}


def test_missing_mlflow_is_a_one_line_error_before_training(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(PoolstrideError, match=r"pip install 'poolstride\[mlflow\]'"):
        require_mlflow()
    code = main(["compare", "--mlflow", "--out", str(tmp_path / "r"), *TINY])
    assert code == 2
    assert "poolstride[mlflow]" in capsys.readouterr().err
    assert not (tmp_path / "r" / "runs.sqlite").exists()


def _curve_of(client, run_id, tmp_path):
    """The learning curve of a child run, read back from its ``run.json`` artifact."""
    path = client.download_artifacts(run_id, "run.json", str(tmp_path))
    return json.loads(Path(path).read_text())["metrics"]["curve"]


@pytest.mark.slow
def test_compare_mlflow_local_store(tmp_path, monkeypatch, capsys):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    args = ["compare", "--variants", "max,avg", "--seeds", "1", "--out", "run", "--mlflow"]
    code = main([*args, *TINY])  # --mlflow with no value: ./mlruns
    assert code == 0, capsys.readouterr().err
    uri, _ = resolve_uri("mlruns")
    runs = _search(mlflow, uri)
    assert len(runs) == 3  # the grid and its two runs
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert sorted(children["params.variant"]) == ["avg", "max"]
    assert set(children["params.seed"]) == {"0"}
    assert children["metrics.test_acc"].between(0, 1).all()
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    run_id = children["run_id"].iloc[0]
    curve = _curve_of(client, run_id, tmp_path)
    train = client.get_metric_history(run_id, "train_loss")
    assert [m.step for m in train] == curve["step"]
    test_acc = client.get_metric_history(run_id, "test_acc")  # the curve and the final
    assert sorted({m.step for m in test_acc}) == curve["eval_step"] and len(curve["eval_step"]) > 1
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"report.html", "report.md", "results.json", "run.json"} <= artifacts
    parent = runs[runs["tags.mlflow.parentRunId"].isna()].iloc[0]
    assert parent["tags.mlflow.runName"] == "run"
    assert parent["params.mlflow"] == "mlruns"


@pytest.mark.slow
def test_log_grid_to_a_tracking_server_on_loopback(tmp_path):
    """A real `mlflow server` started here on 127.0.0.1 (artifacts proxied by the server)."""
    mlflow = pytest.importorskip("mlflow")
    import contextlib
    import os
    import signal
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its uvicorn worker is stopped with it (one process group)
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.skip("mlflow server did not start on loopback")
            time.sleep(0.5)
        run_dir = tmp_path / "grid"
        run_dir.mkdir()
        (run_dir / "report.html").write_text("<html>report</html>")
        parent = log_grid([_record("k1")], target=uri, grid={"steps": 12}, run_dir=run_dir)
        client = mlflow.tracking.MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("poolstride").experiment_id
        children = client.search_runs(
            [experiment], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'"
        )
        assert len(children) == 1 and children[0].data.params["variant"] == "max"
        run_id = children[0].info.run_id
        assert [m.step for m in client.get_metric_history(run_id, "lr")] == [4, 8, 12]
        assert {a.path for a in client.list_artifacts(run_id)} == {"report.html", "run.json"}
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, sig)
            try:
                server.wait(timeout=20)
                break
            except subprocess.TimeoutExpired:
                continue
