"""The model's voice bank: `imagintalk voices add` averages recordings' embeddings into
voice_bank.json, `voices list` shows them, a missing bank is empty, a bad one is one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.pipeline import voice_overrides_io
from imagintalk_plugin.pipeline.dub_models import PARTS
from imagintalk_plugin.pipeline.voice_bank import add_voice, read_voice_bank


def fake_model(folder: Path) -> Path:
    """A folder that passes for a model (every stage's config.json), nothing loaded."""
    for part in PARTS:
        (folder / part).mkdir(parents=True)
        (folder / part / "config.json").write_text("{}")
    return folder


def _axis(index: int) -> np.ndarray:
    vector = np.zeros(256, np.float32)
    vector[index] = 1.0
    return vector


def test_voices_add_averages_the_recordings_and_list_shows_them(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = fake_model(tmp_path / "model")
    wavs = [tmp_path / "narrator_a.wav", tmp_path / "narrator_b.wav"]
    embeddings = {wavs[0].name: _axis(0), wavs[1].name: _axis(1)}
    monkeypatch.setattr(
        voice_overrides_io, "reference_voice_embedding", lambda p: embeddings[Path(p).name]
    )
    assert main(["voices", "list", "--checkpoint", str(model)]) == 0
    assert "no voices in" in capsys.readouterr().out  # a missing bank is an empty bank

    add = ["voices", "add", "NARRATOR", *map(str, wavs), "--checkpoint", str(model)]
    assert main(add) == 0
    assert "added voice 'NARRATOR'" in capsys.readouterr().out
    voice = read_voice_bank(model).voices["NARRATOR"]
    np.testing.assert_allclose(voice.embedding[:2], [2**-0.5, 2**-0.5], rtol=1e-5)
    assert abs(float(np.linalg.norm(voice.embedding)) - 1.0) < 1e-5  # unit length again
    assert voice.recordings == tuple(str(w.resolve()) for w in wavs)
    assert main(["voices", "list", "--checkpoint", str(model)]) == 0
    listed = capsys.readouterr().out
    assert "NARRATOR" in listed
    assert "average of 2 recordings: narrator_a.wav, narrator_b.wav" in listed

    assert main(add) == 2  # there already: only with --force
    assert "use --force" in capsys.readouterr().err
    assert main([*add[:3], str(wavs[0]), *add[-2:], "--force"]) == 0
    assert read_voice_bank(model).voices["NARRATOR"].embedding[0] == pytest.approx(1.0)


def test_a_bad_recording_or_bank_is_one_line_and_leaves_the_bank_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = fake_model(tmp_path / "model")
    short = tmp_path / "short.wav"
    short.write_bytes(b"RIFF not a wav")
    assert main(["voices", "add", "X", str(short), "--checkpoint", str(model)]) == 2
    err = capsys.readouterr().err.strip()
    assert "short.wav" in err
    assert len(err.splitlines()) == 1
    assert not (model / "voice_bank.json").exists()

    (model / "voice_bank.json").write_text(json.dumps({"voices": {}}))
    assert main(["voices", "list", "--checkpoint", str(model)]) == 2
    assert "cannot read the voice bank" in capsys.readouterr().err
    with pytest.raises(UsageError, match="without '='"):
        add_voice(model, "A=B", [short], embed=lambda p: _axis(0))


def test_the_shipped_model_gets_no_voices(capsys: pytest.CaptureFixture) -> None:
    assert main(["voices", "add", "X", "x.wav", "--checkpoint", _shipped()]) == 2
    assert "shipped model" in capsys.readouterr().err


def _shipped() -> str:
    from imagintalk_plugin.core.paths import default_checkpoint

    return str(default_checkpoint())
