"""`imagintalk ship RUN --out MODEL`: a run folder becomes a compact model that loads and speaks
like the run, and an existing model folder is only updated when asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from imagintalk_plugin.cli import main


def test_ship_writes_float16_model_that_loads(checkpoint: Path, tmp_path: Path, capsys) -> None:
    from imagintalk_plugin.pipeline.dub_models import load_dub_models

    out = tmp_path / "shipped"
    assert main(["ship", str(checkpoint), "--out", str(out)]) == 0
    assert "shipped" in capsys.readouterr().out
    assert (out / "units").is_dir()  # the k-means codebook ships as it is
    for part in ("aligner", "detector", "refiner", "codec", "vocoder", "dit"):
        weights = load_file(str(out / part / "model.safetensors"))
        floats = [w for w in weights.values() if w.dtype.kind == "f"]
        assert floats, part
        assert all(w.dtype == "float16" for w in floats), part
        meta = json.loads((out / part / "config.json").read_text())
        assert meta["meta"]["weights_dtype"] == "float16"
    shipped = load_dub_models(out, "cpu")  # the ties between stages hold after rounding
    run = load_dub_models(checkpoint, "cpu")
    assert shipped.voice.codec_id != run.voice.codec_id  # recomputed from the rounded weights


def test_ship_refuses_existing_model_without_force(
    checkpoint: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "model"
    out.mkdir()
    card = out / "README.md"
    card.write_text("my model card\n")
    assert main(["ship", str(checkpoint), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert not (out / "aligner").exists()
    assert main(["ship", str(checkpoint), "--out", str(out), "--force"]) == 0
    assert card.read_text() == "my model card\n"  # the card stays
    assert (out / "aligner" / "model.safetensors").is_file()


def test_ship_missing_run_is_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["ship", str(tmp_path / "nope"), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("imagintalk: error:")
    assert err.count("\n") == 1
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("part", ["aligner", "dit"])
def test_shipped_config_keeps_kind(checkpoint: Path, tmp_path: Path, part: str) -> None:
    from imagintalk_plugin.nn.lip_aligner import ALIGNER_KIND
    from imagintalk_plugin.nn.speech_generator import DIT_KIND

    out = tmp_path / "m"
    assert main(["ship", str(checkpoint), "--out", str(out)]) == 0
    kind = json.loads((out / part / "config.json").read_text())["format"]
    assert kind == {"aligner": ALIGNER_KIND, "dit": DIT_KIND}[part]
