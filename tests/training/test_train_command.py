"""`imagintalk train` end to end on a rendered ImaginTalk-Synth corpus with the tiny preset:
every stage writes its model and metrics, later stages build on earlier ones, and misuse is a
one-line error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.synth.corpus import CorpusSettings, synth_corpus


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    settings = CorpusSettings(out=out, utterances=14, seed=2, speakers=7, jobs=2)
    return drive(synth_corpus(settings))


@pytest.fixture(scope="module")
def run(manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    for stage in ("units", "aligner", "detector", "refiner"):
        args = ["train", stage, "--preset", "tiny", "--data", str(manifest), "--out", str(out)]
        assert main([*args, "--quiet"]) == 0, stage
    return out


def test_every_stage_leaves_a_model_and_metrics(run: Path) -> None:
    for stage in ("units", "aligner", "detector", "refiner", "refiner_lm"):
        assert (run / stage / "model.safetensors").is_file(), stage
        config = json.loads((run / stage / "config.json").read_text())
        assert config["format_version"] == 1
    codebook = json.loads((run / "units" / "config.json").read_text())["meta"]["codebook_id"]
    for stage in ("aligner", "detector", "refiner"):
        meta = json.loads((run / stage / "config.json").read_text())["meta"]
        assert meta["codebook_id"] == codebook
        assert meta["complete"] is True
    assert len(list((run / "detector" / "folds").iterdir())) == 2  # held-out fold aligners
    test = json.loads((run / "aligner" / "metrics.json").read_text())["test"]
    assert 0.0 <= test["test_unit_acc"] <= 1.0
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["preset"] == "tiny"
    scores = summary["test"]
    for key in (
        "aligner_unit_acc",
        "aligner_majority_acc",
        "detector_auc",
        "refiner_unit_acc_after",
    ):
        assert key in scores
    assert scores["speakers"] >= 1


def test_calibration_chooses_the_refiner_and_loading_follows_it(run: Path, tmp_path: Path) -> None:
    from imagintalk_plugin.core.errors import ModelLoadError
    from imagintalk_plugin.nn.refiner import MASKINGS
    from imagintalk_plugin.pipeline.acoustic_models import weights_digest
    from imagintalk_plugin.pipeline.semantic_models import REFINER_FOLDERS, load_models

    calibration = json.loads((run / "refiner" / "calibration.json").read_text())
    assert calibration["model"] in REFINER_FOLDERS  # picked on validation, saved with it
    assert calibration["masking"] in MASKINGS
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["refiner_model"] == calibration["model"]
    assert summary["refiner_masking"] == calibration["masking"]
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    digests = {}
    for folder in REFINER_FOLDERS:
        calibration["model"] = folder
        (copy / "refiner" / "calibration.json").write_text(json.dumps(calibration))
        digests[folder] = weights_digest(load_models(copy, "cpu").refiner)
    assert digests["refiner"] != digests["refiner_lm"]  # each choice loads its own weights
    calibration["model"] = "refiner_v2"
    (copy / "refiner" / "calibration.json").write_text(json.dumps(calibration))
    with pytest.raises(ModelLoadError, match="unknown refiner 'refiner_v2'"):
        load_models(copy, "cpu")


def test_existing_stage_is_not_overwritten(run: Path, manifest: Path, capsys) -> None:
    before = (run / "aligner" / "model.safetensors").read_bytes()
    args = ["train", "aligner", "--preset", "tiny", "--data", str(manifest), "--out", str(run)]
    assert main([*args, "--quiet"]) == 2
    assert "exists" in capsys.readouterr().err
    assert (run / "aligner" / "model.safetensors").read_bytes() == before


def test_a_model_from_another_codebook_is_refused(
    run: Path, manifest: Path, tmp_path: Path, capsys
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    config_path = copy / "detector" / "config.json"
    config = json.loads(config_path.read_text())
    config["meta"]["codebook_id"] = "mfcc-k16-000000000000"
    config_path.write_text(json.dumps(config))
    args = ["train", "evaluate", "--preset", "tiny", "--data", str(manifest), "--out", str(copy)]
    assert main([*args, "--quiet"]) == 3
    assert "codebook" in capsys.readouterr().err


def test_stage_order_and_bad_preset_are_clear_errors(
    manifest: Path, tmp_path: Path, capsys
) -> None:
    args = ["train", "aligner", "--preset", "tiny", "--data", str(manifest), "--out", str(tmp_path)]
    assert main([*args, "--quiet"]) == 2
    assert "run `imagintalk train units` first" in capsys.readouterr().err
    args[3] = "huge"
    assert main([*args, "--quiet"]) == 2
    assert "unknown preset" in capsys.readouterr().err


def test_phonetic_units_learn_the_corpus_phones(manifest: Path, tmp_path: Path) -> None:
    args = ["train", "units", "--preset", "tiny", "--data", str(manifest), "--out", str(tmp_path)]
    assert main([*args, "--phonetic", "--quiet"]) == 0
    document = json.loads((tmp_path / "units" / "config.json").read_text())
    assert document["config"]["kind"] == "phonetic"
    assert document["meta"]["codebook_id"].startswith("phonetic-k")
    assert len(document["meta"]["phones"]) > 10  # espeak-ng's phones of the rendered sentences
    metrics = json.loads((tmp_path / "units" / "metrics.json").read_text())
    assert metrics["timed_clips"] > 0
    assert 0.0 <= metrics["phone_accuracy_train"] <= 1.0


@pytest.mark.parametrize(
    ("stage", "extra", "expected"),
    [
        ("aligner", [], "--phonetic applies to units, not to 'aligner'"),
        ("units", ["--hubert", "hub"], "give --phonetic or --hubert, not both"),
    ],
)
def test_phonetic_misuse_fails_before_the_corpus_loads(
    stage: str, extra: list[str], expected: str, tmp_path: Path, capsys
) -> None:
    missing = tmp_path / "no_manifest.jsonl"  # never read: the check comes first
    args = ["train", stage, "--preset", "tiny", "--data", str(missing), "--out", str(tmp_path)]
    assert main([*args, "--phonetic", *extra, "--quiet"]) == 2
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize("stage", ["units", "refiner", "evaluate-voice"])
def test_steps_on_a_stage_without_a_schedule_fails_before_the_corpus_loads(
    stage: str, tmp_path: Path, capsys
) -> None:
    missing = tmp_path / "no_manifest.jsonl"  # never read: the check comes first
    args = ["train", stage, "--preset", "tiny", "--data", str(missing), "--out", str(tmp_path)]
    assert main([*args, "--steps", "5", "--quiet"]) == 2
    expected = "--steps applies to aligner, detector, codec, vocoder, dit and dit-voice"
    assert f"{expected}, not to '{stage}'" in capsys.readouterr().err


def test_read_audio_16k_mixes_stereo_down_to_mono(tmp_path: Path) -> None:
    import wave

    import numpy as np

    from imagintalk_plugin.training.training_data import read_audio_16k

    left = np.full(8000, 0.5)
    right = np.full(8000, -0.25)
    pcm = (np.stack([left, right], axis=1) * 32767).astype("<i2")  # (N, 2) interleaved
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm.tobytes())
    samples = read_audio_16k(path)
    assert samples.shape == (8000,)
    assert np.allclose(samples, 0.125, atol=1e-3)
