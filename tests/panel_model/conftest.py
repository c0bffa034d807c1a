"""Panel model fixtures: the test scene (`panel_fixtures`); no Qt here."""

from __future__ import annotations

from pathlib import Path

import pytest
from panel_fixtures import write_scene


@pytest.fixture
def scene(videos: list[Path], tmp_path: Path) -> Path:
    """scene.otio (`panel_fixtures.write_scene`): two clips with faces on V1, one offline on V2."""
    return write_scene(videos, tmp_path)
