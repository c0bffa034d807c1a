"""The prosodic emotion classifier: fitted on a corpus's ground truth, judged on generated lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from evaluation_fixtures import VOICES, build_corpus, emotional, speak_words, write_wav

from imagintalk_plugin.core.manifest import read_manifest
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.evaluation.scoring import run_eval

EMOTIONS = ("neutral", "happy", "sad", "surprised")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("emotion_corpus")
    return build_corpus(root, speakers=("s01", "s02"), emotions=EMOTIONS, per_pair=4, seed=5)


def _generated(corpus: Path, folder: Path, *, keep_emotion: bool, voice_of: dict) -> Path:
    folder.mkdir()
    for entry in read_manifest(corpus):
        emotion = entry.emotion if keep_emotion else "neutral"
        voice = emotional(VOICES[voice_of[entry.speaker]], emotion)
        write_wav(folder / f"{entry.id}.wav", speak_words(entry.text.split(), voice, "grid"))
    return folder


def _agreement(corpus: Path, generated: Path | None) -> float:
    job = run_eval(corpus, generated, ground_truth=generated is None, judges=("emotion",))
    return drive(job).report.means["emotion_match"]


def test_ground_truth_emotions_are_recognised(corpus: Path) -> None:
    assert _agreement(corpus, None) >= 0.75


def test_flat_delivery_disagrees_and_a_different_voice_with_emotion_agrees(
    corpus: Path, tmp_path: Path
) -> None:
    same = {"s01": "s01", "s02": "s02"}
    flat = _generated(corpus, tmp_path / "flat", keep_emotion=False, voice_of=same)
    assert _agreement(corpus, flat) <= 0.4  # only the neutral quarter can agree
    swapped = {"s01": "s03", "s02": "s01"}  # another voice, the emotions kept
    acted = _generated(corpus, tmp_path / "acted", keep_emotion=True, voice_of=swapped)
    assert _agreement(corpus, acted) >= 0.6
