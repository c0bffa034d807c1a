"""`imagintalk eval` end to end: report JSON, table, plots, missing files and clean errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from evaluation_fixtures import VOICES, build_corpus, speak_words, write_wav

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.errors import ManifestError, OutputExistsError, UsageError
from imagintalk_plugin.core.manifest import read_manifest
from imagintalk_plugin.core.progress import Progress, drive
from imagintalk_plugin.evaluation.scoring import parse_judges, run_eval

FAST = ("wer", "speaker", "prosody", "signal")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    return build_corpus(root, speakers=("s01", "s02"), per_pair=4, free=1, seed=1)


@pytest.fixture
def generated(corpus: Path, tmp_path: Path) -> Path:
    """Every line but the last, in the other speaker's voice, at 22.05 kHz."""
    import soxr

    folder = tmp_path / "generated"
    folder.mkdir()
    for entry in read_manifest(corpus)[:-1]:
        other = "s02" if entry.speaker == "s01" else "s01"
        samples = speak_words(entry.text.split(), VOICES[other], entry.text_set)
        write_wav(folder / f"{entry.id}.wav", soxr.resample(samples, 16000, 22050), 22050)
    return folder


def test_ceiling_report_table_and_plots(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "ceiling.json"
    steps: list[Progress] = []
    outputs = drive(run_eval(corpus, ground_truth=True, out=out, judges=FAST), steps.append)
    assert steps
    assert steps[-1].done == steps[-1].total
    report = json.loads(out.read_text())
    assert report["judged"] == 10
    assert report["missing"] == {"count": 0, "ids": []}
    means = report["means"]
    assert means["stoi"] == pytest.approx(1.0)
    assert means["mcd_db"] == pytest.approx(0.0)
    assert means["f0_rmse_hz"] == 0.0
    assert means["speaker_sim"] == pytest.approx(1.0)
    assert means["speaker_sim_centroid"] > means["speaker_sim_other"] + 0.1
    assert report["summary"]["wer_corpus_grid"] < 0.15
    assert set(report["by_speaker"]) == {"s01", "s02"}
    row = report["rows"][0]
    assert {"id", "speaker", "wer", "cer", "transcript", "f0_corr", "estoi"} <= set(row)
    table = outputs.summary()
    assert "s01" in table
    assert "all" in table
    assert "WER" in table
    assert "GRID" in table
    for name in ("f0", "wer_by_speaker", "speaker_similarity"):
        png = tmp_path / f"ceiling_{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert png.stat().st_size > 5000
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_generated_folder_with_a_missing_file(corpus: Path, generated: Path) -> None:
    outputs = drive(run_eval(corpus, generated, judges=("speaker", "signal")))
    report = outputs.report
    assert report.missing == [read_manifest(corpus)[-1].id]
    assert len(report.rows) == 9
    assert report.means["speaker_sim_centroid"] < report.means["speaker_sim_other"]
    assert report.means["stoi"] < 0.9
    assert "missing generated audio: 1 utterance(s)" in outputs.summary()


def test_split_limit_and_judges(corpus: Path) -> None:
    outputs = drive(run_eval(corpus, ground_truth=True, split="test", judges=("prosody",)))
    rows = outputs.report.rows
    assert rows
    assert {r["split"] for r in rows} == {"test"}
    assert "wer" not in rows[0]
    assert "f0_rmse_hz" in rows[0]
    limited = drive(run_eval(corpus, ground_truth=True, limit=3, judges=("prosody",)))
    assert len(limited.report.rows) == 3
    assert parse_judges("sync, wer") == ("wer", "sync")
    assert parse_judges(None) == ("wer", "speaker", "prosody", "emotion", "signal", "sync", "lag")
    with pytest.raises(UsageError, match="unknown judge"):
        parse_judges("wer,bleu")


def test_usage_errors(corpus: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no generated audio"):
        drive(run_eval(corpus, empty, judges=("prosody",)))
    with pytest.raises(UsageError, match="not found"):
        drive(run_eval(corpus, tmp_path / "nowhere"))
    with pytest.raises(UsageError, match="no 'valid' utterances"):
        drive(run_eval(corpus, ground_truth=True, split="valid"))
    existing = tmp_path / "r.json"
    existing.write_text("{}")
    with pytest.raises(OutputExistsError):
        drive(run_eval(corpus, ground_truth=True, out=existing))


def test_unreadable_generated_file_is_reported_not_fatal(corpus: Path, generated: Path) -> None:
    first = read_manifest(corpus)[0].id
    (generated / f"{first}.wav").write_bytes(b"RIFF broken")
    report = drive(run_eval(corpus, generated, judges=("prosody",))).report
    assert list(report.unreadable) == [first]
    assert len(report.rows) == 8


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["eval", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line_error(result: tuple[int, str, str], text: str) -> None:
    code, _, err = result
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("imagintalk: error: ")
    assert text in err


def test_cli_ceiling_and_clean_errors(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    code, stdout, _ = _cli(
        capsys, "--manifest", str(corpus), "--ground-truth", "--judges", "prosody,signal",
        "--out", str(out), "--limit", "4", "--quiet",
    )  # fmt: skip
    assert code == 0
    assert "F0 RMSE" in stdout
    assert f"report: {out}" in stdout
    assert json.loads(out.read_text())["judged"] == 4

    missing = _cli(capsys, "--manifest", str(tmp_path / "none.jsonl"), "--ground-truth")
    _one_line_error(missing, "cannot use manifest")
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = _cli(capsys, "--manifest", str(corpus), "--generated", str(empty), "--quiet")
    _one_line_error(nothing, "no generated audio")
    unknown = _cli(capsys, "--manifest", str(corpus), "--ground-truth", "--judges", "x")
    _one_line_error(unknown, "unknown judge")
    exists = _cli(capsys, "--manifest", str(corpus), "--ground-truth", "--out", str(out))
    _one_line_error(exists, "already exists")


def test_manifest_with_missing_audio_is_a_clean_error(corpus: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(corpus.parent, copy)
    next((copy / "audio").iterdir()).unlink()
    with pytest.raises(ManifestError, match="file not found") as info:
        drive(run_eval(copy, ground_truth=True))
    assert info.value.exit_code == 2
