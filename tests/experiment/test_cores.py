"""Threads per worker: forced, a fair share of one, or the faster of 1 and the share, timed."""

import pytest
import torch

from poolstride.experiment import cores
from poolstride.experiment.cores import load_average, load_warning, pick_threads


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(cores, "cpu_count", lambda: 4)


def _timer(ms_by_threads):
    """Fake calibration steps whose time depends on the torch threads set while they run."""
    return lambda: ms_by_threads[torch.get_num_threads()] / 1000


def test_threads_forced_are_not_timed():
    choice = pick_threads(lambda: pytest.fail("timed"), workers=1, forced=3)
    assert choice.threads == 3 and choice.ms_by_threads == {} and "--threads" in choice.reason


def test_a_fair_share_of_one_is_not_timed(four_cores):
    choice = pick_threads(lambda: pytest.fail("timed"), workers=4)
    assert choice.threads == 1 and "4 // 4" in choice.reason


@pytest.mark.parametrize("ms, best", [({1: 6.1, 2: 448.0}, 1), ({1: 90.0, 2: 50.0}, 2)])
def test_the_faster_of_one_thread_and_the_share_wins(four_cores, ms, best):
    before = torch.get_num_threads()
    choice = pick_threads(_timer(ms), workers=2)
    assert torch.get_num_threads() == before  # restored
    assert choice.threads == best
    assert choice.ms_by_threads == pytest.approx(ms)
    assert "measured" in choice.reason and "1 thread" in choice.reason
    assert choice.to_dict()["ms_by_threads"] == {str(k): v for k, v in choice.ms_by_threads.items()}


def test_a_load_above_the_cores_is_one_warning_line():
    text = load_warning(3.5, 2)
    assert "load average 3.5" in text and "2 cores" in text and "\n" not in text
    assert load_warning(1.9, 2) is None


def test_the_load_average_is_a_number_where_the_os_has_one():
    load = load_average()
    assert load is None or load >= 0
