"""The panel's controller without Qt: clips and their status, takes and seeds, circling,
placing circled takes on a new timeline, and one clip job driven on the real (tiny) model: the
pipeline's clip job, so a panel take is the take `dub` makes with the same settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from panel_fixtures import FACE_CLIPS, OFFLINE_CLIP, START, fake_speech

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import Progress, drive
from imagintalk_plugin.panel_model.controller import (
    PanelController,
    clip_job,
    next_free_output,
    speech_settings,
)
from imagintalk_plugin.panel_model.state import (
    DONE,
    FAILED,
    OFFLINE,
    PENDING,
    RUNNING,
    SPEECH_STAGES,
    ClipRequest,
    ClipResult,
    StyleSettings,
    clip_fraction,
)
from imagintalk_plugin.timeline.bwf import read_bwf_time_reference, read_wav
from imagintalk_plugin.timeline.reading import read_timeline


def _fake_result(request: ClipRequest, level: float = 0.1) -> ClipResult:
    """A take without a model: 2 s of constant audio (longer than the 1.25 s clips)."""
    speech = fake_speech(request.clip.clip_id, request.style.seed, level)
    return ClipResult(request.clip.clip_id, request.take, request.style, None, speech)  # type: ignore[arg-type]


def _take(controller: PanelController, clip_id: str, regenerate: bool = False) -> ClipRequest:
    request = controller.request(clip_id, regenerate)
    assert request is not None
    controller.started(clip_id)
    controller.finished(_fake_result(request))
    return request


def test_opening_a_timeline_lists_its_clips(scene: Path) -> None:
    controller = PanelController()
    events = []
    controller.subscribe(events.append)
    controller.open_timeline(scene)
    assert controller.clip_ids() == [*FACE_CLIPS, OFFLINE_CLIP]
    assert controller.tracks() == ["V1", "V2"]
    assert controller.clip_ids("V2") == [OFFLINE_CLIP]
    second = controller.clip("V1-002")
    assert second.record_timecode == "01:00:02:12"  # frame 60 at 24 fps after 01:00:00:00
    assert second.duration_s == pytest.approx(1.25)
    assert (second.status, second.takes) == (PENDING, [])
    offline = controller.clip(OFFLINE_CLIP)
    assert offline.status == OFFLINE
    assert "missing.mp4" in offline.error
    assert events[-1].kind == "timeline"


def test_takes_seeds_and_statuses(scene: Path) -> None:
    controller = PanelController(StyleSettings(steps=2))
    controller.open_timeline(scene)
    assert controller.request(OFFLINE_CLIP) is None
    first = controller.request("V1-001")
    assert first is not None
    assert (first.take, first.style.seed, first.style.steps, first.track) == (1, 0, 2, None)
    assert controller.request("V1-001") is None  # already queued
    assert controller.busy()
    controller.started("V1-001")
    assert controller.clip("V1-001").status == RUNNING
    controller.progressed(Progress("style-dit", 1, 2, "V1-001"))
    assert 0.3 < controller.clip("V1-001").fraction < 0.95
    controller.finished(_fake_result(first))
    assert not controller.busy()
    assert controller.clip("V1-001").status == DONE
    assert controller.request("V1-001") is None  # Run skips clips that have a take

    second = _take(controller, "V1-001", regenerate=True)
    assert (second.take, second.style.seed) == (2, 1)  # a new seed, shown in the style
    assert controller.clip("V1-001").style.seed == 1
    controller.set_style(["V1-001"], seed_locked=True, pitch=3.0)
    third = _take(controller, "V1-001", regenerate=True)
    assert (third.take, third.style.seed, third.style.pitch) == (3, 1, 3.0)  # locked seed
    assert [t.number for t in controller.clip("V1-001").takes] == [1, 2, 3]

    controller.circle("V1-001", 2)
    assert controller.clip("V1-001").chosen_take().number == 2
    assert controller.clip("V1-001").takes[1].label().startswith("●")
    controller.circle("V1-001", 2)  # again: uncircled, the latest is chosen
    assert controller.clip("V1-001").chosen_take().number == 3
    with pytest.raises(UsageError):
        controller.circle("V1-001", 9)

    assert controller.request("V1-002") is not None
    controller.unqueued(["V1-002"], "cancelled")
    assert (controller.clip("V1-002").status, controller.clip("V1-002").error) == (
        PENDING,
        "cancelled",
    )
    assert controller.request("V1-002") is not None
    controller.started("V1-002")
    controller.failed("V1-002", "clip 'line 2': no face found in any frame")
    assert controller.clip("V1-002").status == FAILED
    assert not controller.busy()


def test_place_writes_circled_takes_and_a_new_timeline(scene: Path, tmp_path: Path) -> None:
    controller = PanelController()
    controller.open_timeline(scene)
    with pytest.raises(UsageError, match="no takes"):
        controller.place(tmp_path / "out.otio")
    _take(controller, "V1-001")
    _take(controller, "V1-001", regenerate=True)
    _take(controller, "V1-002")
    controller.circle("V1-001", 1)
    with pytest.raises(UsageError, match="input timeline"):
        controller.place(scene)
    output = next_free_output(tmp_path, "scene")
    assert output.name == "scene_imagintalk.otio"
    summary = controller.place(output)
    assert "placed 2 take(s)" in summary
    assert "1 clip(s) without a take" in summary
    assert next_free_output(tmp_path, "scene").name == "scene_imagintalk_2.otio"

    loaded = read_timeline(output)
    audio = [t for t in loaded.timeline.tracks if t.kind == otio.schema.TrackKind.Audio]
    assert [t.name for t in audio] == ["ImaginTalk Dialogue"]
    placed = list(audio[0].find_clips())
    assert [c.range_in_parent().start_time.value for c in placed] == [10, 60]
    assert [c.range_in_parent().duration.value for c in placed] == [30, 30]
    assert [c.metadata["imagintalk"]["take"] for c in placed] == [1, 1]  # the circled one
    for clip in placed:
        wav = Path(clip.media_reference.target_url.removeprefix("file://"))
        assert wav.parent.name == "scene_imagintalk_dialogue"
        assert read_wav(wav).num_samples == 60000  # cut to the clip: 30 frames at 24 fps
        assert read_wav(wav).sample_rate == 48000  # delivered as `dub` delivers
        record = clip.range_in_parent().start_time + START
        assert read_bwf_time_reference(wav) == round(record.to_seconds() * 48000)
        assert json.loads(wav.with_suffix(".take.json").read_text())["seed"] == 0


def test_style_settings_become_speech_settings() -> None:
    style = StyleSettings(
        pitch=-2.0, speed=1.25, emotion="sad", guidance=3.0, steps=4, threshold=0.3, seed=7
    )
    settings = speech_settings(style)
    assert (settings.sampler.steps, settings.sampler.guidance) == (4, 3.0)
    assert settings.threshold == 0.3
    o = settings.overrides
    assert (o.emotion, o.pitch_offset_semitones, o.speed_factor, o.seed) == ("sad", -2.0, 1.25, 7)
    assert "seed 7" in style.describe()
    with pytest.raises(ValueError, match="emotion"):
        StyleSettings(emotion="bored")


def test_clip_fraction_runs_from_front_end_to_prosody() -> None:
    steps = [
        Progress("faces", 10, 30, "c"),
        Progress("mouth crops", 30, 30, "c"),
        Progress("lip aligner", 0, 1, "c"),
        Progress("style-dit", 1, 1, "c"),
        Progress("prosody", 1, 1, "c"),
    ]
    fractions = [clip_fraction(s) for s in steps]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


def test_the_panel_model_loads_no_model_code_and_no_qt() -> None:
    """The panel model opens without torch (models load in the worker), Qt or the widgets."""
    code = (
        "import sys, pkgutil, importlib, imagintalk_plugin.panel_model as pm; "
        "names = [m.name for m in pkgutil.iter_modules(pm.__path__)]; "
        "[importlib.import_module(f'imagintalk_plugin.panel_model.{n}') for n in names]; "
        "assert {'controller', 'state', 'session_store', 'saved_takes', 'placing'} <= set(names); "
        "heavy = [m for m in ('torch', 'PySide6', 'pyqtgraph', 'imagintalk_plugin.ui') "
        "if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_clip_job_reads_the_lips_then_speaks(scene: Path, checkpoint: Path) -> None:
    from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages

    controller = PanelController(StyleSettings(steps=2))
    controller.open_timeline(scene)
    models = load_dub_models(checkpoint, "cpu")
    stages = make_stages(models)
    request = controller.request("V1-001")
    steps: list[Progress] = []
    result = drive(clip_job(request, models, stages), steps.append)
    speech = result.speech
    assert speech.waveform.num_samples == result.track.num_frames * 640  # 25 fps at 16 kHz
    assert len(speech.units.tokens) == 2 * result.track.num_frames
    assert speech.take.seed == 0
    stages_seen = [s.stage for s in steps]
    assert stages_seen[0] not in SPEECH_STAGES  # the front-end (or its cache) first
    assert "style-dit" in stages_seen
    assert clip_fraction(steps[-1]) == 1.0
    controller.finished(result)
    again = controller.request("V1-001", regenerate=True)
    assert again.track is result.track  # a regenerated take skips the front-end
    steps.clear()
    drive(clip_job(again, models, stages), steps.append)
    assert all(s.stage in SPEECH_STAGES for s in steps)


def test_a_panel_take_is_the_take_dub_makes(scene: Path, checkpoint: Path, tmp_path: Path) -> None:
    """The panel's worker and `dub` run the same clip job: the same style gives the same
    recipe in the take's record and the same audio."""
    from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages
    from imagintalk_plugin.pipeline.dubbing import DubRequest, dub_timeline
    from imagintalk_plugin.timeline.delivery import for_delivery

    style = StyleSettings(steps=2, seed=5, emotion="happy", pitch=1.0)
    controller = PanelController(style, keep_session=False)
    controller.open_timeline(scene)
    models = load_dub_models(checkpoint, "cpu")
    stages = make_stages(models)
    result = drive(clip_job(controller.request("V1-001"), models, stages))

    output = tmp_path / "out" / "scene_dubbed.otio"
    output.parent.mkdir()
    request = DubRequest(
        scene, output, clips=("V1-001",), seed=5, settings=speech_settings(style), sample_rate=None
    )
    report = drive(dub_timeline(request, lambda: (models, stages)))
    wav = report.outcomes[0].files[0]
    record = json.loads(wav.with_suffix(".take.json").read_text())
    assert record["settings"] == result.speech.take.settings
    assert (record["seed"], record["model_digest"]) == (5, result.speech.take.model_digest)
    seconds = controller.clip("V1-001").duration_s
    expected = for_delivery(result.speech.waveform, None, seconds).samples
    np.testing.assert_allclose(read_wav(wav).samples, expected, atol=1e-5)
