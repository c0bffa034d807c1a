"""Every judge on a manifest shaped like a real corpus's (voice null, no phonemes, one emotion,
untimed words, one speaker), STOI against audio of another length and rate, and the GRID
grammar for GRID lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
import soxr
from evaluation_fixtures import VOICES, speak_words
from real_manifest_fixtures import grid_s1_manifest, real_style_corpus

from imagintalk_plugin.audio import SAMPLE_RATE, load_audio
from imagintalk_plugin.core.manifest import ManifestEntry, read_manifest
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.evaluation.intelligibility import (
    GRID_SEARCH,
    LM_SEARCH,
    IntelligibilityJudge,
    Recogniser,
)
from imagintalk_plugin.evaluation.judge import Utterance
from imagintalk_plugin.evaluation.scoring import JUDGES, run_eval
from imagintalk_plugin.evaluation.signal_quality import intelligibility_indices


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_style_corpus(tmp_path_factory.mktemp("real_style"), count=4, seed=2)


def _generate(manifest: Path, folder: Path) -> Path:
    """Each line in another voice, 48 kHz stereo 24-bit, 0.3 s of silence after it."""
    folder.mkdir()
    for entry in read_manifest(manifest):
        samples = speak_words(entry.text.split(), VOICES["s02"], entry.text_set)
        samples = np.concatenate([samples, np.zeros(int(0.3 * SAMPLE_RATE), np.float32)])
        high = soxr.resample(samples, SAMPLE_RATE, 48000)
        stereo = np.stack([high, 0.5 * high], axis=1)
        soundfile.write(folder / f"{entry.id}.wav", stereo, 48000, subtype="PCM_24")
    return folder


def test_the_fixture_is_shaped_like_an_imported_corpus(corpus: Path) -> None:
    entries = read_manifest(corpus)
    assert {e.voice for e in entries} == {None}
    assert {e.emotion for e in entries} == {"neutral"}
    assert {e.speaker for e in entries} == {"s01"}
    assert all(e.words == () and e.phonemes == () for e in entries)
    assert all(e.extra == {"words_timed": False} for e in entries)


def test_every_judge_on_a_real_manifest(corpus: Path, tmp_path: Path) -> None:
    """No crash anywhere; what cannot be judged says so: emotion (one label), the other
    speakers' similarity (there are none), mouth sync (placeholder videos)."""
    out = tmp_path / "ceiling.json"
    outputs = drive(run_eval(corpus, ground_truth=True, judges=JUDGES, out=out))
    ceiling = outputs.report
    assert len(ceiling.rows) == 4
    assert ceiling.summary["emotion"].startswith("not judged")
    assert ceiling.summary["speakers"] == 1
    assert "speaker_sim_other" not in ceiling.means
    assert ceiling.means["speaker_sim_centroid"] > 0.7
    assert len(ceiling.summary["sync_failures"]) == 4
    assert ceiling.summary["wer_corpus_grid"] < 0.2
    assert ceiling.means["stoi"] == pytest.approx(1.0)
    assert ceiling.summary["lag_median_ms"] == pytest.approx(0.0, abs=1e-6)
    assert ceiling.summary["lag_mean_corr"] == pytest.approx(1.0)
    assert ceiling.means["f0_rmse_hz"] == 0.0
    table = outputs.summary()
    assert "emotion not judged" in table
    assert "spk-other" not in table
    saved = json.loads(out.read_text())
    assert saved["rows"][0]["speaker_sim_other"] is None
    assert not any(p.name.endswith("speaker_similarity.png") for p in outputs.plots)

    generated = _generate(corpus, tmp_path / "generated")
    report = drive(run_eval(corpus, generated, judges=JUDGES)).report
    assert len(report.rows) == 4
    assert not report.unreadable
    means = report.means
    for column in ("wer", "speaker_sim", "f0_corr", "stoi", "estoi", "mcd_db", "lag_corr"):
        assert np.isfinite(means[column]), column
    assert means["speaker_sim"] < ceiling.means["speaker_sim_centroid"]
    assert means["stoi"] < 0.9


def test_stoi_against_audio_of_another_length_and_rate(tmp_path: Path) -> None:
    """The recording at 16 kHz, the generated copy at 44.1 kHz: longer (trailing silence)
    scores as the same; cut short it loses what is missing, with no error."""
    words = ["place", "red", "in", "b", "nine", "again"]
    reference = speak_words(words, VOICES["s03"], "grid")
    longer = np.concatenate([reference, np.zeros(int(0.4 * SAMPLE_RATE), np.float32)])
    path = tmp_path / "longer.wav"
    soundfile.write(path, soxr.resample(longer, SAMPLE_RATE, 44100), 44100, subtype="PCM_16")
    stoi, estoi = intelligibility_indices(reference, load_audio(path))
    assert stoi > 0.95
    assert estoi > 0.9
    short = load_audio(path)[: int(0.6 * len(reference))]
    cut = intelligibility_indices(reference, short)
    assert 0.0 < cut[0] < stoi - 0.1
    assert np.isfinite(cut[1])


class _SpyDecoder:
    """Stands in for PocketSphinx's decoder: records which search each clip was decoded with."""

    def __init__(self) -> None:
        self.searches: list[str] = []

    def activate_search(self, name: str) -> None:
        self.searches.append(name)

    def start_utt(self) -> None:
        pass

    def process_raw(self, data: bytes, full_utt: bool = False) -> None:
        pass

    def end_utt(self) -> None:
        pass

    def hyp(self) -> Any:
        return None


def test_grid_lines_are_decoded_with_the_grid_grammar(corpus: Path) -> None:
    spy = _SpyDecoder()
    recogniser = Recogniser()
    recogniser._decoder = spy
    judge = IntelligibilityJudge(recogniser)
    entry = read_manifest(corpus)[0]
    free = ManifestEntry(**{**entry.__dict__, "text_set": "free", "text": "a free line"})
    audio = np.zeros(SAMPLE_RATE, np.float32)
    for item in (entry, free):
        row = judge.score(Utterance(item, audio, audio))
        assert row["wer"] == 1.0
    assert spy.searches == [GRID_SEARCH, LM_SEARCH]


@pytest.mark.realdata
@pytest.mark.slow
def test_real_grid_clips_every_judge(realdata: Path, tmp_path: Path) -> None:
    """Two real GRID s1 clips (recording decoded from AAC in mp4), voice null: the ceiling
    with every judge, then the recording 80 ms late at 44.1 kHz as the 'generated' take."""
    grid_s1 = realdata / "grid-s1"
    if not (grid_s1 / "video" / "bbaf2n.mp4").is_file():
        pytest.skip(f"{grid_s1} not in the shared real data")
    manifest = grid_s1_manifest(tmp_path / "corpus", grid_s1, ["bbaf2n", "bbal6n"])
    ceiling = drive(run_eval(manifest, ground_truth=True, judges=JUDGES)).report
    summary = ceiling.summary
    assert summary["wer_corpus_grid"] <= 1 / 6
    assert summary["emotion"].startswith("not judged")
    assert summary["sync_failures"] == {}
    assert summary["sync_pooled_corr"] > 0.3  # the mouth-sync judge reads the mp4's face
    assert summary["lag_median_ms"] == pytest.approx(0.0, abs=1e-6)
    folder = tmp_path / "generated"
    folder.mkdir()
    for entry in read_manifest(manifest):
        late = np.concatenate([np.zeros(80 * 16, np.float32), load_audio(entry.audio)])
        soundfile.write(folder / f"{entry.id}.wav", soxr.resample(late, SAMPLE_RATE, 44100), 44100)
    report = drive(run_eval(manifest, folder, judges=("signal", "lag", "speaker"))).report
    assert report.summary["lag_median_ms"] == pytest.approx(80.0, abs=10.0)
    assert report.means["speaker_sim"] > 0.85  # resemblyzer's windows move with the shift
    # STOI compares the same times: the very recording 80 ms late already scores low.
    assert report.means["stoi"] < 0.5
