"""The audition player offscreen: it loads the current clip's picture and take, playing moves
the inspect views' playhead, moving the playhead (or the scrub bar) seeks both players, loop
plays on from the start, and without QtMultimedia the player says why and the rest works."""

from __future__ import annotations

import importlib
import itertools
import wave
from pathlib import Path

import numpy as np
import pytest
from panel_fixtures import FACE_CLIPS, OFFLINE_CLIP
from panel_runs import run_clips
from PySide6.QtCore import Qt

from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.ui import audition_media
from imagintalk_plugin.ui.audition import AuditionPlayer
from imagintalk_plugin.ui.audition_media import picture_range, write_take_wav


@pytest.fixture(autouse=True)
def sound_card(monkeypatch) -> None:
    """Play as if the machine had an audio output (a test machine often has none; the panel
    then refuses to play a take in silence, see test_editor_language)."""
    monkeypatch.setattr(audition_media.MediaPair, "has_audio_output", lambda _self: True)


def _wav_samples(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        return data.astype(np.float32) / 32767.0, wav.getframerate()


def test_the_player_loads_the_clip_and_its_take(qtbot, make_panel) -> None:
    window = make_panel()
    player = window.audition
    assert player.available, player.reason.text()
    clip = window.controller.clip("V1-001")
    window.clip_table.select(["V1-001"])
    assert player.video_source() == Path(clip.ref.media_path)  # the picture before any take
    assert player.audio_source() is None
    start, length = picture_range(clip.ref)
    assert length == pytest.approx(30 / 24)  # the clip's source range, not the whole file
    assert start == pytest.approx(2 / 24, abs=0.02)
    qtbot.waitUntil(lambda: player.frames_shown > 0, timeout=20_000)  # a frame is drawn

    run_clips(qtbot, window, ["V1-001"])
    speech = clip.takes[0].speech
    wav = player.audio_source()
    assert wav is not None
    assert wav.is_file()
    samples, rate = _wav_samples(wav)
    assert rate == speech.waveform.sample_rate
    np.testing.assert_allclose(samples, speech.waveform.samples, atol=1e-4)
    take_s = speech.waveform.num_samples / rate
    assert player.length == pytest.approx(max(take_s, length))
    assert player.scrub.maximum() == round(1000 * player.length)

    window.clip_table.select([OFFLINE_CLIP])  # offline: nothing to play, no crash
    assert (player.video_source(), player.audio_source()) == (None, None)
    assert "offline" in player.screen.text().lower()
    assert not player.play_button.isEnabled()


def test_play_moves_the_playhead_and_the_playhead_seeks(qtbot, make_panel) -> None:
    window = make_panel()
    player, views = window.audition, window.views
    run_clips(qtbot, window, ["V1-002"])
    window.clip_table.select(["V1-002"])
    assert player.audio_source() is not None

    views.set_playhead(0.6)  # moving the playhead seeks both players
    assert player.position == pytest.approx(0.6)
    assert player.scrub.value() == 600
    start = picture_range(window.controller.clip("V1-002").ref)[0]
    qtbot.waitUntil(lambda: abs(player.media.audio.position() - 600) <= 40, timeout=10_000)
    qtbot.waitUntil(lambda: abs(player.media.video.position() - 1000 * (start + 0.6)) <= 80)

    player.scrub.setValue(250)  # so does the scrub bar, and the playhead follows
    assert player.position == pytest.approx(0.25)
    assert views.playhead == pytest.approx(0.25)

    seen: list[float] = []
    views.playhead_moved.connect(seen.append)
    qtbot.mouseClick(player.play_button, Qt.MouseButton.LeftButton)
    assert (player.playing, player.play_button.text()) == (True, "Pause")
    qtbot.waitUntil(lambda: views.playhead > 0.6, timeout=10_000)
    assert len(seen) > 3
    assert seen == sorted(seen)  # the playhead runs forward with playback
    assert abs(player.position - views.playhead) < 0.05
    qtbot.waitUntil(lambda: not player.playing, timeout=10_000)  # stops at the end
    assert player.position == pytest.approx(player.length)
    assert views.playhead == pytest.approx(player.length)
    assert player.play_button.text() == "Play"


def test_loop_plays_on_from_the_start(qtbot, make_panel) -> None:
    window = make_panel()
    player, views = window.audition, window.views
    run_clips(qtbot, window, ["V1-001"])
    window.clip_table.select(["V1-001"])
    qtbot.mouseClick(player.loop_button, Qt.MouseButton.LeftButton)
    assert player.looping
    player.seek(player.length - 0.2)
    seen: list[float] = []
    player.position_changed.connect(seen.append)
    player.play()
    qtbot.waitUntil(lambda: any(b < a for a, b in itertools.pairwise(seen)), timeout=10_000)
    assert player.playing  # wrapped to the start and still playing
    qtbot.waitUntil(lambda: 0.1 < views.playhead < 0.5, timeout=10_000)
    qtbot.mouseClick(player.loop_button, Qt.MouseButton.LeftButton)  # loop off
    assert not player.looping
    qtbot.waitUntil(lambda: not player.playing, timeout=10_000)
    assert player.position == pytest.approx(player.length)
    player.toggle()  # at the end, play starts again from the start
    assert player.playing
    assert player.position < 0.2
    player.toggle()
    assert not player.playing


def test_without_qtmultimedia_the_player_says_why(qtbot, make_panel, monkeypatch) -> None:
    real_import = importlib.import_module

    def no_multimedia(name: str, *args, **kwargs):
        if name.startswith("PySide6.QtMultimedia"):
            raise ImportError("libpulse.so.0: cannot open shared object file: No such file")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(audition_media.importlib, "import_module", no_multimedia)
    alone = AuditionPlayer()
    qtbot.addWidget(alone)
    assert not alone.available
    assert alone.reason.text() == (
        "audition unavailable: QtMultimedia cannot load "
        "(libpulse.so.0: cannot open shared object file: No such file)"
    )
    alone.load(None, Waveform(np.zeros(1600, np.float32), 16000), 1)
    alone.play()
    assert not alone.playing
    assert not alone.play_button.isEnabled()

    window = make_panel()  # the rest of the panel works without a player
    player, views = window.audition, window.views
    assert not player.available
    assert player.reason.isVisible()
    assert "libpulse.so.0" in player.reason.text()
    assert "\n" not in player.reason.text()
    run_clips(qtbot, window, [FACE_CLIPS[0]])
    window.clip_table.select([FACE_CLIPS[0]])
    assert "take 1" in views.title.text()
    views.set_playhead(0.7)  # the playhead moves freely
    assert views.playhead == pytest.approx(0.7)
    player.play()
    assert not player.playing


def test_a_take_becomes_a_16_bit_wav(tmp_path: Path) -> None:
    stereo = np.stack([np.full(800, 0.5, np.float32), np.full(800, -0.5, np.float32)])
    path = write_take_wav(Waveform(stereo, 8000), tmp_path / "take.wav")
    samples, rate = _wav_samples(path)
    assert (rate, len(samples)) == (8000, 800)
    np.testing.assert_allclose(samples, 0.0, atol=1e-4)  # mixed to mono
    path = write_take_wav(Waveform(np.array([2.0, -2.0], np.float32), 16000), path)
    np.testing.assert_allclose(_wav_samples(path)[0], [1.0, -1.0], atol=1e-4)  # clipped


def test_stopping_while_the_players_run_never_freezes(qtbot, videos) -> None:
    """Shut a playing pair down at random moments: the players' threads tear their renderers
    down while the GUI thread stops them, the race that froze a direct `stop()`. A freeze here
    fails on the test timeout."""
    rng = np.random.default_rng(0)
    take = Waveform((0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
    for _ in range(12):
        pair = audition_media.MediaPair()
        if not pair.available:
            pytest.skip(pair.reason)
        pair.set_picture(videos[0], 0.1, 1.0)
        pair.set_take("c", 1, take)
        pair.place(0.0, True)
        qtbot.wait(int(rng.integers(0, 400)))
        pair.pause()
        pair.shutdown()
        stopped = type(pair.audio).PlaybackState.StoppedState
        assert [p.playbackState() for p in (pair.video, pair.audio)] == [stopped, stopped]
        assert pair.audio.source().isEmpty()  # the take's WAV is let go
        pair.deleteLater()
