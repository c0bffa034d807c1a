"""Blender -> the real ImaginTalk panel (`python -m imagintalk_plugin.ui --link`) -> Blender.

A tiny random checkpoint and two rendered talking faces are made by the main venv; the bridge
exports the two movie strips, starts the panel offscreen, dubs them, and places the takes.
"""

from __future__ import annotations

import json
import os
import time

import bpy
import pytest
from blender_main_venv import MAIN_PYTHON, REPO, run_main
from blender_scenes import add_movie, new_scene, sound_strips, strips

PREPARE = """
import json, sys
from pathlib import Path
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.synth.corpus import CorpusSettings, synth_corpus
from tiny_checkpoint import write_tiny_checkpoint

out = Path(sys.argv[1])
checkpoint = write_tiny_checkpoint(out / "checkpoint")
faces = out / "faces"
manifest = drive(synth_corpus(CorpusSettings(out=faces, utterances=2, seed=3, speakers=2, jobs=2)))
entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
videos = [str(faces / e["video"]) for e in entries]
print(json.dumps({"checkpoint": str(checkpoint), "videos": videos}))
"""


def _panel_supports_link() -> bool:
    app = REPO / "imagintalk_plugin" / "ui" / "app.py"
    return app.is_file() and "--link" in app.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, main_python):
    """A tiny checkpoint and two face clips (25 fps), made in the main venv."""
    if not _panel_supports_link():
        pytest.skip("the panel has no --link mode yet (imagintalk_plugin/ui/app.py)")
    out = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests")}
    return json.loads(run_main(["-c", PREPARE, str(out)], env=env).stdout.splitlines()[-1])


def _poll_until(bridge, condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bridge.session.poll()
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out; the session says: {bridge.session.STATE.status}")


@pytest.mark.slow
def test_dub_two_faces_and_place_them(bridge, prepared, session_file, monkeypatch, tmp_path):
    command = [str(MAIN_PYTHON), "-m", "imagintalk_plugin.ui", "--checkpoint"]
    command.append(prepared["checkpoint"])
    monkeypatch.setenv("IMAGINTALK_PANEL_COMMAND", json.dumps(command))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    scene = new_scene("faces", 25, frame_start=1)
    first, second = (str(v) for v in prepared["videos"])
    add_movie(scene, "face one", first, channel=1, frame=1).select = True
    add_movie(scene, "face two", second, channel=2, frame=400).select = True
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "faces.blend"))

    assert bpy.ops.imagintalk.dub_selected() == {"FINISHED"}
    state = bridge.session.STATE
    _poll_until(bridge, lambda: len(state.finished) == 2 or bool(state.error), timeout=480)
    assert not state.error
    assert {r["status"] for r in state.finished.values()} == {"done"}, state.finished

    assert bpy.ops.imagintalk.place_takes() == {"FINISHED"}
    _poll_until(bridge, lambda: bool(state.report) or bool(state.error), timeout=120)
    assert not state.error
    assert sorted(state.report["placed"]) == ["V1-001", "V2-001"], state.report

    scene = bpy.data.scenes["faces"]
    movies = sorted((s for s in strips(scene) if s.type == "MOVIE"), key=lambda s: s.frame_start)
    sounds = sound_strips(scene)
    assert len(sounds) == 2
    for movie, sound in zip(movies, sounds, strict=True):
        assert sound.frame_final_start == movie.frame_final_start
        assert sound.frame_final_duration == movie.frame_final_duration
        assert sound.channel == 3
    assert scene.sequence_editor.channels[3].name.startswith("ImaginTalk")
