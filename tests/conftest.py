"""Fixtures shared by the unit tests."""

import pytest


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A cache folder of the test's own, so no test reads or writes the user's real data cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("DSTRAIGHT_DATA", raising=False)
    return tmp_path / "xdg-cache" / "dstraight"
