"""The shipped demo model on the shipped demo scene: the README's main job works as written,
every dialogue clip sits frame-exact under its picture, and the checkpoint stays small and
free of pickles and training state."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.paths import default_checkpoint, demo_timeline
from imagintalk_plugin.pipeline.dub_models import PARTS
from imagintalk_plugin.timeline.bwf import read_wav
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import read_timeline

pytestmark = pytest.mark.skipif(
    not (default_checkpoint() / "dit" / "config.json").exists(),
    reason="the demo model is not in imagintalk_plugin/data/models/demo",
)
MAX_MB = 60


def test_the_shipped_checkpoint_is_small_and_holds_only_inference_files() -> None:
    folder = default_checkpoint()
    files = [p for p in folder.rglob("*") if p.is_file() and "onnx" not in p.parts]
    assert sum(p.stat().st_size for p in files) < MAX_MB * 1e6
    assert {p.suffix for p in files} <= {".json", ".safetensors", ".md"}
    assert not [p for p in files if p.name.startswith("trainer_state")]
    for part in PARTS:
        assert (folder / part / "model.safetensors").is_file(), part


def test_the_shipped_checkpoint_has_a_dit_voice_that_learned_without_lips() -> None:
    """`dit_voice/` speaks the takes with a replaced identity; withholding their lips is only
    right for a DiT trained with lip dropout."""
    from imagintalk_plugin.pipeline.acoustic_models import load_voice_models

    models = load_voice_models(default_checkpoint(), "cpu")
    assert models.override is not None
    assert models.override.generator.config.lip_drop == 0.5
    assert models.generator.config.lip_drop == 0.0


@pytest.mark.slow
def test_dub_on_the_demo_scene_places_dialogue_under_every_picture(tmp_path: Path) -> None:
    output = tmp_path / "demo_dubbed.otio"
    assert main(["dub", "-o", str(output), "--quiet"]) == 0  # the README's main job
    pictures = {c.clip_id: c for c in list_clips(read_timeline(demo_timeline()))}
    loaded = read_timeline(output)
    audio = [
        clip
        for track in loaded.timeline.tracks
        if track.kind == otio.schema.TrackKind.Audio
        for clip in track.find_clips()
    ]
    assert len(audio) == len(pictures) == 5  # three synthetic clips, two real (GRID s1)
    for clip in audio:
        picture = pictures[clip.metadata["imagintalk"]["source_clip_id"]]
        assert clip.range_in_parent() == picture.record_range  # frame-exact
        wav = read_wav(Path(clip.media_reference.target_url.removeprefix("file://")))
        seconds = picture.record_range.duration.to_seconds()
        assert wav.num_samples == round(seconds * wav.sample_rate)
        assert abs(wav.samples).max() > 0.01  # speech, not silence
