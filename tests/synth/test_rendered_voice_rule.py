"""The "rendered" face -> voice rule: fitted to ignore rendering scatter, stored, probed, used."""

import json

import numpy as np
import pytest

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.frontend.face_models import shared_face_models
from imagintalk_plugin.synth.corpus import CorpusSettings, synth_corpus
from imagintalk_plugin.synth.faces import load_faces
from imagintalk_plugin.synth.probe import rendered_descriptor
from imagintalk_plugin.synth.rendered_voice_rule import ProjectionRule, rendered_rule
from imagintalk_plugin.synth.voice_bank import FaceDistribution, VoiceBank
from imagintalk_plugin.synth.voices import (
    VARIANTS,
    corpus_voice_rule,
    face_projections,
    voice_from_face,
)


def _speakers(count: int, clips: int, seed: int) -> dict[str, np.ndarray]:
    """Descriptors like rendered clips': speaker means spread over all axes, and a clip
    scatter 3x larger than that spread along 20 axes (what rendering moves), tiny elsewhere."""
    rng = np.random.default_rng(seed)
    noisy = np.linalg.qr(np.random.default_rng(99).standard_normal((128, 128)))[0][:, :20]
    out = {}
    for s in range(count):
        mean = rng.standard_normal(128) * 0.05
        scatter = rng.standard_normal((clips, 20)) @ noisy.T * 0.15
        out[f"s{s}"] = mean + scatter + rng.standard_normal((clips, 128)) * 0.005
    return out


def _agreement(project, groups: dict[str, np.ndarray]) -> float:
    def variant(e):
        return int(np.argmax(project(e)[3:]))

    return float(np.mean([variant(x) == variant(xs.mean(0)) for xs in groups.values() for x in xs]))


def test_fitted_rule_is_told_from_one_clip_where_random_projections_are_not():
    train, new = _speakers(60, 10, 0), _speakers(12, 10, 1)
    rule = ProjectionRule.fit(train, 3 + len(VARIANTS), seed=0)
    fitted = _agreement(rule.project, new)
    still = _agreement(face_projections, new)
    assert fitted > 0.9
    assert still < 0.7
    z = np.array([rule.project(x.mean(0)) for x in train.values()])
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-9)  # standardised on the training means
    np.testing.assert_allclose(z.std(0), 1, atol=1e-9)


def test_rule_round_trips_and_refuses_a_wrong_file(tmp_path):
    rule = ProjectionRule.fit(_speakers(6, 4, 2), 11, seed=3)
    path = tmp_path / "rule.json"
    rule.save(path, {"fitted_on": "test"})
    again = ProjectionRule.load(path)
    x = np.random.default_rng(0).standard_normal(128) * 0.1
    np.testing.assert_allclose(again.project(x), rule.project(x), atol=1e-5)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(ModelLoadError, match="version"):
        ProjectionRule.load(path)
    path.write_text(json.dumps({**data, "mean": data["mean"][:-1]}))
    with pytest.raises(ModelLoadError, match="shapes"):
        ProjectionRule.load(path)
    with pytest.raises(ValueError, match="two speakers"):
        ProjectionRule.fit({"a": np.zeros((3, 128))}, 11, seed=0)


def test_shipped_rule_gives_voices_in_range_and_unknown_rules_fail():
    rule = rendered_rule()
    assert rule.projection.shape == (3 + len(VARIANTS), 128)
    rng = np.random.default_rng(1)
    voices = [voice_from_face(rng.standard_normal(128) * 0.1, "rendered") for _ in range(40)]
    assert {v.variant for v in voices} <= set(VARIANTS)
    assert len({v.variant for v in voices}) >= 3
    assert all(26 <= v.pitch <= 74 and 143 <= v.speed <= 187 for v in voices)
    x = rng.standard_normal(128) * 0.1
    assert voice_from_face(x, "rendered") == voice_from_face(x, "rendered")
    with pytest.raises(ValueError, match="unknown voice rule"):
        voice_from_face(x, "loud")  # type: ignore[arg-type]


def test_probe_reads_the_rendered_face_and_leaves_nothing_behind(tmp_path):
    models = shared_face_models()
    face = next(iter(load_faces(None, models)))
    probe = rendered_descriptor(face, models, tmp_path, emotions=("neutral",))
    still = models.embed(face.image, face.landmarks)
    assert probe.shape == (128,)
    assert probe.dtype == np.float32
    # the same person to dlib (its same-person threshold is 0.6), yet moved by rendering
    assert 0.0 < np.linalg.norm(probe - still) < 0.6
    assert list(tmp_path.iterdir()) == []


def test_rendered_corpus_records_the_rule_and_the_descriptor(tmp_path):
    out = tmp_path / "c"
    settings = CorpusSettings(
        out=out, utterances=2, speakers=2, seed=1, jobs=1, voice_rule="rendered"
    )
    drive(synth_corpus(settings))
    rows = [json.loads(line) for line in (out / "speakers.jsonl").open()]
    assert [r["voice_rule"] for r in rows] == ["rendered", "rendered"]
    for row in rows:
        voice = voice_from_face(np.array(row["rendered_embedding"]), "rendered")
        assert row["voice"]["variant"] == voice.variant
        assert abs(row["voice"]["pitch"] - voice.pitch) <= 1  # the descriptor is rounded
    assert not (out / ".probes").exists()


def test_corpus_rule_is_read_beside_the_manifest_and_voices_the_bank(tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    assert corpus_voice_rule(manifest) == "still"  # corpora from before the choice
    speakers = tmp_path / "speakers.jsonl"
    speakers.write_text(json.dumps({"speaker": "s000"}) + "\n")
    assert corpus_voice_rule(manifest) == "still"
    speakers.write_text(json.dumps({"speaker": "s000", "voice_rule": "rendered"}) + "\n")
    assert corpus_voice_rule(manifest) == "rendered"
    speakers.write_text(json.dumps({"speaker": "s000", "voice_rule": "loud"}) + "\n")
    with pytest.raises(ValueError, match="unknown voice rule"):
        corpus_voice_rule(manifest)
    faces = np.concatenate(list(_speakers(4, 3, 5).values()))
    bank = VoiceBank.draw(FaceDistribution.fit(faces), 6, 0, "rendered")
    assert bank.voices == [voice_from_face(f, "rendered") for f in bank.faces]
    assert bank.voices != VoiceBank.draw(FaceDistribution.fit(faces), 6, 0).voices
