"""ADR end to end on the tiny random checkpoint: `speak --line`, a take that records its line,
the clip's length kept, a warning for a line that cannot fit; the line table a checkpoint may
carry (fitted by `train line`, loaded with the model); the `inside` judge."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.espeak import speak
from imagintalk_plugin.evaluation.envelope_lag import speech_inside
from imagintalk_plugin.frontend.prepare import prepare_range
from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages
from imagintalk_plugin.pipeline.line_table import LineTable
from imagintalk_plugin.pipeline.speech import SpeechSettings, speak_track
from imagintalk_plugin.timeline.bwf import read_wav_info
from imagintalk_plugin.training.line_stage import agreement, count_pairs
from imagintalk_plugin.training.loops.corpus import Utterance

FAST = SpeechSettings(sampler=replace(SpeechSettings().sampler, steps=2))


@pytest.fixture(scope="module")
def track(videos: list[Path]):
    return drive(prepare_range(videos[0], 0.0, None, clip_id="line")).track


def test_a_take_says_its_line_over_the_whole_clip(checkpoint: Path, track) -> None:
    models = load_dub_models(checkpoint, "cpu")
    stages = make_stages(models)
    settings = replace(FAST, line="bin blue at f two now")
    speech = drive(speak_track(models, stages, track, settings))
    assert speech.take.settings["line"] == "bin blue at f two now"
    assert len(speech.refined.tokens) == 2 * track.num_frames
    seconds = len(speech.waveform.samples) / speech.waveform.sample_rate
    assert seconds == pytest.approx(track.num_frames / track.fps, abs=0.05)
    assert np.all(speech.error_prob == 0)  # the detector has nothing to say of a known line
    lips = drive(speak_track(models, stages, track, FAST))
    assert lips.take.settings["line"] is None
    assert lips.notes == ()


def test_a_line_that_cannot_fit_warns_and_still_speaks(checkpoint: Path, track) -> None:
    models = load_dub_models(checkpoint, "cpu")
    long = replace(FAST, line="bin blue at f two now " * 12)
    speech = drive(speak_track(models, make_stages(models), track, long))
    assert len(speech.notes) == 1
    assert "closest fit" in speech.notes[0]
    assert np.abs(speech.waveform.samples).max() > 0


def test_speak_line_writes_the_take_and_refuses_an_empty_line(
    checkpoint: Path, videos: list[Path], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "line.wav"
    base = ["speak", str(videos[0]), "--checkpoint", str(checkpoint), "--steps", "2", "--quiet"]
    assert main([*base, "-o", str(out), "--line", "lay blue at x four now"]) == 0
    assert "the line in" in capsys.readouterr().out
    info = read_wav_info(out)
    assert info.num_frames / info.sample_rate > 0.5
    empty = tmp_path / "empty.wav"
    assert main([*base, "-o", str(empty), "--line", "  "]) == 2
    assert capsys.readouterr().err.startswith("imagintalk: error: the line is empty")
    assert not empty.exists()


def test_a_checkpoint_with_a_line_table_loads_it(checkpoint: Path, tmp_path: Path) -> None:
    own = tmp_path / "model"
    shutil.copytree(checkpoint, own)
    models = load_dub_models(own, "cpu")
    assert models.line_table is None
    k = models.semantic.units.config.num_units
    table = LineTable.from_counts(np.eye(k) * 5, models.semantic.units.codebook_id, {})
    table.save(own)
    with_table = load_dub_models(own, "cpu")
    assert with_table.line_table is not None
    assert with_table.digest != models.digest  # takes made without the table are not reused


def test_train_line_counts_a_voice_against_itself(checkpoint: Path) -> None:
    """The reference voice's own rendition of a transcript maps each unit onto itself."""
    units = load_dub_models(checkpoint, "cpu").semantic.units
    said = speak("bin blue at f two now").samples
    rest = np.zeros(4800, np.float32)
    clip = Utterance(
        id="u",
        speaker="s",
        split="train",
        crops=np.zeros((1, 96, 96), np.uint8),
        audio=np.concatenate([rest, said, rest]),
        words=("bin", "blue", "at", "f", "two", "now"),
    )
    counts = drive(count_pairs([clip], units))
    assert counts.sum() >= len(clip.audio) // 320  # one pair per step at least
    table = LineTable.from_counts(counts, units.codebook_id, {})
    scores = agreement(table, counts)
    assert scores["identity_agreement"] > 0.9
    assert scores["table_agreement"] >= scores["identity_agreement"] - 1e-9


def test_inside_judge_reads_speech_out_of_place() -> None:
    rate = 16000
    t = np.arange(3 * rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    reference = tone * ((t > 1.0) & (t < 2.0))
    assert speech_inside(reference, reference) == pytest.approx(1.0, abs=1e-3)
    early = tone * (t < 0.8)  # speech while the recording is silent
    assert speech_inside(reference, early) < 0.2


def test_a_cast_take_keeps_the_reference_voice_units(checkpoint: Path, track) -> None:
    """The line table turns the line into the corpus voices' units for the clip's own voice;
    a take whose identity is replaced (dit_voice) keeps the reference voice's units."""
    from imagintalk_plugin.pipeline.line_speech import line_readings
    from imagintalk_plugin.pipeline.line_units import line_units
    from imagintalk_plugin.pipeline.speech import window_starts
    from imagintalk_plugin.pipeline.window_batches import RefineSettings, WindowInput

    models = load_dub_models(checkpoint, "cpu")
    k = models.semantic.units.config.num_units
    counts = np.zeros((k, k))
    counts[:, 3] = 1e6  # every reference unit is recorded as unit 3
    table = LineTable.from_counts(counts, models.semantic.units.codebook_id, {})
    models = replace(models, line_table=table)
    stages = make_stages(models)
    starts = window_starts(track.num_frames, 250, 25)
    windows = [WindowInput(track, s, min(track.num_frames, s + 250)) for s in starts]
    refine = RefineSettings(0.5, 1.0, 1)
    line = "bin blue at f two now"
    where = (0, 1, "line", "")
    own, _ = drive(line_readings(models, stages, windows, line, refine, where, True))
    cast, _ = drive(line_readings(models, stages, windows, line, refine, where, False))
    assert np.mean(np.concatenate([r.refined for r in own]) == 3) > 0.9
    said = set(line_units(line, models.semantic.units).units.tolist())
    assert set(np.concatenate([r.refined for r in cast]).tolist()) <= said
