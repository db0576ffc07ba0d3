"""A report whose runs were executed in different ways (seed-fused or not, threads) says so."""

import dataclasses

from poolstride.experiment.store import Store
from poolstride.report.write import write_report


def test_the_report_notes_mixed_executions(make_run, tmp_path):
    run = make_run(tmp_path / "mixed")
    with Store(run) as store:  # seeds 0 and 1 seed-fused, seed 2 trained separately
        for rec in store.all_runs():
            fused = 3 if rec.seed < 2 else 1
            metrics = {**rec.metrics, "batched_seeds": fused, "threads": 1}
            store.put(dataclasses.replace(rec, metrics=metrics))
    write_report(run, profiles=False)
    for name in ("report.html", "report.md"):
        text = (run / name).read_text()
        assert "these results mix executions" in text and "--deterministic" in text, name

    plain = make_run(tmp_path / "plain")
    write_report(plain, profiles=False)
    assert "mix executions" not in (plain / "report.md").read_text()
