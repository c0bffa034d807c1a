"""`imagintalk train codec|vocoder|dit|dit-voice|evaluate-voice` end to end on a rendered
ImaginTalk-Synth corpus with the tiny preset: each stage writes its model with the identities
that tie it to the others, the evaluation voices the test clips and judges them, an existing
stage is kept, a DiT made for another codec is refused, and so is a `dit_voice` made for
another aligner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.nn.units import UnitExtractor
from imagintalk_plugin.pipeline.acoustic_models import (
    load_codec,
    load_voice_models,
    weights_digest,
)
from imagintalk_plugin.pipeline.semantic_models import load_aligner
from imagintalk_plugin.synth.corpus import CorpusSettings, synth_corpus

pytestmark = pytest.mark.slow  # renders a corpus and trains six stages: about two minutes

STAGES = ("units", "aligner", "codec", "vocoder", "dit", "dit-voice", "evaluate-voice")
VERSIONS = ("vocoder", "codec", "dit")


def _train(stage: str, manifest: Path, out: Path) -> int:
    args = ["train", stage, "--preset", "tiny", "--data", str(manifest), "--out", str(out)]
    if stage == "dit":  # a quarter of the DiT's items without lips
        args += ["--lip-drop", "0.25"]
    # dit-voice: the tiny preset's 2 speakers without video (8 utterances each), half the
    # items without lips
    return main([*args, "--quiet"])


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("voice_corpus")
    # seed 1: speakers 1-3 train (one clip of speaker 2 valid), speaker 0's two clips test
    settings = CorpusSettings(out=out, utterances=8, seed=1, speakers=4, jobs=2)
    return drive(synth_corpus(settings))


@pytest.fixture(scope="module")
def splits(manifest: Path) -> dict[str, list[str]]:
    entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    found: dict[str, list[str]] = {}
    for entry in entries:
        found.setdefault(entry.get("split") or "train", []).append(entry["id"])
    assert set(found) == {"train", "valid", "test"}, found
    return found


@pytest.fixture(scope="module")
def run(manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("voice_run")
    for stage in STAGES:
        assert _train(stage, manifest, out) == 0, stage
    return out


def test_each_stage_leaves_its_model_tied_to_the_codec(run: Path) -> None:
    for stage in ("codec", "vocoder_gan", "vocoder", "dit", "dit_voice"):
        assert (run / stage / "model.safetensors").is_file(), stage
        assert _config(run / stage)["format_version"] == 1
    _, codec_id = load_codec(run, "cpu")
    assert codec_id.startswith("codec-2x16-")

    gan = load_file(str(run / "vocoder_gan" / "model.safetensors"))
    assert {name.split(".")[0] for name in gan} == {"generator", "discriminator"}
    vocoder = _config(run / "vocoder")
    assert vocoder["format"] == "imagintalk/vocoder"
    assert vocoder["meta"]["codec_id"] == codec_id
    assert vocoder["meta"]["trained_in"] == "vocoder_gan"
    alone = load_file(str(run / "vocoder" / "model.safetensors"))
    assert alone.keys() == {n.removeprefix("generator.") for n in gan if n.startswith("generator.")}
    for name, tensor in alone.items():  # the generator alone: the GAN's own generator weights
        assert (gan[f"generator.{name}"] == tensor).all(), name
    assert _config(run / "vocoder_gan")["meta"]["codec_id"] == codec_id

    units = UnitExtractor.load(run / "units")
    for stage in ("dit", "dit_voice"):
        meta = _config(run / stage)["meta"]
        assert meta["complete"] is True
        assert meta["codec_id"] == codec_id
        assert meta["codebook_id"] == units.codebook_id
        assert meta["aligner_id"] == weights_digest(load_aligner(run, units, "cpu"))
        assert len(meta["expression_mean"]) == len(meta["expression_std"]) > 0
        assert min(meta["expression_std"]) > 0
    bank = {s: _config(run / s)["meta"]["voice_only_speakers"] for s in ("dit", "dit_voice")}
    assert bank == {"dit": 0, "dit_voice": 2}
    assert _config(run / "dit_voice")["meta"]["voice_only_utterances"] == 16
    assert _config(run / "dit")["config"]["lip_drop"] == 0.25
    assert _config(run / "dit_voice")["config"]["lip_drop"] == 0.5  # the tiny preset's

    for stage in ("codec", "vocoder_gan", "dit", "dit_voice"):
        metrics = json.loads((run / stage / "metrics.json").read_text())
        assert metrics["history"], stage
        assert metrics["test"], stage
    models = load_voice_models(run, "cpu")
    assert models.codec_id == codec_id
    assert models.override is not None
    assert weights_digest(models.override_generator) == weights_digest(
        load_voice_models(run, "cpu").override_generator
    )
    assert weights_digest(models.override_generator) != weights_digest(models.generator)


def test_evaluation_voices_the_test_clips_and_judges_them(run: Path, splits) -> None:
    for version in VERSIONS:
        written = sorted(p.stem for p in (run / "voice_eval" / version).glob("*.wav"))
        assert written == sorted(splits["test"]), version
    metrics = json.loads((run / "voice_metrics.json").read_text())
    assert metrics["preset"] == "tiny"
    for name in ("ground_truth", *VERSIONS):
        assert metrics[name]["judged"] == len(splits["test"]), name
        means = metrics[name]["means"]
        assert "mcd_db" in means, name
        assert "speaker_sim" in means, name
    assert metrics["ground_truth"]["means"]["mcd_db"] == pytest.approx(0.0, abs=1e-6)
    assert "f0_offset_by_emotion" in metrics["dit"]


def test_an_existing_dit_is_not_overwritten(run: Path, manifest: Path, capsys) -> None:
    before = (run / "dit" / "model.safetensors").read_bytes()
    config = (run / "dit" / "config.json").read_text()
    capsys.readouterr()
    assert _train("dit", manifest, run) == 2
    assert "exists" in capsys.readouterr().err
    assert (run / "dit" / "model.safetensors").read_bytes() == before
    assert (run / "dit" / "config.json").read_text() == config


def test_a_dit_from_another_codec_is_refused(
    run: Path, manifest: Path, tmp_path: Path, capsys
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "voice_metrics.json").unlink()
    path = copy / "dit" / "config.json"
    config = json.loads(path.read_text())
    config["meta"]["codec_id"] = "codec-2x16-000000000000"
    path.write_text(json.dumps(config))
    capsys.readouterr()
    assert _train("evaluate-voice", manifest, copy) == 3  # ModelLoadError
    err = capsys.readouterr().err
    assert "codec_id" in err
    assert "codec-2x16-000000000000" in err
    assert not (copy / "voice_metrics.json").exists()


def test_a_dit_voice_from_another_aligner_is_refused(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("voice_eval", "vocoder_gan"))
    path = copy / "dit_voice" / "config.json"
    config = json.loads(path.read_text())
    config["meta"]["aligner_id"] = "000000000000"
    path.write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="aligner_id 000000000000"):
        load_voice_models(copy, "cpu")
    shutil.rmtree(copy / "dit_voice")  # a run without one speaks every take with its dit
    assert load_voice_models(copy, "cpu").override is None


def test_acoustic_stages_need_their_inputs(manifest: Path, tmp_path: Path, capsys) -> None:
    assert _train("vocoder", manifest, tmp_path) == 2
    assert "run `imagintalk train codec` first" in capsys.readouterr().err
    assert _train("dit", manifest, tmp_path) == 2
    assert "run `imagintalk train units` first" in capsys.readouterr().err
    assert _train("dit-voice", manifest, tmp_path) == 2
    assert "run `imagintalk train units` first" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "stage", "message"),
    [("--voice-bank", "4", "aligner", "applies to dit"),
     ("--voice-bank", "4", "codec", "applies to dit"),
     ("--voice-bank", "1", "dit", "0 or"),
     ("--lip-drop", "0.5", "aligner", "applies to dit"),
     ("--lip-drop", "0.5", "vocoder", "applies to dit"),
     ("--lip-drop", "1.5", "dit", "between 0 and 1"),
     ("--lip-drop", "-0.1", "dit", "between 0 and 1"),
     ("--lip-drop", "2", "dit-voice", "between 0 and 1"),
     ("--voice-bank", "1", "dit-voice", "0 or")],
)  # fmt: skip
def test_a_dit_option_on_another_stage_or_out_of_range_is_refused(
    option: str, value: str, stage: str, message: str, tmp_path: Path, capsys
) -> None:
    missing = tmp_path / "no_manifest.jsonl"  # refused before the corpus would be read
    args = ["train", stage, "--preset", "tiny", "--data", str(missing), "--out", str(tmp_path)]
    assert main([*args, option, value, "--quiet"]) == 2
    assert message in capsys.readouterr().err


def test_init_fine_tunes_codec_and_vocoder_from_another_model(
    run: Path, manifest: Path, tmp_path: Path, capsys
) -> None:
    base = ["--preset", "tiny", "--data", str(manifest), "--quiet"]
    out = tmp_path / "tuned"
    for stage in ("codec", "vocoder"):
        args = ["train", stage, *base, "--out", str(out), "--init", str(run), "--steps", "1"]
        assert main(args) == 0, stage
        assert _config(out / stage)["meta"]["init"] == str(run / stage)
    # one step from the run's codec stays near it; one step from noise is far from it
    fresh = tmp_path / "fresh"
    args = ["train", "codec", *base, "--out", str(fresh), "--steps", "1"]
    assert main(args) == 0

    def distance(folder: Path) -> float:
        ours = load_file(str(folder / "codec" / "model.safetensors"))
        theirs = load_file(str(run / "codec" / "model.safetensors"))
        return sum(float((ours[k].float() - theirs[k].float()).norm()) for k in theirs)

    assert distance(out) < 0.5 * distance(fresh)  # measured: 0.21
    capsys.readouterr()
    args = ["train", "dit", *base, "--out", str(out), "--init", str(run)]
    assert main(args) == 2
    assert "--init applies to codec and vocoder" in capsys.readouterr().err
