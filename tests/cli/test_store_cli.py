"""Damaged and foreign stores: refused in one line, checked, salvaged, never destroyed."""

import sqlite3

from test_bad_inputs import damage, make_store

from poolstride.cli import main
from poolstride.experiment.store import Store, check_store, salvage_store


def test_a_damaged_store_is_found_salvaged_and_kept(tmp_path, capsys):
    run = damage(make_store(tmp_path / "run", n=150))
    damaged_bytes = (run / "runs.sqlite").read_bytes()
    assert check_store(run)  # problems found
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "poolstride store salvage" in err

    assert main(["store", "salvage", str(run)]) == 0
    out = capsys.readouterr().out
    assert "salvaged" in out and "kept as" in out
    kept = list(run.glob("runs.damaged-*.sqlite"))
    assert len(kept) == 1 and kept[0].read_bytes() == damaged_bytes  # every byte kept
    assert check_store(run) == []
    with Store(run, create=False) as store:
        rows = store.all_runs()
    assert 100 < len(rows) < 150  # the readable rows; the damaged page's rows are gone
    assert len({r.key for r in rows}) == len(rows)
    assert main(["store", "check", str(run)]) == 0
    assert f"{len(rows)} runs" in capsys.readouterr().out


def test_salvage_never_overwrites_an_earlier_kept_file(tmp_path):
    run = damage(make_store(tmp_path / "run", n=150))
    first = salvage_store(run)
    damage(make_store(run, n=150))  # the same directory damaged again, within the second
    second = salvage_store(run)
    assert first[1] != second[1] and first[1].exists() and second[1].exists()


def test_a_foreign_store_is_refused_and_left_untouched(tmp_path, capsys):
    foreign = tmp_path / "theirs"
    foreign.mkdir()
    with sqlite3.connect(foreign / "runs.sqlite") as conn:
        conn.execute("CREATE TABLE runs (id INTEGER, name TEXT)")
        conn.execute("INSERT INTO runs VALUES (1, 'keep me')")
    before = (foreign / "runs.sqlite").read_bytes()
    for argv in (
        ["compare", "-q", "-j", "1", "--steps", "1", "--out", str(foreign)],
        ["report", str(foreign)],
        ["store", "salvage", str(foreign)],
    ):
        assert main(argv) == 2
        assert "not a poolstride" in capsys.readouterr().err
    assert (foreign / "runs.sqlite").read_bytes() == before
    assert sorted(p.name for p in foreign.iterdir()) == ["runs.sqlite"]


def test_a_sound_store_checks_ok(tmp_path, capsys):
    run = make_store(tmp_path / "run")
    assert main(["store", "check", str(run)]) == 0
    assert "ok:" in capsys.readouterr().out and check_store(run) == []
