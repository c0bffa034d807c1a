"""The shipped data is package data (`imagintalk_plugin/data`), or `$IMAGINTALK_DATA_DIR`."""

from __future__ import annotations

from pathlib import Path

import pytest

import imagintalk_plugin
from imagintalk_plugin.core import paths
from imagintalk_plugin.core.errors import UsageError


def test_the_shipped_data_is_package_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    package = Path(imagintalk_plugin.__file__).parent
    assert paths.data_dir() == package / "data"
    assert not (package / "data" / "__init__.py").exists()  # data, not a package
    assert (paths.default_checkpoint() / "dit" / "model.safetensors").is_file()
    assert paths.demo_timeline().is_file()
    assert len(paths.demo_videos()) == 5
    assert (paths.host_adapters_dir() / "blender" / "imagintalk" / "__init__.py").is_file()
    assert paths.is_shipped(paths.demo_timeline())
    assert not paths.is_shipped(package / "cli")


def test_a_data_folder_can_be_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "demo" / "media").mkdir(parents=True)
    (tmp_path / "demo" / "media" / "a.mp4").write_bytes(b"")
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path))
    assert paths.default_checkpoint() == tmp_path / "models" / "demo"
    assert paths.demo_timeline() == tmp_path / "demo" / "demo.otio"
    assert paths.demo_videos() == [tmp_path / "demo" / "media" / "a.mp4"]
    assert paths.host_adapters_dir() == tmp_path / "host_adapters"
    assert paths.is_shipped(tmp_path / "demo" / "demo.otio")
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "nope"))
    with pytest.raises(UsageError, match=r"IMAGINTALK_DATA_DIR=.*nope is not a folder"):
        paths.data_dir()
