"""The corpus builder end to end: files, manifest, splits, determinism, faces found, sync."""

import hashlib
import json
import wave
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from imagintalk_plugin.audio import load_audio
from imagintalk_plugin.cli import main
from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.manifest import read_manifest
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.evaluation.sync import (
    lag_correlations,
    mouth_curve,
    peak_lag,
    speech_envelope,
)
from imagintalk_plugin.frontend.face_models import shared_face_models
from imagintalk_plugin.frontend.tracking import detection_scales
from imagintalk_plugin.synth.corpus import CorpusSettings, synth_corpus
from imagintalk_plugin.synth.corpus_plan import plan_corpus
from imagintalk_plugin.synth.face_rig import FRAME_SIZE

UTTERANCES, SPEAKERS, SEED = 6, 3, 5


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    settings = CorpusSettings(out=out, utterances=UTTERANCES, speakers=SPEAKERS, seed=SEED, jobs=2)
    return drive(synth_corpus(settings))


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _video_frames(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.average_rate == 25
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)]


def test_manifest_lists_every_utterance_with_its_ground_truth(corpus):
    entries = read_manifest(corpus)
    assert len(entries) == UTTERANCES
    assert {e.speaker for e in entries} == {f"s{i:03d}" for i in range(SPEAKERS)}
    for entry in entries:
        assert entry.text_set == "grid"
        assert len(entry.words) == 6
        assert entry.text == " ".join(w.label for w in entry.words)
        assert entry.phonemes[0].start >= 0.29
        assert entry.phonemes[-1].end <= entry.duration
        assert entry.voice.variant
        assert 0 <= entry.voice.pitch <= 99
        assert entry.emotion in ("neutral", "happy", "sad", "angry", "surprised")
        with wave.open(str(entry.audio)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
            assert wav.getnframes() == round(entry.duration * 16000)
        frames = _video_frames(entry.video)
        assert len(frames) == round(entry.duration * 25)
        assert frames[0].shape == (FRAME_SIZE, FRAME_SIZE, 3)
    speakers = [json.loads(line) for line in (corpus.parent / "speakers.jsonl").open()]
    assert len(speakers) == SPEAKERS
    assert len(speakers[0]["embedding"]) == 128
    assert (corpus.parent / speakers[0]["face"]).is_file()


def test_test_speakers_are_held_out():
    plans = plan_corpus(120, 12, seed=9)
    test = {p.speaker for p in plans if p.split == "test"}
    train = {p.speaker for p in plans if p.split in ("train", "valid")}
    assert len(test) == 2
    assert not test & train
    assert any(p.split == "valid" for p in plans)
    assert {p.emotion for p in plans} == {"neutral", "happy", "sad", "angry", "surprised"}


def test_an_id_prefix_changes_only_the_ids():
    """Two corpora of one seed (say espeak-ng GRID and Kokoro free text) train together only
    with distinct ids; the prefix leaves speakers, splits and sentences as they were."""
    plain, prefixed = plan_corpus(30, 6, seed=9), plan_corpus(30, 6, seed=9, id_prefix="kf_")
    assert [p.id for p in prefixed] == ["kf_" + p.id for p in plain]
    strip = [(p.speaker, p.split, p.words, p.emotion, p.seed) for p in plain]
    assert strip == [(p.speaker, p.split, p.words, p.emotion, p.seed) for p in prefixed]
    with pytest.raises(UsageError, match="bad id prefix"):
        plan_corpus(3, 1, seed=0, id_prefix="../x")


def test_same_seed_gives_the_same_bytes_with_any_number_of_workers(corpus, tmp_path):
    again = drive(
        synth_corpus(
            CorpusSettings(
                out=tmp_path, utterances=UTTERANCES, speakers=SPEAKERS, seed=SEED, jobs=1
            )
        )
    )
    assert _digest(again) == _digest(corpus)
    for entry, other in zip(read_manifest(corpus), read_manifest(again), strict=True):
        assert _digest(entry.video) == _digest(other.video)
        assert _digest(entry.audio) == _digest(other.audio)


def test_the_front_end_detector_finds_the_face_in_every_frame(corpus):
    models = shared_face_models()
    found = total = 0
    for entry in read_manifest(corpus):
        for rgb in _video_frames(entry.video):
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            boxes = models.detect(gray, detection_scales(*gray.shape)[0])
            found += bool(boxes)
            total += 1
    assert found / total >= 0.99


def test_mouth_opening_follows_the_audio(corpus):
    """The front-end's mouth opening on the rendered video against the speech energy."""
    curves = []
    for entry in read_manifest(corpus):
        mouth = mouth_curve(entry.video, entry.id)
        envelope = speech_envelope(load_audio(entry.audio), mouth.fps, len(mouth.opening))
        curves.append(lag_correlations(envelope, mouth.opening, mouth.valid))
    lag, corr = peak_lag(np.mean(curves, axis=0))
    assert abs(lag) <= 1.0
    assert corr > 0.4


def test_existing_corpus_is_not_overwritten_and_bad_options_fail_cleanly(corpus, capsys):
    before = _digest(corpus)
    assert main(["synth", "--out", str(corpus.parent), "--utterances", "1", "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert _digest(corpus) == before
    assert main(["synth", "--out", "x", "--utterances", "1", "--emotions", "glad"]) == 2
    assert "unknown emotion 'glad'" in capsys.readouterr().err
    assert main(["synth", "--out", "x", "--utterances", "0"]) == 2
    with pytest.raises(SystemExit) as exit_info:  # argparse's own choices check
        main(["synth", "--out", "x", "--utterances", "1", "--voice-rule", "loud"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'loud'" in capsys.readouterr().err


@pytest.mark.realdata
def test_faces_from_real_footage_talk_and_are_found(realdata, tmp_path):
    """Speakers from real video frames (GRID and LivePortrait clips): the detector finds the
    face on at least 99% of rendered frames, and the speakers get different voices."""
    faces = tmp_path / "faces"
    faces.mkdir()
    for name in ("GRID/bbaf2n.mpg", "GRID/lbbc2a.mpg", "LivePortrait/d6.mp4"):
        (faces / Path(name).name).symlink_to(realdata / "video" / name)
    settings = CorpusSettings(out=tmp_path / "c", utterances=3, speakers=3, seed=2, faces=faces)
    entries = read_manifest(drive(synth_corpus(settings)))
    models = shared_face_models()
    found = total = 0
    for entry in entries:
        for rgb in _video_frames(entry.video):
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            found += bool(models.detect(gray, detection_scales(*gray.shape)[0]))
            total += 1
    assert found / total >= 0.99
    sources = [json.loads(line)["source"] for line in (tmp_path / "c" / "speakers.jsonl").open()]
    assert sources == ["bbaf2n", "d6", "lbbc2a"]
    assert len({(e.voice.variant, e.voice.pitch) for e in entries}) == 3
