import pytest


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("poolstride-cache")


@pytest.fixture(autouse=True)
def _isolated_dirs(_session_cache, tmp_path, monkeypatch):
    """Generated data is cached in one temp dir per test session (never the user's home),
    and torchvision sets are looked up in an empty per-test dir unless a test says otherwise."""
    monkeypatch.setenv("POOLSTRIDE_CACHE_DIR", str(_session_cache))
    monkeypatch.setenv("POOLSTRIDE_DATA_DIR", str(tmp_path / "no-data-here"))
