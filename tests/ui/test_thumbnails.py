"""Face thumbnails in the clip list: made off the GUI thread for clips with a face (a face cut
from the clip's middle frame, or the cached LipTrack's), none for offline clips, and replaced by
the front-end's own face picture once a clip has a take."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from panel_fixtures import FACE_CLIPS, OFFLINE_CLIP
from panel_runs import run_clips
from PySide6.QtCore import Qt

from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.frontend.face_models import shared_face_models
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import read_timeline
from imagintalk_plugin.ui import thumbnails
from imagintalk_plugin.ui.thumbnails import THUMB_PX, clip_face, face_pixmap, frame_face


def test_faces_are_cut_from_a_frame_or_read_from_the_cache(scene: Path, tmp_path: Path) -> None:
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.frontend.prepare import prepare_clip

    clips = {c.clip_id: c for c in list_clips(read_timeline(scene))}
    face = frame_face(clips["V1-001"])
    assert face is not None
    assert (face.shape, face.dtype) == ((128, 128, 3), np.uint8)
    assert face.std() > 10  # a picture, not a flat fill
    assert clip_face(clips[OFFLINE_CLIP]) is None

    cache = LipTrackCache(tmp_path / "cache")
    prepared = drive(prepare_clip(clips["V1-002"], cache=cache))
    np.testing.assert_array_equal(clip_face(clips["V1-002"], cache), prepared.track.face_crop)
    # the frame cut matches the front-end's warp: the same face, a similar picture
    cut = frame_face(clips["V1-002"]).astype(np.float32)
    assert np.abs(cut - prepared.track.face_crop.astype(np.float32)).mean() < 40
    own = thumbnails._models()._detector  # this thread's copy, never the worker's own detector
    assert own is not shared_face_models()._detector
    assert own is thumbnails._models()._detector


def test_thumbnails_appear_for_clips_with_a_face(qtbot, make_panel, monkeypatch) -> None:
    threads: list[str] = []
    real = thumbnails.clip_face

    def watched(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(thumbnails, "clip_face", watched)
    window = make_panel()
    table = window.clip_table
    qtbot.waitUntil(lambda: all(table.face(i) is not None for i in FACE_CLIPS), timeout=60_000)
    qtbot.waitUntil(lambda: table.thumbnails.pending() == 0, timeout=30_000)
    assert table.face(OFFLINE_CLIP) is None  # offline clips show none
    assert sorted(threads) == ["imagintalk-thumbnails_0"] * 2  # off the GUI thread
    pixmap = table.face("V1-001")
    assert max(pixmap.width(), pixmap.height()) == THUMB_PX
    shown = table.table.item(table._rows["V1-001"], 0).data(Qt.ItemDataRole.DecorationRole)
    assert shown.toImage() == pixmap.toImage()  # drawn in the Face column

    run_clips(qtbot, window, ["V1-001"])  # the take's own (surest) face replaces the frame cut
    track = window.controller.clip("V1-001").track
    assert table.face("V1-001").toImage() == face_pixmap(track.face_crop).toImage()


def test_a_new_timeline_drops_the_old_thumbnails(qtbot, make_panel, scene: Path) -> None:
    window = make_panel()
    table = window.clip_table
    first = table.thumbnails.generation
    assert window.open_timeline(scene)  # again: the earlier requests are stale
    assert table.thumbnails.generation == first + 1
    assert all(table.face(i) is None for i in FACE_CLIPS)
    table._thumbnail_ready(first, "V1-001", np.full((128, 128, 3), 200, np.uint8))
    assert table.face("V1-001") is None  # a stale result is ignored
    qtbot.waitUntil(lambda: all(table.face(i) is not None for i in FACE_CLIPS), timeout=60_000)
