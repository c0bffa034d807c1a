"""Relink media… in the panel: offline clips whose media is found in a chosen folder come
online in the clip list (and can be run), the summary is the status line, and every clip keeps
its takes; a folder that is not there is one line, and nothing changes."""

from __future__ import annotations

import shutil
from pathlib import Path

from panel_fixtures import OFFLINE_CLIP
from panel_runs import run_clips

from imagintalk_plugin.panel_model.state import DONE, OFFLINE, PENDING
from imagintalk_plugin.ui.clip_table import COLUMNS


def test_relink_brings_offline_clips_online(qtbot, make_panel, videos, tmp_path: Path) -> None:
    window = make_panel()
    controller, table = window.controller, window.clip_table
    run_clips(qtbot, window, ["V1-001"])
    before = controller.clip("V1-001").takes[0]
    assert window.relink_button.isEnabled()

    assert window.relink(tmp_path / "nowhere") == ""
    assert (
        window.statusBar().currentMessage()
        == f"media folder '{tmp_path / 'nowhere'}' does not exist"
    )
    assert controller.clip(OFFLINE_CLIP).status == OFFLINE

    media = tmp_path / "found" / "day 1"
    media.mkdir(parents=True)
    shutil.copy(videos[0], media / "missing.mp4")  # the offline clip's file, somewhere else
    summary = window.relink(tmp_path / "found")
    assert summary.startswith("relinked 1 of 1 offline clip(s) from ")
    assert window.statusBar().currentMessage() == summary
    relinked = controller.clip(OFFLINE_CLIP)
    assert (relinked.status, relinked.error) == (PENDING, "")
    assert Path(relinked.ref.media_path) == media / "missing.mp4"
    row = table._rows[OFFLINE_CLIP]
    assert table.table.item(row, COLUMNS.index("Status")).text() == PENDING
    assert table.table.item(row, COLUMNS.index("Note")).text() == ""
    kept = controller.clip("V1-001")
    assert kept.status == DONE
    assert kept.takes == [before]  # the very take, not a copy
    assert kept.track is not None  # its lips too: a regenerate skips the front-end

    run_clips(qtbot, window, [OFFLINE_CLIP])  # the relinked clip runs like any other
    assert controller.clip(OFFLINE_CLIP).status == DONE
    assert window.relink(tmp_path / "found").startswith("no offline clips to relink")
