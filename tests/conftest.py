"""Shared fixtures: the real third-party files in ../shared/realdata (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from shared_data import REALDATA


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read or fill the user's own prepared-clip cache."""
    os.environ["IMAGINTALK_CACHE_DIR"] = str(tmp_path_factory.mktemp("liptrack_cache"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The shared real-data folder; tests using it skip with a reason when it is missing."""
    if not REALDATA.is_dir():
        pytest.skip(f"real third-party data not found at {REALDATA} (set IMAGINTALK_REALDATA)")
    return REALDATA


@pytest.fixture(scope="session")
def timelines_dir(realdata: Path) -> Path:
    """../shared/realdata/timelines."""
    return realdata / "timelines"
